"""The Glue Data Catalog database where SUCCEEDED JSON Lines outputs are registered as tables.

Each table is one job attempt's output folder read by the OpenX JSON SerDe, so Athena can query
a result (etl_lib.jobs.catalog, docs/catalog.md). The functions that register (the converter
Lambda, the Glue conversion job) get exactly CreateTable, DeleteTable and GetTable on this
database's tables; the one that only drops them (the status Lambda's DELETE) DeleteTable; the
reconciler, which lists them to drop those of gone or expired jobs, GetTables and DeleteTable.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from constructs import Construct

from etl_lib.jobs.catalog import DROP_ACTIONS, REGISTER_ACTIONS, SWEEP_ACTIONS


def database_name(name_prefix: str) -> str:
    """The outputs database of a deployment: Glue (and Athena) names are lowercase, no hyphens."""
    return f"{name_prefix}_outputs".lower().replace("-", "_")


class OutputCatalogDatabase(Construct):
    """One Glue database for the outputs' tables, and the grants on it."""

    def __init__(self, scope: Construct, construct_id: str, *, name_prefix: str) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.database_name = database_name(name_prefix)
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=stack.account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name,
                description="One table per SUCCEEDED JSON Lines job (its output folder, OpenX JSON SerDe).",
            ),
        )
        # A table action is authorised on the catalog, the database and the table together.
        self.resource_arns = [
            stack.format_arn(service="glue", resource="catalog"),
            stack.format_arn(service="glue", resource="database", resource_name=self.database_name),
            stack.format_arn(service="glue", resource="table", resource_name=f"{self.database_name}/*"),
        ]

    def grant_register(self, principal: iam.IGrantable) -> None:
        """Register and drop the outputs' tables (a conversion run)."""
        self._grant(principal, REGISTER_ACTIONS)

    def grant_drop(self, principal: iam.IGrantable) -> None:
        """Drop the outputs' tables (deleting a job)."""
        self._grant(principal, DROP_ACTIONS)

    def grant_sweep(self, principal: iam.IGrantable) -> None:
        """List the outputs' tables and drop them (the reconciler's sweep of expired jobs')."""
        self._grant(principal, SWEEP_ACTIONS)

    def _grant(self, principal: iam.IGrantable, actions: tuple[str, ...]) -> None:
        iam.Grant.add_to_principal(grantee=principal, actions=list(actions), resource_arns=self.resource_arns)
