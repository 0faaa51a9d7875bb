"""The scheduled validation job's script, run against moto (S3, DynamoDB, CloudWatch)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.assets import VALIDATION_SCRIPT

NAMESPACE = "ParquetJsonEtl"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("validate_recent_results", VALIDATION_SCRIPT)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(Bucket="out", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        dynamodb = boto3.resource("dynamodb", region_name="eu-west-1")
        table = dynamodb.create_table(
            TableName="jobs",
            KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "job_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield {"s3": s3, "table": table}


def iso(delta_hours: float) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(hours=delta_hours)).isoformat()


def run(script: ModuleType) -> int:
    code: int = script.main(["--OUTPUT_BUCKET", "out", "--JOBS_TABLE", "jobs", "--METRICS_NAMESPACE", NAMESPACE])
    return code


def summaries(s3: Any) -> list[dict[str, Any]]:
    listed = s3.list_objects_v2(Bucket="out", Prefix="validation/").get("Contents", [])
    return [json.loads(s3.get_object(Bucket="out", Key=o["Key"])["Body"].read()) for o in listed]


def test_good_results_pass_and_are_recorded(aws: dict[str, Any]) -> None:
    s3, table = aws["s3"], aws["table"]
    s3.put_object(Bucket="out", Key="outputs/a1/output.jsonl", Body=b'{"x":1}\n')
    s3.put_object(Bucket="out", Key="outputs/a1/report.json", Body=b"{}")
    table.put_item(Item={"job_id": "a1", "status": "SUCCEEDED", "updated_at": iso(1), "output_bytes": 8})
    table.put_item(Item={"job_id": "a2", "status": "RUNNING", "updated_at": iso(0.5)})
    # Outside the look-back window: not checked even though its output is gone.
    table.put_item(Item={"job_id": "old", "status": "SUCCEEDED", "updated_at": iso(48)})

    assert run(load_script()) == 0
    (summary,) = summaries(s3)
    assert summary["ok"] is True
    assert summary["jobs_checked"] == 2
    assert summary["failures"] == {}


def test_missing_outputs_wrong_sizes_and_stuck_jobs_fail(aws: dict[str, Any]) -> None:
    s3, table = aws["s3"], aws["table"]
    s3.put_object(Bucket="out", Key="outputs/b2/output.jsonl", Body=b"12345")
    table.put_item(Item={"job_id": "b1", "status": "SUCCEEDED", "updated_at": iso(1)})
    table.put_item(Item={"job_id": "b2", "status": "SUCCEEDED", "updated_at": iso(1), "output_bytes": 9})
    table.put_item(Item={"job_id": "b3", "status": "QUEUED", "updated_at": iso(5)})
    table.put_item(Item={"job_id": "b4", "status": "FAILED", "updated_at": iso(1)})

    assert run(load_script()) == 1
    (summary,) = summaries(s3)
    assert summary["ok"] is False
    assert set(summary["failures"]) == {"b1", "b2", "b3"}
    assert "without an output" in summary["failures"]["b1"]
    assert "5 bytes" in summary["failures"]["b2"]
    assert "stuck in QUEUED" in summary["failures"]["b3"]


def test_only_the_published_attempt_counts(aws: dict[str, Any]) -> None:
    """A killed duplicate run's leftovers under its own attempt folder are not the output."""
    s3, table = aws["s3"], aws["table"]
    s3.put_object(Bucket="out", Key="outputs/c1/good/output.jsonl", Body=b'{"x":1}\n')
    s3.put_object(Bucket="out", Key="outputs/c1/good/report.json", Body=b"{}")
    s3.put_object(Bucket="out", Key="outputs/c1/dead/.output.jsonl.tmp-1", Body=b"half a file")
    item = {"job_id": "c1", "status": "SUCCEEDED", "updated_at": iso(1), "output_bytes": 8, "attempt": "good"}
    table.put_item(Item=item)
    assert run(load_script()) == 0
    table.put_item(Item={**item, "attempt": "dead"})
    assert run(load_script()) == 1
