"""Each run works with credentials scoped to its job: AssumeRole of the run role with a
session policy that reaches only the job's upload, its outputs folder and its record.

moto's server does not enforce session policies (its IAM check collects only the role's own
policies: ``AssumedRoleAccessKey.collect_policies`` in moto 5.2), so these tests assert the
policy document exactly, evaluate its S3 statements with moto's policy evaluator, and check
on moto's server that the converter and the Glue job really work with the assumed session's
credentials, driver and executors, and that the one the converter Lambda's own role had
is back afterwards.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from etl_lib.jobs.aws import CREDENTIAL_ENV, RUN_SESSION_SECONDS, job_session_policy
from etl_lib.jobs.models import JobStatus, input_key
from etl_lib.options import ConvertOptions
from tests.jobs.support import AwsResources, FakeLambdaContext, write_parquet

JOB = "0123456789abcdef0123456789abcdef"
OTHER = "fedcba9876543210fedcba9876543210"
TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/jobs"
ACCOUNT = "123456789012"


def permits(policy: dict[str, Any], action: str, resource: str) -> bool:
    """moto's policy evaluator on ``policy`` (within AssumeRole's 2,048 packed characters)."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    assert len(json.dumps(policy, separators=(",", ":"))) < 2048
    return bool(IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource) == PermissionResult.PERMITTED)


def test_a_runs_session_policy_is_exactly_its_jobs_objects_and_record() -> None:
    policy = job_session_policy(JOB, input_bucket="in", output_bucket="out", table_arn=TABLE_ARN)
    assert policy == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadTheJobsUpload",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [f"arn:aws:s3:::in/inputs/{JOB}/*"],
            },
            {
                "Sid": "WriteTheJobsOutputs",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                "Resource": [f"arn:aws:s3:::out/outputs/{JOB}/*"],
            },
            {
                "Sid": "ListOnlyTheJobsFolders",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": ["arn:aws:s3:::in", "arn:aws:s3:::out"],
                "Condition": {"StringLike": {"s3:prefix": [f"inputs/{JOB}/*", f"outputs/{JOB}/*"]}},
            },
            {
                "Sid": "TheJobsRecordOnly",
                "Effect": "Allow",
                "Action": ["dynamodb:GetItem", "dynamodb:UpdateItem"],
                "Resource": [TABLE_ARN],
                "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [JOB]}},
            },
        ],
    }
    # AssumeRole takes at most 2,048 characters of packed session policy.
    assert len(json.dumps(policy, separators=(",", ":"))) < 2048


@pytest.mark.parametrize(
    ("action", "resource", "permitted"),
    [
        ("s3:GetObject", f"arn:aws:s3:::in/inputs/{JOB}/input.parquet", True),
        ("s3:GetObject", f"arn:aws:s3:::in/inputs/{OTHER}/input.parquet", False),
        ("s3:PutObject", f"arn:aws:s3:::in/inputs/{JOB}/input.parquet", False),
        ("s3:PutObject", f"arn:aws:s3:::out/outputs/{JOB}/a1/output.jsonl", True),
        ("s3:GetObject", f"arn:aws:s3:::out/outputs/{OTHER}/a1/output.jsonl", False),
        ("s3:DeleteObject", f"arn:aws:s3:::out/outputs/{OTHER}/a1/output.jsonl", False),
        ("s3:GetObject", "arn:aws:s3:::artifacts/glue/script.py", False),
        ("dynamodb:DeleteItem", TABLE_ARN, False),
        ("dynamodb:Scan", TABLE_ARN, False),
    ],
)
def test_moto_s_policy_evaluator_lets_a_run_reach_its_own_objects_only(
    action: str, resource: str, permitted: bool
) -> None:
    """moto's evaluator (what its IAM enforcement would apply) ignores conditions; the
    LeadingKeys and prefix conditions are held by the exact document above."""
    policy = job_session_policy(JOB, input_bucket="in", output_bucket="out", table_arn=TABLE_ARN)
    assert permits(policy, action, resource) is permitted


@pytest.mark.parametrize(
    ("action", "resource", "permitted"),
    [
        ("glue:CreateTable", f"arn:aws:glue:us-east-1:{ACCOUNT}:table/outputs_db/job_{JOB}_a1", True),
        ("glue:DeleteTable", f"arn:aws:glue:us-east-1:{ACCOUNT}:table/outputs_db/job_{JOB}_a2", True),
        ("glue:CreateTable", f"arn:aws:glue:us-east-1:{ACCOUNT}:database/outputs_db", True),
        ("glue:DeleteTable", f"arn:aws:glue:us-east-1:{ACCOUNT}:table/outputs_db/job_{OTHER}_a1", False),
        ("glue:CreateTable", f"arn:aws:glue:us-east-1:{ACCOUNT}:table/other_db/job_{JOB}_a1", False),
        ("glue:DeleteDatabase", f"arn:aws:glue:us-east-1:{ACCOUNT}:database/outputs_db", False),
    ],
)
def test_with_outputs_registered_a_run_may_register_and_drop_its_own_jobs_tables_only(
    action: str, resource: str, permitted: bool
) -> None:
    policy = job_session_policy(
        JOB, input_bucket="in", output_bucket="out", table_arn=TABLE_ARN, catalog_database="outputs_db"
    )
    assert permits(policy, action, resource) is permitted


@pytest.fixture
def run_role(aws_lambda_env: AwsResources, monkeypatch: pytest.MonkeyPatch) -> str:
    """The run role in moto's IAM, and the converter configured to assume it."""
    from etl_lib.jobs import settings

    role_arn = boto3.client("iam").create_role(
        RoleName=f"run-{aws_lambda_env.table}",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    monkeypatch.setenv("RUN_ROLE_ARN", role_arn)
    settings._own_sts.cache_clear()
    settings.service.cache_clear()
    return role_arn


def assumed_for(job_id: str) -> Any:
    """moto's record of the session assumed for ``job_id`` (its server runs in this process)."""
    from moto.sts.models import sts_backends

    (session,) = [r for r in sts_backends[ACCOUNT]["aws"].assumed_roles if r.session_name == f"job-{job_id}"]
    return session


def seconds_left(session: Any) -> float:
    """How long the assumed session's credentials last from now (moto keeps naive UTC)."""
    return float((session.expiration - datetime.now(UTC).replace(tzinfo=None)).total_seconds())


def queued_job(data: bytes) -> str:
    from etl_lib.jobs.settings import service

    svc = service()
    job, _ = svc.create_job("alice", filename="sales.parquet", size=len(data), options=ConvertOptions())
    svc.inputs.put_bytes(input_key(job.job_id), data)
    assert svc.jobs.transition(job.job_id, JobStatus.QUEUED, {"input_bytes": len(data), "engine": "local"})
    return job.job_id


@pytest.fixture
def credentials_seen(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The credentials in effect while each conversion runs (the real converter runs)."""
    from etl_lib import conversion

    seen: list[dict[str, Any]] = []
    real = conversion.convert

    def observed(*args: Any, **kwargs: Any) -> Any:
        boto3.client("s3")  # what the conversion's own clients are made from: the default session
        assert boto3.DEFAULT_SESSION is not None
        credentials = boto3.DEFAULT_SESSION.get_credentials()
        assert credentials is not None
        env = {n: os.environ.get(n) for n in CREDENTIAL_ENV}
        seen.append({"env": env, "boto3": credentials.access_key, **kwargs})
        return real(*args, **kwargs)

    monkeypatch.setattr(conversion, "convert", observed)
    return seen


def test_the_converter_converts_with_credentials_assumed_for_its_job_only(
    run_role: str, aws_lambda_env: AwsResources, credentials_seen: list[dict[str, Any]], tmp_path: Path
) -> None:
    from etl_lib.jobs.settings import service
    from lambdas.converter.handler import handler as converter_handler

    job_id = queued_job(write_parquet(tmp_path / "sales.parquet").read_bytes())
    result = converter_handler({"job_id": job_id}, FakeLambdaContext("converter"))
    assert result["status"] == "SUCCEEDED"

    session = assumed_for(job_id)
    assert session.role_arn == run_role
    assert RUN_SESSION_SECONDS - 60 < seconds_left(session) <= RUN_SESSION_SECONDS
    table_arn = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{aws_lambda_env.table}"
    assert json.loads(session.policy) == job_session_policy(
        job_id,
        input_bucket=aws_lambda_env.input_bucket,
        output_bucket=aws_lambda_env.output_bucket,
        table_arn=table_arn,
    )
    (seen,) = credentials_seen
    assert seen["env"] == {
        "AWS_ACCESS_KEY_ID": session.access_key_id,
        "AWS_SECRET_ACCESS_KEY": session.secret_access_key,
        "AWS_SESSION_TOKEN": session.session_token,
    }
    assert seen["boto3"] == session.access_key_id  # clients made during the run, too
    # The function's own credentials are back for the next invocation.
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
    assert "AWS_SESSION_TOKEN" not in os.environ
    assert service().jobs.get(job_id).status is JobStatus.SUCCEEDED  # type: ignore[union-attr]


def test_two_jobs_in_one_container_each_get_their_own_session(
    run_role: str, credentials_seen: list[dict[str, Any]], tmp_path: Path
) -> None:
    from lambdas.converter.handler import handler as converter_handler

    data = write_parquet(tmp_path / "sales.parquet").read_bytes()
    first, second = queued_job(data), queued_job(data)
    for job_id in (first, second):
        assert converter_handler({"job_id": job_id}, FakeLambdaContext("converter"))["status"] == "SUCCEEDED"
    keys = [seen["env"]["AWS_ACCESS_KEY_ID"] for seen in credentials_seen]
    assert keys == [assumed_for(first).access_key_id, assumed_for(second).access_key_id]
    assert keys[0] != keys[1]


class FakeSparkContext:
    def __init__(self) -> None:
        self.environment: dict[str, str] = {}


class FakeSession:
    """Stands for Glue's session: only what the job script touches (its executors' environment)."""

    def __init__(self) -> None:
        self.sparkContext = FakeSparkContext()


def test_the_glue_job_driver_and_executors_work_with_credentials_assumed_for_its_job(
    run_role: str,
    aws_lambda_env: AwsResources,
    credentials_seen: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The script as Glue starts it, forced onto Spark: the session it hands the conversion
    carries the scoped credentials to the executors' Python workers."""
    from etl_lib.jobs.local import argv_of, load_glue_script
    from etl_lib.jobs.settings import Settings

    for name in CREDENTIAL_ENV:  # the script keeps the scoped ones for the rest of its process
        monkeypatch.setenv(name, os.environ.get(name, "testing"))
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", boto3.DEFAULT_SESSION)
    data = write_parquet(tmp_path / "sales.parquet").read_bytes()
    job_id = queued_job(data)
    arguments = {
        "--job_id": job_id,
        **Settings.from_env().run_arguments(),
        "--run_role_arn": run_role,
        "--JOB_RUN_ID": "jr_1",
    }
    from etl_lib import conversion

    real = conversion.convert

    def on_spark(*args: Any, **kwargs: Any) -> Any:
        return real(*args, **{**kwargs, "engine": "local", "spark": None})

    monkeypatch.setattr(conversion, "convert", on_spark)
    boto3.client("dynamodb").update_item(
        TableName=aws_lambda_env.table,
        Key={"job_id": {"S": job_id}},
        UpdateExpression="SET engine = :spark",
        ExpressionAttributeValues={":spark": {"S": "spark"}},
    )
    session = FakeSession()
    script = load_glue_script()
    assert script.main(["parquet_to_json.py", *argv_of(arguments)], spark_factory=lambda: session) == 0
    assumed = assumed_for(job_id)
    scoped = {
        "AWS_ACCESS_KEY_ID": assumed.access_key_id,
        "AWS_SECRET_ACCESS_KEY": assumed.secret_access_key,
        "AWS_SESSION_TOKEN": assumed.session_token,
    }
    assert credentials_seen[0]["env"] == scoped  # the driver
    assert {n: session.sparkContext.environment.get(n) for n in CREDENTIAL_ENV} == scoped  # the executors
    assert seconds_left(assumed) > RUN_SESSION_SECONDS - 60


@pytest.mark.parametrize(
    ("action", "resource", "permitted"),
    [
        ("s3:GetObject", "arn:aws:s3:::lake/sales/cat=a/part-0.parquet", True),
        ("s3:ListBucket", "arn:aws:s3:::lake", True),
        ("s3:PutObject", "arn:aws:s3:::lake/sales/x.parquet", False),
        ("s3:GetObject", "arn:aws:s3:::elsewhere/x.parquet", False),
        ("glue:GetPartitions", f"arn:aws:glue:us-east-1:{ACCOUNT}:table/lakehouse/sales", True),
        ("glue:GetTable", f"arn:aws:glue:us-east-1:{ACCOUNT}:table/private/sales", False),
        ("glue:UpdateTable", f"arn:aws:glue:us-east-1:{ACCOUNT}:table/lakehouse/sales", False),
    ],
)
def test_a_runs_session_may_read_the_allow_listed_sources_and_nothing_else_of_them(
    action: str, resource: str, permitted: bool
) -> None:
    """A data engineer's job reads its dataset or table in place, in its job's session."""
    policy = job_session_policy(
        JOB,
        input_bucket="in",
        output_bucket="out",
        table_arn=TABLE_ARN,
        source_buckets=("lake",),
        source_databases=("lakehouse",),
    )
    assert permits(policy, action, resource) is permitted
