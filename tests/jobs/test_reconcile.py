"""The reconciler ends or restarts stuck jobs, and never touches a live run.

Each failure is injected for real: a process SIGKILLed between QUEUED and StartJobRun, a run
SIGKILLed mid-conversion whose state event never comes, a live run renewing its lease while
reconcilers race it. Against SQLite and DynamoDB (moto's server), as the other job tests.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from etl_lib.errors import ErrorCode, JobConflictError
from etl_lib.jobs.models import Job, JobStatus, attempt_prefix, input_key
from etl_lib.jobs.reconcile import Reconciled, ReconcilePolicy, reconcile
from etl_lib.jobs.service import JobService
from etl_lib.options import ConvertOptions
from tests.jobs.dying_process import spec_of
from tests.jobs.support import RecordingLauncher, together, write_parquet

REPO = Path(__file__).resolve().parents[2]
POLICY = ReconcilePolicy(relaunch_after=300, max_relaunches=2, start_timeout=7200)
MARKER_WAIT_SECONDS = 120  # a bound on a child's start-up, not a measured time


class DyingLauncher(RecordingLauncher):
    """StartJobRun during which the reconciler's own process dies (SystemExit stands for it)."""

    def start(self, arguments: Any, spec: Any = None) -> str:
        super().start(arguments, spec)
        raise SystemExit("killed inside StartJobRun")


def uploaded_job(service: JobService, data: bytes) -> Job:
    """A PENDING job whose input is stored, its upload event not yet handled."""
    job, _ = service.create_job("alice", filename="sales.parquet", size=len(data), options=ConvertOptions())
    service.inputs.put_bytes(input_key(job.job_id), data)
    return job


def started_job(service: JobService, tmp_path: Path) -> Job:
    """A job whose upload event was handled: QUEUED, then RUNNING once its run was recorded."""
    data = write_parquet(tmp_path / "sales.parquet").read_bytes()
    job = uploaded_job(service, data)
    started = service.on_object_created(input_key(job.job_id), len(data))
    assert started is not None
    return started


def queued_by_a_dying_process(service: JobService, tmp_path: Path) -> Job:
    """A job whose upload event's handler died inside StartJobRun: QUEUED, no run."""
    service.launcher = DyingLauncher()
    data = write_parquet(tmp_path / "sales.parquet").read_bytes()
    job = uploaded_job(service, data)
    with pytest.raises(SystemExit):
        service.on_object_created(input_key(job.job_id), len(data))
    return job


def killed_at_marker(service: JobService, tmp_path: Path, *args: str) -> None:
    """Run tests/jobs/dying_process.py with ``args`` and SIGKILL it once it reaches its marker."""
    marker = tmp_path / f"marker-{time.monotonic_ns()}"
    mode, rest = args[0], args[1:]
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.jobs.dying_process", mode, json.dumps(spec_of(service)), str(marker), *rest],
        cwd=REPO,
        env=os.environ.copy(),
    )
    try:
        deadline = time.monotonic() + MARKER_WAIT_SECONDS
        while not marker.exists():
            assert child.poll() is None, f"the child ended ({child.returncode}) before its marker"
            assert time.monotonic() < deadline, "the child never reached its marker"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL


def launched(service: JobService) -> list[dict[str, str]]:
    assert isinstance(service.launcher, RecordingLauncher)
    return service.launcher.started


def object_keys(service: JobService, prefix: str) -> list[str]:
    from etl_lib.jobs.local import DirectoryObjectStore

    outputs = service.outputs
    if isinstance(outputs, DirectoryObjectStore):
        return [str(p.relative_to(outputs.root)) for p in (outputs.root / prefix).rglob("*") if p.is_file()]
    listed = outputs.s3.list_objects_v2(Bucket=outputs.bucket, Prefix=prefix)  # type: ignore[attr-defined]
    return [o["Key"] for o in listed.get("Contents", [])]


def test_a_job_whose_events_process_was_killed_before_start_job_run_is_relaunched_and_converts(
    make_service: Callable[[], JobService], tmp_path: Path
) -> None:
    service = make_service()
    data = write_parquet(tmp_path / "sales.parquet", rows=12).read_bytes()
    job = uploaded_job(service, data)
    killed_at_marker(service, tmp_path, "queue", job.job_id, str(len(data)))
    stuck = service.jobs.get(job.job_id)
    assert stuck is not None
    assert (stuck.status, stuck.run_id, stuck.attempt) == (JobStatus.QUEUED, None, None)
    assert stuck.queued_at is not None
    # A redelivered upload event sees QUEUED and calls it a duplicate: only the reconciler helps.
    assert service.on_object_created(input_key(job.job_id), len(data)) == stuck
    assert launched(service) == []

    assert reconcile(service, POLICY, now=stuck.queued_at + 299) == Reconciled()  # not stale yet
    done = reconcile(service, POLICY, now=stuck.queued_at + 300)
    assert done.relaunched == [job.job_id]
    assert [run["--job_id"] for run in launched(service)] == [job.job_id]
    relaunched = service.jobs.get(job.job_id)
    assert relaunched is not None
    assert (relaunched.status, relaunched.run_id, relaunched.relaunches) == (JobStatus.RUNNING, "run-1", 1)

    finished = service.run(job.job_id)
    assert finished is not None
    assert finished.status is JobStatus.SUCCEEDED, finished.error


def test_a_job_relaunched_the_most_times_without_a_run_fails_run_not_started(
    make_service: Callable[[], JobService], tmp_path: Path
) -> None:
    service = make_service()
    job = queued_by_a_dying_process(service, tmp_path)
    now = int(time.time())
    for relaunch in range(1, POLICY.max_relaunches + 1):
        now += POLICY.relaunch_after
        with pytest.raises(SystemExit):
            reconcile(service, POLICY, now=now)
        current = service.jobs.get(job.job_id)
        assert current is not None
        assert (current.status, current.relaunches) == (JobStatus.QUEUED, relaunch)
    assert reconcile(service, POLICY, now=now + POLICY.relaunch_after - 1) == Reconciled()
    done = reconcile(service, POLICY, now=now + POLICY.relaunch_after)
    assert done.failed_unstarted == [job.job_id]
    failed = service.jobs.get(job.job_id)
    assert failed is not None
    assert failed.status is JobStatus.FAILED
    assert failed.error is not None
    assert failed.error.code == ErrorCode.RUN_NOT_STARTED
    assert failed.error.message == "no conversion run could be started (after 2 relaunches)"
    assert len(launched(service)) == 1 + POLICY.max_relaunches


def test_reconcilers_racing_over_a_stuck_queued_job_relaunch_it_once(
    make_service: Callable[[], JobService], tmp_path: Path
) -> None:
    service = make_service()
    job = queued_by_a_dying_process(service, tmp_path)
    service.launcher = RecordingLauncher()
    later = int(time.time()) + POLICY.relaunch_after
    results = together(4, lambda: reconcile(service, POLICY, now=later))
    assert [job_id for r in results for job_id in r.relaunched] == [job.job_id]
    assert len(launched(service)) == 1


def test_a_run_killed_mid_conversion_with_its_state_event_lost_fails_and_its_files_go(
    make_service: Callable[[], JobService], tmp_path: Path
) -> None:
    service = make_service()
    service.lease_seconds = 3
    job = running = started_job(service, tmp_path)
    assert running.status is JobStatus.RUNNING
    killed_at_marker(service, tmp_path, "run", job.job_id, "dead-attempt")
    dead = service.jobs.get(job.job_id)
    assert dead is not None
    assert (dead.status, dead.attempt) == (JobStatus.RUNNING, "dead-attempt")
    assert dead.lease_expires_at is not None
    staging = attempt_prefix(job.job_id, "dead-attempt")
    assert object_keys(service, staging) == [f"{staging}staging/piece-0"]

    # Within the grace after the lease (a Lambda retry's chance to take over): untouched.
    assert reconcile(service, POLICY, now=dead.lease_expires_at + service.lease_seconds - 1) == Reconciled()
    done = reconcile(service, POLICY, now=dead.lease_expires_at + service.lease_seconds)
    assert done.failed_lapsed == [job.job_id]
    failed = service.jobs.get(job.job_id)
    assert failed is not None
    assert failed.status is JobStatus.FAILED
    assert failed.error is not None
    assert failed.error.code == ErrorCode.RUN_LOST
    assert object_keys(service, staging) == []
    # A late retry finds it ended, and converts nothing.
    assert service.run(job.job_id) == failed


def test_a_live_run_that_renews_while_reconcilers_race_it_is_never_touched(
    make_service: Callable[[], JobService], tmp_path: Path
) -> None:
    """Each reconciler reads the job while its lease looks lapsed (a stalled heartbeat); the
    holder renews before the reconciler writes: the write's condition refuses."""
    service = make_service()
    job = started_job(service, tmp_path)
    long_ago = int(time.time()) - 3600
    assert service.jobs.claim(job.job_id, attempt="live", lease_until=long_ago, now=long_ago) is not None
    service.outputs.put_bytes(f"{attempt_prefix(job.job_id, 'live')}staging/piece-0", b"{")
    store, real_get = service.jobs, service.jobs.get

    def read_then_holder_renews(job_id: str) -> Job | None:
        seen = real_get(job_id)
        assert store.renew(job_id, attempt="live", lease_until=int(time.time()) + 60)
        return seen

    store.get = read_then_holder_renews  # type: ignore[method-assign]
    results = together(4, lambda: reconcile(service, POLICY))
    store.get = real_get  # type: ignore[method-assign]
    assert all(r == Reconciled() for r in results)
    alive = service.jobs.get(job.job_id)
    assert alive is not None
    assert (alive.status, alive.attempt, alive.error) == (JobStatus.RUNNING, "live", None)
    assert object_keys(service, attempt_prefix(job.job_id, "live")) != []


def test_a_run_recorded_but_never_claiming_its_job_fails_after_the_start_timeout(
    make_service: Callable[[], JobService], tmp_path: Path
) -> None:
    service = make_service()
    job = running = started_job(service, tmp_path)
    assert running.queued_at is not None
    assert (running.status, running.attempt) == (JobStatus.RUNNING, None)
    assert reconcile(service, POLICY, now=running.queued_at + POLICY.start_timeout - 1) == Reconciled()
    done = reconcile(service, POLICY, now=running.queued_at + POLICY.start_timeout)
    assert done.failed_unclaimed == [job.job_id]
    # The run, starting at last, finds the job ended and does nothing.
    late = service.run(job.job_id)
    assert late is not None
    assert late.status is JobStatus.FAILED
    assert late.error is not None
    assert late.error.code == ErrorCode.RUN_LOST


def test_delete_refuses_a_job_a_live_run_holds_and_allows_one_whose_lease_lapsed(
    make_service: Callable[[], JobService], tmp_path: Path
) -> None:
    service = make_service()
    job = started_job(service, tmp_path)
    now = int(time.time())
    assert service.jobs.claim(job.job_id, attempt="a1", lease_until=now + 60, now=now) is not None
    with pytest.raises(JobConflictError):
        service.delete_job("alice", job.job_id)
    later = now + 61
    assert service.jobs.claim(job.job_id, attempt="dead", lease_until=now - 1, now=later) is not None
    service.outputs.put_bytes(f"{attempt_prefix(job.job_id, 'dead')}staging/piece-0", b"{")
    service.delete_job("alice", job.job_id)
    assert service.jobs.get(job.job_id) is None
    assert object_keys(service, f"outputs/{job.job_id}/") == []
    assert service.inputs.size(input_key(job.job_id)) is None


def test_delete_allows_a_job_no_run_has_claimed(make_service: Callable[[], JobService], tmp_path: Path) -> None:
    service = make_service()
    job = running = started_job(service, tmp_path)
    assert running.status is JobStatus.RUNNING
    service.delete_job("alice", job.job_id)
    assert service.jobs.get(job.job_id) is None
    assert service.run(job.job_id) is None  # its run, starting late, finds nothing to do


class ReportingLauncher(RecordingLauncher):
    """A launcher that can tell a run's state, as Glue's GetJobRun does."""

    def __init__(self, state: str) -> None:
        super().__init__()
        self.state = state

    def run_state(self, run_id: str) -> str | None:
        return self.state


@pytest.mark.parametrize(("run_state", "code"), [("RUNNING", None), ("WAITING", None), ("FAILED", "RUN_FAILED")])
def test_a_run_the_launcher_can_tell_about_is_judged_by_its_state_not_the_start_timeout(
    make_service: Callable[[], JobService], tmp_path: Path, run_state: str, code: str | None
) -> None:
    service = make_service()
    service.launcher = ReportingLauncher(run_state)
    job = started_job(service, tmp_path)
    assert job.queued_at is not None
    done = reconcile(service, POLICY, now=job.queued_at + 10 * POLICY.start_timeout)
    after = service.jobs.get(job.job_id)
    assert after is not None
    if code is None:  # alive (waiting for a slot, starting): its own timeout will end it
        assert done == Reconciled()
        assert after.status is JobStatus.RUNNING
    else:
        assert done.failed_run_ended == [job.job_id]
        assert after.error is not None
        assert (after.status, after.error.code) == (JobStatus.FAILED, code)
