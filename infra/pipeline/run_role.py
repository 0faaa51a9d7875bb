"""The run role: what a conversion run may reach, through credentials scoped to its job.

The converter Lambda and the Glue job parse untrusted files. Their own roles hold no data
permission: they may only assume this role (and write their logs and traces). Each run
assumes it with a session policy naming its job (etl_lib.jobs.aws.job_session_policy), so
the session reaches that job's upload, its outputs folder and its record only: a session's
permissions are the intersection of this role's and the session policy's.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from etl_lib.jobs import env
from etl_lib.jobs.aws import RUN_SESSION_SECONDS
from infra.pipeline.storage import OUTPUT_PREFIX, UPLOAD_PREFIX

# The Glue job's run argument naming the role (glue_jobs/parquet_to_json.py OPTIONAL_ARGUMENTS).
RUN_ROLE_ARGUMENT = "--run_role_arn"


class JobRunRole(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        input_bucket: s3.IBucket,
        output_bucket: s3.IBucket,
        table: dynamodb.ITableV2,
        converter: lambda_.Function,
        glue_role: iam.IRole,
        glue_job: glue.CfnJob,
    ) -> None:
        super().__init__(scope, construct_id)
        assert converter.role is not None
        runners = [converter.role, glue_role]
        self.role = iam.Role(
            self,
            "Role",
            description="Assumed by each conversion run with a session policy scoped to its job",
            assumed_by=iam.CompositePrincipal(*(iam.ArnPrincipal(runner.role_arn) for runner in runners)),
            max_session_duration=Duration.seconds(RUN_SESSION_SECONDS),
        )
        # Every job's objects and records: each session is cut down to one job.
        for actions, resources in (
            (["s3:GetObject"], [input_bucket.arn_for_objects(f"{UPLOAD_PREFIX}*")]),
            (
                ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                [output_bucket.arn_for_objects(f"{OUTPUT_PREFIX}*")],
            ),
            (["s3:ListBucket"], [input_bucket.bucket_arn, output_bucket.bucket_arn]),
            (["dynamodb:GetItem", "dynamodb:UpdateItem"], [table.table_arn]),
        ):
            self.role.add_to_policy(iam.PolicyStatement(actions=actions, resources=resources))
        for runner in runners:
            runner.add_to_principal_policy(
                iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[self.role.role_arn])
            )
        converter.add_environment(env.RUN_ROLE_ARN, self.role.role_arn)
        glue_job.add_property_override(f"DefaultArguments.{RUN_ROLE_ARGUMENT}", self.role.role_arn)
