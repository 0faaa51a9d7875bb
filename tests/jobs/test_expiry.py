"""Job records expire: ``expires_at`` (epoch seconds, the DynamoDB table's TTL attribute) is
set in both stores, aligned with the output lifecycle; PENDING jobs without an upload
expire after the upload URL's lifetime; ``sweep_expired`` removes expired jobs and files."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from etl_lib.errors import JobExpiredError
from etl_lib.jobs.models import JobStatus, input_key, output_key
from etl_lib.jobs.service import UPLOAD_GRACE_SECONDS, JobLimits, JobService
from etl_lib.options import ConvertOptions
from tests.jobs.support import AwsResources, dynamo_service, write_parquet

DAY = 86_400


def finished_job(service: JobService, data: bytes) -> str:
    job, _ = service.create_job("alice", filename="sales.parquet", size=len(data), options=ConvertOptions())
    service.inputs.put_bytes(input_key(job.job_id), data)
    service.on_object_created(input_key(job.job_id), len(data))
    done = service.run(job.job_id)
    assert done is not None
    assert done.status is JobStatus.SUCCEEDED
    return job.job_id


def test_a_pending_job_expires_after_its_upload_url_and_a_finished_one_with_its_output(
    make_service: Callable[[], JobService], tmp_path: Path
) -> None:
    service = make_service()
    service.limits = JobLimits(upload_expires_in=600, job_retention_seconds=30 * DAY)
    before = int(time.time())
    pending, _ = service.create_job("alice", filename="a.parquet", size=100, options=ConvertOptions())
    after = int(time.time())
    assert pending.expires_at is not None
    assert before + 600 + UPLOAD_GRACE_SECONDS <= pending.expires_at <= after + 600 + UPLOAD_GRACE_SECONDS + 1

    data = write_parquet(tmp_path / "sales.parquet").read_bytes()
    before = int(time.time())
    job_id = finished_job(service, data)
    after = int(time.time())
    done = service.jobs.get(job_id)
    assert done is not None
    assert done.expires_at is not None
    # Never later than the output's own expiry (created during the run, kept 30 days).
    assert before + 30 * DAY <= done.expires_at <= after + 30 * DAY + 1


def test_the_dynamodb_record_carries_a_numeric_ttl_attribute(aws_resources: AwsResources) -> None:
    import boto3

    service = dynamo_service(aws_resources)
    job, _ = service.create_job("alice", filename="a.parquet", size=100, options=ConvertOptions())
    item = boto3.client("dynamodb").get_item(TableName=aws_resources.table, Key={"job_id": {"S": job.job_id}})["Item"]
    assert set(item["expires_at"]) == {"N"}  # TTL ignores anything but a Number
    assert int(item["expires_at"]["N"]) == job.expires_at


def test_sweeping_deletes_expired_jobs_and_their_files_only(
    make_service: Callable[[], JobService], tmp_path: Path
) -> None:
    service = make_service()
    data = write_parquet(tmp_path / "sales.parquet").read_bytes()
    service.limits = JobLimits(job_retention_seconds=DAY)
    old = finished_job(service, data)
    service.limits = JobLimits(job_retention_seconds=30 * DAY)
    young = finished_job(service, data)
    old_job, young_job = service.jobs.get(old), service.jobs.get(young)
    assert old_job is not None
    assert young_job is not None

    assert service.sweep_expired(now=int(time.time()) + 2 * DAY) == 1
    assert service.jobs.get(old) is None
    assert service.inputs.size(input_key(old)) is None
    assert service.outputs.get_bytes(output_key(old, old_job.options, old_job.attempt)) is None
    assert service.jobs.get(young) == young_job
    assert service.outputs.get_bytes(output_key(young, young_job.options, young_job.attempt)) is not None
    assert service.sweep_expired(now=int(time.time()) + 2 * DAY) == 0


def test_an_expired_job_offers_no_download(make_service: Callable[[], JobService], tmp_path: Path) -> None:
    service = make_service()
    service.limits = JobLimits(job_retention_seconds=0)  # expires as it ends
    job_id = finished_job(service, write_parquet(tmp_path / "sales.parquet").read_bytes())
    with pytest.raises(JobExpiredError) as refused:
        service.download("alice", job_id)
    assert (refused.value.status, refused.value.code) == (410, "JOB_EXPIRED")


def test_an_expired_pending_job_does_not_count_as_active(make_service: Callable[[], JobService]) -> None:
    service = make_service()
    service.create_job("alice", filename="a.parquet", size=100, options=ConvertOptions())
    now = int(time.time())
    assert service.jobs.count_active("alice", now=now) == 1
    assert service.jobs.count_active("alice", now=now + DAY) == 0
    assert service.jobs.count_active("bob", now=now) == 0
