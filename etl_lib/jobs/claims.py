"""A run's claim on its job, and the lease that keeps it: how a run becomes the job's only
holder, and how a dead holder's job is taken over by a retry."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator

from etl_lib.jobs import state
from etl_lib.jobs.context import JobContext
from etl_lib.jobs.models import Job

log = logging.getLogger(__name__)

# Kept free before a run's ``must_end_by``: the report, the final conditional write, and the
# removal of the attempt's files after a failure.
RUN_FINISH_SECONDS = 30
# A run that could not claim its job until less than this is left before ``must_end_by``
# stops waiting: the job's holder, or the reconciler, ends it.
MIN_RUN_SECONDS = 60


def claim(
    context: JobContext, job_id: str, attempt: str, run_id: str | None, *, must_end_by: float | None
) -> Job | None:
    """Claim the job for ``attempt``; the job as it is when another run keeps it.

    When another attempt holds a lease, wait (bounded by one lease) to see whether it
    is alive: a live holder renews its lease (then this run is a duplicate and gives
    way), a dead one stops renewing (then this run, typically Lambda's retry of a crashed
    invocation, takes over when the lease ends).
    """
    jobs, lease_seconds = context.jobs, context.lease_seconds
    deadline = time.monotonic() + lease_seconds + 2 * context.claim_poll_seconds
    if must_end_by is not None:  # a wait that would leave no time to convert is not worth it
        deadline = min(deadline, must_end_by - RUN_FINISH_SECONDS - MIN_RUN_SECONDS)
    seen_lease: int | None = None
    for _ in range(1_000_000):  # bounded by the deadline; the count only guards the loop
        now = int(time.time())
        claimed = jobs.claim(job_id, attempt=attempt, lease_until=now + lease_seconds, now=now, run_id=run_id)
        if claimed is not None:
            return claimed
        current = jobs.get(job_id)
        if current is None or current.status not in state.CLAIMABLE:
            if current is None:
                log.warning("run for a job that no longer exists", extra={"job_id": job_id})
            return current  # deleted, or finished by an earlier run
        if seen_lease is not None and current.lease_expires_at != seen_lease:
            return current  # renewed or taken over: someone alive holds it
        seen_lease = current.lease_expires_at
        if time.monotonic() >= deadline:
            return current
        time.sleep(context.claim_poll_seconds)
    return jobs.get(job_id)


@contextlib.contextmanager
def holding(context: JobContext, job_id: str, attempt: str) -> Iterator[None]:
    """Renew ``attempt``'s lease every third of it while the block runs."""
    stop = threading.Event()
    lease_seconds = context.lease_seconds

    def renew() -> None:
        while not stop.wait(lease_seconds / 3):
            try:
                if not context.jobs.renew(job_id, attempt=attempt, lease_until=int(time.time()) + lease_seconds):
                    return  # lost (taken over or ended): the final write will say so
            except Exception:  # a transient store error: try again at the next beat
                log.exception("cannot renew the run's lease")

    beat = threading.Thread(target=renew, name=f"lease-{job_id[:8]}", daemon=True)
    beat.start()
    try:
        yield
    finally:
        stop.set()
        beat.join()
