"""Data engineers' sources in the template: the Cognito group, the allow-list the API reads,
and the Glue role's reads of exactly the allow-listed buckets and catalog databases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from etl_lib.jobs import env
from etl_lib.jobs.models import ENGINEERS_GROUP
from infra.pipeline.functions import handler_path
from tests.infra.conftest import Synth, synthesize
from tests.infra.test_nag import every_warning_or_error

pytestmark = pytest.mark.xdist_group("infra")

BUCKETS = ["lake-raw", "lake.curated"]
DATABASES = ["sales", "ops_db"]


@pytest.fixture(scope="module")
def with_sources(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synth]:
    yield from synthesize(
        tmp_path_factory.mktemp("cdk.sources"), **{"etl:sourceBuckets": BUCKETS, "etl:sourceDatabases": DATABASES}
    )


def _upload_env(synth: Synth) -> dict[str, Any]:
    (upload,) = [
        r["Properties"] for r in synth.raw["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler") == handler_path("upload")
    ]  # fmt: skip
    variables: dict[str, Any] = upload["Environment"]["Variables"]
    return variables


def _source_statements(synth: Synth) -> list[tuple[str, list[str]]]:
    """(action, resources) of every statement of the sources policy, on the Glue job's role."""
    policy = synth.stack.engineer_sources.policy
    assert policy is not None
    props = synth.raw["Resources"][synth.logical_id(policy)]["Properties"]
    # The run role: each run reads them in its job-scoped session (etl_lib.jobs.aws.job_session_policy).
    assert props["Roles"] == [{"Ref": synth.logical_id(synth.stack.run_role.role)}]
    found = []
    for statement in props["PolicyDocument"]["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        found += [(action, sorted(resources)) for action in actions]
    return sorted(found)


def test_the_engineers_group_exists_and_the_api_reads_no_sources_by_default(synth: Synth) -> None:
    synth.template.has_resource_properties("AWS::Cognito::UserPoolGroup", {"GroupName": ENGINEERS_GROUP})
    variables = _upload_env(synth)
    assert (variables[env.SOURCE_BUCKETS], variables[env.SOURCE_DATABASES]) == ("", "")
    assert synth.stack.engineer_sources.policy is None
    assert not any("glue:GetPartitions" in json.dumps(p) for p in synth.resources("AWS::IAM::Policy").values())


def test_the_run_role_may_read_exactly_the_allow_listed_buckets_and_databases(with_sources: Synth) -> None:
    config = with_sources.stack.config
    glue = f"arn:aws:glue:{config.region}:{config.account}:"
    tables = sorted(
        [f"{glue}catalog", *(f"{glue}database/{d}" for d in DATABASES), *(f"{glue}table/{d}/*" for d in DATABASES)]
    )
    assert _source_statements(with_sources) == [
        ("glue:GetPartitions", tables),
        ("glue:GetTable", tables),
        ("s3:GetObject", sorted(f"arn:aws:s3:::{b}/*" for b in BUCKETS)),
        ("s3:ListBucket", sorted(f"arn:aws:s3:::{b}" for b in BUCKETS)),
    ]
    # Nothing else in the stack reads them.
    others = [
        p for logical_id, p in with_sources.resources("AWS::IAM::Policy").items()
        if logical_id != with_sources.logical_id(with_sources.stack.engineer_sources.policy)
    ]  # fmt: skip
    assert not any(b in json.dumps(p) for b in BUCKETS for p in others)
    assert not any("glue:GetPartitions" in json.dumps(p) for p in others)


def test_the_api_gets_the_allow_list(with_sources: Synth) -> None:
    variables = _upload_env(with_sources)
    assert variables[env.SOURCE_BUCKETS] == ",".join(BUCKETS)
    assert variables[env.SOURCE_DATABASES] == ",".join(DATABASES)


def test_the_sources_synthesize_cdk_nag_clean(with_sources: Synth) -> None:
    assert every_warning_or_error(with_sources) == []


def test_a_malformed_allow_list_entry_is_refused() -> None:
    from infra.config import InfraConfig

    with pytest.raises(ValueError, match="etl:sourceBuckets: 'Not_A_Bucket' is not an S3 bucket name"):
        InfraConfig(source_buckets=("Not_A_Bucket",))
    with pytest.raises(ValueError, match=r"etl:sourceDatabases: 'db/\*' is not a Glue database name"):
        InfraConfig(source_databases=("db/*",))


def test_each_glue_run_gets_the_allow_list_for_its_scoped_session(with_sources: Synth) -> None:
    job = with_sources.raw["Resources"][with_sources.logical_id(with_sources.stack.etl.job)]["Properties"]
    assert job["DefaultArguments"]["--source_buckets"] == ",".join(BUCKETS)
    assert job["DefaultArguments"]["--source_databases"] == ",".join(DATABASES)
