"""The Glue 6.0 conversion job and the EventBridge rules that drive the job lifecycle."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Size, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from etl_lib.platform import GLUE_VERSION
from infra.assets import (
    GLUE_SCRIPT,
    PYTHON_MODULES_INSTALLER_OPTION,
    WheelhouseError,
    runtime_closure,
    wheel_identity,
    wheel_name,
    wheel_requirements,
)
from infra.pipeline.network import Network
from infra.pipeline.storage import UPLOAD_PREFIX

SCRIPTS_PREFIX = "glue/scripts/"
WHEELS_PREFIX = "glue/wheels/"
TEMP_PREFIX = "glue/temp/"
# Spark event logs of every run (--spark-event-logs-path), read by the Glue console's Spark UI.
SPARK_UI_PREFIX = "glue/spark-ui/"
SPARK_UI_RETENTION_DAYS = 30


class GlueArtifacts(Construct):
    """A private bucket holding the Glue scripts, the etl_lib wheel and the wheels of its
    runtime closure (infra.assets.stage_glue_artifacts) under their real names.

    A plain S3 asset would be stored as ``<hash>.whl``, which pip refuses as a wheel name, so the
    staged directory is copied with a BucketDeployment that keeps the file names.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        staged_dir: Path,
        access_logs: s3.IBucket,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        # The staged closure's wheel files by package name: what python_modules lists.
        self.wheel_files = {
            wheel_identity(path.name)[0]: path.name
            for path in sorted((staged_dir / "wheels").glob("*.whl"))
            if path.name != wheel_name()
        }
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="artifacts/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="glue-temp",
                    prefix=TEMP_PREFIX,
                    expiration=Duration.days(7),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
                s3.LifecycleRule(
                    id="spark-ui-event-logs",
                    prefix=SPARK_UI_PREFIX,
                    expiration=Duration.days(SPARK_UI_RETENTION_DAYS),
                ),
                s3.LifecycleRule(id="old-versions", noncurrent_version_expiration=Duration.days(30)),
            ],
            removal_policy=removal_policy,
        )
        self.deployment = s3deploy.BucketDeployment(
            self,
            "Upload",
            sources=[s3deploy.Source.asset(str(staged_dir))],
            destination_bucket=self.bucket,
            destination_key_prefix="glue/",
            # Keep glue/temp/ (Spark scratch) when a new version is deployed.
            prune=False,
            # The asset holds the closure's wheels (about 100 MB, pyarrow's the largest):
            # the deployment function unzips it in its /tmp and copies it with the AWS CLI.
            memory_limit=1024,
            ephemeral_storage_size=Size.mebibytes(2048),
        )

    def url(self, key: str) -> str:
        return self.bucket.s3_url_for_object(key)

    def wheel_url(self) -> str:
        """The etl_lib wheel the Glue job runs (and Glue interactive sessions install)."""
        return self.url(WHEELS_PREFIX + wheel_name())

    def module_urls(self, *extra: str) -> list[str]:
        """The s3:// URLs of the wheel and of the staged wheel of every package it and
        ``extra`` need on Glue, each at its constraints.txt pin (the staging checked that the
        wheelhouse holds them all)."""
        pins = runtime_closure(*wheel_requirements(), *extra)
        unstaged = sorted(set(pins) - set(self.wheel_files))
        if unstaged:  # a root outside infra.assets.wheelhouse_pins, which decides what is staged
            names = ", ".join(unstaged)
            raise WheelhouseError(f"no staged wheel for {names}: add its root to infra.assets.wheelhouse_pins")
        return [self.wheel_url(), *(self.url(WHEELS_PREFIX + self.wheel_files[name]) for name in pins)]

    def python_modules(self, *extra: str) -> dict[str, str]:
        """A Glue job's arguments installing :meth:`module_urls` from the artifacts bucket with
        no index and no dependency resolution: every run installs the same files, and no run
        reaches PyPI (a VPC-mode job could not)."""
        return {
            "--additional-python-modules": ",".join(self.module_urls(*extra)),
            "--python-modules-installer-option": PYTHON_MODULES_INSTALLER_OPTION,
        }


def spark_job_arguments(artifacts: GlueArtifacts) -> dict[str, str]:
    """Glue 6.0 arguments every Spark job of the stack gets (docs/deploy.md says what each does).

    No continuous-logging flags: those are for Glue 4.0 and older; 5.0+ logs in real time.
    """
    return {
        "--job-language": "python",
        "--TempDir": artifacts.url(TEMP_PREFIX),
        "--enable-metrics": "true",
        "--enable-observability-metrics": "true",
        "--enable-job-insights": "true",
        "--enable-spark-ui": "true",
        "--spark-event-logs-path": artifacts.url(SPARK_UI_PREFIX),
    }


class EtlJob(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        job_name: str,
        artifacts: GlueArtifacts,
        input_bucket: s3.IBucket,
        output_bucket: s3.IBucket,
        table: dynamodb.ITableV2,
        events_function: lambda_.IFunction,
        converter_function: lambda_.IFunction | None = None,
        key: kms.IKey,
        worker_type: str,
        number_of_workers: int,
        timeout_minutes: int,
        max_retries: int,
        max_concurrent_runs: int,
        run_queuing: bool,
        metrics_namespace: str,
        network: Network | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.job_name = job_name

        self.security_configuration = glue.CfnSecurityConfiguration(
            self,
            "SecurityConfiguration",
            name=f"{job_name}-security",
            encryption_configuration=glue.CfnSecurityConfiguration.EncryptionConfigurationProperty(
                cloud_watch_encryption=glue.CfnSecurityConfiguration.CloudWatchEncryptionProperty(
                    cloud_watch_encryption_mode="SSE-KMS", kms_key_arn=key.key_arn
                ),
                job_bookmarks_encryption=glue.CfnSecurityConfiguration.JobBookmarksEncryptionProperty(
                    job_bookmarks_encryption_mode="CSE-KMS", kms_key_arn=key.key_arn
                ),
                s3_encryptions=[glue.CfnSecurityConfiguration.S3EncryptionProperty(s3_encryption_mode="SSE-S3")],
            ),
        )

        self.role = glue_role(
            self,
            "Role",
            key=key,
            artifacts=artifacts.bucket,
            metrics_namespace=metrics_namespace,
        )
        # No data permission: each run assumes the run role scoped to its job
        # (infra/pipeline/run_role.py, which passes --run_role_arn).

        self.job = glue.CfnJob(
            self,
            "Job",
            name=job_name,
            description="Converts one uploaded Parquet file to JSON (glue_jobs/parquet_to_json.py + etl_lib).",
            role=self.role.role_arn,
            glue_version=GLUE_VERSION,
            command=glue.CfnJob.JobCommandProperty(
                name="glueetl",
                python_version="3",
                script_location=artifacts.url(SCRIPTS_PREFIX + GLUE_SCRIPT.name),
            ),
            # The smallest worker type, and the most workers any run may have: each run is
            # started with the type and count its input needs (etl_lib.jobs.sizing), and Glue
            # Auto Scaling releases the workers it does not use.
            worker_type=worker_type,
            number_of_workers=number_of_workers,
            timeout=timeout_minutes,
            max_retries=max_retries,
            execution_property=glue.CfnJob.ExecutionPropertyProperty(max_concurrent_runs=max_concurrent_runs),
            # Beyond max_concurrent_runs a run waits (WAITING) for a slot instead of failing.
            job_run_queuing_enabled=run_queuing,
            security_configuration=self.security_configuration.name,
            # With etl:vpc=true the workers run in the isolated VPC (infra/pipeline/network.py).
            connections=(
                glue.CfnJob.ConnectionsListProperty(connections=[network.glue_connection_name]) if network else None
            ),
            default_arguments={
                **spark_job_arguments(artifacts),
                "--enable-auto-scaling": "true",
                **artifacts.python_modules(),
                # The stores (glue_jobs/parquet_to_json.py); the events Lambda passes the same
                # values and --job_id with each run (etl_lib.jobs.settings.run_arguments).
                "--jobs_store": f"dynamodb:{table.table_name}",
                "--input_store": f"s3://{input_bucket.bucket_name}",
                "--output_store": f"s3://{output_bucket.bucket_name}",
                # Where the run publishes JobsSucceeded/JobsFailed/JobDurationMs (the role's
                # PutMetricData is limited to this namespace and Glue's).
                "--metrics_namespace": metrics_namespace,
                # Each run converts exactly the file it is given: bookmarks would skip re-runs.
                "--job-bookmark-option": "job-bookmark-disable",
                # The conversion's own deadline: five minutes inside the job's timeout, so an
                # over-long run ends FAILED TIMED_OUT with its staging removed, not killed.
                "--max_run_seconds": str(max(timeout_minutes * 60 - 300, 60)),
            },
        )
        self.job.node.add_dependency(artifacts.deployment)
        if network is not None:
            network.allow_glue(self.role)
            self.job.node.add_dependency(network.glue_connection)
        # Runs must not start before the role's policy exists (the Role itself is already a GetAtt).
        self.job.node.add_dependency(self.role.node.find_child("DefaultPolicy"))
        self.job_arn = stack.format_arn(service="glue", resource="job", resource_name=job_name)

        # Lifecycle events → the events Lambda. Failed deliveries are retried, then kept in a DLQ.
        self.events_dlq = sqs.Queue(
            self,
            "EventsDlq",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        target = targets.LambdaFunction(
            events_function,
            dead_letter_queue=self.events_dlq,
            retry_attempts=8,
            max_event_age=Duration.hours(2),
        )
        self.object_created_rule = events.Rule(
            self,
            "ObjectCreated",
            description="Uploads to the input bucket start a job run",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [input_bucket.bucket_name]},
                    "object": {"key": [{"prefix": UPLOAD_PREFIX}]},
                },
            ),
            targets=[target],
        )
        self.job_state_rule = events.Rule(
            self,
            "JobStateChange",
            description="Glue run outcomes (incl. crash, timeout, stop) settle the job record",
            event_pattern=events.EventPattern(
                source=["aws.glue"],
                detail_type=["Glue Job State Change"],
                detail={"jobName": [job_name]},
            ),
            targets=[target],
        )
        self.converter_failure_rule: events.Rule | None = None
        if converter_function is not None:
            # The converter's on-failure destination (ServiceFunctions): a small-file run that
            # crashed or timed out on every attempt fails its job instead of leaving it RUNNING.
            self.converter_failure_rule = events.Rule(
                self,
                "ConverterFailure",
                description="Converter Lambda runs that failed every attempt fail their job",
                event_pattern=events.EventPattern(
                    source=["lambda"],
                    detail_type=["Lambda Function Invocation Result - Failure"],
                    # The record names the function with its qualifier (":$LATEST").
                    resources=events.Match.prefix(converter_function.function_arn),
                ),
                targets=[target],
            )


def glue_log_groups_arn(stack: Stack) -> str:
    """Glue writes every job's logs under /aws-glue/ (error, output, continuous log groups)."""
    return stack.format_arn(
        service="logs", resource="log-group", resource_name="/aws-glue/*", arn_format=ArnFormat.COLON_RESOURCE_NAME
    )


def glue_role(
    scope: Construct, construct_id: str, *, key: kms.IKey, artifacts: s3.IBucket, metrics_namespace: str
) -> iam.Role:
    """A Glue job role with what every run needs: its scripts, its (encrypted) logs, metrics.

    Written out instead of the AWSGlueServiceRole managed policy, which grants far more.
    """
    stack = Stack.of(scope)
    role = iam.Role(scope, construct_id, assumed_by=iam.ServicePrincipal("glue.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[artifacts.arn_for_objects("glue/*")]))
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["s3:PutObject", "s3:DeleteObject"],
            resources=[artifacts.arn_for_objects(TEMP_PREFIX + "*"), artifacts.arn_for_objects(SPARK_UI_PREFIX + "*")],
        )
    )
    role.add_to_policy(iam.PolicyStatement(actions=["s3:ListBucket"], resources=[artifacts.bucket_arn]))
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"],
            resources=[glue_log_groups_arn(stack)],
        )
    )
    # PutMetricData has no resource-level permissions; the condition narrows it to Glue's and ours.
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": ["Glue", metrics_namespace]}},
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo"],
            resources=[key.key_arn],
        )
    )
    return role
