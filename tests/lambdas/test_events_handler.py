"""The events Lambda on the local back end: uploads checked, runs started, duplicates harmless."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lambdas.download.handler import handler as download_handler
from lambdas.events.handler import handler as events_handler
from lambdas.status.handler import handler as status_handler
from lambdas.upload.handler import handler as upload_handler
from tests.jobs.support import (
    FakeLambdaContext,
    api_event,
    call,
    expected_output,
    glue_event,
    local_upload,
    s3_event,
    write_parquet,
)

pytestmark = pytest.mark.usefixtures("local_env")


def upload(data: bytes, *, declared: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, str]:
    status, created = call(
        upload_handler,
        api_event(
            "POST",
            "/jobs",
            body={
                "filename": "sales.parquet",
                "size": len(data) if declared is None else declared,
                "options": options or {},
            },
        ),
    )
    assert status == 201
    key = local_upload(created["upload"]["fields"], data)
    return created["job"]["job_id"], key


def job(job_id: str) -> dict[str, Any]:
    status, payload = call(status_handler, api_event("GET", f"/jobs/{job_id}"))
    assert status == 200
    return payload["job"]


def runs(local_env: Path) -> list[Path]:
    return sorted((local_env / "runs").glob("*.json"))


def test_a_good_upload_is_converted_to_the_contract_output(tmp_path: Path, local_env: Path) -> None:
    src = write_parquet(tmp_path / "in.parquet", rows=7)
    job_id, key = upload(src.read_bytes())
    result = events_handler(s3_event(key, src.stat().st_size), FakeLambdaContext())
    assert result == {"job_id": job_id, "status": "SUCCEEDED"}
    done = job(job_id)
    assert (done["rows_in"], done["rows_out"], done["input_bytes"]) == (7, 7, src.stat().st_size)
    assert done["output_bytes"] > 0
    assert done["duration_ms"] >= 0
    assert done["error"] is None
    (output,) = (local_env / "objects" / "outputs" / "outputs" / job_id).glob("*/data/output.jsonl")  # one attempt
    assert output.read_bytes() == expected_output(src, tmp_path)
    assert call(download_handler, api_event("GET", f"/jobs/{job_id}/download"))[0] == 200


def test_a_duplicate_upload_event_starts_no_second_run(tmp_path: Path, local_env: Path) -> None:
    src = write_parquet(tmp_path / "in.parquet")
    job_id, key = upload(src.read_bytes())
    event = s3_event(key, src.stat().st_size)
    events_handler(event, FakeLambdaContext())
    first = job(job_id)
    assert events_handler(event, FakeLambdaContext())["status"] == "SUCCEEDED"
    assert job(job_id) == first
    assert len(runs(local_env)) == 1


@pytest.mark.parametrize(
    ("make", "code", "words"),
    [
        (lambda good: b"", "EMPTY_FILE", "empty"),
        (lambda good: b"id,name\n1,a\n" * 5, "INVALID_PARQUET", "not a Parquet file"),
        (lambda good: good[: len(good) // 2], "INVALID_PARQUET", "not a Parquet file"),
        (lambda good: good[:4] + b"\x00" * (len(good) - 8) + good[-4:], "INVALID_PARQUET", "sales.parquet"),
        (lambda good: b"PAR1" + b"\x00" * 4, "INVALID_PARQUET", "too small"),
    ],
    ids=["empty", "csv", "truncated", "corrupt", "tiny"],
)
def test_a_bad_upload_ends_failed_with_a_message_and_no_output(
    tmp_path: Path, local_env: Path, make: Any, code: str, words: str
) -> None:
    data = make(write_parquet(tmp_path / "in.parquet").read_bytes())
    job_id, key = upload(data, declared=len(data) or 100)  # an empty file can only be declared non-empty
    assert events_handler(s3_event(key, len(data)), FakeLambdaContext())["status"] == "FAILED"
    failed = job(job_id)
    assert failed["error"]["code"] == code
    assert words in failed["error"]["message"]
    assert not (local_env / "objects" / "outputs" / "outputs" / job_id).exists()
    status, _ = call(download_handler, api_event("GET", f"/jobs/{job_id}/download"))
    assert status == 409


def test_an_upload_of_another_size_than_declared_fails(tmp_path: Path) -> None:
    data = write_parquet(tmp_path / "in.parquet").read_bytes()
    job_id, key = upload(data[:-10], declared=len(data))
    events_handler(s3_event(key, len(data) - 10), FakeLambdaContext())
    assert job(job_id)["error"]["code"] == "SIZE_MISMATCH"


def test_a_late_run_failure_event_does_not_regress_a_succeeded_job(tmp_path: Path, local_env: Path) -> None:
    src = write_parquet(tmp_path / "in.parquet")
    job_id, key = upload(src.read_bytes())
    events_handler(s3_event(key, src.stat().st_size), FakeLambdaContext())
    run_id = runs(local_env)[0].stem
    before = job(job_id)
    for state in ("FAILED", "TIMEOUT", "SUCCEEDED"):
        assert events_handler(glue_event(run_id, state, "late"), FakeLambdaContext())["status"] == "SUCCEEDED"
    assert job(job_id) == before


def test_events_for_unknown_objects_runs_and_sources_are_ignored() -> None:
    assert events_handler(s3_event("somewhere/else.parquet", 10), FakeLambdaContext()) == {
        "job_id": None,
        "status": None,
    }
    assert events_handler(glue_event("jr_unknown", "FAILED"), FakeLambdaContext())["job_id"] is None
    assert events_handler({"source": "aws.ec2", "detail-type": "x"}, FakeLambdaContext()) == {"ignored": True}


def test_a_malformed_event_is_rejected_by_the_parser() -> None:
    from aws_lambda_powertools.utilities.parser import ValidationError

    with pytest.raises(ValidationError):
        events_handler({"source": "aws.s3", "detail-type": "Object Created", "detail": {}}, FakeLambdaContext())
