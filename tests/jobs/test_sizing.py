"""Each Glue run's workers from its input's size, and what a run cost (etl_lib.jobs.sizing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl_lib.jobs.models import input_key
from etl_lib.jobs.ports import RunSpec
from etl_lib.jobs.sizing import (
    GLUE_MIN_WORKERS,
    SPARK_BYTES_PER_CORE_SECOND,
    WORKER_TYPES,
    ExecutionClass,
    GlueSizing,
    Prices,
    RunCapacity,
    glue_dpu_seconds,
    lambda_gb_seconds,
    run_capacity,
)
from etl_lib.options import ConvertOptions
from tests.jobs.support import RecordingLauncher, sqlite_service, write_parquet

GB = 10**9
SIZING = GlueSizing(worker_types=("G.1X", "G.2X"), min_workers=2, max_workers=10, target_seconds=300)
# What one G.1X executor worker (4 cores) converts in the target time: 4 x 9 MB/s x 300 s.
PER_G1X_WORKER = 4 * SPARK_BYTES_PER_CORE_SECOND * 300


def test_a_small_input_gets_the_smallest_run_glue_allows() -> None:
    assert run_capacity(0, SIZING) == RunCapacity("G.1X", GLUE_MIN_WORKERS)
    assert run_capacity(64 * 2**20, SIZING) == RunCapacity("G.1X", 2)


def test_workers_grow_with_the_input_one_executor_per_target_time_share() -> None:
    # Exactly one executor's share needs the driver and one executor; a byte more, another.
    assert run_capacity(PER_G1X_WORKER, SIZING) == RunCapacity("G.1X", 2)
    assert run_capacity(PER_G1X_WORKER + 1, SIZING) == RunCapacity("G.1X", 3)
    assert run_capacity(9 * PER_G1X_WORKER, SIZING) == RunCapacity("G.1X", 10)


def test_past_the_ceiling_of_small_workers_the_larger_type_is_chosen() -> None:
    # 10 G.1X executors are not enough: G.2X workers have 8 cores, so half as many are needed.
    assert run_capacity(10 * PER_G1X_WORKER, SIZING) == RunCapacity("G.2X", 6)


def test_an_input_beyond_every_type_gets_the_largest_type_at_the_ceiling() -> None:
    assert run_capacity(1000 * GB, SIZING) == RunCapacity("G.2X", 10)


def test_a_flex_run_considers_only_the_worker_types_flex_runs_on() -> None:
    sizing = GlueSizing(worker_types=("G.1X", "G.4X"), max_workers=10)
    assert run_capacity(1000 * GB, sizing) == RunCapacity("G.4X", 10)
    assert run_capacity(1000 * GB, sizing, ExecutionClass.FLEX) == RunCapacity("G.1X", 10, ExecutionClass.FLEX)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"worker_types": ("G.9X",)}, "worker types must be some of"),
        ({"worker_types": ()}, "worker types must be some of"),
        ({"worker_types": ("G.4X",)}, "support Flex"),
        ({"min_workers": 1}, "minimum"),
        ({"min_workers": 5, "max_workers": 4}, "minimum"),
        ({"target_seconds": 0}, "positive"),
    ],
)
def test_bounds_glue_would_refuse_are_refused_when_the_sizing_is_made(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GlueSizing(**kwargs)  # type: ignore[arg-type]


def test_glue_dpu_seconds_are_glues_own_figure_when_it_gives_one() -> None:
    assert glue_dpu_seconds(dpu_seconds=321.5, execution_seconds=999, worker_type="G.2X", workers=10) == (
        321.5,
        "DPUSeconds",
    )


def test_without_dpu_seconds_the_charge_is_execution_time_times_workers_times_their_dpus() -> None:
    assert glue_dpu_seconds(dpu_seconds=None, execution_seconds=123, worker_type="G.2X", workers=3) == (
        123 * 3 * WORKER_TYPES["G.2X"].dpu,
        "ExecutionTime x workers",
    )
    # Glue bills a minute at least.
    assert glue_dpu_seconds(dpu_seconds=None, execution_seconds=5, worker_type="G.1X", workers=2)[0] == 120


def test_lambda_gb_seconds_are_memory_times_duration_rounded_up_to_the_millisecond() -> None:
    assert lambda_gb_seconds(3008, 1000.2) == pytest.approx(3008 / 1024 * 1.001)
    assert lambda_gb_seconds(1024, 1.0) == pytest.approx(0.001)


def test_flex_runs_are_priced_at_the_flex_rate() -> None:
    prices = Prices(glue_dpu_hour=0.44, glue_flex_dpu_hour=0.29)
    assert prices.per_dpu_second(ExecutionClass.STANDARD) == pytest.approx(0.44 / 3600)
    assert prices.per_dpu_second(ExecutionClass.FLEX) == pytest.approx(0.29 / 3600)
    assert ExecutionClass.FLEX.glue_name == "FLEX"


def test_the_service_starts_each_run_with_the_uploaded_size_and_the_class_its_job_asked_for(tmp_path: Path) -> None:
    service = sqlite_service(tmp_path)
    data = write_parquet(tmp_path / "in.parquet", rows=5).read_bytes()
    for execution_class in (ExecutionClass.FLEX, ExecutionClass.STANDARD):
        job, _ = service.create_job(
            "alice", filename="in.parquet", size=len(data), options=ConvertOptions(), execution_class=execution_class
        )
        assert job.execution_class is execution_class
        service.inputs.put_bytes(input_key(job.job_id), data)
        service.on_object_created(input_key(job.job_id), len(data))
    launcher = service.launcher
    assert isinstance(launcher, RecordingLauncher)
    assert launcher.sized == [
        RunSpec(input_bytes=len(data), execution_class=ExecutionClass.FLEX),
        RunSpec(input_bytes=len(data), execution_class=ExecutionClass.STANDARD),
    ]
