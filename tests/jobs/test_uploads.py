"""The job service on the local adapters: concurrency and the subprocess script runner."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from etl_lib.jobs.local import DirectoryObjectStore, ScriptLauncher, SqliteJobStore, UrlSigner
from etl_lib.jobs.models import JobStatus, input_key
from etl_lib.jobs.runs import QueueLauncher, RunQueue
from etl_lib.jobs.service import JobLimits, JobService
from etl_lib.jobs.settings import Settings
from etl_lib.options import ConvertOptions, Engine
from tests.jobs.support import write_parquet


def local_service(data: Path, launcher: object) -> JobService:
    settings = Settings(backend="local", data_dir=str(data), input_bucket="inputs", output_bucket="outputs")
    signer = UrlSigner(b"k")
    return JobService(
        jobs=SqliteJobStore(data / "jobs.db"),
        inputs=DirectoryObjectStore(data / "objects" / "inputs", bucket="inputs", signer=signer),
        outputs=DirectoryObjectStore(data / "objects" / "outputs", bucket="outputs", signer=signer),
        launcher=launcher,  # type: ignore[arg-type]
        limits=JobLimits(),
        engine="local",
        run_arguments=settings.run_arguments(),
    )


def test_concurrent_duplicate_upload_events_start_exactly_one_run(tmp_path: Path) -> None:
    queue = RunQueue(tmp_path / "runs.db")
    service = local_service(tmp_path, QueueLauncher(queue))
    data = write_parquet(tmp_path / "in.parquet").read_bytes()
    job, _ = service.create_job("alice", filename="in.parquet", size=len(data), options=ConvertOptions())
    service.inputs.put_bytes(input_key(job.job_id), data)
    barrier = threading.Barrier(8)

    def deliver() -> None:
        barrier.wait()
        service.on_object_created(input_key(job.job_id), len(data))

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert queue.count("queued") == 1
    stored = service.jobs.get(job.job_id)
    assert stored is not None
    assert stored.status is JobStatus.RUNNING
    assert stored.run_id is not None


def test_the_subprocess_runner_runs_the_glue_script_to_success(tmp_path: Path) -> None:
    service = local_service(tmp_path, ScriptLauncher(tmp_path / "runs", mode="subprocess"))
    data = write_parquet(tmp_path / "in.parquet", rows=12).read_bytes()
    job, _ = service.create_job("alice", filename="in.parquet", size=len(data), options=ConvertOptions())
    service.inputs.put_bytes(input_key(job.job_id), data)
    service.on_object_created(input_key(job.job_id), len(data))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        current = service.jobs.get(job.job_id)
        assert current is not None
        if current.status in {JobStatus.SUCCEEDED, JobStatus.FAILED}:
            break
        time.sleep(0.2)
    logs = "".join(p.read_text() for p in (tmp_path / "runs").glob("*.log"))
    assert current is not None
    assert current.status is JobStatus.SUCCEEDED, logs
    assert current.rows_out == 12


def test_an_unknown_launcher_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mode"):
        ScriptLauncher(tmp_path, mode="threads")


def test_settings_require_the_aws_names_and_positive_numbers() -> None:
    with pytest.raises(ValueError, match="INPUT_BUCKET, OUTPUT_BUCKET, JOBS_TABLE, IDEMPOTENCY_TABLE"):
        Settings.from_env({})
    with pytest.raises(ValueError, match="MAX_UPLOAD_BYTES: Input should be greater than 0"):
        Settings.from_env({"ETL_BACKEND": "local", "MAX_UPLOAD_BYTES": "0"})
    with pytest.raises(ValueError, match="ETL_BACKEND"):
        Settings.from_env({"ETL_BACKEND": "azure"})
    settings = Settings.from_env(
        {"INPUT_BUCKET": "i", "OUTPUT_BUCKET": "o", "JOBS_TABLE": "t", "IDEMPOTENCY_TABLE": "k"}
    )
    assert settings.max_upload_bytes == 1024**4
    assert (settings.multipart_threshold_bytes, settings.min_part_bytes) == (100 * 1024**2, 16 * 1024**2)
    # S3 refuses parts under 5 MiB (but the last): a deployment cannot plan smaller ones.
    with pytest.raises(ValueError, match="MIN_PART_BYTES must be at least 5242880"):
        Settings.from_env(
            {
                "INPUT_BUCKET": "i",
                "OUTPUT_BUCKET": "o",
                "JOBS_TABLE": "t",
                "IDEMPOTENCY_TABLE": "k",
                "MIN_PART_BYTES": "1024",
            }
        )
    # The local stack's store has no such minimum (its tests upload small parts).
    assert Settings.from_env({"ETL_BACKEND": "local", "MIN_PART_BYTES": "1024"}).min_part_bytes == 1024
    assert settings.run_arguments() == {
        "--jobs_store": "dynamodb:t",
        "--input_store": "s3://i",
        "--output_store": "s3://o",
        "--job_retention_days": "30",
    }


def test_the_local_stack_routes_by_the_small_file_threshold(tmp_path: Path) -> None:
    """``etl up``: one queue for both engines; the job records the engine its worker will run."""
    from etl_lib.jobs.settings import build_service

    data = write_parquet(tmp_path / "in.parquet").read_bytes()
    settings = Settings.from_env(
        {
            "ETL_BACKEND": "local",
            "ETL_DATA_DIR": str(tmp_path / "data"),
            "ETL_LOCAL_RUNNER": "queue",
            "ETL_ENGINE": "auto",
            "SMALL_FILE_THRESHOLD_BYTES": str(len(data)),
        }
    )
    assert settings.small_file_threshold_bytes == len(data)
    service = build_service(settings)

    def route(threshold: int, engine: str = "auto") -> str:
        service.small_file_threshold_bytes = threshold
        job, _ = service.create_job(
            "alice", filename="in.parquet", size=len(data), options=ConvertOptions(), engine=engine
        )
        assert job.engine == engine
        service.inputs.put_bytes(input_key(job.job_id), data)
        queued = service.on_object_created(input_key(job.job_id), len(data))
        assert queued is not None
        assert queued.status is JobStatus.RUNNING
        return queued.engine

    assert route(len(data)) == "local"  # up to the threshold: in-process, no JVM
    assert route(len(data) - 1) == "spark"
    assert route(len(data), engine="spark") == "spark"  # forced by the user
    assert isinstance(service.launcher, QueueLauncher)
    assert service.local_launcher is None  # the worker runs both, reading the job's engine


def test_an_auto_job_runs_in_process_on_the_local_engine_and_records_it(tmp_path: Path) -> None:
    service = local_service(tmp_path, ScriptLauncher(tmp_path / "runs", mode="inline"))
    service.engine = Engine.AUTO
    data = write_parquet(tmp_path / "in.parquet", rows=6).read_bytes()
    job, _ = service.create_job("alice", filename="in.parquet", size=len(data), options=ConvertOptions())
    service.inputs.put_bytes(input_key(job.job_id), data)
    done = service.on_object_created(input_key(job.job_id), len(data))
    assert done is not None
    assert (done.status, done.engine, done.rows_out) == (JobStatus.SUCCEEDED, "local", 6)


def test_settings_refuse_an_unknown_engine() -> None:
    with pytest.raises(ValueError, match="ETL_ENGINE"):
        Settings.from_env({"ETL_BACKEND": "local", "ETL_ENGINE": "duckdb"})
    with pytest.raises(ValueError, match="SMALL_FILE_THRESHOLD_BYTES"):
        Settings.from_env({"ETL_BACKEND": "local", "SMALL_FILE_THRESHOLD_BYTES": "big"})
