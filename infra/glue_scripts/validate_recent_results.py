"""Scheduled validation of recent job results (a Glue Python shell job, Python 3.9, boto3 only).

Checks every job updated in the last ``--LOOKBACK_HOURS``:
* SUCCEEDED jobs have their output under ``<OUTPUT_PREFIX><job_id>/`` and, when the record
  gives ``output_bytes``, the data objects add up to exactly that many bytes;
* no job sits in PENDING / QUEUED / RUNNING for longer than ``--STUCK_AFTER_HOURS``
  (a lost event would leave it there).
The outcome is recorded twice: a JSON summary in the output bucket (``validation/``) and the
``ValidationChecked`` / ``ValidationFailures`` metrics that the monitoring alarm watches.
Deployed by infra/pipeline/validation.py; kept 3.9-compatible because Python shell runs 3.9.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

import boto3

IN_FLIGHT = {"PENDING", "QUEUED", "RUNNING"}
REPORT_SUFFIXES = ("report.json", "_SUCCESS")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--OUTPUT_BUCKET", required=True)
    parser.add_argument("--JOBS_TABLE", required=True)
    parser.add_argument("--METRICS_NAMESPACE", required=True)
    parser.add_argument("--OUTPUT_PREFIX", default="outputs/")
    parser.add_argument("--LOOKBACK_HOURS", type=int, default=24)
    parser.add_argument("--STUCK_AFTER_HOURS", type=int, default=3)
    # Glue passes its own arguments (--job-bookmark-option, --JOB_ID...): ignore them.
    args, _unknown = parser.parse_known_args(argv)
    return args


def parse_time(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)  # noqa: UP017 (3.9)


def recent_jobs(table: Any, since: dt.datetime) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = table.scan(**kwargs)
        jobs.extend(item for item in page["Items"] if parse_time(str(item["updated_at"])) >= since)
        if "LastEvaluatedKey" not in page:
            return jobs
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def data_bytes(s3: Any, bucket: str, prefix: str) -> tuple[int, int]:
    """(number of data objects, their total size) under ``prefix``, reports excluded."""
    count = total = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if not obj["Key"].endswith(REPORT_SUFFIXES):
                count += 1
                total += int(obj["Size"])
    return count, total


def check_job(job: dict[str, Any], now: dt.datetime, args: argparse.Namespace, s3: Any) -> str | None:
    status = job.get("status")
    if status in IN_FLIGHT:
        age = now - parse_time(str(job["updated_at"]))
        if age > dt.timedelta(hours=args.STUCK_AFTER_HOURS):
            return f"stuck in {status} for {age}"
        return None
    if status != "SUCCEEDED":
        return None
    # The published attempt's folder (a job's runs each write under their own attempt id;
    # a killed duplicate's leftovers are not the output). Older records have none.
    attempt = f"{job['attempt']}/" if job.get("attempt") else ""
    count, total = data_bytes(s3, args.OUTPUT_BUCKET, f"{args.OUTPUT_PREFIX}{job['job_id']}/{attempt}")
    if count == 0:
        return "SUCCEEDED without an output object"
    expected = job.get("output_bytes")
    if expected is not None and int(expected) != total:
        return f"output is {total} bytes, the record says {int(expected)}"
    return None


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    now = dt.datetime.now(dt.timezone.utc)  # noqa: UP017 (3.9)
    table = boto3.resource("dynamodb").Table(args.JOBS_TABLE)
    s3 = boto3.client("s3")
    jobs = recent_jobs(table, now - dt.timedelta(hours=args.LOOKBACK_HOURS))
    failures = {}
    for job in jobs:
        problem = check_job(job, now, args, s3)
        if problem:
            failures[str(job["job_id"])] = problem
    summary = {
        "checked_at": now.isoformat(),
        "lookback_hours": args.LOOKBACK_HOURS,
        "jobs_checked": len(jobs),
        "failures": failures,
        "ok": not failures,
    }
    s3.put_object(
        Bucket=args.OUTPUT_BUCKET,
        Key=f"validation/{now.strftime('%Y-%m-%dT%H%M%SZ')}.json",
        Body=json.dumps(summary, indent=2).encode(),
        ContentType="application/json",
    )
    boto3.client("cloudwatch").put_metric_data(
        Namespace=args.METRICS_NAMESPACE,
        MetricData=[
            {"MetricName": "ValidationChecked", "Value": len(jobs), "Unit": "Count"},
            {"MetricName": "ValidationFailures", "Value": len(failures), "Unit": "Count"},
        ],
    )
    print(json.dumps(summary))
    # A failed validation fails the run too, so it shows in Glue and in the job-state alarm.
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
