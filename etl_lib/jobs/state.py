"""The job state machine: the only place that says which status may follow which.

Pure on purpose: the stores turn :func:`allowed_sources` into conditional writes
(DynamoDB ``ConditionExpression``, SQL ``WHERE status IN (...)``), so an event delivered
twice or late can never move a job backwards, whatever process handles it.
"""

from __future__ import annotations

from etl_lib.jobs.models import Job, JobStatus

# PENDING: created, waiting for the upload.  QUEUED: upload accepted, run requested.
# RUNNING: the Glue run (or local runner) has started.  SUCCEEDED/FAILED: final.
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.PENDING: frozenset({JobStatus.QUEUED, JobStatus.FAILED}),
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING, JobStatus.FAILED}),
    JobStatus.RUNNING: frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED}),
    JobStatus.SUCCEEDED: frozenset(),
    JobStatus.FAILED: frozenset(),
}

TERMINAL: frozenset[JobStatus] = frozenset(s for s, targets in TRANSITIONS.items() if not targets)
ACTIVE: frozenset[JobStatus] = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})
# What counts against a user's limit of unfinished jobs (an upload not yet made included).
UNFINISHED: frozenset[JobStatus] = frozenset({JobStatus.PENDING, *ACTIVE})
# A run may claim a job that is waiting for it (QUEUED) or whose run has started (RUNNING:
# the events Lambda marks it so when it starts the run) and whose lease is free.
CLAIMABLE: frozenset[JobStatus] = ACTIVE


class IllegalTransitionError(Exception):
    def __init__(self, source: JobStatus, target: JobStatus) -> None:
        super().__init__(f"a job cannot go from {source.value} to {target.value}")
        self.source = source
        self.target = target


def can_transition(source: JobStatus, target: JobStatus) -> bool:
    return target in TRANSITIONS[source]


def check_transition(source: JobStatus, target: JobStatus) -> None:
    if not can_transition(source, target):
        raise IllegalTransitionError(source, target)


def allowed_sources(target: JobStatus) -> frozenset[JobStatus]:
    """The statuses a job must be in for a move to ``target`` (the stores' write condition)."""
    return frozenset(source for source, targets in TRANSITIONS.items() if target in targets)


def is_terminal(status: JobStatus) -> bool:
    return status in TERMINAL


def holds_a_place(job: Job, now: float) -> bool:
    """Whether ``job`` counts against its owner's limit of unfinished jobs at ``now``: until it
    ends, is deleted, or (waiting for an upload that never came) expires."""
    return job.status in UNFINISHED and not job.is_expired(now)
