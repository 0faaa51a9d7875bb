"""The object store contract against a real directory and against S3 (moto server)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from etl_lib.jobs.local import DirectoryObjectStore, SignatureError, UrlSigner
from etl_lib.jobs.ports import ObjectStore
from tests.jobs.support import AwsResources


@pytest.fixture(params=["directory", "s3"])
def objects(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "directory":
        return DirectoryObjectStore(tmp_path / "bucket", bucket="bucket", signer=UrlSigner(b"k"))
    import boto3

    from etl_lib.jobs.aws import S3ObjectStore

    resources: AwsResources = request.getfixturevalue("aws_resources")
    return S3ObjectStore(boto3.client("s3"), resources.input_bucket)


def test_put_get_size_and_ranges(objects: ObjectStore) -> None:
    objects.put_bytes("a/b/c.bin", b"PAR1-middle-PAR1")
    assert objects.get_bytes("a/b/c.bin") == b"PAR1-middle-PAR1"
    assert objects.size("a/b/c.bin") == 16
    assert objects.read_range("a/b/c.bin", 0, 4) == b"PAR1"
    assert objects.read_range("a/b/c.bin", 12, 4) == b"PAR1"


def test_missing_objects_have_no_size_and_no_bytes(objects: ObjectStore) -> None:
    assert objects.size("nope/x") is None
    assert objects.get_bytes("nope/x") is None
    assert objects.version("nope/x") is None


def test_an_objects_version_holds_until_it_is_written_again_even_with_the_same_size(objects: ObjectStore) -> None:
    objects.put_bytes("inputs/j/input.parquet", b"PAR1-first--PAR1")
    first = objects.version("inputs/j/input.parquet")
    assert first is not None
    assert objects.version("inputs/j/input.parquet") == first
    objects.put_bytes("inputs/j/input.parquet", b"PAR1-second-PAR1")
    assert objects.version("inputs/j/input.parquet") not in (None, first)


def test_delete_prefix_removes_only_that_prefix(objects: ObjectStore) -> None:
    for key in ("outputs/1/a", "outputs/1/b", "outputs/2/a"):
        objects.put_bytes(key, b"x")
    objects.delete_prefix("outputs/1/")
    objects.delete_prefix("outputs/9/")
    assert objects.size("outputs/1/a") is None
    assert objects.size("outputs/1/b") is None
    assert objects.size("outputs/2/a") == 1


def test_presigned_post_fixes_the_key(objects: ObjectStore) -> None:
    post = objects.presign_post("inputs/j/input.parquet", max_bytes=10, expires_in=60)
    assert post.fields["key"] == "inputs/j/input.parquet"
    assert post.url.startswith("http")


def test_a_presigned_s3_post_uploads_and_a_presigned_get_downloads(aws_resources: AwsResources) -> None:
    import boto3

    from etl_lib.jobs.aws import S3ObjectStore

    objects = S3ObjectStore(boto3.client("s3"), aws_resources.input_bucket)
    post = objects.presign_post("inputs/j/input.parquet", max_bytes=100, expires_in=60)
    response = requests.post(post.url, data=post.fields, files={"file": ("x.parquet", b"PAR1 data PAR1")}, timeout=30)
    assert response.status_code in {200, 201, 204}, response.text
    assert objects.get_bytes("inputs/j/input.parquet") == b"PAR1 data PAR1"
    url = objects.presign_get("inputs/j/input.parquet", download_name="x.jsonl", expires_in=60)
    got = requests.get(url, timeout=30)
    assert got.content == b"PAR1 data PAR1"
    assert 'filename="x.jsonl"' in got.headers.get("Content-Disposition", "")


def test_local_presigned_post_is_signed_bounded_and_expires(tmp_path: Path) -> None:
    objects = DirectoryObjectStore(tmp_path, bucket="inputs", signer=UrlSigner(b"k"))
    post = objects.presign_post("inputs/j/input.parquet", max_bytes=10, expires_in=60)
    assert objects.verify_post(post.fields, 10) == "inputs/j/input.parquet"
    with pytest.raises(SignatureError, match="allows 10"):
        objects.verify_post(post.fields, 11)
    with pytest.raises(SignatureError, match="match"):
        objects.verify_post({**post.fields, "key": "inputs/other/input.parquet"}, 5)
    with pytest.raises(SignatureError, match="signature"):
        objects.verify_post({**post.fields, "signature": "0" * 64}, 5)
    expired = objects.presign_post("inputs/j/input.parquet", max_bytes=10, expires_in=-1)
    with pytest.raises(SignatureError, match="expired"):
        objects.verify_post(expired.fields, 5)
    other_key = DirectoryObjectStore(tmp_path, bucket="inputs", signer=UrlSigner(b"other"))
    with pytest.raises(SignatureError):
        other_key.verify_post(post.fields, 5)


def test_local_presigned_get_is_signed_and_expires(tmp_path: Path) -> None:
    from urllib.parse import parse_qsl, urlsplit

    objects = DirectoryObjectStore(tmp_path, bucket="outputs", signer=UrlSigner(b"k"))
    url = objects.presign_get("outputs/j/output.jsonl", download_name="sales.jsonl", expires_in=60)
    query = dict(parse_qsl(urlsplit(url).query))
    objects.verify_get("outputs/j/output.jsonl", query)
    with pytest.raises(SignatureError):
        objects.verify_get("outputs/other/output.jsonl", query)
    with pytest.raises(SignatureError):
        objects.verify_get("outputs/j/output.jsonl", {**query, "filename": "evil.exe"})
    with pytest.raises(SignatureError, match="incomplete"):
        objects.verify_get("outputs/j/output.jsonl", {})
    old = dict(
        parse_qsl(
            urlsplit(
                objects.presign_get(
                    "outputs/j/output.jsonl", download_name="s.jsonl", expires_in=-int(time.time() % 7 + 1)
                )
            ).query
        )
    )
    with pytest.raises(SignatureError, match="expired"):
        objects.verify_get("outputs/j/output.jsonl", old)


def test_local_keys_cannot_escape_the_root(tmp_path: Path) -> None:
    objects = DirectoryObjectStore(tmp_path / "root", bucket="root")
    with pytest.raises(ValueError, match="invalid object key"):
        objects.put_bytes("../escape", b"x")
