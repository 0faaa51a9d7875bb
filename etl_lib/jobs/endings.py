"""How a job ends: one conditional write (FAILED or SUCCEEDED), its metrics published by
the writer that won, and the files of the attempt or of the whole job removed.

Every use case that can end a job (the upload's check, a run's start, the run itself, a
run-state event, the reconciler) ends it through these functions, so a job is ended, and
counted, once whichever process ends it.
"""

from __future__ import annotations

import logging
from typing import Any

from etl_lib.jobs.context import JobContext
from etl_lib.jobs.models import Job, JobError, JobStatus, attempt_prefix, input_key, output_prefix

log = logging.getLogger(__name__)


def ended(context: JobContext, job: Job | None) -> None:
    """Report ``job``'s end to the metrics, if this caller's write ended it (``job`` set)."""
    # Only the caller whose conditional write ended the job reports it, so a job is
    # counted once whichever process (Glue, converter, events Lambda) ended it.
    if job is None or context.metrics is None:
        return
    try:
        context.metrics.job_ended(job)
    except Exception:  # metrics must never change a job's outcome
        log.exception("cannot publish the job's metrics")


def fail(
    context: JobContext, job_id: str, error: JobError, *, attempt: str | None = None, **changes: Any
) -> Job | None:
    """End the job FAILED (if it has not ended; with ``attempt``, only while that attempt
    holds it). Returns the job as it is afterwards."""
    failed = context.jobs.transition(
        job_id,
        JobStatus.FAILED,
        {"error": error.model_dump(), "expires_at": context.retained(), **changes},
        attempt=attempt,
    )
    ended(context, failed)
    return failed or context.jobs.get(job_id)


def fail_unclaimed(context: JobContext, job_id: str, error: JobError, *, queued_by: int) -> Job | None:
    """End the job FAILED with ``error`` only if no run has claimed it and it was queued
    at or before ``queued_by``: a run that never started, or never reached the job. A
    run that claims it afterwards finds it ended and does nothing. None when the
    condition did not hold."""
    changes = {"error": error.model_dump(), "expires_at": context.retained()}
    failed = context.jobs.transition(job_id, JobStatus.FAILED, changes, unclaimed_by=queued_by)
    ended(context, failed)
    return failed


def fail_if_attempt(
    context: JobContext, job_id: str, attempt: str, error: JobError, *, lapsed_by: int | None = None
) -> Job | None:
    """End the job FAILED with ``error`` only if ``attempt`` still holds it (with
    ``lapsed_by``, only if its lease ended at or before that time too), and remove that
    attempt's files. For a supervisor whose worker died mid-run (``WORKER_DIED``), or
    the reconciler ending a run that stopped renewing its lease: if another attempt took
    the job over meanwhile, renewed, or it has ended, nothing changes. Returns the
    failed job, or None when the condition did not hold."""
    changes = {"error": error.model_dump(), "expires_at": context.retained()}
    failed = context.jobs.transition(job_id, JobStatus.FAILED, changes, attempt=attempt, lapsed_by=lapsed_by)
    if failed is not None:
        discard(context, job_id, attempt)
        ended(context, failed)
    return failed


def succeed(context: JobContext, job: Job, report: Any, attempt: str | None) -> Job | None:
    """End the job SUCCEEDED with ``report``'s figures (an ``etl_lib.report.RunReport``),
    only while ``attempt`` holds it; None when it no longer does."""
    succeeded = context.jobs.transition(
        job.job_id,
        JobStatus.SUCCEEDED,
        {
            "engine": report.engine,  # what ran: "auto" resolves by input size
            "input_bytes": report.input_bytes,
            "output_bytes": report.output_bytes,
            "rows_in": report.rows_in,
            "rows_out": report.rows_out,
            "duration_ms": report.duration_ms,
            "catalog_table": report.catalog_table,
            "error": None,
            # The output was just written: the lifecycle rule keeps it at least as long.
            "expires_at": context.retained(),
        },
        attempt=attempt,
    )
    ended(context, succeeded)
    return succeeded


def discard(context: JobContext, job_id: str, attempt: str) -> None:
    """Remove what ``attempt`` made: its files and, if it registered one, its table."""
    context.outputs.delete_prefix(attempt_prefix(job_id, attempt))
    if context.catalog is not None:
        from etl_lib.jobs.catalog import table_name

        try:
            context.catalog.drop(table_name(job_id, attempt))
        except Exception:  # the run's outcome stands; the table is named in the log
            log.exception("cannot drop the attempt's table", extra={"job_id": job_id, "attempt": attempt})


def remove_files(context: JobContext, job: Job) -> None:
    """A deleted job's files: its input, its outputs, and its multipart upload's parts."""
    if job.upload_id is not None:
        context.inputs.abort_multipart(input_key(job.job_id), job.upload_id)
    context.inputs.delete_prefix(f"inputs/{job.job_id}/")
    context.outputs.delete_prefix(output_prefix(job.job_id))
    if job.catalog_table is not None and context.catalog is not None:
        context.catalog.drop(job.catalog_table)
