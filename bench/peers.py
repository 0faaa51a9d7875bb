"""The peers ``make bench`` compares ``etl convert`` against, one per process.

    python bench/peers.py duckdb SRC DEST   # COPY (SELECT * FROM read_parquet(SRC)) TO DEST (FORMAT JSON)
    python bench/peers.py polars SRC DEST   # pl.scan_parquet(SRC).sink_ndjson(DEST)
    python bench/peers.py spark SRC DEST    # spark.read.parquet(SRC).write.json(DEST), a directory of parts

Each is the plain library call with its defaults: none of them follows docs/json-contract.md
(see docs/benchmarks.md for how their output differs).
"""

from __future__ import annotations

import sys


def duckdb_copy(src: str, dest: str) -> None:
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute(f"COPY (SELECT * FROM read_parquet('{src}')) TO '{dest}' (FORMAT JSON)")
    con.close()


def polars_sink(src: str, dest: str) -> None:
    import polars as pl

    pl.scan_parquet(src).sink_ndjson(dest)


def spark_write_json(src: str, dest: str) -> None:
    from etl_lib.spark.session import local_spark

    # The same session configuration as `etl convert --engine spark` (local[*]), but a JVM
    # that compiles with C2: here the JVM does the work (Spark's own reader and writer).
    spark = local_spark("bench-plain-spark", lean_jvm=False)
    spark.read.parquet(src).write.json(dest)
    spark.stop()


PEERS = {"duckdb": duckdb_copy, "polars": polars_sink, "spark": spark_write_json}


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in PEERS:
        print(__doc__, file=sys.stderr)
        return 2
    name, src, dest = argv
    PEERS[name](src, dest)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
