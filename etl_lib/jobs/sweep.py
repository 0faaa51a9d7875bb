"""Housekeeping: expired jobs and their files deleted (the local stack's periodic sweep; in
AWS, DynamoDB's TTL and the buckets' lifecycle rules do the same)."""

from __future__ import annotations

from etl_lib.jobs import endings
from etl_lib.jobs.context import JobContext


def sweep_expired(context: JobContext, *, now: int | None = None, limit: int = 100) -> int:
    """Delete up to ``limit`` expired jobs and their files; returns how many went.

    The local stack calls it periodically. In AWS, DynamoDB's TTL deletes the records and
    the buckets' lifecycle rules the files, so calling it there is optional. Each record
    is deleted only if it is still expired at the time of the write (an upload that
    just arrived extends a PENDING job's life), then its files.
    """
    jobs = context.jobs
    now = int(context.clock()) if now is None else now
    swept = 0
    for job_id in jobs.expired_ids(now=now, limit=limit):
        job = jobs.get(job_id)  # read first: its upload id goes with the record
        if job is None or not jobs.delete(job_id, expired_by=now):
            continue
        endings.remove_files(context, job)
        swept += 1
    return swept
