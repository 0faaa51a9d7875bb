"""Scheduled validation: run ``03-validate-output`` over recent SUCCEEDED jobs.

The core of ``etl validate``: :func:`validate_jobs` takes job records (dicts with
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
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from etl_lib.notebook.runner import KERNEL, NotebookFailed, run_notebook

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"
VALIDATION_NOTEBOOK = NOTEBOOKS_DIR / "03-validate-output.ipynb"
_SINCE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


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
    if hasattr(options, "model_dump"):
        options = options.model_dump(mode="json")
    return json.dumps(options)


def validate_job(
    job: Mapping[str, Any], reports_dir: str | os.PathLike[str], *,
    notebook: str | os.PathLike[str] = VALIDATION_NOTEBOOK, kernel: str = KERNEL,
    data_dir: str | os.PathLike[str] | None = None, sample_size: int = 100,
) -> dict[str, Any]:  # fmt: skip
    """Validate one job; never raises for a failed validation (it is in the result)."""
    job_id = str(job["job_id"])
    folder = Path(reports_dir) / job_id
    summary_path = folder / "summary.json"
    executed = folder / Path(notebook).name
    if summary_path.exists():
        summary_path.unlink()  # never report a previous run's summary
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
    data_dir: str | os.PathLike[str] | None = None, sample_size: int = 100,
) -> dict[str, Any]:  # fmt: skip
    """Validate every job; write ``reports_dir/summary.json`` and return it.

    ``data_dir`` is the local stack's data directory: ``s3://bucket/key`` URIs are then read
    from its object tree. Check ``summary["failed"] + summary["errors"]`` for the exit status.
    """
    started = datetime.now(UTC)
    results = [
        validate_job(job, reports_dir, notebook=notebook, kernel=kernel, data_dir=data_dir, sample_size=sample_size)
        for job in jobs
    ]
    summary = {
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "notebook": str(notebook),
        "kernel": kernel,
        "jobs": results,
        "passed": sum(r["status"] == "passed" for r in results),
        "failed": sum(r["status"] == "failed" for r in results),
        "errors": sum(r["status"] == "error" for r in results),
    }
    path = Path(reports_dir) / "summary.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


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
