"""Data engineers' sources: what lets them convert a dataset or catalog table in place.

The Cognito group whose members may (``POST /jobs/source``), the allow-list handed to the API
(the upload function's settings), and the Glue job role's reads of exactly those buckets and
catalog databases, in a policy of its own: nothing is granted when the lists are empty.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from etl_lib.jobs import env
from etl_lib.jobs.models import ENGINEERS_GROUP


def catalog_arns(stack: Stack, databases: Sequence[str]) -> list[str]:
    """What ``GetTable`` and ``GetPartitions`` on the tables of ``databases`` need: the catalog,
    each database, and its tables."""
    prefix = f"arn:{stack.partition}:glue:{stack.region}:{stack.account}"
    arns = [f"{prefix}:catalog"]
    for database in databases:
        arns += [f"{prefix}:database/{database}", f"{prefix}:table/{database}/*"]
    return arns


class EngineerSources(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        user_pool: cognito.IUserPool,
        glue_role: iam.IRole,
        glue_job: glue.CfnJob | None = None,
        upload_function: lambda_.Function,
        buckets: Sequence[str],
        databases: Sequence[str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.group = cognito.CfnUserPoolGroup(
            self,
            "Engineers",
            user_pool_id=user_pool.user_pool_id,
            group_name=ENGINEERS_GROUP,
            description="Data engineers: may convert a dataset or catalog table of the allow-list in place.",
        )
        upload_function.add_environment(env.SOURCE_BUCKETS, ",".join(buckets))
        upload_function.add_environment(env.SOURCE_DATABASES, ",".join(databases))
        # Each run's job-scoped session (etl_lib.jobs.aws.job_session_policy) may read them too.
        if glue_job is not None:
            glue_job.add_property_override("DefaultArguments.--source_buckets", ",".join(buckets))
            glue_job.add_property_override("DefaultArguments.--source_databases", ",".join(databases))
        statements: list[iam.PolicyStatement] = []
        if buckets:
            s3_arn = f"arn:{Stack.of(self).partition}:s3:::"
            statements += [
                iam.PolicyStatement(actions=["s3:ListBucket"], resources=[f"{s3_arn}{b}" for b in buckets]),
                iam.PolicyStatement(actions=["s3:GetObject"], resources=[f"{s3_arn}{b}/*" for b in buckets]),
            ]
        if databases:
            statements.append(
                iam.PolicyStatement(
                    actions=["glue:GetTable", "glue:GetPartitions"],
                    resources=catalog_arns(Stack.of(self), databases),
                )
            )
        # A policy of its own, so the grants are exactly these (and absent without sources).
        self.policy = iam.Policy(self, "GlueReads", roles=[glue_role], statements=statements) if statements else None
