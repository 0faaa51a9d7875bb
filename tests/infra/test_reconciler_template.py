"""The reconciler in the synthesized template: its schedule, its least-privilege role, its
environment, and the dashboard graphing what it does."""

from __future__ import annotations

import json

import pytest

from etl_lib.jobs.aws import ACTIVE_INDEX
from etl_lib.jobs.metrics import JOBS_RECONCILED_FAILED, JOBS_RELAUNCHED, RECONCILER_SERVICE
from tests.infra.conftest import Synth
from tests.infra.test_template import as_list, function_id, statements_of_role

pytestmark = pytest.mark.xdist_group("infra")


def reconciler_id(synth: Synth) -> str:
    return synth.logical_id(synth.stack.reconciler.function)


def test_a_rule_runs_the_reconciler_every_five_minutes_without_retries(synth: Synth) -> None:
    (rule,) = [
        r
        for r in synth.resources("AWS::Events::Rule").values()
        if any(t["Arn"] == {"Fn::GetAtt": [reconciler_id(synth), "Arn"]} for t in r["Properties"].get("Targets", []))
    ]
    assert rule["Properties"]["ScheduleExpression"] == "rate(5 minutes)"
    assert rule["Properties"]["State"] == "ENABLED"
    (target,) = rule["Properties"]["Targets"]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 0


def test_the_reconciler_function_runs_its_handler_as_its_own_service(synth: Synth) -> None:
    function = synth.raw["Resources"][reconciler_id(synth)]["Properties"]
    assert function["Handler"] == "lambdas.reconciler.handler.handler"
    assert function["Runtime"] == "python3.13"
    assert function["TracingConfig"] == {"Mode": "Active"}
    variables = function["Environment"]["Variables"]
    assert variables["POWERTOOLS_SERVICE_NAME"] == RECONCILER_SERVICE
    # It relaunches local-engine jobs on the converter, as the events Lambda starts them.
    assert variables["CONVERTER_FUNCTION_NAME"] == {"Ref": function_id(synth, "converter")}


def test_the_reconciler_role_grants_exactly_one_passs_calls(synth: Synth) -> None:
    role = synth.logical_id(synth.stack.reconciler.function.role)
    granted = {
        (action, json.dumps(resource, sort_keys=True))
        for statement in statements_of_role(synth, role)
        for action in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    }
    table = synth.logical_id(synth.stack.jobs.table)
    output_bucket = synth.logical_id(synth.stack.storage.output_bucket)
    by_action: dict[str, list[str]] = {}
    for action, resource in granted:
        by_action.setdefault(action, []).append(resource)
    assert set(by_action) == {
        "dynamodb:Query",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "glue:StartJobRun",
        "glue:GetJobRun",
        "lambda:InvokeFunction",
        "s3:ListBucket",
        "s3:DeleteObject",
        # A dead attempt's table, and the sweep of gone or expired jobs' tables, on the
        # outputs' database only (tests/infra/test_output_catalog.py).
        "glue:GetTables",
        "glue:DeleteTable",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    for action in ("dynamodb:GetItem", "dynamodb:UpdateItem"):
        assert by_action[action] == [json.dumps({"Fn::GetAtt": [table, "Arn"]})], action
    # The active jobs through their sparse index: no scan of every job kept.
    (query,) = by_action["dynamodb:Query"]
    assert table in query
    assert f"/index/{ACTIVE_INDEX}" in query
    glue_job = "arn:aws:glue:eu-west-1:111111111111:job/parquet-json-etl-dev-parquet-to-json"
    for action in ("glue:StartJobRun", "glue:GetJobRun"):
        assert by_action[action] == [json.dumps(glue_job)], action
    (invoke,) = by_action["lambda:InvokeFunction"]
    assert function_id(synth, "converter") in invoke
    assert "*" not in invoke
    assert by_action["s3:ListBucket"] == [json.dumps({"Fn::GetAtt": [output_bucket, "Arn"]})]
    (delete,) = by_action["s3:DeleteObject"]
    assert output_bucket in delete
    assert "/outputs/*" in delete
    # Nothing reads or writes an input or an output object.
    assert not {a for a in by_action if a in {"s3:GetObject", "s3:PutObject"}}


def test_the_dashboard_graphs_the_reconciled_jobs(synth: Synth) -> None:
    (dashboard,) = synth.resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert "Stuck jobs reconciled" in body
    for metric in (JOBS_RELAUNCHED, JOBS_RECONCILED_FAILED):
        assert f'\\"{metric}\\",\\"service\\",\\"{RECONCILER_SERVICE}\\"' in body, metric
