"""The job service as its callers see it: one object over the use-case modules, whose
settings, changed on the service, reach every part, and whose observed copy reports the
jobs it ends to its own metrics only."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from etl_lib.errors import UploadTooLargeError
from etl_lib.jobs.models import Job, JobError, JobStatus, input_key
from etl_lib.jobs.ports import JobMetrics
from etl_lib.jobs.service import JobService
from etl_lib.options import ConvertOptions, Engine
from tests.jobs.support import sqlite_service, write_parquet


class Recorded(JobMetrics):
    def __init__(self) -> None:
        self.ended: list[str] = []

    def job_ended(self, job: Job) -> None:
        self.ended.append(job.job_id)


def uploaded(service: JobService, tmp_path: Path) -> tuple[Job, int]:
    """A PENDING job whose file is in the input store, not yet announced."""
    data = write_parquet(tmp_path / "in.parquet").read_bytes()
    job, _ = service.create_job("alice", filename="in.parquet", size=len(data), options=ConvertOptions())
    service.inputs.put_bytes(input_key(job.job_id), data)
    return job, len(data)


def test_limits_set_on_the_service_are_the_ones_its_requests_judge_by(tmp_path: Path) -> None:
    service = sqlite_service(tmp_path)
    service.limits = dataclasses.replace(service.limits, max_upload_bytes=10)
    with pytest.raises(UploadTooLargeError, match="the limit is 10 bytes"):
        service.create_job("alice", filename="a.parquet", size=11, options=ConvertOptions())


def test_a_threshold_set_on_the_service_routes_the_uploads_it_accepts(tmp_path: Path) -> None:
    service = sqlite_service(tmp_path)
    service.engine = Engine.AUTO
    service.small_file_threshold_bytes = 1
    job, size = uploaded(service, tmp_path)
    assert service.route(Engine.AUTO, size) is Engine.SPARK
    queued = service.on_object_created(input_key(job.job_id), size)
    assert queued is not None
    assert (queued.status, queued.engine) == (JobStatus.RUNNING, Engine.SPARK)


def test_a_clock_set_on_the_service_is_the_one_its_sweep_judges_expiry_by(tmp_path: Path) -> None:
    service = sqlite_service(tmp_path)
    job, _ = uploaded(service, tmp_path)
    assert service.sweep_expired() == 0
    service.clock = lambda: float(job.expires_at or 0) + 1
    assert service.sweep_expired() == 1
    assert service.jobs.get(job.job_id) is None
    assert service.inputs.size(input_key(job.job_id)) is None


def test_an_observed_service_reports_the_jobs_it_ends_and_the_original_does_not(tmp_path: Path) -> None:
    service = sqlite_service(tmp_path)
    metrics = Recorded()
    observed = service.observed_by(metrics)
    assert observed.jobs is service.jobs  # the same stores
    first, _ = uploaded(service, tmp_path)
    second, _ = uploaded(service, tmp_path)
    error = JobError(code="INTERNAL_ERROR", message="failed by the test")

    service.fail(first.job_id, error)
    observed.fail(second.job_id, error)

    assert metrics.ended == [second.job_id]
    assert service.metrics is None
    # Each is configured on its own from then on, as a copy is.
    observed.lease_seconds = 5
    assert service.lease_seconds != 5


def test_a_setting_read_on_the_class_is_its_descriptor_not_an_error() -> None:
    """What help() and doctest finders do: read the class's attributes without a service."""
    assert "create_job" not in vars(JobService)  # bound per service, from its part
    assert vars(JobService)["clock"] is JobService.clock
