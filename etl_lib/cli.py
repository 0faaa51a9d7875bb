"""The ``etl`` command line.

``etl convert SRC DEST`` runs exactly the conversion the Glue job runs. Errors a user can
fix are one line on stderr naming the file and the problem (exit status 1); stack traces
only with ``--verbose``.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, Protocol

from etl_lib._runtime.arrow_memory import use_jemalloc
from etl_lib._runtime.lazy import collector_paused, import_pyarrow_without_numpy
from etl_lib.errors import ConversionError
from etl_lib.options import Compression, ConvertOptions, Engine, GeometryFormat, Limits, OutputFormat

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

EXIT_FAILED = 1
EXIT_USAGE = 2


def _add_convert(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "convert",
        help="convert a Parquet file, dataset or catalog table to one JSON file",
        description="Convert SRC (a Parquet file, a dataset folder read recursively with its key=value "
        "folders as columns, local or s3://, or a Glue Data Catalog table glue://DATABASE/TABLE) "
        "to the single JSON file DEST, following docs/json-contract.md and docs/datasets.md.",
    )
    p.add_argument("src")
    p.add_argument("dest")
    p.add_argument(
        "--format",
        choices=[f.value for f in OutputFormat],
        default="jsonl",
        help="jsonl: one object per line (default); json: one array",
    )
    p.add_argument("--compression", choices=[c.value for c in Compression], default="none")
    p.add_argument("--drop-nulls", action="store_true", help="omit null columns and struct fields")
    p.add_argument("--bigint-as-string", action="store_true", help="write integers beyond +-(2^53-1) as strings")
    p.add_argument("--decimal-as-string", action="store_true", help="write decimals as strings")
    p.add_argument("--nan-as-string", action="store_true", help='write NaN/Infinity as "NaN", "Infinity", "-Infinity"')
    p.add_argument(
        "--geometry",
        choices=[g.value for g in GeometryFormat],
        default=GeometryFormat.GEOJSON.value,
        help="GEOMETRY/GEOGRAPHY/GeoParquet columns as geojson (RFC 7946 geometry objects, default), "
        "wkt or wkb (base64)",
    )
    p.add_argument(
        "--engine",
        choices=["auto", "spark", "local"],
        default="auto",
        help="auto (default): in this process for inputs up to 64 MiB (the small-file threshold), Spark above; "
        "spark: local Spark, as on Glue; local: in this process, no JVM",
    )
    p.add_argument(
        "--partition-filter",
        metavar="EXPR",
        help="for a glue:// table: read only the partitions this GetPartitions expression selects, "
        "e.g. \"year = '2024' AND region = 'eu'\"",
    )
    p.add_argument("--report", type=Path, help="write the run report (JSON) to this path")
    _add_limits(p)
    p.add_argument("--verbose", action="store_true", help="show stack traces of failures")


_UNLIMITED = {"none", "0", "unlimited"}
_SUFFIXES = {"k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def _byte_limit(text: str) -> int | None:
    """A byte count such as ``5000000``, ``512M`` or ``4G`` (binary units); ``none`` or
    ``0`` for no limit."""
    value = text.strip().lower().removesuffix("ib").removesuffix("b")
    if value in _UNLIMITED:
        return None
    scale = _SUFFIXES.get(value[-1:], 1)
    number = value[:-1] if scale > 1 else value
    try:
        parsed = float(number) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a byte count: {text!r} (e.g. 512M, 4G, or none)") from None
    if parsed < 1:
        raise argparse.ArgumentTypeError(f"not a byte count: {text!r} (e.g. 512M, 4G, or none)")
    return int(parsed)


def _seconds_limit(text: str) -> float | None:
    if text.strip().lower() in _UNLIMITED:
        return None
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r} (or none)") from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r} (or none)")
    return seconds


def _add_limits(p: argparse.ArgumentParser) -> None:
    defaults = Limits()
    p.add_argument(
        "--max-input-bytes",
        type=_byte_limit,
        default=defaults.max_input_bytes,
        help=f"fail with INPUT_TOO_LARGE past this many decoded bytes (default {defaults.max_input_bytes}; "
        "suffixes K, M, G; none or 0: unlimited)",
    )
    p.add_argument(
        "--max-output-bytes",
        type=_byte_limit,
        default=defaults.max_output_bytes,
        help=f"fail with OUTPUT_TOO_LARGE past this many JSON bytes, before compression "
        f"(default {defaults.max_output_bytes}; none or 0: unlimited)",
    )
    p.add_argument(
        "--max-run-seconds",
        type=_seconds_limit,
        default=defaults.max_run_seconds,
        help=f"fail with TIMED_OUT after this many seconds (default {defaults.max_run_seconds:g}; none: unlimited)",
    )


_COMMANDS: dict[str, Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = {"convert": _add_convert}
"""The commands of this package: each name and the function that adds its subparser."""

COMMANDS_GROUP = "etl_lib.commands"
"""The entry-point group of the commands other distributions add: the developer stack
(devstack/) adds ``up``, ``validate``, ``sessions``, ``session-config`` and ``notebook``. An entry point's
name is its command's; it names an object with ``add_parser(commands)``, which adds a
subparser of that name, and ``run(args) -> int``, which runs the command."""


class Command(Protocol):
    """What an entry point of :data:`COMMANDS_GROUP` names (a module or an object)."""

    def add_parser(self, commands: argparse._SubParsersAction[argparse.ArgumentParser], /) -> None: ...

    def run(self, args: argparse.Namespace, /) -> int: ...


def _added_commands() -> dict[str, EntryPoint]:
    """The commands other distributions add, by name in alphabetical order (not loaded yet)."""
    from importlib.metadata import entry_points

    points = sorted(entry_points(group=COMMANDS_GROUP), key=lambda point: point.name)
    return {point.name: point for point in points if point.name not in _COMMANDS}


def _add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser], point: EntryPoint) -> None:
    command: Command = point.load()
    command.add_parser(commands)
    # The parser carries what runs it: _run needs no second look at the entry points.
    commands.choices[point.name].set_defaults(run_command=command.run)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``etl`` parser: for ``argv`` that starts with a command's name, with that command only.

    The other commands' subparsers (and the modules they import) are a third of the time
    ``etl convert`` spends before it imports pyarrow, and reading the installed entry points
    (importlib.metadata) would add more: ``etl convert`` does neither. ``etl``, ``etl --help``
    or an unknown command get every command, so usage and errors list them all.
    """
    parser = argparse.ArgumentParser(prog="etl", description="Parquet to JSON conversion.")
    commands = parser.add_subparsers(dest="command", required=True)
    named = argv[0] if argv else None
    if named in _COMMANDS:
        _COMMANDS[named](commands)
        return parser
    added = _added_commands()
    if named in added:
        _add_command(commands, added[named])
        return parser
    for add in _COMMANDS.values():
        add(commands)
    for point in added.values():
        _add_command(commands, point)
    return parser


class _TtyProgress:
    """Rows written so far, redrawn on one stderr line (only on a terminal)."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self._lock = threading.Lock()

    def __call__(self, done: int, total: int) -> None:
        if self.enabled and total:
            with self._lock:
                sys.stderr.write(f"\r{done:,} / {total:,} rows ({100 * done // total}%)")
                sys.stderr.flush()

    def finish(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\033[K")


def _spark_progress_thread(spark: object, progress: _TtyProgress, stop: threading.Event) -> threading.Thread:
    """Spark reports finished tasks (one per slice), not rows: show those."""

    def poll() -> None:
        tracker = spark.sparkContext.statusTracker()  # type: ignore[attr-defined]
        while not stop.wait(0.5):
            for stage_id in tracker.getActiveStageIds():
                info = tracker.getStageInfo(stage_id)
                if info and info.numTasks and progress.enabled:
                    sys.stderr.write(f"\r{info.numCompletedTasks} / {info.numTasks} slices written")
                    sys.stderr.flush()

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    return thread


def _convert(args: argparse.Namespace) -> int:
    with collector_paused():
        if Engine(args.engine) is not Engine.SPARK:
            # Spark's driver keeps pyarrow's numpy integration (pyspark may use it) and its
            # default memory pool; the local engine starts sooner without numpy, and touches
            # less fresh memory with jemalloc.
            use_jemalloc()
            import_pyarrow_without_numpy()
        from etl_lib.conversion import convert

    options = ConvertOptions(
        format=args.format,
        compression=args.compression,
        drop_nulls=args.drop_nulls,
        bigint_as_string=args.bigint_as_string,
        decimal_as_string=args.decimal_as_string,
        nan_as_string=args.nan_as_string,
        geometry=args.geometry,
    )
    progress = _TtyProgress()
    spark = None
    stop = threading.Event()
    if args.engine == Engine.SPARK:
        from etl_lib.spark.session import local_spark

        spark = local_spark("etl-convert")
        _spark_progress_thread(spark, progress, stop)
    try:
        limits = Limits(
            max_input_bytes=args.max_input_bytes,
            max_output_bytes=args.max_output_bytes,
            max_run_seconds=args.max_run_seconds,
        )
        report = convert(
            args.src,
            args.dest,
            options,
            engine=args.engine,
            spark=spark,
            progress=progress,
            limits=limits,
            partition_filter=args.partition_filter,
        )
    finally:
        stop.set()
        progress.finish()
    if args.report:
        args.report.write_text(report.to_json(indent=2) + "\n", encoding="utf-8")
    print(
        f"{report.rows_out:,} records -> {args.dest} "
        f"({report.output_bytes:,} bytes, {report.duration_ms / 1000:.1f} s)",
        file=sys.stderr,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command of ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    return _run(build_parser(argv).parse_args(argv))


def entry() -> NoReturn:
    """The ``etl`` console script: :func:`main`, then exit.

    A local conversion ends the process as soon as its output is published and its
    summary printed: tearing down an interpreter that has held pyarrow and a gigabyte of
    buffers takes about 0.1 s, a tenth of a small conversion, and has nothing left to do
    (every file is closed, every thread joined). With Spark the interpreter exits normally,
    so the driver's shutdown hooks run.
    """
    args = build_parser(sys.argv[1:]).parse_args()
    code = _run(args)
    if args.command == "convert" and "pyspark" not in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def _run(args: argparse.Namespace) -> int:
    try:
        if args.command == "convert":
            return _convert(args)
        run_command: Callable[[argparse.Namespace], int] | None = getattr(args, "run_command", None)
        if run_command is not None:
            return run_command(args)
    except ConversionError as exc:
        if args.verbose:
            raise
        print(f"etl {args.command}: error: {exc.message} ({exc.code})", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"etl {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, not bad input: say so in one line
        if args.verbose:
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(
            f"etl {args.command}: internal error: {type(exc).__name__}: {first} (run with --verbose for details)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_USAGE


if __name__ == "__main__":
    entry()
