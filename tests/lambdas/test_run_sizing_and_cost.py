"""Each Glue run sized by its input at StartJobRun, and what each run cost in its report, on
moto's server (Glue, S3, DynamoDB).

moto records a run's WorkerType and NumberOfWorkers but drops its ExecutionClass, and its
GetJobRun has a fixed ExecutionTime and no DPUSeconds: the request is checked as boto3 sends
it, and an answer with DPUSeconds is checked against botocore's own model of GetJobRun
(botocore's Stubber refuses a response the model does not allow) instead of being invented.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from etl_lib.jobs.aws import GlueJobLauncher
from etl_lib.jobs.ports import RunSpec
from etl_lib.jobs.sizing import ExecutionClass, GlueSizing, run_capacity
from lambdas.converter.handler import handler as converter_handler
from lambdas.events.handler import handler as events_handler
from lambdas.status.handler import handler as status_handler
from tests.jobs.support import (
    AwsResources,
    FakeLambdaContext,
    api_event,
    call,
    create_and_upload_on_aws,
    glue_event,
    s3_event,
    write_parquet,
)

GB = 10**9


def report_of(job_id: str) -> dict[str, Any]:
    status, payload = call(status_handler, api_event("GET", f"/jobs/{job_id}/report"))
    assert status == 200, payload
    report: dict[str, Any] = payload["report"]
    return report


def recorded_start_job_run(client: Any) -> list[dict[str, Any]]:
    """The parameters of each StartJobRun the client sends (as boto3 validates and sends them)."""
    sent: list[dict[str, Any]] = []
    client.meta.events.register("provide-client-params.glue.StartJobRun", lambda params, **_: sent.append(params))
    return sent


def test_start_job_run_asks_for_the_workers_the_input_needs_and_moto_records_them(
    aws_resources: AwsResources,
) -> None:
    glue = boto3.client("glue")
    sent = recorded_start_job_run(glue)
    sizing = GlueSizing(max_workers=20)
    launcher = GlueJobLauncher(glue, aws_resources.glue_job, sizing)

    small = launcher.start({"--job_id": "a"}, RunSpec(input_bytes=100 * 2**20))
    large = launcher.start({"--job_id": "b"}, RunSpec(input_bytes=100 * GB, execution_class=ExecutionClass.FLEX))

    assert [(p["WorkerType"], p["NumberOfWorkers"], p["ExecutionClass"]) for p in sent] == [
        ("G.1X", 2, "STANDARD"),
        ("G.1X", 11, "FLEX"),
    ]
    assert run_capacity(100 * GB, sizing).workers == 11  # 1 + ceil(100 GB / (4 x 9 MB/s x 300 s))
    for run_id, (worker_type, workers) in ((small, ("G.1X", 2)), (large, ("G.1X", 11))):
        run = glue.get_job_run(JobName=aws_resources.glue_job, RunId=run_id)["JobRun"]
        assert (run["WorkerType"], run["NumberOfWorkers"]) == (worker_type, workers)
        assert launcher.arguments_of(run_id) == {"--job_id": "a" if run_id == small else "b"}


def test_without_dpu_seconds_the_charge_is_execution_time_times_workers(aws_resources: AwsResources) -> None:
    launcher = GlueJobLauncher(boto3.client("glue"), aws_resources.glue_job, GlueSizing())
    run_id = launcher.start({"--job_id": "a"}, RunSpec(input_bytes=20 * GB))
    run = boto3.client("glue").get_job_run(JobName=aws_resources.glue_job, RunId=run_id)["JobRun"]
    assert "DPUSeconds" not in run  # moto's answer

    usage = launcher.usage(run_id)

    assert usage is not None
    assert usage.source == "ExecutionTime x workers"
    assert usage.dpu_seconds == run["ExecutionTime"] * run["NumberOfWorkers"] * 1  # G.1X: 1 DPU
    assert (usage.worker_type, usage.workers, usage.execution_class) == ("G.1X", 3, ExecutionClass.STANDARD)
    assert launcher.usage("jr_missing") is None


def test_dpu_seconds_glue_reports_for_an_auto_scaled_flex_run_are_the_charge() -> None:
    glue = boto3.client("glue", region_name="us-east-1")
    answer = {
        "JobRun": {
            "Id": "jr_1",
            "JobName": "parquet-to-json",
            "JobRunState": "SUCCEEDED",
            "StartedOn": datetime(2026, 12, 1, tzinfo=UTC),
            "CompletedOn": datetime(2026, 12, 1, 0, 10, tzinfo=UTC),
            "ExecutionTime": 600,
            "WorkerType": "G.2X",
            "NumberOfWorkers": 10,
            "DPUSeconds": 4321.5,
            "ExecutionClass": "FLEX",
            "GlueVersion": "6.0",
        }
    }
    with Stubber(glue) as stub:
        # add_response validates the answer against botocore's GetJobRun output shape.
        stub.add_response("get_job_run", answer, {"JobName": "parquet-to-json", "RunId": "jr_1"})
        usage = GlueJobLauncher(glue, "parquet-to-json").usage("jr_1")
    assert usage is not None
    assert (usage.dpu_seconds, usage.source) == (4321.5, "DPUSeconds")
    assert usage.execution_class is ExecutionClass.FLEX


def test_a_glue_runs_charge_and_estimated_cost_land_in_its_report_once_the_run_has_ended(
    aws_lambda_env: AwsResources, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from etl_lib.jobs.settings import service

    monkeypatch.setenv("GLUE_DPU_HOUR_USD", "0.36")
    service.cache_clear()
    src = write_parquet(tmp_path / "sales.parquet", rows=50)
    job, key = create_and_upload_on_aws(src.read_bytes(), execution_class="flex")
    assert job["execution_class"] == "flex"
    events_handler(s3_event(key, src.stat().st_size, aws_lambda_env.input_bucket), FakeLambdaContext())
    (run,) = boto3.client("glue").get_job_runs(JobName=aws_lambda_env.glue_job)["JobRuns"]
    assert (run["WorkerType"], run["NumberOfWorkers"]) == ("G.1X", 2)

    # The run converts (no converter function here: Glue runs local-engine jobs too), and
    # the report has no cost until the run's end is known.
    finished = service().run(job["job_id"], run_id=run["Id"])
    assert finished is not None and finished.status.value == "SUCCEEDED"
    assert report_of(job["job_id"])["cost"] is None

    events_handler(glue_event(run["Id"], "SUCCEEDED"), FakeLambdaContext())

    cost = report_of(job["job_id"])["cost"]
    # moto forgets the execution class (its GetJobRun has none): priced as STANDARD.
    assert cost == {
        "service": "glue",
        "units": 123.0 * 2,
        "unit": "DPU-second",
        "source": "ExecutionTime x workers",
        "price_per_unit_usd": pytest.approx(0.36 / 3600),
        "estimated_usd": pytest.approx(246 * 0.36 / 3600),
        "execution_class": "STANDARD",
        "worker_type": "G.1X",
        "workers": 2,
        "memory_mb": None,
    }
    # A duplicate state change changes nothing; another run's end is not this job's cost.
    events_handler(glue_event(run["Id"], "SUCCEEDED"), FakeLambdaContext())
    events_handler(glue_event("jr_other", "SUCCEEDED"), FakeLambdaContext())
    assert report_of(job["job_id"])["cost"] == cost


def test_the_converter_lambda_records_its_gb_seconds_in_the_report_of_the_job_it_converted(
    aws_lambda_env: AwsResources, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from etl_lib.jobs import settings

    invoked: list[dict[str, Any]] = []

    class LambdaClient:
        """moto's Lambda needs Docker to invoke: the one call LambdaLauncher makes, recorded."""

        def invoke(self, **request: Any) -> dict[str, Any]:
            invoked.append(json.loads(request["Payload"]))
            return {"StatusCode": 202, "ResponseMetadata": {"RequestId": "req-1"}}

    real = settings._boto3_client
    monkeypatch.setattr(settings, "_boto3_client", lambda name: LambdaClient() if name == "lambda" else real(name))
    monkeypatch.setenv("CONVERTER_FUNCTION_NAME", "converter")
    settings.service.cache_clear()
    src = write_parquet(tmp_path / "sales.parquet", rows=50)
    job, key = create_and_upload_on_aws(src.read_bytes())
    events_handler(s3_event(key, src.stat().st_size, aws_lambda_env.input_bucket), FakeLambdaContext())
    context = FakeLambdaContext()

    before = datetime.now(UTC)
    result = converter_handler(invoked[0], context)
    elapsed_ms = (datetime.now(UTC) - before).total_seconds() * 1000

    assert result["status"] == "SUCCEEDED"
    cost = report_of(job["job_id"])["cost"]
    assert (cost["service"], cost["unit"], cost["memory_mb"]) == ("lambda", "GB-second", context.memory_limit_in_mb)
    gb = context.memory_limit_in_mb / 1024
    assert 0 < cost["units"] <= gb * (elapsed_ms + 1) / 1000
    assert cost["estimated_usd"] == pytest.approx(cost["units"] * 0.0000166667)
    # A duplicate delivery finds the job converted and leaves its cost alone.
    converter_handler(invoked[0], FakeLambdaContext())
    assert report_of(job["job_id"])["cost"] == cost
