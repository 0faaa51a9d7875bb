"""``etl validate``: the validation notebook over the local stack's recent jobs (an
``etl_lib.commands`` entry point).

The scheduled Glue job (glue_jobs/validate_notebook.py) runs the same
:func:`~etl_lib.notebook.validate_jobs.scheduled_validation` on AWS; this runs it on the
SQLite job store and object tree of ``etl up``'s ``--data-dir``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from etl_lib.cli import EXIT_FAILED, EXIT_USAGE
from etl_lib.platform import DEFAULT_DATA_DIR


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "validate",
        help="validate recent SUCCEEDED jobs of the local stack with notebooks/03-validate-output.ipynb",
        description="Run the validation notebook (papermill, etl-local kernel) over the SUCCEEDED jobs of "
        "--data-dir finished within --since; write each executed notebook and a summary to --reports.",
    )
    p.add_argument("--since", default="24h", help="how far back to look, e.g. 30m, 24h, 7d (default: 24h)")
    p.add_argument("--stuck-after", default="3h", help="in-flight jobs unchanged for this long are stuck (default: 3h)")
    p.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help="the local stack's data directory")
    p.add_argument("--reports", type=Path, default=Path("build/validation"), help="where notebooks and summaries go")
    p.add_argument("--kernel", default="etl-local", help="Jupyter kernel to run the notebook on")
    p.add_argument(
        "--sample-size",
        type=int,
        default=0,
        help="compare every record of outputs up to this many records, a sample of this many above "
        "(default 0: etl_lib.notebook.validation.FULL_CHECK_MAX_RECORDS)",
    )
    p.add_argument("--verbose", action="store_true", help="show stack traces of failures")


def _print_failures(summary: dict[str, Any]) -> None:
    """Each failed job with every reason its validation gave (from its summary), each error'd
    job with the notebook's error, and each stuck job."""
    for job in summary["jobs"]:
        if job["status"] == "passed":
            continue
        path = Path(job["summary"])
        reasons = json.loads(path.read_text(encoding="utf-8"))["errors"] if path.is_file() else []
        print(f"job {job['job_id']}: {job['status']}", file=sys.stderr)
        for reason in reasons or [job.get("error", "")]:
            print(f"  {reason}", file=sys.stderr)
    for job in summary["stuck"]:
        print(f"job {job['job_id']}: stuck in {job['status']} since {job['updated_at']}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from etl_lib.jobs.local import SqliteJobStore
    from etl_lib.jobs.models import JobStatus
    from etl_lib.jobs.settings import Settings
    from etl_lib.notebook.validate_jobs import IN_FLIGHT, ensure_kernel, parse_since, scheduled_validation

    try:
        since, stuck_after = parse_since(args.since), parse_since(args.stuck_after)
    except ValueError as exc:
        print(f"etl validate: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    database = Path(args.data_dir) / "jobs.db"
    if not database.is_file():
        print(f"etl validate: error: no local stack data in {args.data_dir} (run `etl up` first)", file=sys.stderr)
        return EXIT_USAGE
    settings = Settings.from_env({"ETL_BACKEND": "local", "ETL_DATA_DIR": args.data_dir})
    store = SqliteJobStore(database)
    wanted = frozenset({JobStatus.SUCCEEDED, *(JobStatus(s) for s in IN_FLIGHT)})
    jobs = [job for job_id in store.ids_in(wanted) if (job := store.get(job_id)) is not None]
    ensure_kernel()
    # The scheduled Glue job's entry point, on the local stack's store and object tree.
    summary = scheduled_validation(
        jobs, args.reports, input_bucket=settings.input_bucket, output_bucket=settings.output_bucket, since=since,
        stuck_after=stuck_after, kernel=args.kernel, data_dir=settings.data_dir, sample_size=args.sample_size,
    )  # fmt: skip
    _print_failures(summary)
    print(
        f"{summary['passed']} passed, {summary['failed']} failed, {summary['errors']} errors, "
        f"{len(summary['stuck'])} stuck -> {args.reports}",
        file=sys.stderr,
    )
    return EXIT_FAILED if summary["failures"] else 0
