"""The metrics a job publishes when it ends, whatever ended it.

A job ends in the Glue job, the converter Lambda or the events Lambda (a rejected upload,
a crashed run). All publish the same series, under the dimension the dashboard and alarms
read (infra/pipeline/monitoring.py: ``service=jobs-events``), so one graph counts every
job whichever engine ran it.
"""

from __future__ import annotations

from typing import NamedTuple

from etl_lib.jobs.models import Job, JobStatus

DEFAULT_NAMESPACE = "ParquetJsonEtl"


def service_name(function: str) -> str:
    """A function's Powertools service name (``POWERTOOLS_SERVICE_NAME``, the ``service``
    dimension of its metrics): ``upload`` -> ``jobs-upload``."""
    return f"jobs-{function}"


class Metric(NamedTuple):
    """One series: its name and the ``service`` dimension it is published under ("" for none)."""

    name: str
    service: str


# Every series the code publishes, and so every one the dashboard and alarms may read
# (infra/pipeline/monitoring.py imports these; tests check both ends).
JOBS_CREATED = Metric("JobsCreated", service_name("upload"))
JOBS_DELETED = Metric("JobsDeleted", service_name("status"))
DOWNLOADS = Metric("Downloads", service_name("download"))
# What an upload's arrival led to, by the job's status after it (events Lambda).
UPLOADS_BY_STATUS = {status: Metric(f"Uploads{status.value.title()}", service_name("events")) for status in JobStatus}
UPLOADS_STARTED = UPLOADS_BY_STATUS[JobStatus.RUNNING]
UPLOADS_REJECTED = UPLOADS_BY_STATUS[JobStatus.FAILED]
# A job's end, whoever ended it (see the module's docstring).
JOBS_SUCCEEDED = Metric("JobsSucceeded", service_name("events"))
JOBS_FAILED = Metric("JobsFailed", service_name("events"))
JOB_DURATION_MS = Metric("JobDurationMs", service_name("events"))
SERVICE_DIMENSION = ("service", service_name("events"))
# Published by the scheduled validation (no service dimension).
VALIDATION_CHECKED = Metric("ValidationChecked", "")
VALIDATION_FAILURES = Metric("ValidationFailures", "")

CATALOGUE = frozenset(
    {
        JOBS_CREATED,
        JOBS_DELETED,
        DOWNLOADS,
        *UPLOADS_BY_STATUS.values(),
        JOBS_SUCCEEDED,
        JOBS_FAILED,
        JOB_DURATION_MS,
        VALIDATION_CHECKED,
        VALIDATION_FAILURES,
    }
)


def job_end_values(job: Job) -> list[tuple[str, str, float]]:
    """(metric name, CloudWatch unit, value) for a job that has just ended."""
    ended = JOBS_SUCCEEDED if job.status is JobStatus.SUCCEEDED else JOBS_FAILED
    values: list[tuple[str, str, float]] = [(ended.name, "Count", 1)]
    if job.duration_ms is not None:  # the conversion's time (a rejected upload has none)
        values.append((JOB_DURATION_MS.name, "Milliseconds", job.duration_ms))
    return values
