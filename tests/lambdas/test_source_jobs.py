"""POST /jobs/source: data engineers convert a dataset or catalog table where it is, within the
deployment's allow-list; on the AWS back end (moto's server: S3, DynamoDB, Glue jobs and catalog)."""

from __future__ import annotations

import gzip
import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_lib.jobs.models import ENGINEERS_GROUP, Job, output_key
from etl_lib.jobs.settings import service
from lambdas.upload.handler import handler as upload_handler
from tests.jobs.support import AwsResources, api_event, call


@pytest.fixture
def lake(aws_lambda_env: AwsResources, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """A bucket holding a partitioned dataset, its catalog table, both in the allow-list."""
    bucket, database = f"lake-{uuid.uuid4().hex[:8]}", f"lake_{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket)
    glue: Any = boto3.client("glue")  # plain dicts, not the stubs' TypedDicts
    glue.create_database(DatabaseInput={"Name": database})
    glue.create_table(
        DatabaseName=database,
        TableInput={
            "Name": "sales",
            "StorageDescriptor": {"Location": f"s3://{bucket}/sales/"},
            "PartitionKeys": [{"Name": "year", "Type": "int"}],
        },
    )
    for year in (2024, 2025):
        local = tmp_path / f"{year}.parquet"
        pq.write_table(pa.table({"id": [year * 10, year * 10 + 1]}), local)
        s3.upload_file(str(local), bucket, f"sales/year={year}/part-0.parquet")
        glue.create_partition(
            DatabaseName=database,
            TableName="sales",
            PartitionInput={
                "Values": [str(year)],
                "StorageDescriptor": {"Location": f"s3://{bucket}/sales/year={year}"},
            },
        )
    s3.put_object(Bucket=bucket, Key="sales/_SUCCESS", Body=b"")
    monkeypatch.setenv("SOURCE_BUCKETS", f"other-bucket, {bucket}")
    monkeypatch.setenv("SOURCE_DATABASES", database)
    service.cache_clear()
    return bucket, database


def _create(body: dict[str, Any], groups: str | None = f"[{ENGINEERS_GROUP}]") -> tuple[int, Any]:
    event = api_event("POST", "/jobs/source", body=body)
    if groups is not None:
        event["requestContext"]["authorizer"]["claims"]["cognito:groups"] = groups
    return call(upload_handler, event)


def _output(job: Job) -> list[dict[str, Any]]:
    """The records the job published, where the download link points."""
    stored = service().outputs.get_bytes(output_key(job.job_id, job.options, job.attempt))
    assert stored is not None
    return [json.loads(line) for line in gzip.decompress(stored).decode().splitlines()]


@pytest.mark.parametrize(
    ("source", "partition_filter", "years"),
    [("glue://{database}/sales", "year > 2024", [2025]), ("s3://{bucket}/sales/", None, [2024, 2025])],
)
def test_an_engineer_converts_a_catalog_table_or_a_prefix_in_place(
    lake: tuple[str, str],
    aws_lambda_env: AwsResources,
    source: str,
    partition_filter: str | None,
    years: list[int],
) -> None:
    bucket, database = lake
    body = {"source": source.format(bucket=bucket, database=database), "options": {"compression": "gzip"}}
    if partition_filter:
        body["partition_filter"] = partition_filter
    status, payload = _create(body)
    assert status == 201, payload
    job = payload["job"]
    assert (job["status"], job["engine"], job["source"], job["filename"]) == (
        "RUNNING",
        "spark",
        body["source"],
        "sales",
    )
    # The Glue run (started on moto) is played here, on the local engine: the same service code.
    finished = service().run(job["job_id"], engine="local")
    assert finished is not None and finished.status == "SUCCEEDED", finished
    assert _output(finished) == [{"id": year * 10 + i, "year": year} for year in years for i in range(2)]


@pytest.mark.parametrize("groups", [None, "[admins]", "engineers-old"])
def test_a_caller_outside_the_engineers_group_is_refused_with_403(lake: tuple[str, str], groups: str | None) -> None:
    status, payload = _create({"source": f"glue://{lake[1]}/sales"}, groups=groups)
    assert (status, payload["error"]["code"]) == (403, "FORBIDDEN")


@pytest.mark.parametrize("source", ["s3://not-allowed/sales/", "glue://not_allowed/sales", "s3://other-bucket-2/x"])
def test_a_source_outside_the_allow_list_is_refused_with_403(lake: tuple[str, str], source: str) -> None:
    status, payload = _create({"source": source}, groups="engineers,admins")
    assert (status, payload["error"]["code"]) == (403, "SOURCE_NOT_ALLOWED")
    assert source.split("/")[2] in payload["error"]["message"]


@pytest.mark.parametrize("source", ["/etc/passwd", "file:///etc/passwd", "glue://db", "https://example.com/x"])
def test_a_source_that_is_neither_a_prefix_nor_a_table_is_an_invalid_request(
    lake: tuple[str, str], source: str
) -> None:
    status, payload = _create({"source": source})
    assert (status, payload["error"]["code"]) == (422, "INVALID_REQUEST")


def test_a_missing_catalog_table_fails_the_job_with_input_not_found(
    lake: tuple[str, str], aws_lambda_env: AwsResources
) -> None:
    status, payload = _create({"source": f"glue://{lake[1]}/nope"})
    assert status == 201, payload
    failed = service().run(payload["job"]["job_id"], engine="local")
    assert failed is not None and failed.error is not None
    assert (failed.status, failed.error.code) == ("FAILED", "INPUT_NOT_FOUND")
    assert failed.error.message == f"nope: glue://{lake[1]}/nope does not exist in the Glue Data Catalog"
