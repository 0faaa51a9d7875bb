"""The s3:// mirror of local sessions (no Spark here: tests/devstack/sessions runs it under
plain spark.read / df.write on the Glue kernel)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from etl_lib.notebook.s3_local import S3Mirror, is_s3, split


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="lake")
        yield client


def test_s3_schemes_are_recognised_and_split() -> None:
    assert all(is_s3(f"{scheme}://b/k") for scheme in ("s3", "s3a", "s3n"))
    assert not is_s3("/tmp/s3://x")
    assert split("s3a://bucket/a/b.parquet") == ("bucket", "a/b.parquet")


def test_a_prefix_is_copied_as_a_folder_and_not_its_namesakes(s3: Any, tmp_path: Path) -> None:
    for key in ("data/cat=a/part-0.parquet", "data/_SUCCESS", "data-old/part-0.parquet"):
        s3.put_object(Bucket="lake", Key=key, Body=key.encode())
    mirror = S3Mirror(tmp_path, s3)

    local = Path(mirror.local_path("s3://lake/data"))

    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == [
        "lake/data/_SUCCESS",
        "lake/data/cat=a/part-0.parquet",
    ]
    assert local == tmp_path / "lake" / "data"


def test_a_read_after_an_overwrite_sees_no_stale_file(s3: Any, tmp_path: Path) -> None:
    s3.put_object(Bucket="lake", Key="out/part-0.parquet", Body=b"old")
    mirror = S3Mirror(tmp_path, s3)
    mirror.local_path("s3://lake/out/")
    mirror.delete("s3://lake/out")
    s3.put_object(Bucket="lake", Key="out/part-1.json", Body=b"{}")

    local = Path(mirror.local_path("s3://lake/out/"))

    assert sorted(p.name for p in local.iterdir()) == ["part-1.json"]


def test_a_missing_path_is_spark_s_error_and_a_written_folder_is_uploaded(s3: Any, tmp_path: Path) -> None:
    mirror = S3Mirror(tmp_path / "mirror", s3)
    with pytest.raises(FileNotFoundError, match=r"\[PATH_NOT_FOUND\] Path does not exist: s3://lake/nothing"):
        mirror.local_path("s3://lake/nothing")
    written = tmp_path / "written"
    (written / "even=true").mkdir(parents=True)
    (written / "even=true" / "part-0.parquet").write_bytes(b"x")
    (written / "even=true" / ".part-0.parquet.crc").write_bytes(b"c")
    (written / "_SUCCESS").write_bytes(b"")

    uploaded = mirror.upload(written, "s3://lake/out/evens/")
    assert uploaded == ["out/evens/_SUCCESS", "out/evens/even=true/part-0.parquet"]
    assert mirror.exists("s3://lake/out/evens")
    assert not mirror.exists("s3://lake/out/even")
