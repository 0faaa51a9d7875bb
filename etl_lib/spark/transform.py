"""Spark transformations of the conversion: small ``DataFrame -> DataFrame`` functions.

The Spark engine works on a DataFrame of *slices* (ordered groups of Parquet row groups,
see :mod:`etl_lib.input.planning`), one slice per partition. Spark's own Parquet reader
cannot represent several Parquet types exactly (nanosecond and INT96 timestamps beyond
2262, TIME, UUID, unsigned 64-bit integers, float16, case-only duplicate names), so the
executors decode their slices with Arrow and apply :mod:`etl_lib.contract.reference` - the same
code as the local engine. Chain the steps with ``DataFrame.transform``::

    slices_frame(spark, plan).transform(with_json_lines(options))            # explore
    slices_frame(spark, plan).transform(with_written_pieces(options, staging))  # convert
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from functools import partial
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from etl_lib.input.planning import Slice
from etl_lib.options import ConvertOptions, Limits

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

Transformation = Callable[["DataFrame"], "DataFrame"]

SLICE_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),
        ("uri", pa.string()),
        ("row_groups", pa.list_(pa.int32())),
        ("rows", pa.int64()),
        ("is_last", pa.bool_()),
        ("int96", pa.list_(pa.string())),
        ("first_row", pa.int64()),
        ("variant", pa.list_(pa.string())),
        ("template", pa.binary()),
        ("parquet_schema", pa.string()),
    ]
)
"""A :class:`~etl_lib.input.planning.Slice` as a row: its fields, in order."""
PIECES_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),
        ("rows", pa.int64()),
        ("bytes", pa.int64()),
        ("input_bytes", pa.int64()),
        ("stored_bytes", pa.int64()),
        ("error_code", pa.string()),
        ("error_message", pa.string()),
    ]
)
"""What a task of :func:`with_written_pieces` sends back: one row per slice."""
LINES_SCHEMA = pa.schema([("seq", pa.int64()), ("line", pa.string())])
"""What :func:`with_json_lines` makes: one row per record."""
_SPARK_TYPES = {pa.int64(): "long", pa.string(): "string"}


def _ddl(schema: pa.Schema) -> str:
    """``schema`` as Spark's DDL (the output schema ``mapInArrow`` asks for)."""
    return ", ".join(f"{f.name} {_SPARK_TYPES[f.type]}" for f in schema)


def slices_frame(spark: SparkSession, plan: list[Slice]) -> DataFrame:
    """One row and one partition per slice, partitions in output order.

    The slices reach the executors without a Python process: the plan goes to the JVM as one
    Arrow table, broadcast to every task and joined to a range of one row per partition. A
    DataFrame made from an RDD of Python rows ran each task's row through ``toInternal`` on a
    Python worker of its own first, a round trip of about 0.05 s a task before the task's
    conversion could start (measured on a 5M-row run: the gaps between its tasks went from
    0.08 s to 0.025 s).
    """
    from pyspark.sql.functions import broadcast

    table = pa.Table.from_pylist([asdict(s) for s in plan], schema=SLICE_SCHEMA)
    slices = spark.createDataFrame(table)
    partitions = spark.range(0, len(plan), 1, max(1, len(plan))).withColumnRenamed("id", "seq")
    return partitions.join(broadcast(slices), "seq")


def _slices(batches: Iterable[pa.RecordBatch]) -> Iterator[Slice]:
    for batch in batches:
        for row in batch.to_pylist():
            fields: dict[str, Any] = {name: tuple(v) if isinstance(v, list) else v for name, v in row.items()}
            yield Slice(**fields)


def json_lines(batches: Iterable[pa.RecordBatch], options: ConvertOptions) -> Iterator[pa.RecordBatch]:
    """The tasks of :func:`with_json_lines`: each slice's records as ``(seq, line)``."""
    from etl_lib._runtime.arrow_rows import int64s
    from etl_lib.contract.reference import encode_lines
    from etl_lib.input.planning import read_slice

    for piece in _slices(batches):
        for batch in read_slice(piece):
            lines = encode_lines(batch, options, terminator="")
            yield pa.RecordBatch.from_arrays([int64s([piece.seq] * len(lines)), lines], schema=LINES_SCHEMA)


def with_json_lines(options: ConvertOptions) -> Transformation:
    """Slices -> one row per record: ``(seq, line)`` with the record's JSON text."""

    def transform(df: DataFrame) -> DataFrame:
        return df.mapInArrow(partial(json_lines, options=options), _ddl(LINES_SCHEMA))

    return transform


def write_pieces(
    batches: Iterable[pa.RecordBatch],
    options: ConvertOptions,
    staging: str,
    limits: Limits,
    deadline: float | None = None,
) -> Iterator[pa.RecordBatch]:
    """The tasks of :func:`with_written_pieces`: each slice's piece written under ``staging``,
    then one row of :data:`PIECES_SCHEMA` for it."""
    from etl_lib._runtime.arrow_rows import record_batch
    from etl_lib.errors import ConversionError
    from etl_lib.input.budget import Budget
    from etl_lib.output.sink import open_piece, piece_uri
    from etl_lib.output.writer import write_piece

    for piece in _slices(batches):
        row: dict[str, list[object]]
        try:
            budget = Budget(limits, name=piece.uri.rstrip("/").rsplit("/", 1)[-1], deadline=deadline)
            with open_piece(piece_uri(staging, piece.seq)) as sink:
                result = write_piece(piece, options, sink, budget)
                stored = sink.tell()  # every byte written, gzip's trailer included
            row = {
                "seq": [result.seq],
                "rows": [result.rows],
                "bytes": [result.bytes_uncompressed],
                "input_bytes": [result.input_bytes],
                "stored_bytes": [stored],
                "error_code": [None],
                "error_message": [None],
            }
        except ConversionError as exc:
            # A bad input is not worth Spark's task retries: report it as data so
            # the driver can fail the run with the user-facing message.
            row = {
                "seq": [piece.seq],
                "rows": [0],
                "bytes": [0],
                "input_bytes": [0],
                "stored_bytes": [0],
                "error_code": [exc.code],
                "error_message": [exc.message],
            }
        yield record_batch(PIECES_SCHEMA, row)


def with_written_pieces(
    options: ConvertOptions, staging: str, *, limits: Limits | None = None, deadline: float | None = None
) -> Transformation:
    """Slices -> ``(seq, rows, bytes, input_bytes, stored_bytes)`` after each executor wrote
    its slice's piece of the output under ``staging`` (``bytes`` of JSON, ``stored_bytes`` as
    stored, after compression). Only this small summary reaches the driver, which publishes
    the pieces from their stored sizes without asking the store for each.

    Each task stops when its own slice goes over ``limits`` or past ``deadline`` (wall
    clock); the driver checks the sums.
    """
    tasks = partial(
        write_pieces, options=options, staging=staging, limits=limits or Limits.unlimited(), deadline=deadline
    )

    def transform(df: DataFrame) -> DataFrame:
        return df.mapInArrow(tasks, _ddl(PIECES_SCHEMA))

    return transform
