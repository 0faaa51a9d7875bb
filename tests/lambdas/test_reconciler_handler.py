"""The reconciler Lambda against moto's server (DynamoDB, S3, Glue): one scheduled pass
relaunches a job stuck QUEUED through Glue's StartJobRun, fails a job whose run's lease has
lapsed, leaves a live one, and publishes how many it changed."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest

from etl_lib.errors import ErrorCode
from etl_lib.jobs.metrics import JOBS_RECONCILED_FAILED, JOBS_RELAUNCHED, RECONCILER_SERVICE
from etl_lib.jobs.models import Job, JobStatus, attempt_prefix, input_key
from etl_lib.options import ConvertOptions
from lambdas.reconciler.handler import handler as reconciler_handler
from tests.jobs.support import AwsResources, FakeLambdaContext, load_event, write_parquet
from tests.lambdas.test_converter_routing import emf_metrics


@pytest.fixture
def metrics_on(aws_lambda_env: AwsResources, monkeypatch: pytest.MonkeyPatch) -> AwsResources:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ParquetJsonEtl")
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    return aws_lambda_env


def queued_job(data: bytes) -> Job:
    """A job whose upload was accepted (QUEUED) by a process that then died."""
    from etl_lib.jobs.settings import service

    svc = service()
    job, _ = svc.create_job("alice", filename="sales.parquet", size=len(data), options=ConvertOptions())
    svc.inputs.put_bytes(input_key(job.job_id), data)
    queued = svc.jobs.transition(job.job_id, JobStatus.QUEUED, {"input_bytes": len(data), "engine": "local"})
    assert queued is not None
    return queued


def age(job_id: str, resources: AwsResources, **numbers: int) -> None:
    """Set number attributes of the job's item, as if written that long ago."""
    names = {f"#{k}": k for k in numbers}
    values = {f":{k}": {"N": str(v)} for k, v in numbers.items()}
    boto3.client("dynamodb").update_item(
        TableName=resources.table,
        Key={"job_id": {"S": job_id}},
        UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in numbers),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


def test_a_scheduled_pass_relaunches_the_stuck_fails_the_dead_and_counts_them(
    metrics_on: AwsResources, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from etl_lib.jobs.settings import service

    data = write_parquet(tmp_path / "sales.parquet").read_bytes()
    now = int(time.time())
    stuck = queued_job(data)
    age(stuck.job_id, metrics_on, queued_at=now - 20 * 60)
    fresh = queued_job(data)  # queued just now: its events Lambda may still be starting the run
    age(fresh.job_id, metrics_on, queued_at=now)
    dead = queued_job(data)
    assert service().jobs.claim(dead.job_id, attempt="dead", lease_until=now - 10 * 60, now=now - 20 * 60)
    service().outputs.put_bytes(f"{attempt_prefix(dead.job_id, 'dead')}staging/piece-0", b"{")
    live = queued_job(data)
    assert service().jobs.claim(live.job_id, attempt="live", lease_until=now + 600, now=now)
    capsys.readouterr()

    result = reconciler_handler(load_event("scheduled_event.json"), FakeLambdaContext("reconciler"))

    assert result["relaunched"] == [stuck.job_id]
    assert result["failed_lapsed"] == [dead.job_id]
    runs = boto3.client("glue").get_job_runs(JobName=metrics_on.glue_job)["JobRuns"]
    assert [r["Arguments"]["--job_id"] for r in runs] == [stuck.job_id]
    jobs = service().jobs
    relaunched = jobs.get(stuck.job_id)
    assert relaunched is not None
    assert (relaunched.status, relaunched.run_id) == (JobStatus.RUNNING, runs[0]["Id"])
    failed = jobs.get(dead.job_id)
    assert failed is not None
    assert failed.error is not None
    assert (failed.status, failed.error.code) == (JobStatus.FAILED, ErrorCode.RUN_LOST)
    listed = boto3.client("s3").list_objects_v2(Bucket=metrics_on.output_bucket, Prefix=f"outputs/{dead.job_id}/")
    assert listed.get("KeyCount", 0) == 0
    assert jobs.get(fresh.job_id).status is JobStatus.QUEUED  # type: ignore[union-attr]
    assert jobs.get(live.job_id).status is JobStatus.RUNNING  # type: ignore[union-attr]

    counted: dict[str, list[float]] = {}
    for doc in emf_metrics(capsys.readouterr().out):
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]:
            if metric["Name"] in {JOBS_RELAUNCHED, JOBS_RECONCILED_FAILED}:
                assert doc["service"] == RECONCILER_SERVICE
                counted[metric["Name"]] = doc[metric["Name"]]
    assert counted == {JOBS_RELAUNCHED: [1.0], JOBS_RECONCILED_FAILED: [1.0]}


def test_a_pass_that_a_glue_run_ended_before_claiming_fails_its_job_with_the_runs_state(
    metrics_on: AwsResources, tmp_path: Any
) -> None:
    """moto's Glue runs never claim a job and end SUCCEEDED: the state event that would have
    told the events Lambda is lost, and the reconciler reads the run's state instead."""
    from etl_lib.jobs.settings import service

    data = write_parquet(tmp_path / "sales.parquet").read_bytes()
    job = queued_job(data)
    run_id = boto3.client("glue").start_job_run(JobName=metrics_on.glue_job, Arguments={"--job_id": job.job_id})[
        "JobRunId"
    ]
    assert service().jobs.transition(job.job_id, JobStatus.RUNNING, {"run_id": run_id})
    states = set()
    for _ in range(100):  # moto moves a run through its states on each GetJobRun
        state = boto3.client("glue").get_job_run(JobName=metrics_on.glue_job, RunId=run_id)["JobRun"]["JobRunState"]
        states.add(state)
        if state == "SUCCEEDED":
            break
    result = reconciler_handler(load_event("scheduled_event.json"), FakeLambdaContext("reconciler"))
    assert result["failed_run_ended"] == [job.job_id]
    failed = service().jobs.get(job.job_id)
    assert failed is not None
    assert failed.error is not None
    assert (failed.status, failed.error.code) == (JobStatus.FAILED, "RUN_SUCCEEDED")


def test_a_scheduled_pass_drops_the_tables_of_expired_and_gone_jobs_of_its_shard(
    aws_lambda_env: AwsResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DynamoDB's TTL removes a job's record and S3's lifecycle its files; the scheduled pass
    removes its catalog table. One expired job per shard: whichever shard this pass sweeps
    (by the clock), exactly its table goes; a live job's table and a table of no job stay."""
    from etl_lib.jobs.catalog import table_name
    from etl_lib.jobs.models import new_job_id
    from etl_lib.jobs.reconcile import TABLE_SHARDS
    from etl_lib.jobs.settings import service
    from tests.jobs.test_catalog_sweep import register, succeeded

    database = f"outputs_{new_job_id()[:10]}"
    glue = boto3.client("glue")
    glue.create_database(DatabaseInput={"Name": database})
    monkeypatch.setenv("CATALOG_DATABASE", database)
    service.cache_clear()
    jobs = service()
    now = int(time.time())
    expired = [succeeded(jobs, expires_at=now - 1, job_id=digit + new_job_id()[1:]) for digit in TABLE_SHARDS]
    gone = succeeded(jobs, expires_at=now - 1)
    assert jobs.jobs.delete(gone.job_id, expired_by=now)  # as DynamoDB's TTL would
    live = [succeeded(jobs, expires_at=now + 86_400, job_id=digit + new_job_id()[1:]) for digit in TABLE_SHARDS]
    register(jobs, "sales_by_region")
    all_tables = {t["Name"] for t in glue.get_tables(DatabaseName=database)["TableList"]}

    result = reconciler_handler(load_event("scheduled_event.json"), FakeLambdaContext("reconciler"))

    (dropped_expired,) = [str(job.catalog_table) for job in expired if job.catalog_table in result["dropped_tables"]]
    shard = dropped_expired[len("job_")]
    expected = {dropped_expired} | ({gone.catalog_table} if gone.job_id.startswith(shard) else set())
    assert set(result["dropped_tables"]) == expected
    left = {t["Name"] for t in glue.get_tables(DatabaseName=database)["TableList"]}
    assert left == all_tables - expected
    assert {job.catalog_table for job in live} | {"sales_by_region"} <= left
    assert table_name(gone.job_id, gone.attempt or "") == gone.catalog_table
