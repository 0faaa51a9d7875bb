"""`etl validate` over a real local-stack data directory (SQLite job store + object tree)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from etl_lib.cli import main
from etl_lib.jobs.models import JobStatus, input_key, output_key
from etl_lib.options import ConvertOptions
from tests.jobs.support import write_parquet

pytestmark = pytest.mark.xdist_group("notebooks")


def _succeeded_job(data_dir: Path, tmp_path: Path, rows: int = 20) -> str:
    from etl_lib.jobs.settings import service

    jobs = service()
    src = write_parquet(tmp_path / "in.parquet", rows=rows).read_bytes()
    job, _ = jobs.create_job("local", filename="in.parquet", size=len(src), options=ConvertOptions())
    jobs.inputs.put_bytes(input_key(job.job_id), src)
    jobs.on_object_created(input_key(job.job_id), len(src))  # the inline runner converts now
    done = jobs.jobs.get(job.job_id)
    assert done is not None
    assert done.status is JobStatus.SUCCEEDED
    return job.job_id


def test_etl_validate_passes_a_correct_job_and_fails_a_corrupted_one(local_env: Path, tmp_path: Path) -> None:
    job_id = _succeeded_job(local_env, tmp_path)
    reports = tmp_path / "reports"
    assert main(["validate", "--data-dir", str(local_env), "--reports", str(reports)]) == 0
    summary = json.loads((reports / "summary.json").read_text())
    assert summary["passed"] == 1
    assert summary["failed"] == summary["errors"] == 0
    assert (reports / job_id / "03-validate-output.ipynb").is_file()

    output = next((local_env / "objects").rglob(Path(output_key(job_id, ConvertOptions())).name))
    lines = output.read_text().splitlines()
    output.write_text("\n".join(lines[:-1]) + "\n")  # one record lost
    assert main(["validate", "--data-dir", str(local_env), "--reports", str(tmp_path / "again")]) == 1
    assert json.loads((tmp_path / "again" / "summary.json").read_text())["failed"] == 1


def test_etl_validate_without_a_local_stack_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--data-dir", str(tmp_path / "nothing")]) == 2
    assert "no local stack data" in capsys.readouterr().err


def test_etl_validate_finds_one_wrong_value_in_record_2_of_120_and_prints_why(
    local_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = _succeeded_job(local_env, tmp_path, rows=120)
    output = next((local_env / "objects").rglob(Path(output_key(job_id, ConvertOptions())).name))
    lines = output.read_text().splitlines(keepends=True)
    record = json.loads(lines[2])
    record["price"] = 4.0  # 3.0 in the input: still a valid number for the schema
    lines[2] = json.dumps(record, separators=(",", ":")) + "\n"
    output.write_text("".join(lines))

    assert main(["validate", "--data-dir", str(local_env), "--reports", str(tmp_path / "reports")]) == 1

    err = capsys.readouterr().err
    assert f"job {job_id}: failed\n  record 2 does not round-trip: $.price: VALUE_MISMATCH\n" in err
    assert "0 passed, 1 failed" in err
    job_summary = json.loads((tmp_path / "reports" / job_id / "summary.json").read_text())
    assert job_summary["checks"]["round_trip"]["checked"] == 120
