"""The run itself (etl_lib.jobs.attempts, its claim and lease in etl_lib.jobs.claims).
Exactly-once effects under at-least-once delivery: a run claims its job (attempt + lease,
a conditional write in both stores); only the claim holder converts and publishes; a run
that loses the claim touches nothing. Run against SQLite and DynamoDB (moto's server)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from etl_lib.errors import ErrorCode
from etl_lib.jobs.local import DirectoryObjectStore
from etl_lib.jobs.models import Job, JobError, JobStatus, input_key, output_key
from etl_lib.jobs.service import JobService
from etl_lib.options import ConvertOptions
from tests.jobs.support import expected_output, together, write_parquet


def running_job(service: JobService, data: bytes) -> Job:
    """A job whose upload was accepted and whose run was started (RUNNING, not yet claimed)."""
    job, _ = service.create_job("alice", filename="sales.parquet", size=len(data), options=ConvertOptions())
    service.inputs.put_bytes(input_key(job.job_id), data)
    started = service.on_object_created(input_key(job.job_id), len(data))
    assert started is not None
    assert started.status is JobStatus.RUNNING
    return started


def output_of(service: JobService, job: Job) -> bytes | None:
    return service.outputs.get_bytes(output_key(job.job_id, job.options, job.attempt))


def test_two_concurrent_runs_of_one_job_convert_once_and_leave_the_output_intact(
    make_service: Callable[[], JobService], conversions: list[str], tmp_path: Path
) -> None:
    src = write_parquet(tmp_path / "sales.parquet", rows=30)
    expected = expected_output(src, tmp_path)
    conversions.clear()
    for _ in range(10):
        service = make_service()
        job = running_job(service, src.read_bytes())
        conversions.clear()
        together(2, lambda: service.run(job.job_id))  # noqa: B023 (called before the loop moves on)
        done = service.jobs.get(job.job_id)
        assert done is not None
        assert done.status is JobStatus.SUCCEEDED, done.error
        assert len(conversions) == 1
        assert output_of(service, done) == expected


def test_a_duplicate_run_of_a_finished_job_touches_nothing(
    make_service: Callable[[], JobService], conversions: list[str], tmp_path: Path
) -> None:
    src = write_parquet(tmp_path / "sales.parquet", rows=8)
    service = make_service()
    job = running_job(service, src.read_bytes())
    first = service.run(job.job_id)
    assert first is not None
    assert first.status is JobStatus.SUCCEEDED
    again = service.run(job.job_id)
    assert again == first
    assert len(conversions) == 1
    assert output_of(service, first) == expected_output(src, tmp_path)


def test_a_run_waits_out_a_dead_holders_lease_then_converts(
    make_service: Callable[[], JobService], conversions: list[str], tmp_path: Path
) -> None:
    """A crashed attempt (a Lambda timeout, a killed worker) holds the job until its lease ends;
    the retry takes over then, instead of leaving the job RUNNING for ever."""
    src = write_parquet(tmp_path / "sales.parquet", rows=8)
    service = make_service()
    job = running_job(service, src.read_bytes())
    now = int(time.time())
    dead = service.jobs.claim(job.job_id, attempt="dead-attempt", lease_until=now + 1, now=now)
    assert dead is not None
    assert dead.attempt == "dead-attempt"
    done = service.run(job.job_id)
    assert done is not None
    assert done.status is JobStatus.SUCCEEDED
    assert done.attempt != "dead-attempt"
    assert len(conversions) == 1
    assert output_of(service, done) == expected_output(src, tmp_path)


def test_a_run_gives_way_to_a_live_holder_that_renews_its_lease(
    make_service: Callable[[], JobService], conversions: list[str], tmp_path: Path
) -> None:
    src = write_parquet(tmp_path / "sales.parquet", rows=8)
    service = make_service()
    job = running_job(service, src.read_bytes())
    now = int(time.time())
    assert service.jobs.claim(job.job_id, attempt="live", lease_until=now + 60, now=now) is not None
    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(0.02):
            assert service.jobs.renew(job.job_id, attempt="live", lease_until=int(time.time()) + 61)

    beat = threading.Thread(target=heartbeat)
    beat.start()
    try:
        lost = service.run(job.job_id)
    finally:
        stop.set()
        beat.join()
    assert lost is not None
    assert (lost.status, lost.attempt) == (JobStatus.RUNNING, "live")
    assert conversions == []


def test_a_supervisor_fails_a_dead_workers_job_only_if_that_attempt_still_holds_it(
    make_service: Callable[[], JobService], tmp_path: Path
) -> None:
    src = write_parquet(tmp_path / "sales.parquet", rows=8)
    service = make_service()
    job = running_job(service, src.read_bytes())
    now = int(time.time())
    assert service.jobs.claim(job.job_id, attempt="a1", lease_until=now + 60, now=now) is not None
    service.outputs.put_bytes(output_key(job.job_id, job.options, "a1") + ".part", b"half")
    died = JobError(code=ErrorCode.WORKER_DIED, message="the worker converting this job died")
    assert service.fail_if_attempt(job.job_id, "someone-else", died) is None
    assert service.jobs.get(job.job_id).status is JobStatus.RUNNING  # type: ignore[union-attr]
    failed = service.fail_if_attempt(job.job_id, "a1", died)
    assert failed is not None
    assert failed.status is JobStatus.FAILED
    assert failed.error == died
    assert service.outputs.get_bytes(output_key(job.job_id, job.options, "a1") + ".part") is None


def test_a_run_that_lost_its_claim_mid_conversion_publishes_nothing(
    make_service: Callable[[], JobService], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Its lease expired and another attempt took the job over: its late success is dropped and
    only its own attempt's files are removed."""
    from etl_lib import conversion

    src = write_parquet(tmp_path / "sales.parquet", rows=8)
    service = make_service()
    job = running_job(service, src.read_bytes())
    real = conversion.convert

    def slow_and_overtaken(src_uri: str, dest: str, *args: Any, **kwargs: Any) -> Any:
        report = real(src_uri, dest, *args, **kwargs)
        # Meanwhile its lease ran out (a claim made an hour later sees it expired) and
        # another attempt took the job over.
        later = int(time.time()) + 3600
        assert service.jobs.claim(job.job_id, attempt="winner", lease_until=later + 60, now=later) is not None
        return report

    monkeypatch.setattr(conversion, "convert", slow_and_overtaken)
    result = service.run(job.job_id)
    assert result is not None
    assert (result.status, result.attempt) == (JobStatus.RUNNING, "winner")
    listed = [k for k in _keys(service) if k.startswith(f"outputs/{job.job_id}/")]
    assert listed == []


def _keys(service: JobService) -> list[str]:
    outputs = service.outputs
    if isinstance(outputs, DirectoryObjectStore):
        return [str(p.relative_to(outputs.root)) for p in outputs.root.rglob("*") if p.is_file()]
    listed = outputs.s3.list_objects_v2(Bucket=outputs.bucket)  # type: ignore[attr-defined]
    return [o["Key"] for o in listed.get("Contents", [])]


def test_the_claim_holder_renews_its_lease_while_it_converts(
    make_service: Callable[[], JobService], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """So a long conversion keeps its job: a duplicate sees the lease move and gives way."""
    from etl_lib import conversion

    src = write_parquet(tmp_path / "sales.parquet", rows=8)
    service = make_service()
    service.lease_seconds = 3  # renewed every second
    job = running_job(service, src.read_bytes())
    real = conversion.convert
    seen: list[int | None] = []

    def until_renewed(src_uri: str, dest: str, *args: Any, **kwargs: Any) -> Any:
        first = service.jobs.get(job.job_id)
        assert first is not None
        seen.append(first.lease_expires_at)
        for _ in range(200):  # bounded: renewals come every second
            current = service.jobs.get(job.job_id)
            assert current is not None
            if current.lease_expires_at != first.lease_expires_at:
                seen.append(current.lease_expires_at)
                break
            time.sleep(0.05)
        return real(src_uri, dest, *args, **kwargs)

    monkeypatch.setattr(conversion, "convert", until_renewed)
    done = service.run(job.job_id)
    assert done is not None
    assert done.status is JobStatus.SUCCEEDED
    assert len(seen) == 2
    assert seen[0] is not None
    assert seen[1] is not None
    assert seen[1] > seen[0]
