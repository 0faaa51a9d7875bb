"""The promotion path holds: what 02-develop-transformation shows for a dataset, on the
glue_pyspark kernel against `etl sessions`, is byte for byte what the Glue job script
(glue_jobs/parquet_to_json.py, started as Glue starts it, on Spark) writes for it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from etl_devstack.sessions.server import Endpoint
from etl_lib.jobs.local import ScriptLauncher
from etl_lib.jobs.models import JobStatus, input_key, output_key
from etl_lib.notebook.runner import run_notebook
from etl_lib.options import ConvertOptions, Engine
from tests.jobs.support import local_service
from tests.notebooks.conftest import FIXTURES, NOTEBOOKS

pytestmark = [pytest.mark.xdist_group("glue-sessions"), pytest.mark.timeout(900)]


def _glue_job_output(data: Path, source: Path) -> bytes:
    """Convert ``source`` as a deployed job does: the service queues it, the launcher starts
    the Glue script in its own process (its own Spark driver), which claims and runs it."""
    service = local_service(data, ScriptLauncher(data / "runs", mode="subprocess"))
    body = source.read_bytes()
    job, _ = service.create_job("engineer", filename=source.name, size=len(body), options=ConvertOptions(),
                                engine=Engine.SPARK)  # fmt: skip
    service.inputs.put_bytes(input_key(job.job_id), body)
    service.on_object_created(input_key(job.job_id), len(body))
    deadline = time.monotonic() + 600
    while (current := service.jobs.get(job.job_id)) is not None and current.status not in {
        JobStatus.SUCCEEDED, JobStatus.FAILED
    }:  # fmt: skip
        assert time.monotonic() < deadline, "the Glue script did not finish"
        time.sleep(0.5)
    logs = "".join(p.read_text() for p in (data / "runs").glob("*.log"))
    assert current is not None
    assert current.status is JobStatus.SUCCEEDED, logs
    assert current.engine is Engine.SPARK
    output = service.outputs.get_bytes(output_key(job.job_id, current.options, current.attempt))
    assert output is not None
    return output


def test_notebook_02_records_equal_the_glue_job_output_for_the_same_dataset(
    glue_kernel: str, glue_endpoint: Endpoint, tmp_path: Path
) -> None:
    records = tmp_path / "notebook-records.jsonl"
    run_notebook(
        NOTEBOOKS / "02-develop-transformation.ipynb", tmp_path / "02.ipynb",
        {"golden_path": "", "records_path": str(records)}, kernel=glue_kernel, cwd=NOTEBOOKS,
    )  # fmt: skip

    job_output = _glue_job_output(tmp_path / "stack", FIXTURES / "sample.parquet")

    assert records.read_bytes() == job_output
    assert job_output.count(b"\n") == 120
