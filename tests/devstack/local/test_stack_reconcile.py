"""`etl up`'s periodic pass runs the reconciler on its own stores: a job queued by a process
that died before it queued a run gets a run in the local run queue, and a job whose run's
lease lapsed ends FAILED."""

from __future__ import annotations

import time
from pathlib import Path

from etl_devstack.local.server import LocalStack
from etl_lib.jobs.models import JobStatus, input_key
from etl_lib.jobs.runs import RunQueue
from etl_lib.options import ConvertOptions
from tests.devstack.local.test_supervision import stack
from tests.jobs.support import write_parquet

__all__ = ["stack"]  # the prepared local stack fixture


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

    stack.reconcile()

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
