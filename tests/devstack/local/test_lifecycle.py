"""The local stack's process lifecycle (etl_devstack.local.lifecycle) on the real job store:
what it does with the runs of a worker that died, and its periodic pass running the
reconciler: a job queued by a process that died before it queued a run gets a run in the
local run queue, and a job whose run's lease lapsed ends FAILED."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from etl_devstack.local.server import LocalStack
from etl_lib.jobs.models import JobStatus, attempt_prefix, input_key
from etl_lib.jobs.runs import RunQueue
from etl_lib.options import ConvertOptions
from tests.jobs.support import write_parquet


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStack]:
    """A prepared (not serving) local stack; the process environment is restored after."""
    from etl_lib.jobs.settings import service

    saved = dict(os.environ)
    stack = LocalStack(host="127.0.0.1", port=0, data_dir=tmp_path / "data", workers=0, engine="local")
    stack.prepare()
    try:
        yield stack
    finally:
        stack.shutdown()
        os.environ.clear()
        os.environ.update(saved)
        service.cache_clear()


def queued_job(stack: LocalStack, tmp_path: Path) -> str:
    from etl_lib.jobs.settings import service
    from etl_lib.options import ConvertOptions

    data = write_parquet(tmp_path / "sales.parquet").read_bytes()
    svc = service()
    job, _ = svc.create_job("local", filename="sales.parquet", size=len(data), options=ConvertOptions())
    svc.inputs.put_bytes(input_key(job.job_id), data)
    svc.on_object_created(input_key(job.job_id), len(data))
    return job.job_id


def test_a_worker_that_died_before_its_run_claimed_the_job_fails_it(stack: LocalStack, tmp_path: Path) -> None:
    from etl_lib.jobs.settings import service

    job_id = queued_job(stack, tmp_path)
    queue = RunQueue(stack.data_dir / "runs.db")
    run = queue.claim("w1-4242")  # the worker took the run, then died before converting
    assert run is not None
    stack.lifecycle.worker_died("w1", 4242, -9)
    job = service().jobs.get(job_id)
    assert job is not None
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error.code == "WORKER_DIED"
    assert "signal 9" in job.error.message
    assert queue.running_for("w1-4242") == []


def test_a_worker_that_died_mid_conversion_fails_its_job_and_removes_its_attempt(
    stack: LocalStack, tmp_path: Path
) -> None:
    from etl_lib.jobs.settings import service

    svc = service()
    job_id = queued_job(stack, tmp_path)
    run = RunQueue(stack.data_dir / "runs.db").claim("w1-4243")
    assert run is not None
    now = 1_000_000_000_000  # a lease that is still held: the worker was converting
    assert svc.jobs.claim(job_id, attempt=run.attempt, lease_until=now + 60, now=0) is not None
    half = f"{attempt_prefix(job_id, run.attempt)}output.jsonl"
    svc.outputs.put_bytes(half, b'{"id": 0}\n')
    stack.lifecycle.worker_died("w1", 4243, -9)
    job = svc.jobs.get(job_id)
    assert job is not None
    assert (job.status, job.error.code if job.error else None) == (JobStatus.FAILED, "WORKER_DIED")
    assert svc.outputs.size(half) is None


def test_a_dead_workers_run_that_another_attempt_took_over_is_left_alone(stack: LocalStack, tmp_path: Path) -> None:
    from etl_lib.jobs.settings import service

    svc = service()
    job_id = queued_job(stack, tmp_path)
    run = RunQueue(stack.data_dir / "runs.db").claim("w1-4244")
    assert run is not None
    assert svc.jobs.claim(job_id, attempt="someone-else", lease_until=10**12, now=0) is not None
    stack.lifecycle.worker_died("w1", 4244, -9)
    job = svc.jobs.get(job_id)
    assert job is not None
    assert job.status is JobStatus.RUNNING
    assert job.attempt == "someone-else"


def uploaded(tmp_path: Path) -> tuple[str, int]:
    from etl_lib.jobs.settings import service

    data = write_parquet(tmp_path / "sales.parquet").read_bytes()
    svc = service()
    job, _ = svc.create_job("local", filename="sales.parquet", size=len(data), options=ConvertOptions())
    svc.inputs.put_bytes(input_key(job.job_id), data)
    return job.job_id, len(data)


def test_the_stacks_pass_relaunches_a_job_left_queued_and_fails_one_whose_lease_lapsed(
    stack: LocalStack, tmp_path: Path
) -> None:
    from etl_lib.jobs.settings import service

    svc = service()
    long_ago = int(time.time()) - 3600
    stuck, size = uploaded(tmp_path)
    # What the upload handler writes before it queues a run; its process died right after.
    assert svc.jobs.transition(stuck, JobStatus.QUEUED, {"input_bytes": size, "engine": "local", "queued_at": long_ago})
    dead, _ = uploaded(tmp_path)
    assert svc.jobs.transition(dead, JobStatus.QUEUED, {"queued_at": long_ago})
    assert svc.jobs.claim(dead, attempt="dead", lease_until=long_ago, now=long_ago)

    stack.lifecycle.reconcile()

    queue = RunQueue(stack.data_dir / "runs.db")
    assert queue.active_job_ids() == {stuck}
    relaunched = svc.jobs.get(stuck)
    assert relaunched is not None
    assert (relaunched.status, relaunched.relaunches) == (JobStatus.RUNNING, 1)
    assert relaunched.run_id is not None
    assert queue.state_of(relaunched.run_id) == "RUNNING"
    failed = svc.jobs.get(dead)
    assert failed is not None
    assert failed.error is not None
    assert (failed.status, failed.error.code) == (JobStatus.FAILED, "RUN_LOST")
