"""Scheduled validation: run ``03-validate-output`` over SUCCEEDED jobs, bounded.

:func:`scheduled_validation` is the one entry point of ``etl validate`` (the local stack's
SQLite store) and of the scheduled Glue job (``glue_jobs/validate_notebook.py`` ->
:func:`glue_main`: DynamoDB store, S3, CloudWatch): it validates at most ``max_jobs``
SUCCEEDED jobs a run, those not validated yet, oldest first (each one validated is marked,
``JobStore.mark_validated``, so the rest come the next night), and names the jobs stuck in
PENDING/QUEUED/RUNNING for longer than ``stuck_after`` (a lost event leaves a job there).
:func:`publish` copies each job's executed notebook and summary under that job's own output
folder (``outputs/<job>/validation/<run>/``, so they go with the job), the run's summary under
``validation/<run>/``, and sends the ``ValidationChecked`` / ``ValidationFailures`` metrics the
alarm watches.

Bounded: before a job's notebook runs, :func:`check_bounds` streams its output (gunzipped in
1 MiB steps, never whole) to measure it, and opens its input with the Limits its conversion
had (footer, nesting, decoded size); a job beyond either is ``skipped`` with the reason code,
so the notebook, which holds an output's records in memory, only ever loads one of at most
``max_output_bytes``. Stored messages carry positions, column names and reason codes, never a
record's values (:mod:`etl_lib.notebook.validation`).

The core below it: :func:`validate_jobs` takes job records (dicts with
``job_id``, ``input_uri``, ``output_uri``, ``report_uri``, ``options``), runs the
validation notebook once per job with papermill (:func:`etl_lib.notebook.runner.run_notebook`)
and writes, under ``reports_dir``::

    <job_id>/03-validate-output.ipynb   the executed notebook
    <job_id>/summary.json               the notebook's machine-readable summary
    summary.json                        one entry per job, and the totals

Which jobs are "recent SUCCEEDED" is the caller's business (the job store); :func:`recent`
filters records by an optional ``finished_at`` with a ``--since`` duration (:func:`parse_since`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from etl_lib.errors import ConversionError, ErrorCode
from etl_lib.jobs.metrics import VALIDATION_CHECKED, VALIDATION_FAILURES, VALIDATION_SKIPPED
from etl_lib.jobs.models import DEFAULT_VALIDATION_MAX_JOBS
from etl_lib.notebook.runner import KERNEL, NotebookFailed, run_notebook

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
VALIDATION_NOTEBOOK = NOTEBOOKS_DIR / "03-validate-output.ipynb"
_SINCE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
DEFAULT_MAX_JOBS = DEFAULT_VALIDATION_MAX_JOBS
DEFAULT_MAX_OUTPUT_BYTES = 256 * 1024**2
"""The largest output (decompressed JSON) whose notebook runs: it holds the records in memory."""
STREAM_CHUNK_BYTES = 1024**2


def parse_since(text: str) -> timedelta:
    """``"24h"``, ``"30m"``, ``"7d"``... as a timedelta."""
    match = _SINCE.match(text)
    if not match:
        raise ValueError(f"--since takes a number and a unit (s, m, h, d, w), e.g. 24h, not {text!r}")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _when(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def recent(jobs: Iterable[Mapping[str, Any]], since: timedelta, now: datetime | None = None) -> list[Mapping[str, Any]]:
    """The jobs whose ``finished_at`` is within ``since`` of ``now`` (jobs without one are kept)."""
    cutoff = (now or datetime.now(UTC)) - since
    return [job for job in jobs if (when := _when(job.get("finished_at"))) is None or when >= cutoff]


def _options_json(options: Any) -> str:
    if options is None or options == "":
        return ""
    if isinstance(options, str):
        return options
    from etl_lib.options import ConvertOptions

    if isinstance(options, ConvertOptions):
        options = options.to_dict()
    return json.dumps(options)


class BoundExceeded(Exception):
    """A job the validation will not load: ``code`` says why (a ConversionError code or
    OUTPUT_TOO_LARGE); the message names sizes and limits, never data."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def output_bytes(uri: str, *, limit: int, data_dir: str | os.PathLike[str] | None = None) -> int:
    """The size of an output as JSON (gunzipped when its name ends in ``.gz``), read as a
    stream in steps of 1 MiB: memory stays at one step however far it inflates.
    BoundExceeded as soon as more than ``limit`` bytes have come out."""
    from etl_lib._runtime import fs
    from etl_lib.notebook.storage import locate

    filesystem, path = fs.resolve(locate(uri, data_dir))
    total = 0
    # One buffer, refilled: no allocation per step, so the peak does not depend on when the
    # allocator hands freed steps back (under load it had held hundreds of MiB of them).
    step = bytearray(STREAM_CHUNK_BYTES)
    # pyarrow inflates a .gz stream as it is read ("detect": by the name, as read_job_bytes).
    with filesystem.open_input_stream(path, compression="detect") as stream:
        while count := stream.readinto(step):
            total += count
            if total > limit:
                raise BoundExceeded(
                    ErrorCode.OUTPUT_TOO_LARGE,
                    f"the output is larger than {limit:,} bytes of JSON, the validation's limit",
                )
    return total


def check_input(uri: str, *, engine: str, data_dir: str | os.PathLike[str] | None = None) -> None:
    """Open the input as its conversion did, with the same Limits (the Spark engine's for a
    Spark job): footer, nesting and decoded size; BoundExceeded with the conversion's code."""
    from etl_lib.input.budget import Budget
    from etl_lib.input.planning import open_input
    from etl_lib.notebook.storage import locate
    from etl_lib.options import Engine, Limits

    limits = Limits.for_spark() if engine == Engine.SPARK else Limits()
    source = locate(uri, data_dir)
    try:
        parquet = open_input(source, limits)
        budget = Budget(limits.for_input_size(parquet.size), name=Path(source).name)
        budget.check_input(sum(sum(f.row_group_bytes) for f in parquet.files))
    except ConversionError as exc:
        raise BoundExceeded(exc.code, exc.message) from None


def check_bounds(
    job: Mapping[str, Any], *, max_output_bytes: int, data_dir: str | os.PathLike[str] | None = None
) -> None:
    """BoundExceeded when the job's input or output is beyond what the validation loads."""
    check_input(str(job["input_uri"]), engine=str(job.get("engine") or "local"), data_dir=data_dir)
    output_bytes(str(job["output_uri"]), limit=max_output_bytes, data_dir=data_dir)


def validate_job(
    job: Mapping[str, Any], reports_dir: str | os.PathLike[str], *,
    notebook: str | os.PathLike[str] = VALIDATION_NOTEBOOK, kernel: str = KERNEL,
    data_dir: str | os.PathLike[str] | None = None, sample_size: int = 0,
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
) -> dict[str, Any]:  # fmt: skip
    """Validate one job; never raises for a failed validation (it is in the result). A job
    beyond the bounds (:func:`check_bounds`) is ``skipped`` with a reason code, unread."""
    job_id = str(job["job_id"])
    folder = Path(reports_dir) / job_id
    summary_path = folder / "summary.json"
    executed = folder / Path(notebook).name
    if summary_path.exists():
        summary_path.unlink()  # never report a previous run's summary
    try:
        check_bounds(job, max_output_bytes=max_output_bytes, data_dir=data_dir)
    except BoundExceeded as exc:
        folder.mkdir(parents=True, exist_ok=True)
        skipped = {"status": "skipped", "reason": exc.code, "detail": str(exc)}
        summary_path.write_text(json.dumps(skipped, indent=2) + "\n", encoding="utf-8")
        return {"job_id": job_id, "summary": str(summary_path), "status": "skipped", "reason": exc.code}
    parameters = {
        "input_path": str(job["input_uri"]),
        "output_path": str(job["output_uri"]),
        "report_path": str(job["report_uri"]),
        "options": _options_json(job.get("options")),
        "summary_path": str(summary_path.resolve()),
        "sample_size": sample_size,
        "data_dir": str(Path(data_dir).resolve()) if data_dir is not None else "",
    }
    result: dict[str, Any] = {"job_id": job_id, "notebook": str(executed), "summary": str(summary_path)}
    try:
        run_notebook(notebook, executed, parameters, kernel=kernel, cwd=Path(notebook).resolve().parent)
        result["status"] = "passed"
    except NotebookFailed as exc:
        result["status"] = "failed" if summary_path.exists() else "error"
        result["error"] = str(exc)
    if summary_path.exists():
        result["checks"] = {k: v["ok"] for k, v in json.loads(summary_path.read_text())["checks"].items()}
    return result


def validate_jobs(
    jobs: Iterable[Mapping[str, Any]], reports_dir: str | os.PathLike[str], *,
    notebook: str | os.PathLike[str] = VALIDATION_NOTEBOOK, kernel: str = KERNEL,
    data_dir: str | os.PathLike[str] | None = None, sample_size: int = 0,
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES, mark: Callable[[str], object] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Validate every job; write ``reports_dir/summary.json`` and return it.

    ``data_dir`` is the local stack's data directory: ``s3://bucket/key`` URIs are then read
    from its object tree. ``mark`` is called with each job's id once it has been validated
    (whatever the outcome). Check ``summary["failed"] + summary["errors"]`` for the exit status.
    """
    started = datetime.now(UTC)
    results = []
    for job in jobs:
        results.append(
            validate_job(job, reports_dir, notebook=notebook, kernel=kernel, data_dir=data_dir,
                         sample_size=sample_size, max_output_bytes=max_output_bytes)
        )  # fmt: skip
        if mark is not None:
            mark(str(job["job_id"]))
    summary = {
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "notebook": str(notebook),
        "kernel": kernel,
        "jobs": results,
        "passed": sum(r["status"] == "passed" for r in results),
        "failed": sum(r["status"] == "failed" for r in results),
        "errors": sum(r["status"] == "error" for r in results),
        "skipped": sum(r["status"] == "skipped" for r in results),
    }
    path = Path(reports_dir) / "summary.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


IN_FLIGHT = frozenset({"PENDING", "QUEUED", "RUNNING"})
METRIC_CHECKED = VALIDATION_CHECKED.name
METRIC_FAILURES = VALIDATION_FAILURES.name
METRIC_SKIPPED = VALIDATION_SKIPPED.name


def job_record(job: Any, input_bucket: str, output_bucket: str) -> dict[str, Any]:
    """What the notebook needs of one ``etl_lib.jobs.models.Job``: its objects' URIs."""
    from etl_lib.jobs.models import input_key, output_key, report_key

    return {
        "job_id": job.job_id,
        "input_uri": f"s3://{input_bucket}/{input_key(job.job_id)}",
        # Under the attempt that published it (each run of a job writes under its own).
        "output_uri": f"s3://{output_bucket}/{output_key(job.job_id, job.options, job.attempt)}",
        "report_uri": f"s3://{output_bucket}/{report_key(job.job_id, job.attempt)}",
        "options": job.options.to_dict(),
        "engine": str(job.engine),
        "finished_at": job.updated_at.isoformat(),
    }


def due(jobs: Iterable[Any], *, max_jobs: int, now: datetime, since: timedelta | None = None) -> list[Any]:
    """The jobs one run validates: SUCCEEDED, unexpired, not validated yet (and, with
    ``since``, finished within it), oldest first (by when they finished), at most
    ``max_jobs``; the others wait for the next run."""
    waiting = [
        job
        for job in jobs
        if str(job.status) == "SUCCEEDED"
        and job.validated_at is None
        and not job.is_expired(now.timestamp())
        and (since is None or now - _when(job.updated_at) <= since)  # type: ignore[operator]
    ]
    return sorted(waiting, key=lambda job: (job.updated_at, job.job_id))[:max_jobs]


def stuck_jobs(jobs: Iterable[Any], now: datetime, after: timedelta) -> list[dict[str, str]]:
    """Jobs still PENDING, QUEUED or RUNNING ``after`` their last change."""
    return [
        {"job_id": job.job_id, "status": str(job.status), "updated_at": job.updated_at.isoformat()}
        for job in jobs
        if str(job.status) in IN_FLIGHT and now - _when(job.updated_at) > after  # type: ignore[operator]
    ]


def scheduled_validation(
    jobs: Iterable[Any], reports_dir: str | os.PathLike[str], *, input_bucket: str, output_bucket: str,
    stuck_after: timedelta, since: timedelta | None = None, max_jobs: int = DEFAULT_MAX_JOBS,
    mark: Callable[[str], object] | None = None, notebook: str | os.PathLike[str] = VALIDATION_NOTEBOOK,
    kernel: str = KERNEL, data_dir: str | os.PathLike[str] | None = None, sample_size: int = 0,
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES, now: datetime | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Validate the due SUCCEEDED ``jobs`` (:func:`due`; with ``since``, only those finished
    within it), marking each with ``mark``, and find the stuck ones; ``failures`` counts both."""
    jobs = list(jobs)
    now = now or datetime.now(UTC)
    chosen = due(jobs, max_jobs=max_jobs, now=now, since=since)
    summary = validate_jobs(
        [job_record(job, input_bucket, output_bucket) for job in chosen], reports_dir, notebook=notebook,
        kernel=kernel, data_dir=data_dir, sample_size=sample_size, max_output_bytes=max_output_bytes, mark=mark,
    )  # fmt: skip
    summary["stuck"] = stuck_jobs(jobs, now, stuck_after)
    summary["failures"] = summary["failed"] + summary["errors"] + len(summary["stuck"])
    (Path(reports_dir) / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def dynamo_jobs(client: Any, table: str) -> list[Any]:
    """Every job of the DynamoDB job table (a scan of ids, then the store's own reads)."""
    from etl_lib.jobs.aws import DynamoJobStore

    store = DynamoJobStore(client, table)
    ids = [
        item["job_id"]["S"]
        for page in client.get_paginator("scan").paginate(TableName=table, ProjectionExpression="job_id")
        for item in page["Items"]
    ]
    return [job for job_id in ids if (job := store.get(job_id)) is not None]


def publish(
    summary: Mapping[str, Any], reports_dir: str | os.PathLike[str], *, bucket: str, run: str, s3: Any,
    cloudwatch: Any, namespace: str, reports_prefix: str = "validation/",
) -> list[str]:  # fmt: skip
    """Copy the files of ``reports_dir`` to ``bucket``: each job's under
    :func:`job_validation_prefix`, the run's summary under ``reports_prefix/run/``; send the
    metrics. Returns the URIs written."""
    from etl_lib.jobs.models import job_validation_prefix

    job_ids = {str(job["job_id"]) for job in summary["jobs"]}
    written = []
    for path in sorted(p for p in Path(reports_dir).rglob("*") if p.is_file()):
        relative = path.relative_to(reports_dir)
        if len(relative.parts) > 1 and relative.parts[0] in job_ids:
            key = job_validation_prefix(relative.parts[0], run) + Path(*relative.parts[1:]).as_posix()
        else:
            key = f"{reports_prefix.strip('/')}/{run}/{relative.as_posix()}"
        s3.upload_file(str(path), bucket, key)
        written.append(f"s3://{bucket}/{key}")
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": METRIC_CHECKED, "Value": len(summary["jobs"]), "Unit": "Count"},
            {"MetricName": METRIC_FAILURES, "Value": summary["failures"], "Unit": "Count"},
            # Outputs beyond the bounds: not validated, and not failures either.
            {"MetricName": METRIC_SKIPPED, "Value": summary["skipped"], "Unit": "Count"},
        ],
    )
    return written


def ensure_kernel(prefix: str | os.PathLike[str] | None = None) -> None:
    """Install the etl-local kernelspec where Jupyter finds it: this environment, or (on a
    Glue worker, whose environment may be read-only) ``prefix``, added to ``JUPYTER_PATH``."""
    from etl_lib.notebook.kernel import install_kernel

    if prefix is None:
        install_kernel()
        return
    install_kernel(prefix)
    path = str(Path(prefix) / "share" / "jupyter")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in (path, os.environ.get("JUPYTER_PATH", "")) if p)


def glue_main(argv: list[str]) -> int:
    """The scheduled Glue job: validate recent jobs of the DynamoDB table, publish to S3 and
    CloudWatch. Arguments as Glue passes them (``--NAME value``; Glue's own are ignored)."""
    import tempfile

    import boto3

    parser = argparse.ArgumentParser(prog="validate_notebook.py")
    for name in ("--JOBS_TABLE", "--INPUT_BUCKET", "--OUTPUT_BUCKET", "--METRICS_NAMESPACE"):
        parser.add_argument(name, required=True)
    parser.add_argument("--REPORTS_PREFIX", default="validation/")
    parser.add_argument("--MAX_JOBS", type=int, default=DEFAULT_MAX_JOBS)
    parser.add_argument("--MAX_OUTPUT_BYTES", type=int, default=DEFAULT_MAX_OUTPUT_BYTES)
    parser.add_argument("--STUCK_AFTER_HOURS", type=int, default=3)
    parser.add_argument("--SAMPLE_SIZE", type=int, default=0)  # 0: every record (a sample only above a million)
    # Glue copies --extra-files into the script's working directory.
    parser.add_argument("--NOTEBOOK", default=VALIDATION_NOTEBOOK.name)
    args, _glue_arguments = parser.parse_known_args(argv)
    notebook = Path(args.NOTEBOOK) if Path(args.NOTEBOOK).is_file() else VALIDATION_NOTEBOOK
    started = datetime.now(UTC)
    from etl_lib.jobs.aws import DynamoJobStore

    store = DynamoJobStore(boto3.client("dynamodb"), args.JOBS_TABLE)
    with tempfile.TemporaryDirectory(prefix="validation-") as work:
        ensure_kernel(Path(work) / "kernel")
        reports = Path(work) / "reports"
        summary = scheduled_validation(
            dynamo_jobs(boto3.client("dynamodb"), args.JOBS_TABLE), reports, input_bucket=args.INPUT_BUCKET,
            output_bucket=args.OUTPUT_BUCKET, max_jobs=args.MAX_JOBS, max_output_bytes=args.MAX_OUTPUT_BYTES,
            mark=lambda job_id: store.mark_validated(job_id, at=int(started.timestamp())),
            stuck_after=timedelta(hours=args.STUCK_AFTER_HOURS), notebook=notebook, sample_size=args.SAMPLE_SIZE,
            now=started,
        )  # fmt: skip
        run = started.strftime("%Y%m%dT%H%M%SZ")
        publish(summary, reports, bucket=args.OUTPUT_BUCKET, run=run, s3=boto3.client("s3"),
                cloudwatch=boto3.client("cloudwatch"), namespace=args.METRICS_NAMESPACE,
                reports_prefix=args.REPORTS_PREFIX)  # fmt: skip
    print(f"{summary['passed']} passed, {summary['failed']} failed, {summary['errors']} errors, "
          f"{summary['skipped']} skipped, {len(summary['stuck'])} stuck -> s3://{args.OUTPUT_BUCKET}/"
          f"{args.REPORTS_PREFIX.strip('/')}/{run}/")  # fmt: skip
    return 1 if summary["failures"] else 0


def main(argv: list[str] | None = None) -> int:
    """``python -m etl_lib.notebook.validate_jobs JOBS.json``: validate job records from a file."""
    parser = argparse.ArgumentParser(prog="python -m etl_lib.notebook.validate_jobs", description=main.__doc__)
    parser.add_argument("jobs", type=Path, help="a JSON list of job records")
    parser.add_argument("--reports", type=Path, default=Path("build/validation"))
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--since", default=None, help="only jobs finished within this duration, e.g. 24h")
    parser.add_argument("--kernel", default=KERNEL)
    args = parser.parse_args(argv)
    jobs = json.loads(args.jobs.read_text())
    if args.since:
        jobs = recent(jobs, parse_since(args.since))
    summary = validate_jobs(jobs, args.reports, kernel=args.kernel, data_dir=args.data_dir)
    print(f"{summary['passed']} passed, {summary['failed']} failed, {summary['errors']} errors -> {args.reports}")
    return 1 if summary["failed"] or summary["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
