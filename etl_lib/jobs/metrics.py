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
# Published by the reconciler (etl_lib.jobs.reconcile) for each pass: jobs it relaunched,
# and jobs it ended FAILED (stuck: never started, never claimed, or their run's lease lapsed).
# Under the reconciler Lambda's own service dimension (its POWERTOOLS_SERVICE_NAME).
RECONCILER_SERVICE = "jobs-reconciler"
JOBS_RELAUNCHED = "JobsRelaunched"
JOBS_RECONCILED_FAILED = "JobsFailedByReconciler"
SERVICE_DIMENSION = ("service", "jobs-events")
DEFAULT_NAMESPACE = "ParquetJsonEtl"


def job_end_values(job: Job) -> list[tuple[str, str, float]]:
    """(metric name, CloudWatch unit, value) for a job that has just ended."""
    name = JOBS_SUCCEEDED if job.status is JobStatus.SUCCEEDED else JOBS_FAILED
    values: list[tuple[str, str, float]] = [(name, "Count", 1)]
    if job.duration_ms is not None:  # the conversion's time (a rejected upload has none)
        values.append((JOB_DURATION_MS, "Milliseconds", job.duration_ms))
    return values


def reconciled_values(relaunched: int, failed: int) -> list[tuple[str, str, float]]:
    """(metric name, CloudWatch unit, value) for one reconciler pass (zeros included, so the
    dashboard's graphs show that the reconciler ran)."""
    return [(JOBS_RELAUNCHED, "Count", relaunched), (JOBS_RECONCILED_FAILED, "Count", failed)]
