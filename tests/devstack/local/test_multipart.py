"""Multipart uploads on ``etl up``, over HTTP as the web app sends them: the same API as in AWS,
parts PUT to the local server's signed URLs, which verifies each part's SHA-256 as S3 does.
Every API answer is checked against docs/openapi.json."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from tests.devstack.local.stack import Server, converted, temporary_files, wait_finished
from tests.jobs.support import write_parquet
from tests.openapi_responses import check_response

PART = 64 * 1024  # the local store has no 5 MiB minimum: small parts keep the test quick
SETTINGS = {"MULTIPART_THRESHOLD_BYTES": str(PART), "MIN_PART_BYTES": str(PART)}


def api(server: Server, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    response = server.api(method, path, **kwargs)
    body = response.json() if response.content else None
    check_response(method, path, response.status_code, body)
    return response.status_code, body


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def sign(server: Server, job_id: str, number: int, checksum: str) -> dict[str, Any]:
    status, signed = api(server, "POST", f"/jobs/{job_id}/upload/parts/{number}", json={"checksum_sha256": checksum})
    assert status == 200, signed
    return dict(signed)


def put_part(server: Server, job_id: str, number: int, chunk: bytes) -> requests.Response:
    signed = sign(server, job_id, number, sha256_b64(chunk))
    return requests.put(signed["url"], data=chunk, headers=signed["headers"], timeout=60)


def test_a_multipart_upload_resumes_refuses_corrupt_parts_and_converts(
    servers: Callable[..., Server], tmp_path: Path
) -> None:
    server = servers(tmp_path / "data", env=SETTINGS)
    src = write_parquet(tmp_path / "big.parquet", rows=40_000)
    data = src.read_bytes()
    count = -(-len(data) // PART)
    assert count >= 3
    status, created = api(server, "POST", "/jobs", json={"filename": "big.parquet", "size": len(data)})
    assert status == 201, created
    assert created["upload"] == {"method": "multipart", "part_size": PART, "part_count": count}
    job_id = created["job"]["job_id"]
    chunks = {n: data[(n - 1) * PART : n * PART] for n in range(1, count + 1)}

    # A corrupt part (its bytes are not the ones whose checksum was signed) is refused, as S3
    # refuses it: 400 BadDigest, nothing kept.
    signed = sign(server, job_id, 1, sha256_b64(chunks[1]))
    corrupt = bytes([chunks[1][0] ^ 1]) + chunks[1][1:]
    refused = requests.put(signed["url"], data=corrupt, headers=signed["headers"], timeout=60)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "BadDigest"
    # A checksum header other than the signed one: the signature does not match (403).
    other = requests.put(
        signed["url"], data=corrupt, headers={"x-amz-checksum-sha256": sha256_b64(corrupt)}, timeout=60
    )
    assert (other.status_code, other.json()["error"]["code"]) == (403, "SignatureDoesNotMatch")
    assert api(server, "GET", f"/jobs/{job_id}/upload/parts") == (200, {"parts": []})

    # The first part, then "a reload": the parts held are listed and only the others sent.
    stored = requests.put(signed["url"], data=chunks[1], headers=signed["headers"], timeout=60)
    assert stored.status_code == 200, stored.text
    assert stored.headers["ETag"] == f'"{hashlib.md5(chunks[1]).hexdigest()}"'
    status, listed = api(server, "GET", f"/jobs/{job_id}/upload/parts")
    assert [(p["part_number"], p["size"], p["checksum_sha256"]) for p in listed["parts"]] == [
        (1, PART, sha256_b64(chunks[1]))
    ]
    status, refused_complete = api(server, "POST", f"/jobs/{job_id}/upload/complete")
    assert (status, refused_complete["error"]["code"]) == (409, "UPLOAD_INCOMPLETE")
    assert "parts 2, 3" in refused_complete["error"]["message"]
    for number in range(2, count + 1):
        assert put_part(server, job_id, number, chunks[number]).status_code == 200

    status, completed = api(server, "POST", f"/jobs/{job_id}/upload/complete")
    assert status == 200, completed
    job = wait_finished(server, job_id)
    assert job["status"] == "SUCCEEDED", job
    assert job["input_bytes"] == len(data)
    status, link = api(server, "GET", f"/jobs/{job_id}/download")
    assert status == 200
    assert requests.get(link["url"], timeout=60).content == converted(src, tmp_path)
    assert api(server, "GET", f"/jobs/{job_id}/upload/parts")[1]["error"]["code"] == "UPLOAD_CLOSED"
    # Completed: the upload's parts are gone, and no half-written file is left.
    assert list((tmp_path / "data" / "objects" / "inputs" / ".multipart-uploads").iterdir()) == []
    assert temporary_files(tmp_path / "data") == []


def test_deleting_a_job_mid_upload_removes_its_parts(servers: Callable[..., Server], tmp_path: Path) -> None:
    server = servers(tmp_path / "data", env=SETTINGS)
    data = write_parquet(tmp_path / "big.parquet", rows=40_000).read_bytes()
    status, created = api(server, "POST", "/jobs", json={"filename": "big.parquet", "size": len(data)})
    assert status == 201, created
    job_id = created["job"]["job_id"]
    assert put_part(server, job_id, 1, data[:PART]).status_code == 200
    uploads = tmp_path / "data" / "objects" / "inputs" / ".multipart-uploads"
    assert list(uploads.glob("*/00001.part"))
    assert api(server, "DELETE", f"/jobs/{job_id}") == (204, None)
    assert list(uploads.iterdir()) == []
