"""Safe retries of POST /jobs: an ``Idempotency-Key`` header returns the first job and its
upload form again (Powertools' idempotency utility: SQLite locally, DynamoDB on moto)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from lambdas.status.handler import handler as status_handler
from lambdas.upload.handler import handler as upload_handler
from tests.jobs.support import api_event, call

BODY = {"filename": "sales.parquet", "size": 1234}


def post(
    body: dict[str, Any], key: str | None, sub: str = "user-a", header: str = "Idempotency-Key"
) -> tuple[int, Any]:
    event = api_event("POST", "/jobs", body=body, sub=sub)
    if key is not None:
        event["headers"][header] = key
        event["multiValueHeaders"] = {**(event.get("multiValueHeaders") or {}), header: [key]}
    return call(upload_handler, event)


def my_jobs(sub: str = "user-a") -> list[str]:
    status, payload = call(status_handler, api_event("GET", "/jobs", sub=sub, query={"limit": "100"}))
    assert status == 200
    return [j["job_id"] for j in payload["jobs"]]


@pytest.fixture(params=["local", "aws"])
def backend(request: pytest.FixtureRequest) -> str:
    request.getfixturevalue("local_env" if request.param == "local" else "aws_lambda_env")
    return str(request.param)


def test_a_retry_with_the_same_key_returns_the_first_job_and_its_form(backend: str) -> None:
    first_status, first = post(BODY, "retry-1")
    again_status, again = post(BODY, "retry-1")
    assert (first_status, again_status) == (201, 201)
    assert again == first  # the same job id and the same upload form
    # HTTP/2 clients (browsers) send header names in lower case.
    assert post(BODY, "retry-1", header="idempotency-key") == (201, first)
    assert my_jobs() == [first["job"]["job_id"]]


def test_the_same_key_with_another_body_is_refused(backend: str) -> None:
    assert post(BODY, "retry-2")[0] == 201
    status, payload = post({**BODY, "size": 99}, "retry-2")
    assert status == 422
    assert payload["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert len(my_jobs()) == 1


def test_a_replay_after_the_job_was_deleted_is_refused_not_answered_with_the_deleted_job(backend: str) -> None:
    job_id = post(BODY, "deleted-1")[1]["job"]["job_id"]
    deleted, _ = call(status_handler, api_event("DELETE", f"/jobs/{job_id}"))
    assert deleted == 204
    status, payload = post(BODY, "deleted-1")
    assert status == 409
    assert payload["error"]["code"] == "IDEMPOTENT_JOB_DELETED"
    assert "send a new key" in payload["error"]["message"]
    assert my_jobs() == []
    assert post(BODY, "deleted-2")[0] == 201, "a new key creates a new job"


def test_keys_are_per_user_and_requests_without_a_key_are_not_deduplicated(backend: str) -> None:
    mine = post(BODY, "shared-key")[1]["job"]["job_id"]
    theirs = post(BODY, "shared-key", sub="user-b")[1]["job"]["job_id"]
    assert mine != theirs
    assert post(BODY, None)[1]["job"]["job_id"] != post(BODY, None)[1]["job"]["job_id"]
    assert len(my_jobs()) == 3


def test_concurrent_retries_with_one_key_create_one_job(backend: str) -> None:
    results: list[tuple[int, Any]] = []
    barrier = threading.Barrier(4)
    lock = threading.Lock()

    def go() -> None:
        barrier.wait()
        result = post(BODY, "burst")
        with lock:
            results.append(result)

    run_all([go] * 4)
    statuses = sorted(s for s, _ in results)
    assert set(statuses) <= {201, 409}, results
    created = {p["job"]["job_id"] for s, p in results if s == 201}
    assert len(created) == 1
    assert all(p["error"]["code"] == "IDEMPOTENCY_IN_PROGRESS" for s, p in results if s == 409)
    assert my_jobs() == list(created)


def test_an_over_long_key_is_refused() -> None:
    status, payload = post(BODY, "k" * 300)
    assert status == 422
    assert "Idempotency-Key" in payload["error"]["message"] or "idempotency" in payload["error"]["message"].lower()


def run_all(targets: list[Callable[[], None]]) -> None:
    threads = [threading.Thread(target=t) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
