"""Scheduled validation: a Glue trigger runs a Python shell job over recent results."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.assets import VALIDATION_SCRIPT
from infra.pipeline.etl import SCRIPTS_PREFIX, GlueArtifacts, glue_role

VALIDATION_PREFIX = "validation/"


class ScheduledValidation(Construct):
    """A Glue trigger (cron) starts ``validate_recent_results.py``, which writes its outcome to
    ``s3://<output>/validation/`` and the ``ValidationFailures`` metric.

    A Python shell job rather than Spark: it reads job records and object listings only, and
    1/16 DPU costs a fraction of the smallest Spark job.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        artifacts: GlueArtifacts,
        output_bucket: s3.IBucket,
        table: dynamodb.ITableV2,
        key: kms.IKey,
        security_configuration: str,
        schedule: str,
        lookback_hours: int,
        metrics_namespace: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = glue_role(self, "Role", key=key, artifacts=artifacts.bucket, metrics_namespace=metrics_namespace)
        self.role.add_to_policy(iam.PolicyStatement(actions=["dynamodb:Scan"], resources=[table.table_arn]))
        self.role.add_to_policy(iam.PolicyStatement(actions=["s3:ListBucket"], resources=[output_bucket.bucket_arn]))
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"], resources=[output_bucket.arn_for_objects(VALIDATION_PREFIX + "*")]
            )
        )
        self.job_name = f"{name_prefix}-validate-results"
        self.job = glue.CfnJob(
            self,
            "Job",
            name=self.job_name,
            description="Validates recent job results; records the outcome in S3 and CloudWatch.",
            role=self.role.role_arn,
            glue_version="3.0",  # Python shell's newest runtime (Python 3.9)
            command=glue.CfnJob.JobCommandProperty(
                name="pythonshell",
                python_version="3.9",
                script_location=artifacts.url(SCRIPTS_PREFIX + VALIDATION_SCRIPT.name),
            ),
            max_capacity=0.0625,
            timeout=30,
            max_retries=0,
            security_configuration=security_configuration,
            default_arguments={
                "--OUTPUT_BUCKET": output_bucket.bucket_name,
                "--JOBS_TABLE": table.table_name,
                "--METRICS_NAMESPACE": metrics_namespace,
                "--LOOKBACK_HOURS": str(lookback_hours),
                "--job-language": "python",
            },
        )
        self.job.node.add_dependency(artifacts.deployment)
        self.job.node.add_dependency(self.role.node.find_child("DefaultPolicy"))
        self.trigger = glue.CfnTrigger(
            self,
            "Schedule",
            name=f"{name_prefix}-validate-results-schedule",
            type="SCHEDULED",
            schedule=schedule,
            start_on_creation=True,
            actions=[glue.CfnTrigger.ActionProperty(job_name=self.job_name)],
        )
        self.trigger.node.add_dependency(self.job)
        self.job_arn = Stack.of(self).format_arn(service="glue", resource="job", resource_name=self.job_name)
