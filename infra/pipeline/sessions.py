"""The role of Glue interactive sessions: notebooks on AWS with the job's data access."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.assets import PYTHON_MODULES_INSTALLER_OPTION
from infra.pipeline.etl import GlueArtifacts, glue_role
from infra.pipeline.validation import allow_validation_data


class GlueSessionRole(Construct):
    """What a data engineer's Glue 6.0 session runs as (``%iam_role``, written by
    ``etl session-config``): the Glue run essentials (the wheel, Spark scratch and UI logs,
    logs, metrics, the key), read access to uploads and results, the job table read-only,
    writes under ``validation/`` only (notebook reports), and ``iam:PassRole`` on itself
    alone, which a session needs to start further sessions and jobs as itself (Glue Studio
    notebooks), and nothing else.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        artifacts: GlueArtifacts,
        input_bucket: s3.IBucket,
        output_bucket: s3.IBucket,
        table: dynamodb.ITableV2,
        key: kms.IKey,
        metrics_namespace: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = glue_role(self, "Role", key=key, artifacts=artifacts.bucket, metrics_namespace=metrics_namespace)
        allow_validation_data(self.role, input_bucket=input_bucket, output_bucket=output_bucket, table=table)
        # A session passes its own role to Glue (CreateSession), and to nothing else.
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "glue.amazonaws.com"}},
            )
        )
        self.wheel_url = artifacts.wheel_url()
        # What a session installs (``%additional_python_modules``, and its pip options through
        # ``%%configure``): the conversion job's own wheels from the artifacts bucket, with no
        # index, so a notebook runs the very packages the job runs and reaches no PyPI.
        self.python_modules = ",".join(artifacts.module_urls())
        self.installer_option = PYTHON_MODULES_INSTALLER_OPTION
