"""Multipart uploads through the API Lambdas on moto's server (S3, DynamoDB, Glue): parts
signed by the handler and PUT over real HTTP to moto's presigned URLs, listed, completed,
aborted. Every API answer is checked against docs/openapi.json.

Parts are 5 MiB, S3's (and moto's) smallest part but the last, so the files stay small.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests

from etl_lib.jobs.models import MIB, input_key
from lambdas.events.handler import handler as events_handler
from lambdas.status.handler import handler as status_handler
from lambdas.upload.handler import handler as upload_handler
from tests.jobs.support import AwsResources, FakeLambdaContext, api_event, call, s3_event
from tests.openapi_responses import check_response

PART = 5 * MIB
# Three parts: two whole ones and a last one of 1 MiB (plus the Parquet magic at both ends,
# which the events Lambda checks before it queues the job).
DATA = b"PAR1" + os.urandom(2 * PART + MIB - 8) + b"PAR1"


@pytest.fixture
def s3_env(aws_lambda_env: AwsResources, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsResources]:
    from etl_lib.jobs.settings import service

    monkeypatch.setenv("MULTIPART_THRESHOLD_BYTES", str(MIB))
    monkeypatch.setenv("MIN_PART_BYTES", str(PART))
    service.cache_clear()
    yield aws_lambda_env
    service.cache_clear()


def api(handler: Any, method: str, path: str, *, body: Any = None, sub: str = "user-a") -> tuple[int, Any]:
    """One API call through its Lambda handler; the answer must be one the document states."""
    status, payload = call(handler, api_event(method, path, body=body, sub=sub))
    check_response(method, path, status, payload)
    return status, payload


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def part_of(data: bytes, number: int, part_size: int = PART) -> bytes:
    return data[(number - 1) * part_size : number * part_size]


def create(data: bytes = DATA, sub: str = "user-a") -> dict[str, Any]:
    status, created = api(upload_handler, "POST", "/jobs", body={"filename": "big.parquet", "size": len(data)}, sub=sub)
    assert status == 201, created
    return created


def put_part(job_id: str, number: int, chunk: bytes, *, checksum_of: bytes | None = None) -> requests.Response:
    """Sign part ``number`` (declaring the SHA-256 of ``checksum_of``, by default of the
    chunk) and PUT ``chunk`` to the signed URL with the signed headers, over HTTP."""
    checksum = sha256_b64(chunk if checksum_of is None else checksum_of)
    path = f"/jobs/{job_id}/upload/parts/{number}"
    status, signed = api(upload_handler, "POST", path, body={"checksum_sha256": checksum})
    assert status == 200, signed
    assert signed["headers"] == {"x-amz-checksum-sha256": checksum}
    return requests.put(signed["url"], data=chunk, headers=signed["headers"], timeout=60)


def list_parts(job_id: str) -> list[dict[str, Any]]:
    status, listed = api(upload_handler, "GET", f"/jobs/{job_id}/upload/parts")
    assert status == 200, listed
    parts: list[dict[str, Any]] = listed["parts"]
    return parts


def uploads_in_progress(bucket: str) -> list[dict[str, Any]]:
    uploads = boto3.client("s3").list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return [dict(upload) for upload in uploads]


def test_a_file_above_the_threshold_gets_a_multipart_plan_and_one_below_a_post_form(s3_env: AwsResources) -> None:
    created = create()
    assert created["upload"] == {"method": "multipart", "part_size": PART, "part_count": 3}
    (started,) = uploads_in_progress(s3_env.input_bucket)
    assert started["Key"] == input_key(created["job"]["job_id"])
    assert started["ChecksumAlgorithm"] == "SHA256"
    small = create(b"x" * MIB)["upload"]
    assert small["method"] == "post"
    assert set(small) == {"method", "url", "fields"}


def test_parts_put_to_the_signed_urls_complete_into_the_very_bytes_and_drive_the_job(s3_env: AwsResources) -> None:
    job_id = create()["job"]["job_id"]
    for number in (1, 2, 3):
        stored = put_part(job_id, number, part_of(DATA, number))
        assert stored.status_code == 200, stored.text
        assert stored.headers["ETag"] == f'"{hashlib.md5(part_of(DATA, number)).hexdigest()}"'
    parts = list_parts(job_id)
    assert [(p["part_number"], p["size"]) for p in parts] == [(1, PART), (2, PART), (3, MIB)]

    status, completed = api(upload_handler, "POST", f"/jobs/{job_id}/upload/complete")
    assert status == 200, completed
    assert completed["job"]["job_id"] == job_id
    s3 = boto3.client("s3")
    stored_object = s3.get_object(Bucket=s3_env.input_bucket, Key=input_key(job_id))["Body"].read()
    assert stored_object == DATA
    assert uploads_in_progress(s3_env.input_bucket) == []

    # S3's event for the completed upload (reason CompleteMultipartUpload) queues the job and
    # starts its run, as a POST upload's does.
    event = s3_event(input_key(job_id), len(DATA), bucket=s3_env.input_bucket)
    event["detail"]["reason"] = "CompleteMultipartUpload"
    assert events_handler(event, FakeLambdaContext()) == {"job_id": job_id, "status": "RUNNING"}
    # The upload is over: its routes say so.
    for method, path in (("GET", "/upload/parts"), ("POST", "/upload/complete")):
        status, refused = api(upload_handler, method, f"/jobs/{job_id}{path}")
        assert (status, refused["error"]["code"]) == (409, "UPLOAD_CLOSED")


def test_the_signed_url_binds_the_declared_checksum_header(s3_env: AwsResources) -> None:
    """S3 refuses a part whose bytes do not have the checksum it was sent with (BadDigest) and
    a request whose checksum header is not the signed one (SignatureDoesNotMatch). moto checks
    neither (its UploadPart stores any bytes), so this holds what the server controls: the
    header is among the SigV4-signed ones, with the value the client declared."""
    job_id = create()["job"]["job_id"]
    checksum = sha256_b64(part_of(DATA, 1))
    status, signed = api(upload_handler, "POST", f"/jobs/{job_id}/upload/parts/1", body={"checksum_sha256": checksum})
    assert status == 200
    query = parse_qs(urlsplit(signed["url"]).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert "x-amz-checksum-sha256" in query["X-Amz-SignedHeaders"][0].split(";")
    assert (query["uploadId"], query["partNumber"]) == (
        [uploads_in_progress(s3_env.input_bucket)[0]["UploadId"]],
        ["1"],
    )
    assert signed["headers"] == {"x-amz-checksum-sha256": checksum}


@pytest.mark.parametrize("checksum", ["", "not-base64", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU", "A" * 44])
def test_a_checksum_that_is_not_a_base64_sha256_is_refused(s3_env: AwsResources, checksum: str) -> None:
    job_id = create()["job"]["job_id"]
    status, refused = api(upload_handler, "POST", f"/jobs/{job_id}/upload/parts/1", body={"checksum_sha256": checksum})
    assert (status, refused["error"]["code"]) == (422, "INVALID_REQUEST")


def test_completing_with_a_part_missing_is_409_naming_it_and_keeps_the_upload(s3_env: AwsResources) -> None:
    job_id = create()["job"]["job_id"]
    for number in (1, 3):
        assert put_part(job_id, number, part_of(DATA, number)).status_code == 200
    status, refused = api(upload_handler, "POST", f"/jobs/{job_id}/upload/complete")
    assert (status, refused["error"]["code"]) == (409, "UPLOAD_INCOMPLETE")
    assert "part 2 of 3 missing" in refused["error"]["message"]
    assert "\n" not in refused["error"]["message"]
    # Nothing was lost: the part can still come, and the upload completes.
    assert put_part(job_id, 2, part_of(DATA, 2)).status_code == 200
    assert api(upload_handler, "POST", f"/jobs/{job_id}/upload/complete")[0] == 200


def test_completing_with_a_part_of_the_wrong_size_is_409_naming_it(s3_env: AwsResources) -> None:
    job_id = create()["job"]["job_id"]
    assert put_part(job_id, 1, part_of(DATA, 1)[:-1]).status_code == 200
    assert put_part(job_id, 2, part_of(DATA, 2)).status_code == 200
    assert put_part(job_id, 3, part_of(DATA, 3) + b"x").status_code == 200
    status, refused = api(upload_handler, "POST", f"/jobs/{job_id}/upload/complete")
    assert (status, refused["error"]["code"]) == (409, "UPLOAD_INCOMPLETE")
    message = refused["error"]["message"]
    assert f"part 1 has {PART - 1:,} bytes, not {PART:,}" in message
    assert f"part 3 has {MIB + 1:,} bytes, not {MIB:,}" in message
    assert "part 2" not in message


def test_an_interrupted_upload_resumes_with_the_parts_it_lacks(s3_env: AwsResources) -> None:
    job_id = create()["job"]["job_id"]
    assert put_part(job_id, 2, part_of(DATA, 2)).status_code == 200
    # A reload: the client asks which parts are there and sends the others only.
    held = {p["part_number"] for p in list_parts(job_id)}
    assert held == {2}
    for number in sorted({1, 2, 3} - held):
        assert put_part(job_id, number, part_of(DATA, number)).status_code == 200
    assert [p["part_number"] for p in list_parts(job_id)] == [1, 2, 3]
    assert api(upload_handler, "POST", f"/jobs/{job_id}/upload/complete")[0] == 200
    stored = boto3.client("s3").get_object(Bucket=s3_env.input_bucket, Key=input_key(job_id))["Body"].read()
    assert stored == DATA


def test_part_numbers_outside_the_plan_are_400(s3_env: AwsResources) -> None:
    job_id = create()["job"]["job_id"]
    for number in (0, 4, -1):
        status, refused = api(
            upload_handler,
            "POST",
            f"/jobs/{job_id}/upload/parts/{number}",
            body={"checksum_sha256": sha256_b64(b"")},
        )
        assert (status, refused["error"]["code"]) == (400, "INVALID_PART_NUMBER"), number
        assert "1 to 3" in refused["error"]["message"]


def test_the_upload_routes_are_409_for_a_post_upload_and_404_for_someone_elses_job(s3_env: AwsResources) -> None:
    posted = create(b"x" * MIB)["job"]["job_id"]
    multipart = create()["job"]["job_id"]
    body = {"checksum_sha256": sha256_b64(b"")}
    for method, suffix, payload in (
        ("GET", "/upload/parts", None),
        ("POST", "/upload/parts/1", body),
        ("POST", "/upload/complete", None),
    ):
        status, refused = api(upload_handler, method, f"/jobs/{posted}{suffix}", body=payload)
        assert (status, refused["error"]["code"]) == (409, "UPLOAD_NOT_MULTIPART"), suffix
        status, refused = api(upload_handler, method, f"/jobs/{multipart}{suffix}", body=payload, sub="user-b")
        assert (status, refused["error"]["code"]) == (404, "JOB_NOT_FOUND"), suffix
        status, refused = api(upload_handler, method, f"/jobs/{'0' * 32}{suffix}", body=payload)
        assert (status, refused["error"]["code"]) == (404, "JOB_NOT_FOUND"), suffix


def test_deleting_the_job_aborts_its_upload(s3_env: AwsResources) -> None:
    job_id = create()["job"]["job_id"]
    assert put_part(job_id, 1, part_of(DATA, 1)).status_code == 200
    assert len(uploads_in_progress(s3_env.input_bucket)) == 1
    assert api(status_handler, "DELETE", f"/jobs/{job_id}")[0] == 204
    assert uploads_in_progress(s3_env.input_bucket) == []
    status, refused = api(upload_handler, "GET", f"/jobs/{job_id}/upload/parts")
    assert (status, refused["error"]["code"]) == (404, "JOB_NOT_FOUND")


def test_an_expired_pending_job_is_swept_with_its_upload(s3_env: AwsResources) -> None:
    from etl_lib.jobs.settings import service

    job_id = create()["job"]["job_id"]
    assert put_part(job_id, 1, part_of(DATA, 1)).status_code == 200
    assert service().sweep_expired(now=int(time.time()) + 10 * 86_400) == 1
    assert service().jobs.get(job_id) is None
    assert uploads_in_progress(s3_env.input_bucket) == []


def test_each_part_signed_keeps_the_pending_job_alive(s3_env: AwsResources) -> None:
    from etl_lib.jobs.settings import service

    job_id = create()["job"]["job_id"]
    first = service().jobs.get(job_id)
    assert first is not None and first.expires_at is not None
    for minutes in (20, 40, 60):  # a long upload, each part signed within the window of the last
        service().clock = functools.partial(float, time.time() + minutes * 60)
        assert put_part(job_id, 1, part_of(DATA, 1)).status_code == 200
    extended = service().jobs.get(job_id)
    assert extended is not None and extended.expires_at is not None
    assert extended.expires_at - first.expires_at >= 3600 - 1
