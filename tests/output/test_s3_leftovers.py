"""What a conversion to S3 leaves in the bucket, on moto's server: the output and nothing
else (no staged piece, no empty ``prefix/`` directory marker), and after a failure nothing."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from etl_lib.conversion import convert
from etl_lib.errors import OutputTooLargeError
from etl_lib.options import Limits
from tests.jobs.support import write_parquet


@pytest.fixture
def bucket(aws_env: str) -> str:
    import uuid

    name = f"leftovers-{uuid.uuid4().hex[:10]}"
    boto3.client("s3").create_bucket(Bucket=name)
    return name


def _keys(bucket: str) -> list[str]:
    return sorted(o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=bucket).get("Contents", []))


def _upload(tmp_path: Path, bucket: str) -> str:
    boto3.client("s3").upload_file(str(write_parquet(tmp_path / "in.parquet", rows=1000)), bucket, "in/in.parquet")
    return f"s3://{bucket}/in/in.parquet"


def test_a_conversion_to_s3_leaves_only_the_input_and_the_output(bucket: str, tmp_path: Path) -> None:
    convert(_upload(tmp_path, bucket), f"s3://{bucket}/out/in.jsonl", engine="local")
    assert _keys(bucket) == ["in/in.parquet", "out/in.jsonl"]


def test_a_failed_conversion_to_s3_leaves_only_the_input(bucket: str, tmp_path: Path) -> None:
    with pytest.raises(OutputTooLargeError):
        convert(
            _upload(tmp_path, bucket), f"s3://{bucket}/out/in.jsonl", engine="local", limits=Limits(max_output_bytes=10)
        )
    assert _keys(bucket) == ["in/in.parquet"]
