"""Fair use on AWS (moto): a user with too many unfinished jobs gets 429 and a stable code;
other users are not affected, and a finished job frees a place."""

from __future__ import annotations

from typing import Any

import pytest

from etl_lib.jobs.settings import service
from lambdas.upload.handler import handler as upload_handler
from tests.jobs.support import AwsResources, api_event, call


def create(sub: str) -> tuple[int, Any]:
    return call(upload_handler, api_event("POST", "/jobs", body={"filename": "a.parquet", "size": 100}, sub=sub))


@pytest.fixture
def limited(aws_lambda_env: AwsResources, monkeypatch: pytest.MonkeyPatch) -> AwsResources:
    monkeypatch.setenv("MAX_ACTIVE_JOBS_PER_USER", "2")
    service.cache_clear()
    return aws_lambda_env


def test_a_user_over_the_active_job_limit_gets_429_and_others_do_not(limited: AwsResources) -> None:
    first, second = create("user-a"), create("user-a")
    assert (first[0], second[0]) == (201, 201)
    status, body = create("user-a")
    assert status == 429
    assert body["error"]["code"] == "TOO_MANY_ACTIVE_JOBS"
    assert "2 unfinished jobs" in body["error"]["message"]
    assert create("user-b")[0] == 201

    # One of user-a's jobs ends (here: its upload never came and it failed): a place frees up.
    from etl_lib.jobs.models import JobError

    service().fail(first[1]["job"]["job_id"], JobError(code="UPLOAD_MISSING", message="no upload"))
    assert create("user-a")[0] == 201
    assert create("user-a")[0] == 429


def test_the_limit_is_off_when_unset(aws_lambda_env: AwsResources) -> None:
    assert all(create("user-c")[0] == 201 for _ in range(4))


@pytest.mark.parametrize("backend", ["local_env", "aws_lambda_env"])
def test_a_replayed_idempotency_key_returns_its_job_and_takes_no_second_place(
    backend: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    request.getfixturevalue(backend)
    monkeypatch.setenv("MAX_ACTIVE_JOBS_PER_USER", "2")
    service.cache_clear()

    def keyed(key: str) -> tuple[int, Any]:
        event = api_event("POST", "/jobs", body={"filename": "a.parquet", "size": 100}, sub="user-r")
        event["headers"]["Idempotency-Key"] = key
        event["multiValueHeaders"] = {**(event.get("multiValueHeaders") or {}), "Idempotency-Key": [key]}
        return call(upload_handler, event)

    first = keyed("k-1")
    assert first[0] == 201
    assert keyed("k-1") == first  # the replay: the same job, no new one
    assert create("user-r")[0] == 201  # so the second place is still free
    assert create("user-r")[0] == 429
    assert keyed("k-1") == first  # a replay at the limit still returns its job
    assert keyed("k-2")[0] == 429
