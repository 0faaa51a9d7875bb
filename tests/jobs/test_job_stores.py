"""The job store contract, run against both adapters: SQLite (a real file) and DynamoDB (moto)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from etl_lib.jobs.models import Job, JobStatus, new_job_id
from etl_lib.jobs.ports import JobStore
from etl_lib.options import ConvertOptions, Engine
from tests.jobs.support import AwsResources


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> JobStore:
    if request.param == "sqlite":
        from etl_lib.jobs.local import SqliteJobStore

        return SqliteJobStore(tmp_path / "jobs.db")
    import boto3

    from etl_lib.jobs.aws import DynamoJobStore

    resources: AwsResources = request.getfixturevalue("aws_resources")
    return DynamoJobStore(boto3.client("dynamodb"), resources.table)


def make_job(owner: str = "alice", *, created: datetime | None = None, status: JobStatus = JobStatus.PENDING) -> Job:
    now = created or datetime.now(UTC)
    return Job(
        job_id=new_job_id(),
        owner=owner,
        status=status,
        filename="data.parquet",
        options=ConvertOptions(drop_nulls=True),
        engine=Engine.LOCAL,
        created_at=now,
        updated_at=now,
        declared_bytes=100,
    )


def test_a_created_job_reads_back_equal(store: JobStore) -> None:
    job = make_job()
    store.create(job)
    assert store.get(job.job_id) == job
    assert store.get(new_job_id()) is None


def test_creating_the_same_job_twice_fails(store: JobStore) -> None:
    job = make_job()
    store.create(job)
    with pytest.raises(Exception):  # noqa: B017, PT011 (sqlite3.IntegrityError or ConditionalCheckFailed)
        store.create(job)


def test_a_legal_transition_updates_status_and_fields(store: JobStore) -> None:
    job = make_job()
    store.create(job)
    queued = store.transition(job.job_id, JobStatus.QUEUED, {"input_bytes": 100})
    assert queued is not None
    assert queued.status is JobStatus.QUEUED
    assert queued.input_bytes == 100
    assert queued.updated_at >= job.updated_at
    assert store.get(job.job_id) == queued


def test_an_illegal_transition_is_refused_and_changes_nothing(store: JobStore) -> None:
    job = make_job()
    store.create(job)
    assert store.transition(job.job_id, JobStatus.SUCCEEDED, {"rows_out": 5}) is None
    assert store.get(job.job_id) == job


def test_a_late_event_never_regresses_a_finished_job(store: JobStore) -> None:
    job = make_job()
    store.create(job)
    store.transition(job.job_id, JobStatus.QUEUED)
    store.transition(job.job_id, JobStatus.RUNNING)
    done = store.transition(job.job_id, JobStatus.SUCCEEDED, {"rows_out": 3})
    assert done is not None
    for late in (JobStatus.RUNNING, JobStatus.QUEUED, JobStatus.FAILED):
        assert store.transition(job.job_id, late, {"error": {"code": "X", "message": "late"}}) is None
    assert store.get(job.job_id) == done


def test_a_transition_of_a_missing_job_returns_none(store: JobStore) -> None:
    assert store.transition(new_job_id(), JobStatus.FAILED) is None


def test_concurrent_transitions_let_exactly_one_writer_win(store: JobStore) -> None:
    job = make_job()
    store.create(job)
    results: list[Job | None] = []
    barrier = threading.Barrier(8)

    def contend(i: int) -> None:
        barrier.wait()
        results.append(store.transition(job.job_id, JobStatus.QUEUED, {"input_bytes": i}))

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert store.get(job.job_id) == winners[0]


def test_listing_is_per_owner_newest_first_and_paginated(store: JobStore) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    mine = [make_job("alice", created=base + timedelta(seconds=i)) for i in range(5)]
    for job in [*mine, make_job("bob", created=base + timedelta(seconds=10))]:
        store.create(job)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = store.list_for_owner("alice", limit=2, cursor=cursor)
        seen += [j.job_id for j in page.jobs]
        pages += 1
        cursor = page.next_cursor
        if cursor is None or pages > 5:
            break
    assert seen == [j.job_id for j in reversed(mine)]
    assert store.list_for_owner("carol", limit=10).jobs == []


def test_a_made_up_cursor_is_an_invalid_cursor_error(store: JobStore) -> None:
    from etl_lib.errors import InvalidCursorError

    for made_up in ("not-a-cursor!", "e30", "eyJ4IjoieSJ9"):  # junk, {}, {"x": "y"}
        with pytest.raises(InvalidCursorError, match="next_token") as raised:
            store.list_for_owner("alice", limit=2, cursor=made_up)
        assert raised.value.code == "BAD_CURSOR"


def test_delete_is_refused_in_the_blocked_statuses(store: JobStore) -> None:
    job = make_job()
    store.create(job)
    store.transition(job.job_id, JobStatus.QUEUED)
    assert not store.delete(job.job_id, unless=frozenset({JobStatus.QUEUED, JobStatus.RUNNING}))
    assert store.get(job.job_id) is not None
    store.transition(job.job_id, JobStatus.FAILED)
    assert store.delete(job.job_id, unless=frozenset({JobStatus.QUEUED, JobStatus.RUNNING}))
    assert store.get(job.job_id) is None
    assert not store.delete(job.job_id)


def test_a_limited_create_refuses_at_the_limit_and_a_duplicate_takes_no_place(store: JobStore) -> None:
    import time

    now = int(time.time())
    first, second = make_job(), make_job()
    assert store.create(first, max_active=2, now=now)
    with pytest.raises(Exception):  # noqa: B017, PT011 (sqlite3.IntegrityError or TransactionCanceled)
        store.create(first, max_active=2, now=now)
    assert store.create(second, max_active=2, now=now)
    refused = make_job()
    assert not store.create(refused, max_active=2, now=now)
    assert store.get(refused.job_id) is None
    assert store.create(make_job("bob"), max_active=2, now=now)
    assert store.count_active("alice", now=now) == 2
    assert [j.job_id for j in store.list_for_owner("alice", limit=10).jobs] == [second.job_id, first.job_id]


def test_jobs_created_while_the_limit_was_off_hold_their_places_once_it_is_on(store: JobStore) -> None:
    import time

    now = int(time.time())
    earlier = [make_job(), make_job()]
    for job in earlier:
        store.create(job)
    assert not store.create(make_job(), max_active=2, now=now)
    assert store.transition(earlier[0].job_id, JobStatus.FAILED) is not None
    assert store.create(make_job(), max_active=2, now=now)
    assert not store.create(make_job(), max_active=2, now=now)


def test_the_limits_bookkeeping_is_never_seen_as_a_job(store: JobStore) -> None:
    import time

    now = int(time.time())
    job = make_job()
    assert store.create(job, max_active=5, now=now)
    assert store.get("places#alice") is None
    assert [j.job_id for j in store.list_for_owner("alice", limit=10).jobs] == [job.job_id]
    assert store.ids_in(frozenset(JobStatus)) == [job.job_id]
    assert store.expired_ids(now=now + 10**9, limit=10) == []


def test_the_sqlite_store_is_durable_across_instances(tmp_path: Path) -> None:
    from etl_lib.jobs.local import SqliteJobStore

    job = make_job()
    SqliteJobStore(tmp_path / "jobs.db").create(job)
    assert SqliteJobStore(tmp_path / "jobs.db").get(job.job_id) == job


def test_concurrent_claims_let_exactly_one_attempt_hold_the_job(store: JobStore) -> None:
    import time

    job = make_job(status=JobStatus.QUEUED)
    store.create(job)
    now = int(time.time())
    barrier = threading.Barrier(6)
    won: list[str] = []

    def claim(i: int) -> None:
        barrier.wait()
        if store.claim(job.job_id, attempt=f"a{i}", lease_until=now + 60, now=now, run_id="r") is not None:
            won.append(f"a{i}")

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    held = store.get(job.job_id)
    assert held is not None
    assert (held.status, held.attempt, held.lease_expires_at, held.run_id) == (JobStatus.RUNNING, won[0], now + 60, "r")
    # Only the holder renews and publishes; after its lease, another attempt may take over.
    assert not store.renew(job.job_id, attempt="other", lease_until=now + 120)
    assert store.renew(job.job_id, attempt=won[0], lease_until=now + 120)
    assert store.transition(job.job_id, JobStatus.SUCCEEDED, attempt="other") is None
    assert store.claim(job.job_id, attempt="late", lease_until=now + 200, now=now + 119) is None
    assert store.claim(job.job_id, attempt="late", lease_until=now + 200, now=now + 120) is not None
    assert store.transition(job.job_id, JobStatus.SUCCEEDED, attempt=won[0]) is None
    done = store.transition(job.job_id, JobStatus.SUCCEEDED, attempt="late")
    assert done is not None
    assert store.claim(job.job_id, attempt="after", lease_until=now + 900, now=now + 800) is None


def test_many_threads_opening_a_fresh_sqlite_store_at_once_all_succeed(tmp_path: Path) -> None:
    from etl_lib.jobs.local import SqliteJobStore

    for round_ in range(5):
        path = tmp_path / f"jobs-{round_}.db"
        start = threading.Barrier(16)
        failures: list[BaseException] = []

        def open_store(
            path: Path = path, start: threading.Barrier = start, failures: list[BaseException] = failures
        ) -> None:
            start.wait()
            try:
                SqliteJobStore(path).get("nothing")
            except BaseException as exc:  # collected, then asserted below
                failures.append(exc)

        threads = [threading.Thread(target=open_store) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []


def _on_spark(job: Job) -> bool:
    return job.engine is Engine.SPARK


def _spark_job(owner: str = "alice") -> Job:
    return make_job(owner).model_copy(update={"engine": Engine.SPARK})


def test_a_quota_holds_back_only_the_jobs_it_counts(store: JobStore) -> None:
    import time

    from etl_lib.jobs.ports import Quota

    now, quota = int(time.time()), Quota(1, _on_spark)
    first = _spark_job()
    assert store.create(first, now=now, quota=quota)
    refused = _spark_job()
    assert not store.create(refused, now=now, quota=quota)
    assert store.get(refused.job_id) is None
    assert store.create(make_job(), now=now, quota=quota), "a job the quota does not count is not held back"
    assert store.create(_spark_job("bob"), now=now, quota=quota), "the quota is per owner"
    assert store.transition(first.job_id, JobStatus.FAILED) is not None
    assert store.create(_spark_job(), now=now, quota=quota), "an ended job gives its place back"
    # With the limit on all places too (as the service passes them, on every creation): both hold.
    assert store.create(make_job("carol"), max_active=2, now=now, quota=quota)
    assert store.create(_spark_job("carol"), max_active=2, now=now, quota=quota)
    assert not store.create(make_job("carol"), max_active=2, now=now, quota=quota)


def test_creations_racing_for_the_last_quota_place_let_exactly_one_in(store: JobStore) -> None:
    import time

    from etl_lib.jobs.ports import Quota

    now, quota = int(time.time()), Quota(2, _on_spark)
    assert store.create(_spark_job(), max_active=10, now=now, quota=quota)
    barrier = threading.Barrier(8)
    created: list[bool] = []

    def create() -> None:
        barrier.wait()
        created.append(store.create(_spark_job(), max_active=10, now=now, quota=quota))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(created) == [False] * 7 + [True]
    assert store.count_active("alice", now=now) == 2


def test_the_active_jobs_are_exactly_the_queued_and_running_ones_through_every_transition(store: JobStore) -> None:
    jobs = [make_job(status=status) for status in (JobStatus.PENDING, JobStatus.QUEUED, JobStatus.QUEUED)]
    for job in jobs:
        store.create(job)
    pending, first, second = jobs
    active = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})
    assert sorted(store.ids_in(active)) == sorted([first.job_id, second.job_id])
    assert store.transition(pending.job_id, JobStatus.QUEUED) is not None
    assert store.transition(first.job_id, JobStatus.RUNNING) is not None
    assert store.ids_in(frozenset({JobStatus.RUNNING})) == [first.job_id]
    assert sorted(store.ids_in(frozenset({JobStatus.QUEUED}))) == sorted([pending.job_id, second.job_id])
    # Ending leaves the active set, whichever way the job ends.
    assert store.transition(first.job_id, JobStatus.SUCCEEDED, {"rows_out": 1}) is not None
    assert store.transition(second.job_id, JobStatus.FAILED) is not None
    assert store.ids_in(active) == [pending.job_id]
    assert store.ids_in(frozenset({JobStatus.SUCCEEDED})) == [first.job_id]


def test_the_active_jobs_are_read_from_their_sparse_index_not_by_scanning_every_job(
    aws_resources: AwsResources,
) -> None:
    import boto3

    from etl_lib.jobs.aws import ACTIVE_KEY, DynamoJobStore

    client = boto3.client("dynamodb")
    store = DynamoJobStore(client, aws_resources.table)
    ended = [make_job(status=JobStatus.SUCCEEDED) for _ in range(30)]
    running = make_job(status=JobStatus.QUEUED)
    for job in [*ended, running]:
        store.create(job)
    assert store.transition(running.job_id, JobStatus.RUNNING) is not None
    calls: list[str] = []
    client.meta.events.register("provide-client-params.dynamodb.*", lambda model, **_: calls.append(model.name))
    assert store.ids_in(frozenset({JobStatus.QUEUED, JobStatus.RUNNING})) == [running.job_id]
    assert "Scan" not in calls
    assert set(calls) == {"Query"}
    # The key lives only while the job is active; a job read back never shows it.
    item = client.get_item(TableName=aws_resources.table, Key={"job_id": {"S": ended[0].job_id}})["Item"]
    assert ACTIVE_KEY not in item
    read = store.get(running.job_id)  # the index's key is not a field of the job
    assert read is not None
    assert read.status is JobStatus.RUNNING
    assert store.transition(running.job_id, JobStatus.FAILED) is not None
    item = client.get_item(TableName=aws_resources.table, Key={"job_id": {"S": running.job_id}})["Item"]
    assert ACTIVE_KEY not in item
    assert store.ids_in(frozenset({JobStatus.QUEUED, JobStatus.RUNNING})) == []
