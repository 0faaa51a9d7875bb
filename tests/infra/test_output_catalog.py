"""The outputs' catalog database in the template, and who may touch its tables: the
registering runs exactly CreateTable/DeleteTable/GetTable, DELETE's function DeleteTable,
each on that database's catalog, database and table ARNs, and nobody else any glue table
action."""

from __future__ import annotations

from typing import Any

import pytest

from etl_lib.jobs.catalog import REGISTER_ACTIONS, SWEEP_ACTIONS
from infra.pipeline.catalog import database_name
from tests.infra.conftest import Synth
from tests.infra.test_template import as_list, statements_of_role

pytestmark = pytest.mark.xdist_group("infra")

TABLE_ACTIONS = {"glue:CreateTable", "glue:DeleteTable", "glue:GetTable", "glue:UpdateTable", "glue:GetTables"}


def _table_statements(synth: Synth, role: Any) -> list[dict[str, Any]]:
    return [
        s
        for s in statements_of_role(synth, synth.logical_id(role))
        if TABLE_ACTIONS & set(as_list(s["Action"])) or s["Action"] == "glue:*"
    ]


def _arns(synth: Synth) -> list[str]:
    name = database_name(synth.stack.config.name_prefix)
    account, region = synth.stack.account, synth.stack.region
    return [
        f"arn:aws:glue:{region}:{account}:catalog",
        f"arn:aws:glue:{region}:{account}:database/{name}",
        f"arn:aws:glue:{region}:{account}:table/{name}/*",
    ]


def _resources(statement: dict[str, Any]) -> list[str]:
    """Statement resources with the partition resolved (the template writes AWS::Partition)."""
    resolved = []
    for resource in as_list(statement["Resource"]):
        if isinstance(resource, dict):
            parts = resource["Fn::Join"][1]
            resource = "".join("aws" if part == {"Ref": "AWS::Partition"} else part for part in parts)
        resolved.append(resource)
    return resolved


def test_the_stack_creates_the_outputs_database(synth: Synth) -> None:
    databases = list(synth.resources("AWS::Glue::Database").values())
    assert len(databases) == 1
    properties = databases[0]["Properties"]
    assert properties["DatabaseInput"]["Name"] == database_name(synth.stack.config.name_prefix)
    assert properties["CatalogId"] == synth.stack.account
    # Every function learns the database (the events Lambda passes it to each run).
    for function in synth.resources("AWS::Lambda::Function").values():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        if "JOBS_TABLE" in variables:
            assert variables["CATALOG_DATABASE"] == properties["DatabaseInput"]["Name"]


def test_the_registering_runs_get_exactly_create_delete_and_get_table_on_that_database(synth: Synth) -> None:
    """Runs register in their job-scoped sessions of the run role (whose session policy cuts
    the grant down to the job's own tables: tests/jobs/test_scoped_credentials.py)."""
    stack = synth.stack
    for role in (stack.run_role.role,):
        (statement,) = _table_statements(synth, role)
        assert sorted(as_list(statement["Action"])) == sorted(REGISTER_ACTIONS)
        assert statement["Effect"] == "Allow"
        assert _resources(statement) == _arns(synth)


def test_delete_gets_delete_table_only_and_no_other_role_any_table_action(synth: Synth) -> None:
    stack = synth.stack
    (statement,) = _table_statements(synth, stack.functions.status.role)
    assert as_list(statement["Action"]) == ["glue:DeleteTable"]
    assert _resources(statement) == _arns(synth)
    # The reconciler's sweep lists the database's tables and drops those of gone or expired
    # jobs (etl_lib.jobs.reconcile.sweep_tables): exactly GetTables and DeleteTable, there only.
    (statement,) = _table_statements(synth, stack.reconciler.function.role)
    assert sorted(as_list(statement["Action"])) == sorted(SWEEP_ACTIONS) == ["glue:DeleteTable", "glue:GetTables"]
    assert _resources(statement) == _arns(synth)
    granted = (stack.run_role.role, stack.functions.status.role, stack.reconciler.function.role)
    allowed = {synth.logical_id(role) for role in granted}
    for logical_id in synth.resources("AWS::IAM::Role"):
        if logical_id not in allowed:
            assert not [
                s for s in statements_of_role(synth, logical_id) if TABLE_ACTIONS & set(as_list(s["Action"]))
            ], logical_id
