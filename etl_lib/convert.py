"""One conversion, end to end: validate, plan, write pieces, publish, report.

This is the entry point the CLI, the Glue job and the local job runner all call. The
engines differ only in *where* slices are written (Spark executors, or this process);
decoding, the contract and publication are shared.
"""

from __future__ import annotations

import posixpath
import time
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from etl_lib import sink
from etl_lib.errors import InvalidInputError, error_from_code
from etl_lib.options import ConvertOptions
from etl_lib.parquet_input import ParquetInput, Slice, open_input
from etl_lib.report import RunReport, json_schema
from etl_lib.writer import PieceResult, empty_output, write_piece

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

Progress = Callable[[int, int], None]
"""Called with (rows written so far, total rows)."""


class Engine(StrEnum):
    SPARK = "spark"
    LOCAL = "local"


def _write_local(
    plan: list[Slice], options: ConvertOptions, staging: str, progress: Progress | None, total: int
) -> list[PieceResult]:
    results = []
    done = 0

    def advance(rows: int) -> None:
        nonlocal done
        done += rows
        if progress is not None:
            progress(done, total)

    for piece in plan:
        with sink.open_piece(sink.piece_uri(staging, piece.seq)) as out:
            results.append(write_piece(piece, options, out, progress=advance))
    return results


def _write_spark(spark: SparkSession, plan: list[Slice], options: ConvertOptions, staging: str) -> list[PieceResult]:
    from etl_lib.transform import slices_frame, with_written_pieces

    rows = slices_frame(spark, plan).transform(with_written_pieces(options, staging)).collect()
    failures = sorted((r for r in rows if r["error_code"]), key=lambda r: r["seq"])
    if failures:
        raise error_from_code(failures[0]["error_code"], failures[0]["error_message"])
    return sorted((PieceResult(r["seq"], r["rows"], r["bytes"]) for r in rows), key=lambda p: p.seq)


def convert(
    src: str,
    dest: str,
    options: ConvertOptions | None = None,
    *,
    engine: Engine | str = Engine.SPARK,
    spark: SparkSession | None = None,
    progress: Progress | None = None,
    s3_client: Any = None,
) -> RunReport:
    """Convert the Parquet input ``src`` to the single JSON file ``dest``.

    Raises :class:`ConversionError` (nothing is left at ``dest``) on bad input.
    """
    options = options or ConvertOptions()
    engine = Engine(engine)
    started, clock = datetime.now(UTC), time.perf_counter()
    sink.check_destination(dest)
    parquet: ParquetInput = open_input(src)
    parallelism = 1
    if engine is Engine.SPARK:
        if spark is None:
            from etl_lib.spark_session import local_spark

            spark = local_spark()
        parallelism = spark.sparkContext.defaultParallelism
    plan = parquet.plan(min_slices=2 * parallelism)
    total_rows = sum(p.rows for p in plan)
    if not plan:
        output_bytes = sink.write_bytes(dest, empty_output(options), s3_client=s3_client)
        rows_out = 0
    else:
        staging = sink.staging_uri(dest)
        try:
            if engine is Engine.SPARK:
                assert spark is not None
                results = _write_spark(spark, plan, options, staging)
            else:
                results = _write_local(plan, options, staging, progress, total_rows)
            rows_out = sum(r.rows for r in results)
            if rows_out != total_rows:
                # Every row is accounted for, or the run fails: a reader that silently
                # returns fewer rows than the footer declares means a corrupt input.
                raise InvalidInputError(
                    f"{posixpath.basename(src.rstrip('/'))} is corrupt: its footer declares {total_rows} rows "
                    f"but {rows_out} could be read"
                )
            output_bytes = sink.publish([sink.piece_uri(staging, r.seq) for r in results], dest, s3_client=s3_client)
        finally:
            sink.remove_tree(staging)
    finished = datetime.now(UTC)
    return RunReport(
        input=src,
        output=dest,
        engine=engine.value,
        options=options,
        rows_in=parquet.rows,
        rows_out=rows_out,
        input_bytes=parquet.size,
        output_bytes=output_bytes,
        duration_ms=int((time.perf_counter() - clock) * 1000),
        started_at=started,
        finished_at=finished,
        parquet_schema=parquet.parquet_schema,
        arrow_schema=str(parquet.schema),
        json_schema=json_schema(parquet.schema, options),
    )
