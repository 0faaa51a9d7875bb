"""The publish benchmark's lean S3 stand-in (bench/s3_stub.py) answers as moto's server does,
and as S3 does where moto is laxer: the same calls, good and bad, through boto3 against both,
give the same results and the same refusals, so the stub accepts nothing moto refuses."""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parents[2]
MIN_PART = 1024
A = bytes(range(256)) * 12  # 3,072 bytes
C = b"c" * 500
S3_NOT_MOTO = {
    "copy past the end": ("refused", 400, "InvalidArgument"),
    "copy as part 10,001": ("refused", 400, "InvalidArgument"),
    "complete out of order": ("refused", 400, "InvalidPartOrder"),
    "complete after the abort": ("refused", 404, "NoSuchUpload"),
}
"""Where moto is laxer than S3, the stub answers as S3 does, and only there:

- S3 refuses a copy range past its source's end ("Range specified is not valid for source
  object of size: N", S3's message as S3-compatible servers record it); moto copies what
  there is.
  The publish relies on the refusal: a piece shorter than its writer reported fails its copy.
- S3 refuses part numbers outside 1-10,000 on every part call ("Part number must be an integer
  between 1 and 10000, inclusive"); moto checks them on UploadPart but not on UploadPartCopy.
  The publish's plan never numbers a part past 10,000 (tests/output/test_parts.py).
- S3 refuses a completion whose parts are not in ascending order (``InvalidPartOrder``, in its
  API reference); moto sorts them. The publish sorts its parts before completing.
- S3 answers ``NoSuchUpload`` to a completion of an aborted upload; moto's server fails with a
  500 (a ``KeyError`` in its handler)."""


def _bench_module(name: str) -> Any:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(ROOT / "bench"))


@contextlib.contextmanager
def _server(name: str) -> Iterator[Any]:
    with _bench_module(name).running(min_part_bytes=MIN_PART) as server:
        yield boto3.client(
            "s3",
            endpoint_url=server.endpoint,
            aws_access_key_id="stub",
            aws_secret_access_key="stub",
            region_name="us-east-1",
            config=Config(retries={"max_attempts": 1}),
        )


def _outcome(step: Callable[[], Any]) -> tuple[Any, ...]:
    """What a call came to: ``("ok", value)``, or ``("refused", HTTP status, S3 error code)``."""
    try:
        return ("ok", step())
    except ClientError as exc:
        error = exc.response.get("Error", {})
        return ("refused", exc.response["ResponseMetadata"]["HTTPStatusCode"], error.get("Code"))


def _scenario(s3: Any) -> list[tuple[str, tuple[Any, ...]]]:
    """Every call the publish makes, and each way S3 refuses one, in order, with what it gave."""
    results: list[tuple[str, tuple[Any, ...]]] = []

    def step(name: str, call: Callable[[], Any], *, opaque: bool = False) -> Any:
        outcome = _outcome(call)
        # An upload id is each server's own: compare that one was given, not its value.
        results.append((name, ("ok", "<id>") if opaque and outcome[0] == "ok" else outcome))
        return outcome[1] if outcome[0] == "ok" else None

    def start() -> str:
        upload_id: str = s3.create_multipart_upload(Bucket="stub-check", Key="out")["UploadId"]
        return upload_id

    def copy(upload_id: str, number: int, key: str, copy_range: str) -> str:
        answer = s3.upload_part_copy(
            Bucket="stub-check",
            Key="out",
            UploadId=upload_id,
            PartNumber=number,
            CopySource={"Bucket": "stub-check", "Key": key},
            CopySourceRange=copy_range,
        )
        etag: str = answer["CopyPartResult"]["ETag"]
        return etag

    def complete(upload_id: str, parts: list[tuple[int, str]]) -> str:
        answer = s3.complete_multipart_upload(
            Bucket="stub-check",
            Key="out",
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in parts]},
        )
        etag: str = answer["ETag"]
        return etag

    step("create bucket", lambda: s3.create_bucket(Bucket="stub-check")["ResponseMetadata"]["HTTPStatusCode"])
    step("put a", lambda: s3.put_object(Bucket="stub-check", Key="a", Body=A)["ETag"])
    step("put c", lambda: s3.put_object(Bucket="stub-check", Key="c", Body=C)["ETag"])
    step("ranged get", lambda: s3.get_object(Bucket="stub-check", Key="a", Range="bytes=10-19")["Body"].read())
    step("get of no object", lambda: s3.get_object(Bucket="stub-check", Key="nothing")["Body"].read())
    upload = step("create upload", start, opaque=True)
    one = step("copy a range", lambda: copy(upload, 1, "a", "bytes=0-1499"))
    step("copy past the end", lambda: copy(upload, 2, "a", "bytes=0-3072"))
    step("copy as part 10,001", lambda: copy(upload, 10_001, "a", "bytes=0-9"))
    two = step(
        "upload a part",
        lambda: s3.upload_part(Bucket="stub-check", Key="out", UploadId=upload, PartNumber=2, Body=A[:1100])["ETag"],
    )
    step("complete with a wrong ETag", lambda: complete(upload, [(1, one), (2, '"0123456789abcdef0123456789abcdef"')]))
    step("complete", lambda: complete(upload, [(1, one), (2, two)]))
    step("read the output", lambda: s3.get_object(Bucket="stub-check", Key="out")["Body"].read())
    step("its ETag", lambda: s3.head_object(Bucket="stub-check", Key="out")["ETag"])

    small = step("create another upload", start, opaque=True)
    first = step("copy a small first part", lambda: copy(small, 1, "c", "bytes=0-99"))
    last = step("copy a large last part", lambda: copy(small, 2, "a", "bytes=0-1499"))
    step("complete with a small part first", lambda: complete(small, [(1, first), (2, last)]))
    step("abort", lambda: s3.abort_multipart_upload(Bucket="stub-check", Key="out", UploadId=small) and None)
    step("complete after the abort", lambda: complete(small, [(1, first), (2, last)]))
    disorder = step("create a third upload", start, opaque=True)
    big_1 = step("copy part 1", lambda: copy(disorder, 1, "a", "bytes=0-1499"))
    big_2 = step("copy part 2", lambda: copy(disorder, 2, "a", "bytes=0-1499"))
    step("complete out of order", lambda: complete(disorder, [(2, big_2), (1, big_1)]))
    step("delete", lambda: s3.delete_object(Bucket="stub-check", Key="c")["ResponseMetadata"]["HTTPStatusCode"])
    step("get after the delete", lambda: s3.get_object(Bucket="stub-check", Key="c")["Body"].read())
    return results


@pytest.mark.slow
def test_the_stub_answers_every_call_of_the_publish_as_moto_does(aws_env: str) -> None:
    with _server("slow_s3") as moto:
        expected = _scenario(moto)
    with _server("s3_stub") as stub:
        got = _scenario(stub)
    assert [name for name, _ in got] == [name for name, _ in expected]
    for (name, want), have in zip(expected, (outcome for _, outcome in got), strict=True):
        want = S3_NOT_MOTO.get(name, want)
        assert have == want, f"{name}: moto {want}, stub {have}"
    # And what both gave is S3's own answer, not two servers agreeing on a mistake.
    outcomes = dict(got)
    assert outcomes["read the output"] == ("ok", A[:1500] + A[:1100])
    md5s = b"".join(hashlib.md5(data, usedforsecurity=False).digest() for data in (A[:1500], A[:1100]))
    assert outcomes["its ETag"] == ("ok", f'"{hashlib.md5(md5s, usedforsecurity=False).hexdigest()}-2"')
    assert outcomes["complete with a small part first"] == ("refused", 400, "EntityTooSmall")
    assert outcomes["complete with a wrong ETag"] == ("refused", 400, "InvalidPart")
    assert outcomes["get of no object"] == ("refused", 404, "NoSuchKey")
