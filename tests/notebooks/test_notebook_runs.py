"""papermill regression: every notebook runs top to bottom on the etl-local kernel, and the
validation notebook fails on a corrupted output (through the scheduled-validation core)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from etl_lib.notebook.runner import NotebookFailed, run_notebook
from etl_lib.notebook.validate_jobs import validate_jobs
from tests.notebooks.conftest import FIXTURES, NOTEBOOKS

pytestmark = [pytest.mark.xdist_group("notebook-kernels"), pytest.mark.timeout(900)]
STEPS = ["01-explore", "02-develop-transformation", "03-validate-output"]


@pytest.mark.parametrize("name", STEPS)
def test_notebook_runs_with_default_parameters(name: str, etl_kernel: str, tmp_path: Path) -> None:
    executed = run_notebook(NOTEBOOKS / f"{name}.ipynb", tmp_path / f"{name}.ipynb", kernel=etl_kernel, cwd=NOTEBOOKS)
    code = [c for c in executed.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "not every cell ran"
    if name == "01-explore":
        assert any("image/png" in o.get("data", {}) for c in code for o in c.outputs), "no plot"


def _corrupt(golden: Path, target: Path) -> None:
    lines = golden.read_text(encoding="utf-8").splitlines(keepends=True)
    record = json.loads(lines[5])
    record["quantity"] += 1  # a plausible value: still valid against the schema
    lines[5] = json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n"
    target.write_text("".join(lines), encoding="utf-8")


def test_papermill_cli_injects_parameters_into_glue_notebook(etl_kernel: str, tmp_path: Path) -> None:
    """The plain ``papermill`` command (a fresh process: translators come from the entry
    point) parameterizes a notebook saved by the Glue kernel and runs it on etl-local."""
    corrupted = tmp_path / "corrupted.jsonl"
    _corrupt(FIXTURES / "sample.golden.jsonl", corrupted)
    summary = tmp_path / "summary.json"
    papermill = Path(sys.executable).parent / "papermill"
    result = subprocess.run(
        [str(papermill), "-k", etl_kernel, "--no-progress-bar", "--cwd", str(NOTEBOOKS),
         str(NOTEBOOKS / "03-validate-output.ipynb"), str(tmp_path / "out.ipynb"),
         "-p", "output_path", str(corrupted), "-p", "summary_path", str(summary), "-p", "sample_size", "120"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode != 0, "the validation notebook accepted a corrupted output"
    assert "ValidationError" in result.stderr
    data = json.loads(summary.read_text())
    assert data["status"] == "failed"
    assert data["checks"]["round_trip"] == {"ok": False, "checked": 120, "records": 120, "sampled": False,
                                            "mismatched": [5]}  # fmt: skip
    assert data["checks"]["row_counts"]["ok"]
    assert data["checks"]["json_schema"]["ok"]
    injected = [c for c in nbformat.read(tmp_path / "out.ipynb", as_version=4).cells
                if "injected-parameters" in c.metadata.get("tags", [])]  # fmt: skip
    assert "sample_size = 120" in injected[0].source


def test_scheduled_validation_over_local_store(etl_kernel: str, tmp_path: Path) -> None:
    """validate_jobs: s3:// URIs resolved in a local store; one good job, one corrupted."""
    data_dir = tmp_path / ".etl-local"
    inputs, outputs = data_dir / "objects" / "inputs", data_dir / "objects" / "outputs"
    for job in ("good", "bad"):
        (inputs / job).mkdir(parents=True)
        (outputs / job).mkdir(parents=True)
        shutil.copyfile(FIXTURES / "sample.parquet", inputs / job / "data.parquet")
        shutil.copyfile(FIXTURES / "sample.report.json", outputs / job / "report.json")
    shutil.copyfile(FIXTURES / "sample.golden.jsonl", outputs / "good" / "data.jsonl")
    _corrupt(FIXTURES / "sample.golden.jsonl", outputs / "bad" / "data.jsonl")
    jobs: list[dict[str, Any]] = [
        {
            "job_id": job,
            "input_uri": f"s3://inputs/{job}/data.parquet",
            "output_uri": f"s3://outputs/{job}/data.jsonl",
            "report_uri": f"s3://outputs/{job}/report.json",
            "options": {},
        }
        for job in ("good", "bad")
    ]
    reports = tmp_path / "reports"

    summary = validate_jobs(jobs, reports, kernel=etl_kernel, data_dir=data_dir, sample_size=120)

    assert (summary["passed"], summary["failed"], summary["errors"]) == (1, 1, 0)
    by_id = {r["job_id"]: r for r in summary["jobs"]}
    assert by_id["good"]["status"] == "passed"
    assert by_id["bad"]["status"] == "failed"
    assert by_id["bad"]["checks"] == {"options": True, "row_counts": True, "json_schema": True, "round_trip": False}
    assert json.loads((reports / "summary.json").read_text()) == summary
    for job in ("good", "bad"):
        assert (reports / job / "03-validate-output.ipynb").exists()
        assert json.loads((reports / job / "summary.json").read_text())["status"] == by_id[job]["status"]


def test_runner_fails_on_error_output_even_when_status_is_ok(etl_kernel: str, tmp_path: Path) -> None:
    """A cell that reports an error only as output (as the Glue kernel does) fails the run."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "glue_pyspark", "display_name": "Glue PySpark", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell("print('fine')"),
        nbformat.v4.new_code_cell(
            "import sys\nprint('Traceback (most recent call last):\\n  File \"<stdin>\", line 1\\n"
            "NameError: name \\'x\\' is not defined', file=sys.stderr)"),
        nbformat.v4.new_code_cell("print('still running')"),
    ]  # fmt: skip
    source = tmp_path / "glue-like.ipynb"
    nbformat.write(nb, source)

    with pytest.raises(NotebookFailed) as failed:
        run_notebook(source, tmp_path / "out.ipynb", kernel=etl_kernel)

    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert all(c.metadata.papermill.status == "completed" for c in executed.cells), "papermill saw no failure"
    assert [e.cell for e in failed.value.errors] == [1]
    assert "NameError" in str(failed.value)
