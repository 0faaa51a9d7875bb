"""Starting a job's run (etl_lib.jobs.launches) on the local launchers: the subprocess
runner runs the Glue job's script to the job's end."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from etl_lib.jobs.local import ScriptLauncher
from etl_lib.jobs.models import JobStatus, input_key
from etl_lib.options import ConvertOptions
from tests.jobs.support import local_service, write_parquet


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
