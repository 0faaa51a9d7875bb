"""The whole flow in AWS mode against moto's server, the Glue run on the local Spark session.

moto records the Glue run but does not execute it, so the test runs the job script
with the run's own arguments, as Glue would, then delivers the events EventBridge would.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
import requests

from etl_lib.jobs.local import argv_of, load_glue_script
from etl_lib.options import ConvertOptions
from lambdas.download.handler import handler as download_handler
from lambdas.events.handler import handler as events_handler
from lambdas.status.handler import handler as status_handler
from tests.jobs.support import (
    AwsResources,
    FakeLambdaContext,
    api_event,
    call,
    create_and_upload_on_aws,
    expected_output,
    glue_event,
    s3_event,
    write_parquet,
)

if TYPE_CHECKING:
    from types_boto3_glue.type_defs import JobRunTypeDef


def create_and_upload(
    data: bytes, options: dict[str, Any] | None = None, engine: str = "auto"
) -> tuple[dict[str, Any], str]:
    return create_and_upload_on_aws(data, options=options or {}, engine=engine)


def only_run(resources: AwsResources) -> JobRunTypeDef:
    runs = boto3.client("glue").get_job_runs(JobName=resources.glue_job)["JobRuns"]
    assert len(runs) == 1
    return runs[0]


def get(job_id: str, sub: str = "user-a") -> tuple[int, Any]:
    return call(status_handler, api_event("GET", f"/jobs/{job_id}", sub=sub))


@pytest.mark.spark
def test_upload_to_download_on_aws_with_the_glue_script_on_spark(
    aws_lambda_env: AwsResources, spark: Any, tmp_path: Path
) -> None:
    src = write_parquet(tmp_path / "sales.parquet", rows=50)
    options = {"format": "json", "compression": "gzip", "drop_nulls": True}
    # A small file would run on the local engine: force Spark, as an API user may.
    job, key = create_and_upload(src.read_bytes(), options, engine="spark")

    # S3 -> EventBridge -> events Lambda: the upload is checked and the Glue run started.
    result = events_handler(s3_event(key, src.stat().st_size, aws_lambda_env.input_bucket), FakeLambdaContext())
    assert result == {"job_id": job["job_id"], "status": "RUNNING"}
    run = only_run(aws_lambda_env)

    # Glue runs the script with the run's arguments.
    script = load_glue_script()
    argv = ["parquet_to_json.py", *argv_of({"--JOB_NAME": aws_lambda_env.glue_job, **run["Arguments"]})]
    assert script.main(argv, spark_factory=lambda: spark) == 0

    # The run's state change arrives after the script recorded the result: a no-op.
    events_handler(glue_event(run["Id"], "SUCCEEDED"), FakeLambdaContext())
    status, payload = get(job["job_id"])
    assert status == 200
    done = payload["job"]
    assert done["status"] == "SUCCEEDED"
    assert done["engine"] == "spark"
    assert (done["rows_in"], done["rows_out"]) == (50, 50)

    status, link = call(download_handler, api_event("GET", f"/jobs/{job['job_id']}/download"))
    assert status == 200
    assert link["filename"] == "sales.json.gz"
    downloaded = requests.get(link["url"], timeout=30)
    assert downloaded.status_code == 200
    assert 'filename="sales.json.gz"' in downloaded.headers["Content-Disposition"]
    expected = expected_output(src, tmp_path, ConvertOptions.from_dict(options))
    import gzip

    assert gzip.decompress(downloaded.content) == gzip.decompress(expected)

    # Someone else sees nothing; the owner can delete it, files included.
    for handler, method, path in (
        (status_handler, "GET", f"/jobs/{job['job_id']}"),
        (download_handler, "GET", f"/jobs/{job['job_id']}/download"),
        (status_handler, "DELETE", f"/jobs/{job['job_id']}"),
    ):
        assert call(handler, api_event(method, path, sub="user-b"))[0] == 404
    assert call(status_handler, api_event("DELETE", f"/jobs/{job['job_id']}"))[0] == 204
    s3 = boto3.client("s3")
    for bucket in (aws_lambda_env.input_bucket, aws_lambda_env.output_bucket):
        assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
    assert get(job["job_id"])[0] == 404


@pytest.mark.parametrize("state", ["FAILED", "TIMEOUT", "STOPPED"])
def test_a_run_that_dies_never_leaves_the_job_running(aws_lambda_env: AwsResources, tmp_path: Path, state: str) -> None:
    src = write_parquet(tmp_path / "sales.parquet")
    job, key = create_and_upload(src.read_bytes())
    events_handler(s3_event(key, src.stat().st_size, aws_lambda_env.input_bucket), FakeLambdaContext())
    run = only_run(aws_lambda_env)
    assert get(job["job_id"])[1]["job"]["status"] == "RUNNING"
    events_handler(glue_event(run["Id"], state, "Killed by the test"), FakeLambdaContext())
    failed = get(job["job_id"])[1]["job"]
    assert failed["status"] == "FAILED"
    assert failed["error"] == {
        "code": f"RUN_{state}",
        "message": f"the conversion run ended {state}: Killed by the test",
    }
    # Duplicates and late events change nothing; the upload event again starts no run.
    events_handler(glue_event(run["Id"], "SUCCEEDED"), FakeLambdaContext())
    events_handler(s3_event(key, src.stat().st_size, aws_lambda_env.input_bucket), FakeLambdaContext())
    assert get(job["job_id"])[1]["job"] == failed
    only_run(aws_lambda_env)


def test_a_run_that_succeeds_without_reporting_ends_failed(aws_lambda_env: AwsResources, tmp_path: Path) -> None:
    src = write_parquet(tmp_path / "sales.parquet")
    job, key = create_and_upload(src.read_bytes())
    events_handler(s3_event(key, src.stat().st_size, aws_lambda_env.input_bucket), FakeLambdaContext())
    events_handler(glue_event(only_run(aws_lambda_env)["Id"], "SUCCEEDED"), FakeLambdaContext())
    assert get(job["job_id"])[1]["job"]["error"]["code"] == "RUN_LOST"


def test_a_bad_upload_fails_without_starting_a_glue_run(aws_lambda_env: AwsResources) -> None:
    job, key = create_and_upload(b"this is not parquet at all")
    events_handler(s3_event(key, 26, aws_lambda_env.input_bucket), FakeLambdaContext())
    failed = get(job["job_id"])[1]["job"]
    assert failed["status"] == "FAILED"
    assert failed["error"]["code"] == "INVALID_PARQUET"
    assert boto3.client("glue").get_job_runs(JobName=aws_lambda_env.glue_job)["JobRuns"] == []


def test_the_glue_script_marks_a_corrupt_file_failed_and_leaves_no_output(
    aws_lambda_env: AwsResources, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from etl_lib.jobs.settings import service

    monkeypatch.setenv("ETL_ENGINE", "local")  # jobs record their engine: keep this one JVM-free
    service.cache_clear()
    good = write_parquet(tmp_path / "sales.parquet").read_bytes()
    corrupt = good[:4] + b"\xff" * (len(good) - 8) + good[-4:]
    job, key = create_and_upload(corrupt)
    events_handler(s3_event(key, len(corrupt), aws_lambda_env.input_bucket), FakeLambdaContext())
    run = only_run(aws_lambda_env)
    assert load_glue_script().main(["parquet_to_json.py", *argv_of(run["Arguments"])]) == 1
    failed = get(job["job_id"])[1]["job"]
    assert failed["status"] == "FAILED"
    assert failed["engine"] == "local"
    assert failed["error"]["code"] == "INVALID_PARQUET"
    assert failed["error"]["message"].startswith("sales.parquet: ")
    assert boto3.client("s3").list_objects_v2(Bucket=aws_lambda_env.output_bucket).get("KeyCount", 0) == 0
    assert call(download_handler, api_event("GET", f"/jobs/{job['job_id']}/download"))[0] == 409
