"""The Apache parquet-testing corpus, through both engines.

Every file that pyarrow can read must convert, and its records must equal what pyarrow
reads mapped through the contract (tests/contract_oracle.py). Every file that cannot be
read must fail with a one-line InvalidInputError naming it, leaving nothing behind.
"""

from __future__ import annotations

import functools
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_lib.conversion import Engine, convert
from etl_lib.errors import InvalidInputError
from etl_lib.options import Compression, ConvertOptions, GeometryFormat, Limits, OutputFormat
from tests.conftest import CORPUS, Converter, needs_corpus
from tests.contract_oracle import expected_records

pytestmark = needs_corpus()

# Covered by dedicated tests below: a 2 GiB string column, and INT96 values Spark wrote
# beyond the range Arrow can decode in one read.
SPECIAL = {"large_string_map.brotli.parquet", "int96_from_spark.parquet"}


def _geometry_as_wkb(path: Path, options: ConvertOptions) -> ConvertOptions:
    """The oracle reads geometry columns as the binary they are stored as: the geospatial
    files are compared with ``--geometry wkb`` here, and as GeoJSON against shapely in
    test_geo.py."""
    return replace(options, geometry=GeometryFormat.WKB) if "geospatial" in path.parts else options


def _corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    files = [p for p in sorted((CORPUS / "data").rglob("*")) if p.is_file()]
    files += [p for p in sorted((CORPUS / "bad_data").rglob("*")) if p.is_file()]
    return [p for p in files if p.name not in SPECIAL]


@functools.cache  # read once: collection sorts the corpus with it, the tests compare with it
def _pyarrow_table(path: Path) -> pa.Table | None:
    """What pyarrow reads (INT96 as the UTC instants they are), or None if it cannot."""
    try:
        pf = pq.ParquetFile(path, arrow_extensions_enabled=True)
        table = pa.Table.from_batches(list(pf.iter_batches(batch_size=4096)), schema=pf.schema_arrow)
    except Exception:
        return None
    for i in range(len(pf.schema)):
        column = pf.schema.column(i)
        if column.physical_type == "INT96" and "." not in column.path:
            j = table.schema.get_field_index(column.path)
            table = table.set_column(j, column.path, table.column(j).cast(pa.timestamp("ns", "UTC")))
    return table


READABLE = [p for p in _corpus_files() if _pyarrow_table(p) is not None]
UNREADABLE = [p for p in _corpus_files() if _pyarrow_table(p) is None]


def _id(path: Path) -> str:
    return str(path.relative_to(CORPUS))


@pytest.mark.parametrize("path", READABLE, ids=_id)
def test_readable_corpus_file_converts_to_the_contract_records(path: Path, run_convert: Converter) -> None:
    table = _pyarrow_table(path)
    assert table is not None
    options = _geometry_as_wkb(path, ConvertOptions())
    records, report = run_convert(path, options)
    assert report.rows_in == report.rows_out == table.num_rows
    assert expected_records(table, options) == records


@pytest.mark.parametrize("path", READABLE[::3], ids=_id)
def test_readable_corpus_file_converts_with_every_option(path: Path, run_convert: Converter) -> None:
    options = ConvertOptions(
        format=OutputFormat.JSON,
        compression=Compression.GZIP,
        drop_nulls=True,
        bigint_as_string=True,
        decimal_as_string=True,
        nan_as_string=True,
    )
    options = _geometry_as_wkb(path, options)
    table = _pyarrow_table(path)
    assert table is not None
    records, _ = run_convert(path, options)
    assert expected_records(table, options) == records


@pytest.mark.parametrize("path", UNREADABLE, ids=_id)
def test_unreadable_corpus_file_fails_cleanly_and_leaves_nothing(
    path: Path, engine: Engine, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    dest = tmp_path / "out.jsonl"
    spark = request.getfixturevalue("spark") if engine is Engine.SPARK else None
    with pytest.raises(InvalidInputError) as error:
        convert(str(path), str(dest), engine=engine, spark=spark)
    assert path.name in error.value.message
    assert "\n" not in error.value.message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", sorted((CORPUS / "bad_data").glob("*.parquet")) if CORPUS.is_dir() else [], ids=_id)
def test_bad_data_never_crashes_or_hangs_the_cli(path: Path, tmp_path: Path) -> None:
    # A separate process: a crash in native code would show as a signal, a hang as a timeout.
    result = subprocess.run(
        [sys.executable, "-m", "etl_lib.cli", "convert", "--engine", "local", str(path), str(tmp_path / "out.jsonl")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode in (0, 1), result.stderr
    if result.returncode == 1:
        assert result.stderr.count("\n") == 1 and path.name in result.stderr
        assert "Traceback" not in result.stderr
        assert not (tmp_path / "out.jsonl").exists()


def test_int96_timestamps_are_decoded_exactly_even_beyond_year_2262(run_convert: Converter) -> None:
    records, _ = run_convert(CORPUS / "data" / "int96_from_spark.parquet")
    # INT96 = Julian day + nanoseconds of the day, an instant in UTC. The last value is
    # stored as Spark 3.4 writes year 290000: its int64 microseconds + 2440588 days wrapped
    # around, leaving a negative day (-105862232) and negative nanoseconds.
    assert [r["a"] for r in records] == [
        "2024-01-01T20:34:56.123456000Z",
        "2024-01-01T01:00:00.000000000Z",
        "9999-12-31T03:00:00.000000000Z",
        "2024-12-30T23:00:00.000000000Z",
        None,
        "+290000-12-30T23:00:00.000000000Z",
    ]


@pytest.mark.large
def test_string_column_chunk_over_2_gib_converts(tmp_path: Path) -> None:
    """4 KB on disk, over 2 GiB decoded: by its ratio a decompression bomb, which the default
    limits stop at 1 GiB (Limits.max_expansion); lifted here, where the chunk is the point."""
    path = CORPUS / "data" / "large_string_map.brotli.parquet"
    dest = tmp_path / "out.jsonl"
    report = convert(str(path), str(dest), engine=Engine.LOCAL, limits=Limits(max_expansion=None))
    pf = pq.ParquetFile(path)
    maps = [b.column(0) for b in pf.iter_batches(batch_size=1)]
    key_lengths = [len(m.keys[0].as_py()) for m in maps]
    values = [m.items[0].as_py() for m in maps]
    del maps
    assert report.rows_out == 2
    with dest.open("rb") as out:
        for length, value in zip(key_lengths, values, strict=True):
            head = out.read(len('{"arr":{"'))
            assert head == b'{"arr":{"'
            key = out.read(length)
            assert key[:1] == b"a" and key.count(b"a") == length  # the key needs no escaping
            assert out.readline() == f'":{value}}}}}\n'.encode()
        assert out.read() == b""


# Microseconds Spark can hold, at the edges of its range and of INT96's encoding: its
# largest and smallest instants, one in its int64 wrap-around zone, 0001-01-01, one before
# Julian day 0 (negative day and nanoseconds), the epoch and one microsecond after it.
SPARK_INT96_MICROS = [
    2**63 - 1,
    -(2**63),
    9_000_000_000_000_000_000,
    -62_135_596_800_000_000,
    -300_000_000_000_000_000,
    0,
    1,
    1_704_067_200_123_456,
]


def _contract_instant(micros: int) -> str:
    """The contract's text of an instant, from numpy's calendar (not the encoder's)."""
    seconds, fraction = divmod(micros, 10**6)  # (numpy's int64 minimum is NaT, so seconds)
    text = str(np.datetime64(seconds, "s"))  # e.g. 294247-01-10T04:00:54, -7537-05-18T18:40:00
    date, clock = text.rsplit("T", 1)
    clock += f".{fraction:06d}"
    year, rest = date[:-6], date[-6:]
    sign = "-" if year.startswith("-") else ("+" if int(year) > 9999 else "")
    digits = year.lstrip("-")
    year = sign + (digits.zfill(5) if sign else digits.zfill(4))
    return f"{year}{rest}T{clock}000Z"


def test_every_int96_instant_spark_can_write_is_its_true_instant(
    run_convert: Converter, spark: Any, tmp_path: Path
) -> None:
    src = tmp_path / "spark_int96"
    spark.conf.set("spark.sql.parquet.outputTimestampType", "INT96")
    spark.conf.set("spark.sql.parquet.int96RebaseModeInWrite", "CORRECTED")
    try:
        rows = [(i, m) for i, m in enumerate(SPARK_INT96_MICROS)]
        spark.createDataFrame(rows, "i int, m long").selectExpr(
            "i",
            "timestamp_micros(m) AS ts",
            "named_struct('t', timestamp_micros(m)) AS s",
            "array(timestamp_micros(m)) AS l",
            "map('k', timestamp_micros(m)) AS mp",
        ).coalesce(1).write.parquet(str(src))
    finally:
        spark.conf.unset("spark.sql.parquet.outputTimestampType")
        spark.conf.unset("spark.sql.parquet.int96RebaseModeInWrite")
    records, _ = run_convert(src)
    expected = [_contract_instant(m) for m in SPARK_INT96_MICROS]
    assert [r["ts"] for r in sorted(records, key=lambda r: r["i"])] == expected
    assert [r["s"]["t"] for r in sorted(records, key=lambda r: r["i"])] == expected
    assert [r["l"][0] for r in sorted(records, key=lambda r: r["i"])] == expected
    assert [r["mp"]["k"] for r in sorted(records, key=lambda r: r["i"])] == expected
