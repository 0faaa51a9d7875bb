"""The scheduled validation Glue job's entry point (glue_jobs/validate_notebook.py),
run here on moto's server (DynamoDB job table, S3, CloudWatch) with papermill and the real
validation notebook: a wrong output fails the run, the executed notebook shows where (never
the values), the summary names the job, the ValidationFailures metric says how many failed,
each validated job is marked, and a job's validation files go when the job is deleted."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from etl_lib.jobs.aws import DynamoJobStore
from etl_lib.jobs.models import Job, JobStatus, input_key, job_validation_prefix, output_key, report_key
from etl_lib.options import ConvertOptions
from tests.jobs.support import AwsResources, dynamo_service
from tests.notebooks.conftest import FIXTURES

pytestmark = [pytest.mark.xdist_group("notebook-kernels"), pytest.mark.timeout(900)]
SCRIPT = Path(__file__).resolve().parents[2] / "glue_jobs" / "validate_notebook.py"
NAMESPACE = "ParquetJsonEtlTest"


def _job(job_id: str, status: JobStatus, updated: datetime, validated_at: int | None = None) -> Job:
    return Job(job_id=job_id, owner="someone", status=status, filename="sample.parquet", options=ConvertOptions(),
               created_at=updated, updated_at=updated, declared_bytes=1, validated_at=validated_at)  # fmt: skip


def _store_job(res: AwsResources, job: Job, output: bytes | None) -> None:
    DynamoJobStore(boto3.client("dynamodb"), res.table).create(job)
    if output is None:
        return
    s3 = boto3.client("s3")
    s3.upload_file(str(FIXTURES / "sample.parquet"), res.input_bucket, input_key(job.job_id))
    s3.upload_file(str(FIXTURES / "sample.report.json"), res.output_bucket, report_key(job.job_id))
    s3.put_object(Bucket=res.output_bucket, Key=output_key(job.job_id, job.options), Body=output)


def _read(uri: str) -> bytes:
    bucket, _, key = uri[len("s3://") :].partition("/")
    data: bytes = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return data


def test_a_wrong_output_fails_the_scheduled_run_and_the_notebook_shows_why(
    aws_resources: AwsResources,
) -> None:
    now = datetime.now(UTC)
    golden = (FIXTURES / "sample.golden.jsonl").read_bytes()
    lines = golden.decode().splitlines(keepends=True)
    record = json.loads(lines[7])
    record["id"] += 1000
    wrong = "".join([*lines[:7], json.dumps(record, separators=(",", ":")) + "\n", *lines[8:]]).encode()
    _store_job(aws_resources, _job("good-job", JobStatus.SUCCEEDED, now - timedelta(hours=1)), golden)
    _store_job(aws_resources, _job("wrong-job", JobStatus.SUCCEEDED, now - timedelta(hours=2)), wrong)
    # Validated by an earlier run: not again, however wrong.
    old = int((now - timedelta(days=2)).timestamp())
    _store_job(aws_resources, _job("old-job", JobStatus.SUCCEEDED, now - timedelta(days=3), validated_at=old), wrong)
    _store_job(aws_resources, _job("stuck-job", JobStatus.RUNNING, now - timedelta(hours=5)), None)
    _store_job(aws_resources, _job("busy-job", JobStatus.RUNNING, now - timedelta(minutes=5)), None)
    argv = ["validate_notebook.py", "--JOBS_TABLE", aws_resources.table, "--INPUT_BUCKET", aws_resources.input_bucket,
            "--OUTPUT_BUCKET", aws_resources.output_bucket, "--METRICS_NAMESPACE", NAMESPACE,
            "--job-bookmark-option", "job-bookmark-disable", "--JOB_ID", "j_123"]  # fmt: skip

    code = compile(SCRIPT.read_text(encoding="utf-8"), str(SCRIPT), "exec")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.argv", argv)
        with pytest.raises(RuntimeError, match="scheduled validation failed"):
            exec(code, {"__name__": "__main__"})  # as Glue runs the script

    s3 = boto3.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=aws_resources.output_bucket, Prefix="validation/")["Contents"]]
    run = keys[0].split("/")[1]
    assert keys == [f"validation/{run}/summary.json"], "a job's files are kept with the job, not here"
    summary: dict[str, Any] = json.loads(_read(f"s3://{aws_resources.output_bucket}/validation/{run}/summary.json"))
    by_id = {job["job_id"]: job for job in summary["jobs"]}
    assert set(by_id) == {"good-job", "wrong-job"}, "not the SUCCEEDED jobs not validated yet"
    assert by_id["good-job"]["status"] == "passed"
    assert by_id["wrong-job"]["status"] == "failed"
    assert by_id["wrong-job"]["checks"]["round_trip"] is False
    assert [job["job_id"] for job in summary["stuck"]] == ["stuck-job"]
    assert summary["failures"] == 2

    base = f"s3://{aws_resources.output_bucket}/{job_validation_prefix('wrong-job', run)}"
    executed = json.loads(_read(f"{base}03-validate-output.ipynb"))
    shown = "".join("".join(o.get("text", "")) + json.dumps(o.get("data", {})) + str(o.get("evalue", ""))
                    for c in executed["cells"] if c["cell_type"] == "code" for o in c.get("outputs", []))  # fmt: skip
    assert "record 7 does not round-trip: $.id: VALUE_MISMATCH" in shown
    assert "1008" not in shown, "a stored message holds a record's value"
    stored = _read(f"{base}summary.json")
    assert json.loads(stored)["status"] == "failed"
    assert b"1008" not in stored

    store = DynamoJobStore(boto3.client("dynamodb"), aws_resources.table)
    marked = {job_id: getattr(store.get(job_id), "validated_at", None) for job_id in ("good-job", "wrong-job")}
    assert all(at is not None and at >= int(now.timestamp()) - 1 for at in marked.values()), marked
    assert getattr(store.get("old-job"), "validated_at", None) == old

    # Deleting the job removes its validation files with its output.
    dynamo_service(aws_resources).delete_job("someone", "wrong-job")
    left = s3.list_objects_v2(Bucket=aws_resources.output_bucket, Prefix="outputs/wrong-job/")
    assert left.get("KeyCount", 0) == 0

    cloudwatch = boto3.client("cloudwatch")
    values = {}
    for metric in ("ValidationChecked", "ValidationFailures", "ValidationSkipped"):
        stats = cloudwatch.get_metric_statistics(
            Namespace=NAMESPACE, MetricName=metric, StartTime=now - timedelta(minutes=5),
            EndTime=datetime.now(UTC) + timedelta(minutes=5), Period=60, Statistics=["Maximum"],
        )  # fmt: skip
        values[metric] = max(point["Maximum"] for point in stats["Datapoints"])
    assert values == {"ValidationChecked": 2.0, "ValidationFailures": 2.0, "ValidationSkipped": 0.0}
