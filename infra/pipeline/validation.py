"""Scheduled validation: a Glue 6.0 Spark job runs the validation notebook with papermill."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from etl_lib.jobs.models import VALIDATION_FOLDER
from etl_lib.platform import GLUE_VERSION
from infra.assets import NOTEBOOK_MODULES, NOTEBOOKS_PREFIX, VALIDATION_NOTEBOOK, VALIDATION_SCRIPT
from infra.pipeline.etl import SCRIPTS_PREFIX, GlueArtifacts, glue_role, spark_job_arguments
from infra.pipeline.storage import OUTPUT_PREFIX, UPLOAD_PREFIX

VALIDATION_PREFIX = "validation/"


def allow_validation_data(
    role: iam.IRole, *, input_bucket: s3.IBucket, output_bucket: s3.IBucket, table: dynamodb.ITableV2
) -> None:
    """What the validation notebook reads and writes, wherever it runs (the scheduled job, a
    data engineer's interactive session): job records, uploads and outputs, its own results."""
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=["dynamodb:Scan", "dynamodb:GetItem"], resources=[table.table_arn])
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=["s3:GetObject"], resources=[input_bucket.arn_for_objects(f"{UPLOAD_PREFIX}*")])
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=["s3:GetObject"], resources=[output_bucket.arn_for_objects(f"{OUTPUT_PREFIX}*")])
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=["s3:ListBucket"], resources=[input_bucket.bucket_arn, output_bucket.bucket_arn])
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["s3:PutObject"], resources=[output_bucket.arn_for_objects(f"{VALIDATION_PREFIX}*")]
        )
    )


class ScheduledValidation(Construct):
    """A Glue trigger (cron) starts ``validate_notebook.py``: ``03-validate-output.ipynb`` over
    at most ``max_jobs`` SUCCEEDED jobs not validated yet, oldest first (papermill, etl-local
    kernel on the driver; each job is marked validated in the job table), stuck jobs named;
    each job's executed notebook and summary go to ``s3://<output>/outputs/<job>/validation/<run>/``
    (deleted with the job), the run's summary to ``s3://<output>/validation/<run>/``,
    ``ValidationChecked``/``ValidationFailures``/``ValidationSkipped`` to CloudWatch (the
    monitoring alarm watches failures) and the run fails on any failure.

    Spark (the smallest G.1X job) rather than Python shell: Python shell's newest runtime is
    3.9, and the notebook needs the project's Python 3.13 etl_lib, papermill and ipykernel.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        artifacts: GlueArtifacts,
        input_bucket: s3.IBucket,
        output_bucket: s3.IBucket,
        table: dynamodb.ITableV2,
        key: kms.IKey,
        security_configuration: str,
        schedule: str,
        max_jobs: int,
        stuck_after_hours: int = 3,
        metrics_namespace: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = glue_role(self, "Role", key=key, artifacts=artifacts.bucket, metrics_namespace=metrics_namespace)
        allow_validation_data(self.role, input_bucket=input_bucket, output_bucket=output_bucket, table=table)
        # The scheduled run marks each job it validated (JobStore.mark_validated) and keeps a
        # job's notebook and summary in that job's output folder, so they go with the job.
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["dynamodb:UpdateItem"], resources=[table.table_arn])
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"],
                resources=[output_bucket.arn_for_objects(f"{OUTPUT_PREFIX}*/{VALIDATION_FOLDER}*")],
            )
        )
        self.job_name = f"{name_prefix}-validate-results"
        self.job = glue.CfnJob(
            self,
            "Job",
            name=self.job_name,
            description="Runs notebooks/03-validate-output.ipynb over recent jobs; results in S3 and CloudWatch.",
            role=self.role.role_arn,
            glue_version=GLUE_VERSION,
            command=glue.CfnJob.JobCommandProperty(
                name="glueetl",
                python_version="3",
                script_location=artifacts.url(SCRIPTS_PREFIX + VALIDATION_SCRIPT.name),
            ),
            worker_type="G.1X",
            number_of_workers=2,  # Glue's minimum; the notebook runs on the driver
            timeout=60,
            max_retries=0,
            security_configuration=security_configuration,
            default_arguments={
                **spark_job_arguments(artifacts),
                **artifacts.python_modules(*NOTEBOOK_MODULES),
                # Copied into the script's working directory, where the script looks for it.
                "--extra-files": artifacts.url(NOTEBOOKS_PREFIX + VALIDATION_NOTEBOOK.name),
                "--JOBS_TABLE": table.table_name,
                "--INPUT_BUCKET": input_bucket.bucket_name,
                "--OUTPUT_BUCKET": output_bucket.bucket_name,
                "--METRICS_NAMESPACE": metrics_namespace,
                "--REPORTS_PREFIX": VALIDATION_PREFIX,
                "--MAX_JOBS": str(max_jobs),
                "--STUCK_AFTER_HOURS": str(stuck_after_hours),
                "--job-bookmark-option": "job-bookmark-disable",
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
