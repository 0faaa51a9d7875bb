"""An upload's arrival (etl_lib.jobs.uploads): checked, routed to an engine by its size, its
run started once however often it is announced; and what keeps a multipart upload's parts
from being the whole file."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from etl_lib.jobs.local import ScriptLauncher
from etl_lib.jobs.models import Job, JobStatus, input_key
from etl_lib.jobs.ports import UploadedPart
from etl_lib.jobs.runs import QueueLauncher, RunQueue
from etl_lib.jobs.settings import Settings
from etl_lib.jobs.uploads import parts_problem
from etl_lib.options import ConvertOptions, Engine
from tests.jobs.support import local_service, sqlite_service, write_parquet


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


def multipart_job(tmp_path: Path, size: int, part_size: int) -> Job:
    """A stored job as a multipart upload plans it: ``size`` bytes in parts of ``part_size``."""
    job, _ = sqlite_service(tmp_path).create_job("alice", filename="big.parquet", size=size, options=ConvertOptions())
    return job.model_copy(update={"part_size": part_size, "upload_id": "u-1"})


def parts(*sizes: tuple[int, int]) -> list[UploadedPart]:
    return [UploadedPart(part_number=n, size=size, etag=f"e{n}", checksum_sha256=None) for n, size in sizes]


def test_parts_numbered_one_to_the_last_each_of_its_planned_size_are_the_whole_file(tmp_path: Path) -> None:
    job = multipart_job(tmp_path, size=25, part_size=10)
    assert parts_problem(job, parts((1, 10), (2, 10), (3, 5))) is None


@pytest.mark.parametrize(
    ("held", "problem"),
    [
        (((1, 10), (3, 5)), "the upload is incomplete: part 2 of 3 missing"),
        ((), "the upload is incomplete: parts 1, 2, 3 of 3 missing"),
        (((1, 10), (2, 9), (3, 5)), "the upload is incomplete: part 2 has 9 bytes, not 10"),
        (((1, 10), (2, 10), (3, 5), (4, 1)), "the upload is incomplete: part 4 is beyond the last part (3)"),
        (((1, 10), (2, 10), (3, 10)), "the upload is incomplete: part 3 has 10 bytes, not 5"),
    ],
)
def test_what_keeps_the_parts_from_being_the_file_is_named_in_one_line(
    tmp_path: Path, held: tuple[tuple[int, int], ...], problem: str
) -> None:
    assert parts_problem(multipart_job(tmp_path, size=25, part_size=10), parts(*held)) == problem


def test_a_refusal_names_five_missing_parts_at_most_and_counts_the_others(tmp_path: Path) -> None:
    job = multipart_job(tmp_path, size=80, part_size=10)
    assert parts_problem(job, parts((8, 10))) == "the upload is incomplete: parts 1, 2, 3, 4, 5 and 2 more of 8 missing"
