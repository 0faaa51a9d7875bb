"""The metrics a job publishes when it ends, whatever ended it.

A job ends in the Glue job, the converter Lambda or the events Lambda (a rejected upload,
a crashed run). All publish the same series, under the dimension the dashboard and alarms
read (infra/pipeline/monitoring.py: ``service=jobs-events``), so one graph counts every
job whichever engine ran it.
"""

from __future__ import annotations

from etl_lib.jobs.models import Job, JobStatus

JOBS_SUCCEEDED = "JobsSucceeded"
JOBS_FAILED = "JobsFailed"
JOB_DURATION_MS = "JobDurationMs"
SERVICE_DIMENSION = ("service", "jobs-events")
DEFAULT_NAMESPACE = "ParquetJsonEtl"


def job_end_values(job: Job) -> list[tuple[str, str, float]]:
    """(metric name, CloudWatch unit, value) for a job that has just ended."""
    name = JOBS_SUCCEEDED if job.status is JobStatus.SUCCEEDED else JOBS_FAILED
    values: list[tuple[str, str, float]] = [(name, "Count", 1)]
    if job.duration_ms is not None:  # the conversion's time (a rejected upload has none)
        values.append((JOB_DURATION_MS, "Milliseconds", job.duration_ms))
    return values
