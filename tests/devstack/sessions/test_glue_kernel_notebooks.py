"""papermill -k glue_pyspark: the unchanged aws-glue-sessions kernel runs the notebooks on
the local endpoint (real kernel, real translator, real output scan), with their defaults
and with S3 inputs on the endpoint's moto; both kernels agree on a validation."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import boto3
import nbformat
import pytest

from etl_devstack.sessions.server import Endpoint
from etl_lib.notebook.runner import NotebookFailed, run_notebook
from etl_lib.platform import GLUE_VERSION
from tests.devstack.sessions.conftest import REGION
from tests.notebooks.conftest import FIXTURES, NOTEBOOKS

pytestmark = [pytest.mark.xdist_group("glue-sessions"), pytest.mark.timeout(900)]
CREATED = re.compile(r"Session (\S+) has been created\.")


def _texts(nb: nbformat.NotebookNode) -> list[str]:
    return ["".join(o.get("text", "")) for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def _session_of(nb: nbformat.NotebookNode) -> str:
    found = [m.group(1) for text in _texts(nb) for m in CREATED.finditer(text)]
    assert len(found) == 1, "the notebook did not run on one Glue session"
    return found[0]


@pytest.mark.parametrize(
    ("name", "shows"),
    [
        ("01-explore", "'rows': 120"),
        ("02-develop-transformation", "120 records identical"),
        ("03-validate-output", '"status": "passed"'),
    ],
)
def test_each_notebook_runs_on_a_glue_session_with_its_defaults(
    name: str, shows: str, glue_kernel: str, glue_endpoint: Endpoint, tmp_path: Path
) -> None:
    executed = run_notebook(NOTEBOOKS / f"{name}.ipynb", tmp_path / "out.ipynb", kernel=glue_kernel, cwd=NOTEBOOKS)

    code = [c for c in executed.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "not every cell ran"
    assert executed.metadata.kernelspec.name == "glue_pyspark"
    assert any(shows in text for text in _texts(executed))
    assert not [o for c in code for o in c.outputs if o.get("name") == "stderr"], "the kernel reported a problem"
    if name == "01-explore":  # its histogram, through %matplot
        assert any("image/png" in o.get("data", {}) for o in code[-1].outputs), "no plot"
    session = boto3.client("glue", endpoint_url=glue_endpoint.url, region_name=REGION).get_session(
        Id=_session_of(executed)
    )["Session"]
    assert session["GlueVersion"] == GLUE_VERSION
    assert session["IdleTimeout"] == 30  # the notebook's %idle_timeout
    assert session["Status"] == "STOPPED", "the kernel's shutdown did not stop its session"


def _notebook(tmp_path: Path, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "glue_pyspark", "display_name": "Glue PySpark", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    path = tmp_path / "cells.ipynb"
    nbformat.write(nb, path)
    return path


def test_a_failing_cell_fails_the_run(glue_kernel: str, glue_endpoint: Endpoint, tmp_path: Path) -> None:
    source = _notebook(
        tmp_path, "%load_ext etl_lib.notebook.session_config", "x = 1", "x + undefined_name", "print('not reached')"
    )
    with pytest.raises(NotebookFailed) as failed:
        run_notebook(source, tmp_path / "out.ipynb", kernel=glue_kernel)
    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    # papermill adds markdown cells that point at the failure; the error is the failing cell's.
    assert [executed.cells[e.cell].source for e in failed.value.errors] == ["x + undefined_name"]
    assert executed.cells[-1].execution_count is None, "a cell after the failure ran"
    assert "NameError: name 'undefined_name' is not defined" in str(failed.value)


def test_a_session_that_cannot_start_fails_the_run_though_the_kernel_says_ok(
    glue_kernel: str, glue_endpoint: Endpoint, tmp_path: Path
) -> None:
    """The kernel prints that the session never became READY on stderr and answers "ok" for
    the cell: papermill alone calls this run a success; the runner's output scan does not."""
    import papermill

    source = _notebook(
        tmp_path, "%load_ext etl_lib.notebook.session_config\n%extra_py_files /nonexistent/x.zip", "print('no session')"
    )
    papermill.execute_notebook(
        str(source), str(tmp_path / "papermill.ipynb"), kernel_name=glue_kernel, progress_bar=False
    )  # no exception: the kernel said ok
    with pytest.raises(NotebookFailed) as failed:
        run_notebook(source, tmp_path / "out.ipynb", kernel=glue_kernel)
    assert failed.value.errors[0].cell == 1
    assert "Session failed to reach READY instead reaching terminal state FAILED" in failed.value.errors[0].text
    glue = boto3.client("glue", endpoint_url=glue_endpoint.url, region_name=REGION)
    reasons = [s.get("ErrorMessage", "") for s in glue.list_sessions()["Sessions"] if s["Status"] == "FAILED"]
    assert any("/nonexistent/x.zip does not exist" in reason for reason in reasons), "%status would not say why"


@pytest.fixture
def s3_job(glue_endpoint: Endpoint, tmp_path: Path) -> dict[str, str]:
    """A converted job on S3 (the endpoint's moto) whose output has one wrong value, in record 2 of 120."""
    s3 = boto3.client("s3", endpoint_url=glue_endpoint.url, region_name=REGION)
    bucket = f"job-data-{tmp_path.name.lower().replace('_', '-')}"[:63]
    s3.create_bucket(Bucket=bucket)
    lines = (FIXTURES / "sample.golden.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    record = json.loads(lines[2])
    record["quantity"] += 1
    wrong = [*lines[:2], json.dumps(record, separators=(",", ":")) + "\n", *lines[3:]]
    s3.upload_file(str(FIXTURES / "sample.parquet"), bucket, "in/sample.parquet")
    s3.upload_file(str(FIXTURES / "sample.report.json"), bucket, "out/report.json")
    s3.upload_file(str(FIXTURES / "sample.golden.jsonl"), bucket, "golden/sample.jsonl")
    s3.put_object(Bucket=bucket, Key="out/data.jsonl", Body="".join(wrong).encode("utf-8"))
    return {"bucket": bucket, "input_path": f"s3://{bucket}/in/sample.parquet",
            "output_path": f"s3://{bucket}/out/data.jsonl", "report_path": f"s3://{bucket}/out/report.json",
            "golden_path": f"s3://{bucket}/golden/sample.jsonl"}  # fmt: skip


def _summary(endpoint: Endpoint, uri: str) -> dict[str, Any]:
    bucket, _, key = uri[len("s3://") :].partition("/")
    body = boto3.client("s3", endpoint_url=endpoint.url, region_name=REGION).get_object(Bucket=bucket, Key=key)
    data: dict[str, Any] = json.loads(body["Body"].read())
    return data


def test_both_kernels_give_the_same_validation_of_an_s3_job(
    glue_kernel: str, etl_kernel: str, glue_endpoint: Endpoint, s3_job: dict[str, str], tmp_path: Path
) -> None:
    summaries = {}
    for kernel in (glue_kernel, etl_kernel):
        summary_path = f"s3://{s3_job['bucket']}/validation/{kernel}.json"
        parameters = {k: s3_job[k] for k in ("input_path", "output_path", "report_path")}
        with pytest.raises(NotebookFailed) as failed:
            run_notebook(
                NOTEBOOKS / "03-validate-output.ipynb",
                tmp_path / f"{kernel}.ipynb",
                {**parameters, "summary_path": summary_path},  # the notebook's defaults check every record
                kernel=kernel,
                cwd=NOTEBOOKS,
            )
        assert "ValidationError" in str(failed.value), kernel
        summaries[kernel] = _summary(glue_endpoint, summary_path)

    assert summaries[glue_kernel] == summaries[etl_kernel]
    assert summaries[glue_kernel]["status"] == "failed"
    assert summaries[glue_kernel]["checks"]["round_trip"] == {
        "ok": False, "checked": 120, "records": 120, "sampled": False, "mismatched": [2]
    }  # fmt: skip
    # By position and reason: a summary keeps no record's values.
    assert summaries[glue_kernel]["errors"] == ["record 2 does not round-trip: $.quantity: VALUE_MISMATCH"]
    assert summaries[glue_kernel]["input"] == s3_job["input_path"]


@pytest.mark.parametrize(
    ("name", "shows"), [("01-explore", "'rows': 120"), ("02-develop-transformation", "120 records identical")]
)
def test_explore_and_develop_read_s3_inputs_on_a_glue_session(
    name: str, shows: str, glue_kernel: str, glue_endpoint: Endpoint, s3_job: dict[str, str], tmp_path: Path
) -> None:
    parameters = {"input_path": s3_job["input_path"]}
    if name.startswith("02"):
        parameters["golden_path"] = s3_job["golden_path"]
    executed = run_notebook(
        NOTEBOOKS / f"{name}.ipynb", tmp_path / "out.ipynb", parameters, kernel=glue_kernel, cwd=NOTEBOOKS
    )
    assert any(shows in text for text in _texts(executed))
    assert any(s3_job["input_path"] in text for text in _texts(executed))
