"""A job's catalog table goes when the job does, whatever removed the job: the reconciler's
sweep (the scheduled Lambda in AWS, `etl up`'s periodic pass locally) drops the tables of
jobs that are gone (DynamoDB's TTL deleted the record) or past their expiry, keeps a live
job's, never touches a table not named for a job, and drains a flood within its per-pass
bound over several passes. On the local back end (SQLite store and catalog) and on moto's
server (DynamoDB and the Glue Data Catalog)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest

from etl_lib.jobs.catalog import (
    GlueOutputCatalog,
    SqliteOutputCatalog,
    job_of_table,
    job_tables_pattern,
    table_name,
)
from etl_lib.jobs.models import Job, JobStatus, new_job_id
from etl_lib.jobs.ports import Column, ListedTable, OutputTable
from etl_lib.jobs.reconcile import TABLE_SHARDS, ReconcilePolicy, reconcile, sweep_tables
from etl_lib.jobs.service import JobService
from etl_lib.options import ConvertOptions
from tests.jobs.support import dynamo_service, sqlite_service

NOW = 1_900_000_000
SHARD_SECONDS = ReconcilePolicy().table_shard_seconds


@pytest.fixture(params=["sqlite", "glue"])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> JobService:
    """The job service of each back end with its catalog: SQLite beside the SQLite store, the
    Glue catalog on moto's server beside DynamoDB."""
    if request.param == "sqlite":
        jobs = sqlite_service(tmp_path / "data")
        jobs.catalog = SqliteOutputCatalog(tmp_path / "catalog.db")
        return jobs
    jobs = dynamo_service(request.getfixturevalue("aws_resources"))
    database = f"outputs_{uuid.uuid4().hex[:10]}"
    boto3.client("glue").create_database(DatabaseInput={"Name": database})
    jobs.catalog = GlueOutputCatalog(boto3.client("glue"), database)
    return jobs


def succeeded(jobs: JobService, *, expires_at: int, job_id: str | None = None) -> Job:
    """A SUCCEEDED job of the store whose output is registered as its attempt's table."""
    job_id = job_id or new_job_id()
    attempt = uuid.uuid4().hex[:16]
    moment = datetime.fromtimestamp(NOW - 86_400, UTC)
    table = table_name(job_id, attempt)
    job = Job(
        job_id=job_id, owner="alice", status=JobStatus.SUCCEEDED, filename="sales.parquet",
        options=ConvertOptions(), created_at=moment, updated_at=moment, declared_bytes=10,
        catalog_table=table, attempt=attempt, expires_at=expires_at,
    )  # fmt: skip
    assert jobs.jobs.create(job)
    register(jobs, table)
    return job


def register(jobs: JobService, name: str) -> None:
    assert jobs.catalog is not None
    columns = (Column(name="id", type="bigint", key="id"),)
    jobs.catalog.register(OutputTable(name=name, location=f"s3://out/{name}/data/", columns=columns, compressed=False))


def tables(jobs: JobService) -> set[str]:
    assert jobs.catalog is not None
    return {t.name for t in jobs.catalog.listed(".*", limit=10_000)}


def every_shard(after: int = NOW) -> list[int]:
    """The ``now`` of 16 consecutive passes after ``after``, the k-th sweeping shard k."""
    cycle = SHARD_SECONDS * len(TABLE_SHARDS)
    base = (after // cycle + 1) * cycle
    return [base + k * SHARD_SECONDS for k in range(len(TABLE_SHARDS))]


def shard_of(job_id: str) -> int:
    """A ``now`` (after :data:`NOW`) whose pass sweeps ``job_id``'s shard."""
    return every_shard()[TABLE_SHARDS.index(job_id[0])]


def test_a_job_past_expiry_loses_its_table_and_a_live_job_keeps_its_own(service: JobService) -> None:
    expired = succeeded(service, expires_at=NOW - 1)
    live = succeeded(service, expires_at=NOW + 86_400, job_id=expired.job_id[0] + new_job_id()[1:])
    assert job_of_table(expired.catalog_table or "") == expired.job_id

    dropped = sweep_tables(service, now=shard_of(expired.job_id))

    assert dropped == [expired.catalog_table]
    assert tables(service) == {live.catalog_table}
    # The sweep drops the table, not the job: the record and its files are TTL's and lifecycle's.
    assert service.jobs.get(expired.job_id) is not None


def test_a_table_whose_job_record_is_gone_is_dropped(service: JobService) -> None:
    """DynamoDB's TTL deleted the record: nothing of the job is left to say which table was its."""
    gone = succeeded(service, expires_at=NOW - 1)
    assert service.jobs.delete(gone.job_id, expired_by=NOW)
    assert service.jobs.get(gone.job_id) is None

    assert sweep_tables(service, now=shard_of(gone.job_id)) == [gone.catalog_table]
    assert tables(service) == set()


def test_tables_not_named_for_a_job_are_never_touched(service: JobService) -> None:
    for name in ("sales", "job_report", f"job_{'0' * 32}", f"job_{'Z' * 32}_attempt", "jobs_0123"):
        register(service, name)
    before = tables(service)

    for now in every_shard():
        assert sweep_tables(service, now=now) == []
    assert tables(service) == before


def test_each_pass_sweeps_only_its_shard_and_the_shards_come_in_turn(service: JobService) -> None:
    first = succeeded(service, expires_at=NOW - 1, job_id="0" + new_job_id()[1:])
    last = succeeded(service, expires_at=NOW - 1, job_id="f" + new_job_id()[1:])
    passes = list(every_shard())
    assert sweep_tables(service, now=passes[1]) == []  # shard 1: neither
    assert sweep_tables(service, now=passes[0]) == [first.catalog_table]
    assert sweep_tables(service, now=passes[15]) == [last.catalog_table]
    assert job_tables_pattern("a") == "job_a.*"


def test_a_flood_of_expired_tables_goes_within_the_bound_over_several_passes(service: JobService) -> None:
    """Each pass reads at most ``tables_checked`` jobs: 40 expired tables of one shard (and a
    live one) take four passes over that shard, each dropping at most 12, oldest first."""
    policy = ReconcilePolicy(tables_checked=12)
    flood = [succeeded(service, expires_at=NOW - 1, job_id="7" + new_job_id()[1:]) for _ in range(40)]
    live = succeeded(service, expires_at=NOW + 86_400, job_id="7" + new_job_id()[1:])
    elsewhere = succeeded(service, expires_at=NOW - 1, job_id="8" + new_job_id()[1:])
    registered_in_order = [str(job.catalog_table) for job in flood]

    shard_7 = shard_of(flood[0].job_id)
    dropped: list[str] = []
    passes = 0
    while len(dropped) < len(flood):
        this_pass = sweep_tables(service, policy, now=shard_7)
        assert 0 < len(this_pass) <= 12
        dropped += this_pass
        passes += 1
        assert passes <= 4
    assert passes == 4
    assert sorted(dropped) == sorted(registered_in_order)
    assert tables(service) == {live.catalog_table, elsewhere.catalog_table}
    if isinstance(service.catalog, SqliteOutputCatalog):
        # Registration times are exact here (Glue's CreateTime has whole seconds): oldest first.
        assert dropped == registered_in_order
    assert sweep_tables(service, policy, now=shard_of(elsewhere.job_id)) == [elsewhere.catalog_table]


def test_the_reconciler_pass_sweeps_the_catalog_too(service: JobService) -> None:
    """One code path for the scheduled Lambda and `etl up`'s periodic pass: reconcile()."""
    expired = succeeded(service, expires_at=int(time.time()) - 1)
    done = None
    for now in every_shard(int(time.time())):
        done = reconcile(service, ReconcilePolicy(), now=now)
        if done.dropped_tables:
            break
    assert done is not None
    assert done.dropped_tables == [expired.catalog_table]
    assert tables(service) == set()


def test_a_catalog_that_cannot_be_listed_does_not_undo_the_jobs_pass(service: JobService, tmp_path: Path) -> None:
    class Unlistable(SqliteOutputCatalog):
        def listed(self, pattern: str, *, limit: int) -> list[ListedTable]:
            raise RuntimeError("throttled")

    service.catalog = Unlistable(tmp_path / "unlistable.db")
    assert reconcile(service, ReconcilePolicy(), now=NOW).dropped_tables == []
