"""The local stack's processes: the checks and the listening socket at start-up, the run
workers under their supervisor, the periodic sweeps, what a stop or a dead worker leaves
behind, and the stop itself. The requests are the WSGI app's (:mod:`etl_devstack.local.app`).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etl_devstack.local.app import Event, object_created_event
from etl_lib.errors import ErrorCode

MAX_RUN_ATTEMPTS = 2  # a run interrupted by a stop is re-run once, then the job fails
# Half-written files: atomic object writes (.NAME.tmp-*), output pieces (.NAME.parts-*),
# uploads being received (.upload-*), the start-up probe and the key being created.
TEMPORARY_FILE = re.compile(
    r"^\.(.+\.(tmp|parts)-[0-9a-f]+|upload-[0-9a-f]+|write-test-[0-9a-f]+|signing\.key\.[0-9a-f]+)$"
)
# The job service's run lease on this machine (RUN_LEASE_SECONDS; 120 s by default in AWS).
LOCAL_RUN_LEASE_SECONDS = 15
# How often expired jobs and their files are swept (JobService.sweep_expired).
SWEEP_INTERVAL_SECONDS = 60.0


class StartupError(Exception):
    """A problem the person starting the server can fix; shown as one line."""


def check_data_dir(data_dir: Path) -> None:
    """Create ``data_dir`` if needed and check that it can be written."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        probe = data_dir / f".write-test-{uuid.uuid4().hex[:6]}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise StartupError(f"cannot write the data directory {data_dir}: {exc.strerror or exc}") from exc


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on ``host:port`` (port 0: a free one), inheritable by the workers'
    parent. Bound here rather than in werkzeug, which prints its own advice and exits."""
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(128)
    except OSError as exc:
        listener.close()
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    listener.set_inheritable(True)
    return listener


def remove_temporary_files(data_dir: Path) -> list[Path]:
    """Remove what interrupted writes left in ``data_dir`` (nothing is writing at start)."""
    removed = []
    for path in sorted(data_dir.rglob(".*"), key=lambda p: len(p.parts)):
        if not TEMPORARY_FILE.match(path.name) or not (path.is_file() or path.is_dir()):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def environment(*, data_dir: Path, engine: str, url: str, signing_key: str) -> dict[str, str]:
    """The configuration the handlers and workers read (etl_lib.jobs.settings)."""
    from etl_lib.jobs import env

    return {
        env.ETL_BACKEND: "local",
        env.ETL_DATA_DIR: str(data_dir),
        env.ETL_ENGINE: engine,
        env.ETL_LOCAL_RUNNER: "queue",
        env.ETL_PUBLIC_URL: url,
        env.ETL_SIGNING_KEY: signing_key,
        # A run re-run after a stop waits out its dead predecessor's lease first:
        # keep that short on one machine (renewed every third of it while converting).
        env.RUN_LEASE_SECONDS: os.environ.get(env.RUN_LEASE_SECONDS) or str(LOCAL_RUN_LEASE_SECONDS),
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
        env.POWERTOOLS_METRICS_NAMESPACE: "ParquetJsonEtlLocal",
    }


@dataclass
class Lifecycle:
    """The run workers and the periodic passes of one local stack, over its data directory."""

    data_dir: Path
    workers: int
    engine: str
    # How the events Lambda is invoked (EventBridge's part): a stop's lost runs, saved uploads.
    events: Callable[[Event], Event]
    logger: Any
    sweep_interval: float = SWEEP_INTERVAL_SECONDS
    supervisor: Any = None

    def recover(self) -> None:
        """Runs interrupted by the last stop are re-run; jobs left without a run fail;
        uploads saved but never announced (a stop in between) are announced now."""
        from etl_devstack.local.worker import glue_state_event
        from etl_lib.jobs.models import JobError, JobStatus
        from etl_lib.jobs.runs import RunQueue
        from etl_lib.jobs.settings import service

        queue = RunQueue(self.data_dir / "runs.db")
        for run in queue.interrupted():
            if run.attempts < MAX_RUN_ATTEMPTS:
                queue.requeue(run.run_id)
                self.logger.info("re-running an interrupted run", extra={"job_id": run.job_id, "run_id": run.run_id})
            else:
                queue.finish(run.run_id, "FAILED")
                message = f"the local server stopped during this conversion {run.attempts} times"
                self.events(glue_state_event(run.run_id, "STOPPED", message))
        svc = service()
        store = svc.jobs
        active = queue.active_job_ids()
        ids_in = getattr(store, "ids_in", None)
        for job_id in ids_in(frozenset({JobStatus.QUEUED, JobStatus.RUNNING})) if ids_in else []:
            if job_id not in active:
                svc.fail(
                    job_id,
                    JobError(
                        code=ErrorCode.RUN_LOST,
                        message="the local server stopped before this conversion started; upload the file again",
                    ),
                )
        for job_id in ids_in(frozenset({JobStatus.PENDING})) if ids_in else []:
            self._announce_saved_upload(job_id)

    def _announce_saved_upload(self, job_id: str) -> None:
        from etl_lib.jobs.models import input_key
        from etl_lib.jobs.settings import service

        key = input_key(job_id)
        inputs: Any = service().inputs  # the local directory store, which names its bucket
        size = inputs.size(key)
        if size is not None:
            self.logger.info("announcing an upload saved before the last stop", extra={"job_id": job_id})
            self.events(object_created_event(inputs.bucket, key, size))

    def start(self) -> None:
        """Start the workers under their supervisor, and the periodic sweeps with them."""
        from etl_devstack.local.supervisor import Supervisor
        from etl_devstack.local.worker import worker_main

        env = {k: v for k, v in os.environ.items() if k.startswith(("ETL_", "POWERTOOLS_", "SPARK_", "PYSPARK_"))}
        self.supervisor = Supervisor(
            worker_main, count=self.workers, env=env, on_death=self.worker_died, logger=self.logger
        )
        self.supervisor.every(self.sweep_interval, self.sweep_expired)
        self.supervisor.every(self.sweep_interval, self.reconcile)
        self.supervisor.start()

    def stop(self) -> None:
        """Stop the workers and the sweeps (a no-op before :meth:`start`)."""
        if self.supervisor is not None:
            self.supervisor.stop()

    def worker_died(self, slot: str, pid: int, exitcode: int | None) -> None:
        """End the run a dead worker held: its job FAILED with WORKER_DIED, its files gone.

        Only while that worker's attempt still holds the job (``fail_if_attempt``): a job
        it had finished, or another run took over, is left as it is. Not retried: a worker
        that dies mid-conversion was most often killed for its memory by the file itself,
        and a retry would only kill the next worker.
        """
        from etl_devstack.local.worker import worker_id
        from etl_lib.jobs import state
        from etl_lib.jobs.models import JobError, JobStatus
        from etl_lib.jobs.runs import RunQueue
        from etl_lib.jobs.settings import service

        how = f"killed by signal {-exitcode}" if exitcode is not None and exitcode < 0 else f"exit status {exitcode}"
        error = JobError(
            code=ErrorCode.WORKER_DIED,
            message=f"the worker converting this file stopped ({how}), possibly for lack of memory; "
            "try again, or with a smaller file",
        )
        queue = RunQueue(self.data_dir / "runs.db")
        svc = service()
        for run in queue.running_for(worker_id(slot, pid)):
            queue.finish(run.run_id, "FAILED")
            failed = svc.fail_if_attempt(run.job_id, run.attempt, error)
            job = svc.jobs.get(run.job_id) if failed is None else None
            if job is not None and job.attempt is None and not state.is_terminal(job.status):
                # Died before its conversion claimed the job: no attempt holds it, and
                # this run was the job's only one.
                failed = svc.fail(run.job_id, error)
            if failed is not None and failed.status is JobStatus.FAILED:
                self.logger.error("job failed: its worker died", extra={"job_id": run.job_id, "worker": slot})

    def sweep_expired(self) -> None:
        """Delete expired jobs and their files (in AWS, DynamoDB's TTL and S3's lifecycle do)."""
        from etl_lib.jobs.settings import service

        swept = service().sweep_expired()
        if swept:
            self.logger.info("expired jobs removed", extra={"count": swept})

    def reconcile(self) -> None:
        """Relaunch or fail jobs no live run holds (in AWS, the scheduled reconciler Lambda
        runs the same pass)."""
        from etl_lib.jobs.reconcile import reconcile
        from etl_lib.jobs.settings import Settings, service

        done = reconcile(service(), Settings.from_env().reconcile_policy)
        if done.relaunched or done.failed:
            self.logger.warning("stuck jobs reconciled", extra={"relaunched": done.relaunched, "failed": done.failed})

    def health(self) -> dict[str, Any]:
        """Whether every worker is alive ("ok", else "degraded"), with the queue's counts."""
        from etl_lib.jobs.runs import RunQueue

        queue = RunQueue(self.data_dir / "runs.db")
        supervisor = self.supervisor
        alive = supervisor.alive() if supervisor else 0
        return {
            "status": "ok" if alive == self.workers else "degraded",
            "engine": self.engine,
            "workers": alive,
            "workers_expected": self.workers,
            "worker_restarts": supervisor.restarts() if supervisor else 0,
            "worker_processes": supervisor.status() if supervisor else [],
            "queued": queue.count("queued"),
            "running": queue.count("running"),
        }
