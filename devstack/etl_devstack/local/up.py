"""``etl up``: the command line of the local stack (an ``etl_lib.commands`` entry point).

Only the parser is built here, light, as ``etl --help`` builds every command's; the server
(:mod:`etl_devstack.local.server`) is imported when the command runs.
"""

from __future__ import annotations

import argparse

from etl_devstack.local.limits import ServerLimits


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "up",
        help="run the whole product locally: web app, API, storage, jobs",
        description="Serve the web app, the jobs API (/api) and the local object store, "
        "and run conversions in worker processes. State is kept in --data-dir.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--data-dir", default=".etl-local", help="jobs database and files (default: .etl-local)")
    p.add_argument("--workers", type=int, default=1, help="conversion worker processes (default: 1)")
    p.add_argument(
        "--engine",
        choices=["auto", "spark", "local"],
        default="auto",
        help="auto (default): inputs up to SMALL_FILE_THRESHOLD_BYTES (64 MiB) in-process in the worker, "
        "larger ones on Spark; spark: a warm local Spark session per worker, as on Glue; local: no JVM",
    )
    p.add_argument(
        "--allowed-host",
        action="append",
        metavar="NAME",
        help="a host name clients may use to reach the server, besides localhost, 127.0.0.1, [::1] and "
        "--host (repeatable); requests naming any other host are refused (421)",
    )
    p.add_argument(
        "--request-timeout",
        type=float,
        default=ServerLimits.request_timeout,
        metavar="SECONDS",
        help="time allowed for a request's head, and for each read of its body (default: 30)",
    )
    p.add_argument(
        "--max-connections",
        type=int,
        default=ServerLimits.max_connections,
        metavar="N",
        help=f"connections served at once; more are answered 503 (default: {ServerLimits.max_connections})",
    )
    p.add_argument("--verbose", action="store_true", help="show stack traces of failures")


def run(args: argparse.Namespace) -> int:
    from etl_devstack.local.server import run as serve

    return serve(args)
