"""At-least-once delivery on AWS (moto): a duplicated EventBridge event or a duplicated
asynchronous invocation of the converter converts the upload once and keeps its output."""

from __future__ import annotations

from pathlib import Path

import boto3
import requests

from lambdas.converter.handler import handler as converter_handler
from lambdas.download.handler import handler as download_handler
from lambdas.events.handler import handler as events_handler
from tests.jobs.support import (
    AwsResources,
    FakeLambdaContext,
    api_event,
    call,
    expected_output,
    s3_event,
    together,
    write_parquet,
)
from tests.lambdas.test_converter_routing import CONVERTER, FakeLambdaClient, create_and_upload, get, lambda_client

__all__ = ["lambda_client"]


def test_a_duplicated_converter_invocation_converts_once_and_keeps_the_output(
    lambda_client: FakeLambdaClient, aws_lambda_env: AwsResources, conversions: list[str], tmp_path: Path
) -> None:
    src = write_parquet(tmp_path / "sales.parquet", rows=25)
    job_id, key = create_and_upload(src.read_bytes())
    events_handler(s3_event(key, src.stat().st_size, aws_lambda_env.input_bucket), FakeLambdaContext())
    (payload,) = lambda_client.payloads()

    # Lambda delivered the same asynchronous event twice, to two containers at once.
    results = together(2, lambda: converter_handler(dict(payload), FakeLambdaContext(function_name=CONVERTER)))
    assert {r["job_id"] for r in results} == {job_id}
    assert len(conversions) == 1
    assert get(job_id)["status"] == "SUCCEEDED"
    status, link = call(download_handler, api_event("GET", f"/jobs/{job_id}/download"))
    assert status == 200
    assert requests.get(link["url"], timeout=30).content == expected_output(src, tmp_path)
    listed = boto3.client("s3").list_objects_v2(Bucket=aws_lambda_env.output_bucket, Prefix=f"outputs/{job_id}/")
    attempts = {o["Key"].split("/")[2] for o in listed["Contents"]}
    assert len(attempts) == 1  # nothing of the losing delivery was left behind


def test_a_duplicated_upload_event_starts_one_converter_run(
    lambda_client: FakeLambdaClient, aws_lambda_env: AwsResources, tmp_path: Path
) -> None:
    src = write_parquet(tmp_path / "sales.parquet", rows=5)
    job_id, key = create_and_upload(src.read_bytes())
    event = s3_event(key, src.stat().st_size, aws_lambda_env.input_bucket)
    together(3, lambda: events_handler(dict(event), FakeLambdaContext()))
    assert lambda_client.payloads() == [{"job_id": job_id}]
    assert get(job_id)["status"] == "RUNNING"
