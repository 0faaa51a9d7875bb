"""Starting a job's run, and what the launcher reports about it afterwards: a Glue run's
state changes (EventBridge), a converter Lambda's lost run (its on-failure destination)."""

from __future__ import annotations

import logging
import time

from etl_lib import errors
from etl_lib.jobs import endings, state
from etl_lib.jobs.context import JobContext
from etl_lib.jobs.costs import RunCosts
from etl_lib.jobs.models import Job, JobError, JobStatus, report_key
from etl_lib.jobs.ports import RunSpec
from etl_lib.options import Engine

log = logging.getLogger(__name__)

# Glue run states that end a run without our script having reported a result.
GLUE_FAILED_STATES = frozenset({"FAILED", "TIMEOUT", "STOPPED", "ERROR"})


class Launches:
    """Starts runs and follows what their launchers report."""

    def __init__(self, context: JobContext, costs: RunCosts) -> None:
        self.context = context
        self.costs = costs

    def start(self, job: Job) -> Job | None:
        """Start a run of the QUEUED ``job`` on the launcher of its engine; the job as the
        start left it (FAILED with RUN_NOT_STARTED when the launcher refused)."""
        context = self.context
        launcher = context.local_launcher if job.engine is Engine.LOCAL and context.local_launcher else context.launcher
        if launcher is None:
            raise RuntimeError("this service has no job launcher")
        try:
            run_id = launcher.start(
                {"--job_id": job.job_id, **context.run_arguments},
                RunSpec(input_bytes=job.input_bytes or 0, execution_class=job.execution_class),
            )
        except Exception as exc:
            log.exception("cannot start the conversion run")
            return endings.fail(
                context,
                job.job_id,
                JobError(
                    code=errors.ErrorCode.RUN_NOT_STARTED,
                    message=f"the conversion could not be started: {type(exc).__name__}",
                ),
            )
        # The run may already have marked itself RUNNING (or even finished): then this
        # conditional write is a no-op and the newer state stands.
        running = context.jobs.transition(job.job_id, JobStatus.RUNNING, {"run_id": run_id})
        return running or context.jobs.get(job.job_id)

    def relaunch(self, job: Job, *, queued_by: int, now: int) -> Job | None:
        """Start another run of a QUEUED job no run was started for (the process that queued
        it died before starting one), if it is still so: counted by one conditional write,
        so of reconcilers racing exactly one starts a run. None when another one did, or a
        run moved the job on; otherwise the job as the start left it."""
        relaunched = self.context.jobs.relaunch(job.job_id, relaunches=job.relaunches, queued_by=queued_by, now=now)
        return None if relaunched is None else self.start(relaunched)

    def on_run_state(self, run_id: str, run_state: str, message: str | None = None) -> Job | None:
        """A Glue run changed state. Only a run that ended without reporting matters, and only
        if it is the job's run: an event about a duplicate run must not end the job another
        run holds."""
        context = self.context
        arguments = context.launcher.arguments_of(run_id) if context.launcher else None
        job_id = (arguments or {}).get("--job_id")
        job = context.jobs.get(job_id) if job_id else None
        if job is not None and job.status is JobStatus.SUCCEEDED and run_state == "SUCCEEDED":
            return self.costs.record_glue_cost(job, run_id)
        if job is None or state.is_terminal(job.status):
            return job
        if job.run_id is not None and job.run_id != run_id:
            return job
        if run_state in GLUE_FAILED_STATES:
            detail = f": {message}" if message else ""
            return endings.fail(
                context,
                job.job_id,
                JobError(
                    code=errors.run_ended_code(run_state), message=f"the conversion run ended {run_state}{detail}"
                ),
                attempt=job.attempt,
            )
        if run_state == "SUCCEEDED":
            return self._ended_unreported(job, run_id)
        return job

    def _ended_unreported(self, job: Job, run_id: str) -> Job | None:
        """The run ended cleanly but the job was not marked: recover from the report the run
        stored, or fail rather than stay RUNNING for ever."""
        context = self.context
        report = context.outputs.get_bytes(report_key(job.job_id, job.attempt))
        if report is not None:
            from etl_lib.report import RunReport

            recovered = endings.succeed(context, job, RunReport.from_json(report), job.attempt)
            return self.costs.record_glue_cost(recovered, run_id) if recovered is not None else None
        if job.lease_expires_at is not None and job.lease_expires_at > time.time():
            return job  # its holder is alive (a duplicate run ended): it will report
        return endings.fail(
            context,
            job.job_id,
            JobError(code=errors.ErrorCode.RUN_LOST, message="the conversion run ended without a result; try again"),
            attempt=job.attempt,
        )

    def on_run_lost(self, job_id: str, reason: str) -> Job | None:
        """A local-engine run (the converter Lambda) crashed or timed out on every attempt.

        Lambda reports it through the converter's on-failure destination; the job must not
        stay RUNNING. A job the run already finished is left as it is.
        """
        job = self.context.jobs.get(job_id)
        if job is None or state.is_terminal(job.status):
            return job
        return endings.fail(
            self.context,
            job_id,
            JobError(code=errors.ErrorCode.RUN_FAILED, message=f"the conversion run failed: {reason}"),
        )
