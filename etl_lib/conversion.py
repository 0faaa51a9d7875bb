"""One conversion, end to end: validate, plan, write pieces, publish, report.

This is the entry point the CLI, the Glue job and the local job runner all call. The
engines differ only in *where* slices are written (Spark executors, or this process);
decoding, the contract and publication are shared.
"""

from __future__ import annotations

import os
import posixpath
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from etl_lib._runtime import fs
from etl_lib.contract import native
from etl_lib.errors import InvalidInputError, error_from_code
from etl_lib.input.budget import Budget
from etl_lib.input.planning import ParquetInput, Slice, open_input
from etl_lib.options import ConvertOptions, Engine, Limits, choose_engine
from etl_lib.output import sink
from etl_lib.output.writer import PieceResult, empty_output, write_stream
from etl_lib.report import RunReport, input_parts, json_schema

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

Progress = Callable[[int, int], None]
"""Called with (rows written so far, total rows)."""

LOCAL_WORKERS = os.cpu_count() or 1
"""The local engine's encoding threads: one per core."""
LOCAL_SLICE_BYTES = 16 * 1024**2
"""The local engine takes small row groups together, up to this many (uncompressed) bytes a
slice: each slice opens its file, which parses the whole footer again, so one slice per row
group made a file of 400 small row groups cost half as much again as the same rows in 40."""


def _write_local(
    src: str,
    plan: list[Slice],
    options: ConvertOptions,
    dest: str,
    progress: Progress | None,
    total: int,
    s3_client: Any,
    budget: Budget,
) -> tuple[int, int]:
    """Encode row groups on this machine's cores, stream them in order to ``dest``."""
    done = 0

    def advance(rows: int) -> None:
        nonlocal done
        done += rows
        if progress is not None:
            progress(done, total)

    try:
        with sink.atomic_output(dest, s3_client=s3_client) as out:
            result = write_stream(plan, options, out, workers=LOCAL_WORKERS, progress=advance, budget=budget)
            _check_rows(src, total, result.rows)  # inside the block: a mismatch publishes nothing
    finally:
        native.release_buffers()  # the worker and the Lambda live on after the conversion
    return result.rows, sink.size_of(dest, s3_client=s3_client)


def _write_spark(
    spark: SparkSession, plan: list[Slice], options: ConvertOptions, staging: str, budget: Budget
) -> list[PieceResult]:
    from etl_lib.spark.transform import slices_frame, with_written_pieces

    # Each task checks its own share against the job's limits (and the job's deadline);
    # the sums are checked here, before anything is published.
    rows = (
        slices_frame(spark, plan)
        .transform(with_written_pieces(options, staging, limits=budget.limits, deadline=budget.deadline))
        .collect()
    )
    failures = sorted((r for r in rows if r["error_code"]), key=lambda r: r["seq"])
    if failures:
        raise error_from_code(failures[0]["error_code"], failures[0]["error_message"])
    budget.check_input(sum(r["input_bytes"] for r in rows))
    budget.check_output(sum(r["bytes"] for r in rows))
    budget.check_time()
    return sorted(
        (PieceResult(r["seq"], r["rows"], r["bytes"], r["input_bytes"], r["stored_bytes"]) for r in rows),
        key=lambda p: p.seq,
    )


def _assemble_spark(
    spark: SparkSession,
    plan: list[Slice],
    options: ConvertOptions,
    staging: str,
    budget: Budget,
    src: str,
    total_rows: int,
    dest: str,
) -> tuple[int, int]:
    """The Spark engine's run to a local ``dest``: the pieces copied into it as they complete,
    while the job runs (:mod:`etl_lib.output.assembly`). Returns (rows, bytes) written."""
    from etl_lib.output.assembly import assembling, run_while

    with assembling([sink.piece_uri(staging, s.seq) for s in plan], dest) as assembly:
        results = run_while(lambda: _write_spark(spark, plan, options, staging, budget), assembly.collect)
        rows_out = sum(r.rows for r in results)
        _check_rows(src, total_rows, rows_out)
        return rows_out, assembly.finish([r.stored_bytes for r in results])


def _part_name(parquet: ParquetInput, uri: str) -> str:
    """How the report names a file of the input: its path below a dataset's root (partition
    folders name files of the same name apart), else its name."""
    root = parquet.uri.rstrip("/") + "/"
    return uri[len(root) :] if uri.startswith(root) else posixpath.basename(uri)


def _check_rows(src: str, total_rows: int, rows_out: int) -> None:
    # Every row is accounted for, or the run fails: a reader that silently returns fewer
    # rows than the footer declares means a corrupt input.
    if rows_out != total_rows:
        raise InvalidInputError(
            f"{posixpath.basename(src.rstrip('/'))} is corrupt: its footer declares {total_rows} rows "
            f"but {rows_out} could be read"
        )


def convert(
    src: str,
    dest: str,
    options: ConvertOptions | None = None,
    *,
    engine: Engine | str = Engine.AUTO,
    local_max_bytes: int | None = None,
    spark: SparkSession | None = None,
    progress: Progress | None = None,
    s3_client: Any = None,
    limits: Limits | None = None,
    partition_filter: str | None = None,
    glue_client: Any = None,
) -> RunReport:
    """Convert the Parquet input ``src`` to the single JSON file ``dest``.

    Every value is written as docs/json-contract.md says. ``dest`` appears only once the whole
    input is converted: after an error nothing is left there (an existing file is kept).

    Parameters
    ----------
    src : str
        The Parquet input: a local path or an ``s3://bucket/key`` URI of one file, or of a
        dataset: a folder (prefix) read recursively, skipping names that start with ``_`` or
        ``.``, its ``key=value`` folders read as columns after the files' own (typed as Spark
        types them), the files' columns united (null where a file lacks one); or a Glue Data
        Catalog table, ``glue://DATABASE/TABLE``, read through the Glue API with its partition
        columns typed as the catalog declares them. See docs/datasets.md.
    dest : str
        The one output file: a local path (its directory must exist) or ``s3://bucket/key``.
    options : ConvertOptions, optional
        The output format (``jsonl`` or ``json``), its compression (``none`` or ``gzip``) and
        the contract's switches ``drop_nulls``, ``bigint_as_string``, ``decimal_as_string`` and
        ``nan_as_string``. Default: ``ConvertOptions()``, uncompressed JSON Lines.
    engine : Engine or str, default ``Engine.AUTO``
        ``"local"`` converts in this process (row groups encoded on a thread pool); ``"spark"``
        on Spark, as the Glue job does; ``"auto"`` picks ``local`` for inputs up to
        ``local_max_bytes`` and ``spark`` above.
    local_max_bytes : int, optional
        The ``auto`` threshold, in bytes of input. Default:
        :data:`etl_lib.options.DEFAULT_SMALL_FILE_THRESHOLD_BYTES` (64 MiB).
    spark : pyspark.sql.SparkSession, optional
        The session the Spark engine runs on (the Glue job passes its own). Default: a local
        session is started when the Spark engine runs.
    progress : Callable[[int, int], None], optional
        Called with (rows written so far, total rows) as the local engine writes.
    s3_client : boto3 S3 client, optional
        The client that publishes an ``s3://`` destination. Default: ``boto3.client("s3")``.
    limits : Limits, optional
        The job's limits on decoded input bytes, output bytes (JSON, before compression) and
        run time, and on the footer and nesting depth. The byte limits are bounded as well by
        the input's size (``Limits.max_expansion``). Default: ``Limits()``, sized for the
        converter Lambda; ``Limits.unlimited()`` lifts the byte, expansion and time limits.
    partition_filter : str, optional
        For a ``glue://`` table: the partitions to read, as a ``GetPartitions`` expression
        (``"year = '2024' AND region = 'eu'"``). Default: every partition.
    glue_client : boto3 Glue client, optional
        The client that reads a ``glue://`` table. Default: ``boto3.client("glue")``.

    Returns
    -------
    RunReport
        What ran and what came out: rows and bytes in and out, the engine, timings, the Parquet
        and Arrow schemas and the JSON Schema of the output records.

    Raises
    ------
    InvalidInputError
        ``src`` is missing, or is a catalog table that does not exist (code ``INPUT_NOT_FOUND``),
        or is not readable Parquet: empty, truncated, corrupt, encrypted (``INVALID_PARQUET``);
        or files of a dataset type one column differently (``SCHEMA_CONFLICT``);
        or it holds a value the contract refuses: a string that is not UTF-8
        (``INVALID_UTF8``), a TIME outside 0-24 h (``INVALID_VALUE``).
    UnsupportedTypeError
        ``src`` holds a type the contract does not cover, or nesting deeper than the limit
        (``UNSUPPORTED_TYPE``).
    LimitExceededError
        The job went over a limit (``INPUT_TOO_LARGE``, ``OUTPUT_TOO_LARGE``, ``TIMED_OUT``).
    OutputError
        ``dest`` cannot be written (``OUTPUT_FAILED``).

    All are :class:`ConversionError`: a stable ``code`` and a one-line ``message``
    naming the input and the problem.

    Examples
    --------
    >>> import etl_lib
    >>> import pyarrow as pa, pyarrow.parquet as pq
    >>> pq.write_table(pa.table({"id": [1, 2], "amount": [9.5, None]}), "sales.parquet")
    >>> report = etl_lib.convert("sales.parquet", "sales.jsonl")
    >>> report.rows_in == report.rows_out == 2
    True
    >>> print(open("sales.jsonl").read(), end="")
    {"id":1,"amount":9.5}
    {"id":2,"amount":null}

    One gzipped JSON array from a directory of parts on S3, 64-bit integers as strings, on
    Spark (not run as a test: it needs a bucket):

    >>> options = etl_lib.ConvertOptions(format="json", compression="gzip", bigint_as_string=True)
    >>> report = etl_lib.convert(
    ...     "s3://bucket/sales/", "s3://bucket/out/sales.json.gz", options, engine="spark"
    ... )  # doctest: +SKIP
    """
    options = options or ConvertOptions()
    limits = limits or Limits()
    started, clock = datetime.now(UTC), time.perf_counter()
    sink.check_destination(dest)
    budget = Budget(limits, name=posixpath.basename(src.rstrip("/")) or src)
    parquet: ParquetInput = open_input(src, limits, partition_filter=partition_filter, glue=glue_client)
    # The limits on decoded and written bytes tighten to what the input's size warrants, so
    # a small file that decodes to gigabytes stops at about a gigabyte (Limits.max_expansion).
    budget.limits = limits.for_input_size(parquet.size)
    engine = choose_engine(engine, parquet.size, local_max_bytes)
    parallelism = 1
    if engine is Engine.SPARK:
        if spark is None:
            from etl_lib.spark.session import local_spark

            spark = local_spark()
        parallelism = spark.sparkContext.defaultParallelism
    # Spark: slices of ~64 MiB spread over the executors; local: slices of whole row groups
    # for the thread pool, at least two per thread. Either way in whole waves of the workers.
    if engine is Engine.SPARK:
        plan = parquet.plan(min_slices=2 * parallelism, workers=parallelism)
    else:
        plan = parquet.plan(target_bytes=LOCAL_SLICE_BYTES, min_slices=2 * LOCAL_WORKERS, workers=LOCAL_WORKERS)
    total_rows = sum(p.rows for p in plan)
    if not plan:
        output_bytes = sink.write_bytes(dest, empty_output(options), s3_client=s3_client)
        rows_out = 0
    elif engine is Engine.LOCAL:
        rows_out, output_bytes = _write_local(src, plan, options, dest, progress, total_rows, s3_client, budget)
    else:
        assert spark is not None
        staging = sink.staging_uri(dest)
        try:
            if fs.is_s3(dest):
                results = _write_spark(spark, plan, options, staging, budget)
                rows_out = sum(r.rows for r in results)
                _check_rows(src, total_rows, rows_out)
                output_bytes = sink.publish(
                    [sink.piece_uri(staging, r.seq) for r in results],
                    dest,
                    sizes=[r.stored_bytes for r in results],
                    s3_client=s3_client,
                )
            else:
                rows_out, output_bytes = _assemble_spark(spark, plan, options, staging, budget, src, total_rows, dest)
        finally:
            sink.remove_tree(staging, s3_client=s3_client)
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
        parts=input_parts((_part_name(parquet, f.uri), f.row_group_rows, f.row_group_bytes) for f in parquet.files),
    )
