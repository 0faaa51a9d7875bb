"""Per-job credentials in the synthesized template: the converter's and the Glue job's own
roles hold no data permission and may assume the run role, which only they may assume;
each is told the role (the converter's RUN_ROLE_ARN, the Glue job's --run_role_arn)."""

from __future__ import annotations

import json

import pytest

from etl_lib.jobs.aws import RUN_SESSION_SECONDS
from infra.pipeline.run_role import RUN_ROLE_ARGUMENT
from tests.infra.conftest import Synth
from tests.infra.test_template import as_list, function_id, statements_of_role

pytestmark = pytest.mark.xdist_group("infra")


def run_role_id(synth: Synth) -> str:
    return synth.logical_id(synth.stack.run_role.role)


def granted(synth: Synth, role: str) -> dict[str, list[str]]:
    by_action: dict[str, list[str]] = {}
    for statement in statements_of_role(synth, role):
        for action in as_list(statement["Action"]):
            by_action.setdefault(action, []).extend(
                json.dumps(r, sort_keys=True) for r in as_list(statement["Resource"])
            )
    return by_action


def test_only_the_converter_and_the_glue_job_may_assume_the_run_role_for_an_hour(synth: Synth) -> None:
    role = synth.raw["Resources"][run_role_id(synth)]["Properties"]
    assert role["MaxSessionDuration"] == RUN_SESSION_SECONDS
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Action"] == "sts:AssumeRole"
    principals = {json.dumps(p, sort_keys=True) for p in as_list(trust["Principal"]["AWS"])}
    converter_role = synth.logical_id(synth.stack.functions.converter.role)
    glue_role = synth.logical_id(synth.stack.etl.role)
    assert principals == {
        json.dumps({"Fn::GetAtt": [converter_role, "Arn"]}),
        json.dumps({"Fn::GetAtt": [glue_role, "Arn"]}),
    }


def test_the_runners_own_roles_hold_no_data_permission_and_may_assume_only_the_run_role(synth: Synth) -> None:
    for role in (synth.stack.functions.converter.role, synth.stack.etl.role):
        actions = granted(synth, synth.logical_id(role))
        assert not [a for a in actions if a.startswith("dynamodb:")], actions
        # The Glue role still reads its scripts and wheel and writes Spark's scratch and UI
        # logs, all in the artifacts bucket: nothing of the jobs' buckets.
        artifacts = synth.logical_id(synth.stack.artifacts.bucket)
        for action, resources in actions.items():
            if action.startswith("s3:"):
                assert all(artifacts in r for r in resources), (action, resources)
        assert actions["sts:AssumeRole"] == [json.dumps({"Fn::GetAtt": [run_role_id(synth), "Arn"]})]


def test_the_run_role_reaches_the_jobs_objects_and_records_and_nothing_else(synth: Synth) -> None:
    actions = granted(synth, run_role_id(synth))
    table = synth.logical_id(synth.stack.jobs.table)
    input_bucket = synth.logical_id(synth.stack.storage.input_bucket)
    output_bucket = synth.logical_id(synth.stack.storage.output_bucket)
    assert set(actions) == {
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
        "s3:ListBucket",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        # Its runs' output tables (tests/infra/test_output_catalog.py), cut to the job's own by
        # each session policy (tests/jobs/test_scoped_credentials.py).
        "glue:CreateTable",
        "glue:GetTable",
        "glue:DeleteTable",
    }
    assert len(actions["s3:GetObject"]) == 2
    assert any(input_bucket in r and "/inputs/*" in r for r in actions["s3:GetObject"])
    for action in ("s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"):
        (resource,) = actions[action]
        assert output_bucket in resource
        assert "/outputs/*" in resource
    for action in ("dynamodb:GetItem", "dynamodb:UpdateItem"):
        assert actions[action] == [json.dumps({"Fn::GetAtt": [table, "Arn"]})]


def test_the_converter_and_the_glue_job_are_told_the_run_role(synth: Synth) -> None:
    arn = {"Fn::GetAtt": [run_role_id(synth), "Arn"]}
    converter = synth.raw["Resources"][function_id(synth, "converter")]["Properties"]
    assert converter["Environment"]["Variables"]["RUN_ROLE_ARN"] == arn
    job = synth.raw["Resources"][synth.logical_id(synth.stack.etl.job)]["Properties"]
    assert job["DefaultArguments"][RUN_ROLE_ARGUMENT] == arn
