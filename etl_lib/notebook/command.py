"""``etl notebook run NOTEBOOK OUT [-p NAME VALUE ...] [-k KERNEL]``: a headless run that
tells the truth (an ``etl_lib.commands`` entry point of the developer stack).

It wraps :func:`etl_lib.notebook.runner.run_notebook`: papermill executes the notebook, then
every cell's outputs are scanned, so a run fails (exit status 1) when any cell errored on
either kernel, including the Glue kernel's failures that papermill calls a success (a
session that never started, an endpoint that is down: a line on stderr and ``ok`` for the
cell). Each failure is printed with the failing cell's first line of code and its error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from etl_lib.cli import EXIT_FAILED, EXIT_USAGE


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``etl notebook`` and its ``run`` subcommand."""
    p = commands.add_parser(
        "notebook",
        help="run a notebook headless (papermill) and fail on any cell error, on either kernel",
        description="Notebook commands; see docs/notebooks.md.",
    )
    sub = p.add_subparsers(dest="notebook_command", required=True)
    run_parser = sub.add_parser(
        "run",
        help="execute NOTEBOOK into OUT; exit 1 when any cell errored",
        description="Execute NOTEBOOK into OUT with papermill, then scan every cell's outputs: exit status 1 "
        "(with each failing cell's first line and error) when a cell errored, whatever the kernel answered.",
    )
    run_parser.add_argument("notebook", type=Path)
    run_parser.add_argument("output", type=Path)
    run_parser.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="a parameter, typed as papermill's -p types it (int, float, True/False, None, else text); repeatable",
    )
    run_parser.add_argument("-k", "--kernel", help="Jupyter kernel (default: the notebook's own kernelspec)")
    run_parser.add_argument("--cwd", type=Path, help="working directory (default: the notebook's folder)")
    run_parser.add_argument("--timeout", type=int, default=600, help="seconds per cell (default: 600)")


def parameter_value(text: str) -> Any:
    """A ``-p`` value typed as papermill's command line types it."""
    from papermill.cli import _resolve_type  # the very rule of `papermill -p`, not a copy of it

    return _resolve_type(text)


def _kernel_of(notebook: Path) -> str:
    import nbformat

    return str(nbformat.read(str(notebook), as_version=4).metadata.get("kernelspec", {}).get("name", ""))


def run(args: argparse.Namespace) -> int:
    """Run the notebook; 0 when every cell ran without error, 1 otherwise, 2 on bad usage."""
    from etl_lib.notebook.runner import NotebookFailed, run_notebook

    if not args.notebook.is_file():
        print(f"etl notebook run: error: {args.notebook} is not a notebook file", file=sys.stderr)
        return EXIT_USAGE
    try:
        kernel = args.kernel or _kernel_of(args.notebook)
    except (ValueError, OSError) as exc:
        print(f"etl notebook run: error: {args.notebook} cannot be read: {exc}", file=sys.stderr)
        return EXIT_USAGE
    parameters = {name: parameter_value(value) for name, value in args.parameter}
    cwd = args.cwd or args.notebook.resolve().parent
    try:
        executed = run_notebook(args.notebook, args.output, parameters, kernel=kernel, cwd=cwd, timeout=args.timeout)
    except NotebookFailed as failed:
        print(f"etl notebook run: {failed.notebook} failed on kernel {kernel} (executed notebook: {args.output})",
              file=sys.stderr)  # fmt: skip
        for error in failed.errors or []:
            print(f"  cell {error.cell}: {error.source_line}\n    {error.message}", file=sys.stderr)
        if not failed.errors:
            print(f"  {failed.cause}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # papermill/jupyter_client errors: no such kernel, a dead kernel, a timeout
        print(f"etl notebook run: error: {args.notebook}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    ran = sum(1 for cell in executed.cells if cell.cell_type == "code" and cell.execution_count is not None)
    print(f"{args.notebook} -> {args.output}: {ran} cells ran on kernel {kernel}, no error", file=sys.stderr)
    return 0
