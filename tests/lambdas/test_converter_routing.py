"""Routing by size in AWS mode against moto: small uploads to the converter Lambda (local
engine), large or forced-spark ones to Glue; converter failures; job-end metrics.

moto's Lambda needs Docker to invoke a function, so the events Lambda is given a fake
Lambda client (through the composition root) that records the asynchronous invocation;
the test then calls the converter handler with that payload, as Lambda would.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
import requests
from botocore.stub import Stubber

from etl_lib.jobs.aws import LambdaLauncher
from etl_lib.jobs.local import argv_of, load_glue_script
from etl_lib.jobs.metrics import (
    CATALOGUE,
    DOWNLOADS,
    JOB_DURATION_MS,
    JOBS_CREATED,
    JOBS_DELETED,
    JOBS_FAILED,
    JOBS_SUCCEEDED,
    UPLOADS_REJECTED,
    UPLOADS_STARTED,
    Metric,
)
from lambdas.converter.handler import handler as converter_handler
from lambdas.download.handler import handler as download_handler
from lambdas.events.handler import handler as events_handler
from lambdas.status.handler import handler as status_handler
from lambdas.upload.handler import handler as upload_handler
from tests.jobs.support import (
    AwsResources,
    FakeLambdaContext,
    api_event,
    call,
    expected_output,
    s3_event,
    write_parquet,
)

if TYPE_CHECKING:
    from types_boto3_glue.type_defs import JobRunTypeDef

CONVERTER = "parquet-json-etl-test-converter"


class FakeLambdaClient:
    """The one call LambdaLauncher makes, recorded."""

    def __init__(self) -> None:
        self.invocations: list[dict[str, Any]] = []

    def invoke(self, **request: Any) -> dict[str, Any]:
        self.invocations.append(request)
        return {"StatusCode": 202, "ResponseMetadata": {"RequestId": f"req-{len(self.invocations)}"}}

    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(i["Payload"]) for i in self.invocations]


@pytest.fixture
def lambda_client(aws_lambda_env: AwsResources, monkeypatch: pytest.MonkeyPatch) -> FakeLambdaClient:
    from etl_lib.jobs import settings

    fake = FakeLambdaClient()
    real = settings._boto3_client
    monkeypatch.setattr(settings, "_boto3_client", lambda name: fake if name == "lambda" else real(name))
    monkeypatch.setenv("CONVERTER_FUNCTION_NAME", CONVERTER)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ParquetJsonEtl")
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    settings.service.cache_clear()
    return fake


def create_and_upload(data: bytes, engine: str | None = None) -> tuple[str, str]:
    body: dict[str, Any] = {"filename": "sales.parquet", "size": len(data)}
    if engine is not None:
        body["engine"] = engine
    status, created = call(upload_handler, api_event("POST", "/jobs", body=body))
    assert status == 201, created
    upload = created["upload"]
    response = requests.post(upload["url"], data=upload["fields"], files={"file": ("sales.parquet", data)}, timeout=30)
    assert response.status_code in {200, 201, 204}, response.text
    return created["job"]["job_id"], upload["fields"]["key"]


def get(job_id: str) -> dict[str, Any]:
    status, payload = call(status_handler, api_event("GET", f"/jobs/{job_id}"))
    assert status == 200
    return payload["job"]


def glue_runs(resources: AwsResources) -> list[JobRunTypeDef]:
    return boto3.client("glue").get_job_runs(JobName=resources.glue_job)["JobRuns"]


def emf_metrics(output: str) -> list[dict[str, Any]]:
    """The EMF documents printed (Powertools' JSON log lines are skipped)."""
    documents = []
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            documents.append(json.loads(line))
    return documents


def job_end_metrics(output: str) -> dict[str, Any]:
    """{metric name: document} for JobsSucceeded, JobsFailed, JobDurationMs."""
    found = {}
    for doc in emf_metrics(output):
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]:
            if metric["Name"] in {m.name for m in (JOBS_SUCCEEDED, JOBS_FAILED, JOB_DURATION_MS)}:
                assert metric["Name"] not in found, "a job's end is counted once"
                found[metric["Name"]] = doc
    return found


def failure_record(
    job_id: str, message: str = "2026-11-26T10:00:00Z abc Task timed out after 900.00 seconds"
) -> dict[str, Any]:
    """What Lambda sends the converter's on-failure destination (the default event bus)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Lambda Function Invocation Result - Failure",
        "source": "lambda",
        "account": "123456789012",
        "time": "2026-11-26T10:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:lambda:us-east-1:123456789012:function:{CONVERTER}:$LATEST"],
        "detail": {
            "version": "1.0",
            "timestamp": "2026-11-26T10:00:00.000Z",
            "requestContext": {
                "requestId": "req-1",
                "functionArn": f"arn:aws:lambda:us-east-1:123456789012:function:{CONVERTER}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3,
            },
            "requestPayload": {"job_id": job_id},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorMessage": message},
        },
    }


def test_a_small_upload_is_converted_by_the_converter_lambda_on_the_local_engine(
    lambda_client: FakeLambdaClient, aws_lambda_env: AwsResources, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = write_parquet(tmp_path / "sales.parquet", rows=40)
    job_id, key = create_and_upload(src.read_bytes())
    assert get(job_id)["engine"] == "auto"

    result = events_handler(s3_event(key, src.stat().st_size, aws_lambda_env.input_bucket), FakeLambdaContext())
    assert result == {"job_id": job_id, "status": "RUNNING"}
    (invocation,) = lambda_client.invocations
    assert invocation["FunctionName"] == CONVERTER
    assert invocation["InvocationType"] == "Event"
    assert lambda_client.payloads() == [{"job_id": job_id}]
    assert get(job_id)["engine"] == "local"

    capsys.readouterr()
    done = converter_handler(lambda_client.payloads()[0], FakeLambdaContext(function_name=CONVERTER))
    assert done == {"job_id": job_id, "status": "SUCCEEDED", "engine": "local"}
    metrics = job_end_metrics(capsys.readouterr().out)
    assert set(metrics) == {"JobsSucceeded", "JobDurationMs"}
    for doc in metrics.values():
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "ParquetJsonEtl"
        assert directive["Dimensions"] == [["service"]]
        assert doc["service"] == "jobs-events"  # the dashboard's series, whoever ended the job
        assert doc["engine"] == "local"
    assert metrics["JobsSucceeded"]["JobsSucceeded"] == [1.0]

    job = get(job_id)
    assert (job["status"], job["engine"], job["rows_in"], job["rows_out"]) == ("SUCCEEDED", "local", 40, 40)
    status, link = call(download_handler, api_event("GET", f"/jobs/{job_id}/download"))
    assert status == 200
    assert requests.get(link["url"], timeout=30).content == expected_output(src, tmp_path)

    # Lambda delivers at least once: a second invocation changes nothing and counts nothing.
    again = converter_handler({"job_id": job_id}, FakeLambdaContext(function_name=CONVERTER))
    assert again["status"] == "SUCCEEDED"
    assert job_end_metrics(capsys.readouterr().out) == {}
    assert get(job_id) == job
    # A late failure record for a finished job is ignored.
    assert events_handler(failure_record(job_id), FakeLambdaContext())["status"] == "SUCCEEDED"


def test_the_converter_waits_for_its_claim_and_converts_only_within_its_own_invocation(
    lambda_client: FakeLambdaClient,
    aws_lambda_env: AwsResources,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Lambda kills an invocation at its timeout, mid-write: the claim wait (up to a lease)
    and the conversion's deadline together must end before it, with time to record the end."""
    import time

    from etl_lib import conversion
    from etl_lib.jobs.service import MIN_RUN_SECONDS, RUN_FINISH_SECONDS
    from etl_lib.jobs.settings import service

    src = write_parquet(tmp_path / "sales.parquet", rows=40)
    held_id, held_key = create_and_upload(src.read_bytes())
    events_handler(s3_event(held_key, src.stat().st_size, aws_lambda_env.input_bucket), FakeLambdaContext())
    # Another execution holds the first job with a live lease: a duplicate would wait up to a
    # lease (two minutes) to see whether it dies. With too little time left, it does not wait.
    now = int(time.time())
    store = service().jobs
    assert store.claim(held_id, attempt="other", lease_until=now + 120, now=now, run_id="lambda:other") is not None
    claims: list[str] = []
    real_claim = store.claim

    def counted_claim(job_id: str, **kw: Any) -> Any:
        claims.append(job_id)
        return real_claim(job_id, **kw)

    monkeypatch.setattr(store, "claim", counted_claim)
    short = FakeLambdaContext(function_name=CONVERTER)
    short.remaining_ms = (RUN_FINISH_SECONDS + MIN_RUN_SECONDS - 5) * 1000
    assert converter_handler({"job_id": held_id}, short)["status"] == "RUNNING"
    assert claims == [held_id]  # one try, no waiting
    assert get(held_id)["status"] == "RUNNING"

    # A run that claims at once gets, as its deadline, what is left minus the time to finish.
    job_id, key = create_and_upload(src.read_bytes())
    events_handler(s3_event(key, src.stat().st_size, aws_lambda_env.input_bucket), FakeLambdaContext())
    deadlines: list[float | None] = []
    real_convert = conversion.convert

    def observed_convert(*args: Any, **kw: Any) -> Any:
        deadlines.append(kw["limits"].max_run_seconds)
        return real_convert(*args, **kw)

    monkeypatch.setattr(conversion, "convert", observed_convert)
    context = FakeLambdaContext(function_name=CONVERTER)
    context.remaining_ms = 200_000
    assert converter_handler({"job_id": job_id}, context)["status"] == "SUCCEEDED"
    (deadline,) = deadlines
    assert deadline is not None and 200 - RUN_FINISH_SECONDS - 10 < deadline <= 200 - RUN_FINISH_SECONDS


def test_a_large_upload_goes_to_glue(
    lambda_client: FakeLambdaClient, aws_lambda_env: AwsResources, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from etl_lib.jobs.settings import service

    monkeypatch.setenv("SMALL_FILE_THRESHOLD_BYTES", "100")
    service.cache_clear()
    src = write_parquet(tmp_path / "sales.parquet", rows=40)
    assert src.stat().st_size > 100
    job_id, key = create_and_upload(src.read_bytes())
    result = events_handler(s3_event(key, src.stat().st_size, aws_lambda_env.input_bucket), FakeLambdaContext())
    assert result == {"job_id": job_id, "status": "RUNNING"}
    assert lambda_client.invocations == []
    (run,) = glue_runs(aws_lambda_env)
    assert run["Arguments"]["--job_id"] == job_id
    assert get(job_id)["engine"] == "spark"


def test_a_user_can_force_spark_for_a_small_file(
    lambda_client: FakeLambdaClient, aws_lambda_env: AwsResources, tmp_path: Path
) -> None:
    src = write_parquet(tmp_path / "sales.parquet", rows=3)
    job_id, key = create_and_upload(src.read_bytes(), engine="spark")
    assert get(job_id)["engine"] == "spark"
    events_handler(s3_event(key, src.stat().st_size, aws_lambda_env.input_bucket), FakeLambdaContext())
    assert lambda_client.invocations == []
    assert [r["Arguments"]["--job_id"] for r in glue_runs(aws_lambda_env)] == [job_id]
    assert get(job_id)["engine"] == "spark"


@pytest.mark.parametrize("via_eventbridge", [True, False])
def test_a_converter_that_gave_up_fails_its_job(
    lambda_client: FakeLambdaClient,
    aws_lambda_env: AwsResources,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    via_eventbridge: bool,
) -> None:
    src = write_parquet(tmp_path / "sales.parquet")
    job_id, key = create_and_upload(src.read_bytes())
    events_handler(s3_event(key, src.stat().st_size, aws_lambda_env.input_bucket), FakeLambdaContext())
    assert get(job_id)["status"] == "RUNNING"  # the converter was killed: nothing marked the job

    capsys.readouterr()
    record = failure_record(job_id)
    event = record if via_eventbridge else record["detail"]
    assert events_handler(event, FakeLambdaContext()) == {"job_id": job_id, "status": "FAILED"}
    job = get(job_id)
    assert job["status"] == "FAILED"
    assert job["engine"] == "local"
    assert job["error"]["code"] == "RUN_FAILED"
    assert "RetriesExhausted after 3 attempts" in job["error"]["message"]
    assert "Task timed out after 900.00 seconds" in job["error"]["message"]
    assert set(job_end_metrics(capsys.readouterr().out)) == {"JobsFailed"}
    # Delivered twice: still FAILED, counted once.
    assert events_handler(event, FakeLambdaContext())["status"] == "FAILED"
    assert job_end_metrics(capsys.readouterr().out) == {}


def test_a_corrupt_small_file_fails_in_the_converter_with_its_reason(
    lambda_client: FakeLambdaClient, aws_lambda_env: AwsResources, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write_parquet(tmp_path / "sales.parquet").read_bytes()
    corrupt = good[:4] + b"\xff" * (len(good) - 8) + good[-4:]
    job_id, key = create_and_upload(corrupt)
    events_handler(s3_event(key, len(corrupt), aws_lambda_env.input_bucket), FakeLambdaContext())
    capsys.readouterr()
    result = converter_handler({"job_id": job_id}, FakeLambdaContext(function_name=CONVERTER))
    assert result == {"job_id": job_id, "status": "FAILED", "engine": "local"}
    assert get(job_id)["error"]["code"] == "INVALID_PARQUET"
    assert set(job_end_metrics(capsys.readouterr().out)) == {"JobsFailed"}
    assert boto3.client("s3").list_objects_v2(Bucket=aws_lambda_env.output_bucket).get("KeyCount", 0) == 0


def test_the_glue_job_publishes_its_end_with_put_metric_data(
    aws_lambda_env: AwsResources, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No converter configured: the Glue job runs the small file (local engine) and reports it."""
    from etl_lib.jobs.settings import service

    monkeypatch.delenv("CONVERTER_FUNCTION_NAME", raising=False)
    service.cache_clear()
    namespace = f"EtlTest{uuid.uuid4().hex[:8]}"
    src = write_parquet(tmp_path / "sales.parquet", rows=9)
    job_id, key = create_and_upload(src.read_bytes())
    events_handler(s3_event(key, src.stat().st_size, aws_lambda_env.input_bucket), FakeLambdaContext())
    (run,) = glue_runs(aws_lambda_env)
    arguments = {**run["Arguments"], "--metrics_namespace": namespace}
    assert load_glue_script().main(["parquet_to_json.py", *argv_of(arguments)]) == 0
    assert get(job_id)["engine"] == "local"
    listed = boto3.client("cloudwatch").list_metrics(Namespace=namespace)["Metrics"]
    assert {m["MetricName"] for m in listed} == {"JobsSucceeded", "JobDurationMs"}
    assert all(m["Dimensions"] == [{"Name": "service", "Value": "jobs-events"}] for m in listed)


def test_the_lambda_launcher_invokes_the_converter_asynchronously() -> None:
    client = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_response(
            "invoke",
            {"StatusCode": 202},
            {"FunctionName": CONVERTER, "InvocationType": "Event", "Payload": b'{"job_id": "abc"}'},
        )
        run_id = LambdaLauncher(client, CONVERTER).start({"--job_id": "abc", "--jobs_store": "dynamodb:t"})
        stub.assert_no_pending_responses()
    assert run_id.startswith("lambda:")
    assert LambdaLauncher(client, CONVERTER).arguments_of(run_id) is None


def published(output: str) -> set[Metric]:
    """The (name, service) of every series in the EMF documents printed."""
    found = set()
    for doc in emf_metrics(output):
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                found.add(Metric(metric["Name"], doc.get("service", "")))
    return found


def test_the_handlers_publish_the_catalogues_series_and_no_other(
    lambda_client: FakeLambdaClient, aws_lambda_env: AwsResources, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The dashboard and alarms graph etl_lib.jobs.metrics' series (tests/infra checks that
    end): a job's whole life through the handlers publishes each of them, named as graphed."""
    good = write_parquet(tmp_path / "sales.parquet").read_bytes()
    capsys.readouterr()
    job_id, key = create_and_upload(good)
    events_handler(s3_event(key, len(good), aws_lambda_env.input_bucket), FakeLambdaContext())
    converter_handler({"job_id": job_id}, FakeLambdaContext(function_name=CONVERTER))
    assert call(download_handler, api_event("GET", f"/jobs/{job_id}/download"))[0] == 200
    assert call(status_handler, api_event("DELETE", f"/jobs/{job_id}"))[0] == 204
    empty_id, empty_key = create_and_upload(b"PAR1")  # too small to be Parquet: rejected on arrival
    events_handler(s3_event(empty_key, 4, aws_lambda_env.input_bucket), FakeLambdaContext())
    assert get(empty_id)["status"] == "FAILED"

    seen = published(capsys.readouterr().out)
    assert seen <= CATALOGUE, seen - CATALOGUE
    expected = {
        JOBS_CREATED,
        UPLOADS_STARTED,
        UPLOADS_REJECTED,
        JOBS_SUCCEEDED,
        JOBS_FAILED,
        JOB_DURATION_MS,
        DOWNLOADS,
        JOBS_DELETED,
    }
    assert expected <= seen, expected - seen
