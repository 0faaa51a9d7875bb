"""The reconciler: ends or restarts jobs that no live run will ever move on.

Events are delivered at least once, but a process may die between two of its writes, and an
event may be lost (left in a dead-letter queue). Three kinds of job then stick:

* **QUEUED, no run.** The events Lambda queued the job, then died before StartJobRun (or the
  converter's Invoke) returned. A job is QUEUED exactly while no run has been recorded for it
  (recording the run moves it to RUNNING, and so does a run's claim), so "no run" is: status
  QUEUED, and ``queued_at`` older than :attr:`ReconcilePolicy.relaunch_after`. Such a job is
  relaunched (a conditional write counts the relaunch, then a run is started) at most
  :attr:`ReconcilePolicy.max_relaunches` times, then FAILED with ``RUN_NOT_STARTED``.
* **RUNNING, never claimed.** A run was recorded but never claimed the job. If the launcher
  knows the run has ended (Glue's GetJobRun), the job fails as that run's lost state event
  would have failed it (``RUN_FAILED``...); a run it reports alive (waiting for a slot,
  starting) is left to its own timeout; a run it cannot tell about (an asynchronous Lambda
  invocation) still unclaimed :attr:`ReconcilePolicy.start_timeout` after the job was queued
  fails the job with ``RUN_LOST``.
* **RUNNING, lease lapsed.** A run claimed the job, then died with its state event lost: its
  lease lapsed :attr:`ReconcilePolicy.lease_grace` ago or more (time for a Lambda retry,
  which waits out the lease, to take over). FAILED with ``RUN_LOST``, and the dead attempt's
  files removed.

It also sweeps the outputs' catalog: a job's table must go when the job does, but in AWS
DynamoDB's TTL deletes an expired job's record and S3's lifecycle its files, and neither
knows the table (and a process may die between deleting a job and dropping its table). So
each pass drops the tables whose job is gone or past its expiry (:func:`sweep_tables`). A
sweep rather than a DynamoDB stream of TTL deletions: it needs no stream, consumer or
dead-letter queue, runs the same on the local stack (which has no streams), and also finds
the tables any other failure left behind. It is bounded per pass (one shard of the tables'
names, at most :attr:`ReconcilePolicy.tables_checked` of them read against the job store,
oldest first), so a flood of expired tables goes over several passes, never in one that
outlives its Lambda.

Every change is one conditional write that re-checks, atomically, what the decision was made
on (the attempt and its lapsed lease; no claim and the queued time; the relaunch count), so
a live run that renewed its lease or claimed the job meanwhile is never touched, and
reconcilers racing each other change a job once. The same function runs in AWS (the
scheduled reconciler Lambda) and in the local stack (its periodic sweep).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from etl_lib.errors import ErrorCode, run_ended_code
from etl_lib.jobs import state
from etl_lib.jobs.catalog import job_of_table, job_tables_pattern
from etl_lib.jobs.models import Job, JobError, JobStatus
from etl_lib.jobs.service import GLUE_FAILED_STATES, JobService

log = logging.getLogger(__name__)

DEFAULT_RELAUNCH_AFTER_SECONDS = 300
"""A QUEUED job with no run this long after it was queued is relaunched: far longer than the
events Lambda takes between its QUEUED write and StartJobRun (its timeout is 29 s)."""
DEFAULT_MAX_RELAUNCHES = 2
DEFAULT_START_TIMEOUT_SECONDS = 2 * 3600
"""A run recorded but not claiming its job this long after the job was queued is lost, when
its launcher cannot tell whether it is alive (the converter's asynchronous invocation, which
Lambda retries for at most its event age and then reports to the on-failure destination)."""

DEFAULT_TABLES_CHECKED = 200
"""Tables a pass reads the job of (and may drop): 200 GetItem and DeleteTable calls, seconds."""
DEFAULT_TABLES_LISTED = 2000
"""Tables a pass lists from its shard (20 GetTables pages); with 16 shards, a catalog of up to
32,000 tables is seen whole every 16 passes."""
DEFAULT_TABLE_SHARD_SECONDS = 300
"""A pass sweeps the shard of the current period of this length (the reconciler's schedule)."""
TABLE_SHARDS = "0123456789abcdef"
"""The first hex digit of the tables' job ids (uniformly random): one shard per period, in turn."""


@dataclass(frozen=True)
class ReconcilePolicy:
    """When a job counts as stuck (see the module's docstring); seconds."""

    relaunch_after: int = DEFAULT_RELAUNCH_AFTER_SECONDS
    max_relaunches: int = DEFAULT_MAX_RELAUNCHES
    start_timeout: int = DEFAULT_START_TIMEOUT_SECONDS
    # How long after a lease lapsed its job is failed; the service's lease length by default.
    lease_grace: int | None = None
    # The catalog sweep's bounds (see sweep_tables).
    tables_checked: int = DEFAULT_TABLES_CHECKED
    tables_listed: int = DEFAULT_TABLES_LISTED
    table_shard_seconds: int = DEFAULT_TABLE_SHARD_SECONDS


@dataclass
class Reconciled:
    """What one pass changed: job ids by outcome."""

    relaunched: list[str] = field(default_factory=list)
    # Ended FAILED: never started, never claimed, or holder dead (lease lapsed).
    failed_unstarted: list[str] = field(default_factory=list)
    failed_unclaimed: list[str] = field(default_factory=list)
    failed_lapsed: list[str] = field(default_factory=list)
    # Ended FAILED because the launcher says its run ended before claiming it.
    failed_run_ended: list[str] = field(default_factory=list)
    # Catalog tables dropped because their job is gone or expired.
    dropped_tables: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        """How many jobs this pass ended FAILED itself."""
        lists = (self.failed_unstarted, self.failed_unclaimed, self.failed_run_ended, self.failed_lapsed)
        return sum(len(ids) for ids in lists)


def reconcile(
    service: JobService, policy: ReconcilePolicy | None = None, *, now: int | None = None, limit: int = 1000
) -> Reconciled:
    """One pass over up to ``limit`` QUEUED and RUNNING jobs, judged at ``now`` (epoch
    seconds, the real time by default: leases are judged by it)."""
    policy = policy or ReconcilePolicy()
    now = int(time.time()) if now is None else now
    done = Reconciled()
    for job_id in service.jobs.ids_in(state.ACTIVE)[:limit]:
        job = service.jobs.get(job_id)
        if job is None or job.status not in state.ACTIVE:
            continue
        try:
            _reconcile_one(service, policy, job, now, done)
        except Exception:  # one job's store error must not stop the others
            log.exception("cannot reconcile a job", extra={"job_id": job_id})
    try:
        done.dropped_tables = sweep_tables(service, policy, now=now)
    except Exception:  # a catalog that cannot be listed must not undo the jobs' pass
        log.exception("cannot sweep the outputs' catalog")
    return done


def sweep_tables(service: JobService, policy: ReconcilePolicy | None = None, *, now: int) -> list[str]:
    """Drop the catalog tables of jobs that are gone or expired at ``now``, within the
    policy's bounds: list the tables of this period's shard (job ids starting with one hex
    digit, the shards taken in turn), and read the job of at most ``tables_checked`` of
    them, oldest first (a job expires the retention after its table was registered, so the
    oldest tables fall due first, and a flood of them is drained in that order). Tables not
    named for a job are never touched. Returns the names dropped."""
    policy = policy or ReconcilePolicy()
    catalog = service.catalog
    if catalog is None:
        return []
    shard = TABLE_SHARDS[(now // policy.table_shard_seconds) % len(TABLE_SHARDS)]
    listed = catalog.listed(job_tables_pattern(shard), limit=policy.tables_listed)
    if len(listed) >= policy.tables_listed:
        log.warning("the catalog shard holds more tables than a pass lists", extra={"shard": shard})
    ours = sorted((t for t in listed if job_of_table(t.name)), key=lambda t: (t.created_at, t.name))
    dropped: list[str] = []
    for table in ours[: policy.tables_checked]:
        job_id = job_of_table(table.name) or ""
        try:
            job = service.jobs.get(job_id)
            if job is not None and not job.is_expired(now):
                continue  # the job lives: its table stays
            if catalog.drop(table.name):
                dropped.append(table.name)
        except Exception:  # one table's error must not stop the others
            log.exception("cannot sweep a catalog table", extra={"table": table.name, "job_id": job_id})
    if dropped:
        log.info("catalog tables of gone or expired jobs dropped", extra={"count": len(dropped), "shard": shard})
    return dropped


def _reconcile_one(service: JobService, policy: ReconcilePolicy, job: Job, now: int, done: Reconciled) -> None:
    if job.status is JobStatus.QUEUED:
        _queued(service, policy, job, now, done)
    elif job.attempt is None:
        _unclaimed(service, policy, job, now, done)
    else:
        grace = service.lease_seconds if policy.lease_grace is None else policy.lease_grace
        lapsed_by = now - grace
        if job.lease_expires_at is None or job.lease_expires_at > lapsed_by:
            return  # its holder renews (or may still be taken over by a retry)
        error = JobError(
            code=ErrorCode.RUN_LOST,
            message="the conversion run stopped without reporting a result (it no longer renews its claim); try again",
        )
        if service.fail_if_attempt(job.job_id, job.attempt, error, lapsed_by=lapsed_by) is not None:
            log.warning("job failed: its run's lease lapsed", extra={"job_id": job.job_id, "attempt": job.attempt})
            done.failed_lapsed.append(job.job_id)


def _queued(service: JobService, policy: ReconcilePolicy, job: Job, now: int, done: Reconciled) -> None:
    queued_by = now - policy.relaunch_after
    if (job.queued_at or 0) > queued_by:
        return
    if job.relaunches < policy.max_relaunches:
        if service.relaunch(job, queued_by=queued_by, now=now) is not None:
            log.warning("job relaunched: no run was started", extra={"job_id": job.job_id})
            done.relaunched.append(job.job_id)
        return
    tries = f"{job.relaunches} relaunch{'es' * (job.relaunches != 1)}"
    error = JobError(code=ErrorCode.RUN_NOT_STARTED, message=f"no conversion run could be started (after {tries})")
    if service.fail_unclaimed(job.job_id, error, queued_by=queued_by) is not None:
        done.failed_unstarted.append(job.job_id)


def _unclaimed(service: JobService, policy: ReconcilePolicy, job: Job, now: int, done: Reconciled) -> None:
    """A RUNNING job whose recorded run has not claimed it."""
    launcher = service.launcher
    run_state = launcher.run_state(job.run_id) if launcher is not None and job.run_id else None
    if run_state in GLUE_FAILED_STATES or run_state == "SUCCEEDED":
        # The run ended without claiming the job, and its state event never came: fail the
        # job now, still only while no run holds it (another run may have claimed it since).
        error = JobError(
            code=run_ended_code(run_state), message=f"the conversion run ended {run_state} before it started"
        )
        if service.fail_unclaimed(job.job_id, error, queued_by=now) is not None:
            done.failed_run_ended.append(job.job_id)
        return
    if run_state is not None:
        return  # the launcher says the run is alive (starting, waiting for a slot): its timeout ends it
    queued_by = now - policy.start_timeout
    if (job.queued_at or 0) > queued_by:
        return
    error = JobError(code=ErrorCode.RUN_LOST, message="the conversion run never started; try again")
    if service.fail_unclaimed(job.job_id, error, queued_by=queued_by) is not None:
        done.failed_unclaimed.append(job.job_id)
