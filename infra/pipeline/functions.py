"""The five Python Lambdas: upload, status, download (API), events and converter (asynchronous),
and the shared asset others are added on (:meth:`ServiceFunctions.add_function`).

Every function gets only the actions and resources its handler uses: the grants
are written out statement by statement instead of the broad ``grant_read_write`` helpers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from etl_lib.jobs import env
from etl_lib.jobs.metrics import service_name
from etl_lib.jobs.sizing import GlueSizing, Prices
from etl_lib.platform import PYTHON_VERSION
from infra.pipeline.jobs_table import OWNER_INDEX
from infra.pipeline.network import Network
from infra.pipeline.storage import OUTPUT_PREFIX, UPLOAD_PREFIX

RUNTIME = lambda_.Runtime(f"python{PYTHON_VERSION}", lambda_.RuntimeFamily.PYTHON)


@dataclass(frozen=True, kw_only=True)
class FunctionSizing:
    memory_mb: int
    timeout_seconds: int
    reserved_concurrency: int = 0  # 0: draws on the account's unreserved pool


def handler_path(name: str) -> str:
    """Handler string for lambdas/<name>/handler.py's ``handler`` inside the shared asset."""
    return f"lambdas.{name}.handler.handler"


class ServiceFunctions(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code_dir: Path,
        input_bucket: s3.IBucket,
        output_bucket: s3.IBucket,
        table: dynamodb.ITableV2,
        idempotency_table: dynamodb.ITableV2,
        glue_job_name: str,
        catalog_database: str,
        powertools_layer_arn: str,
        api_sizing: FunctionSizing,
        converter_sizing: FunctionSizing,
        log_retention: logs.RetentionDays,
        max_upload_bytes: int,
        multipart_threshold_bytes: int,
        min_part_bytes: int,
        small_file_threshold_bytes: int,
        job_retention_days: int,
        max_active_jobs_per_user: int,
        max_spark_jobs_per_user: int,
        metrics_namespace: str,
        allowed_origins: list[str],
        removal_policy: RemovalPolicy,
        glue_sizing: GlueSizing,
        prices: Prices,
        network: Network | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._removal_policy = removal_policy
        self._added: dict[str, lambda_.Function] = {}
        self._network = network
        self._log_retention = log_retention
        # One asset for every function: the handlers share etl_lib, so it is uploaded once.
        self._code = lambda_.Code.from_asset(str(code_dir))
        self._layer = lambda_.LayerVersion.from_layer_version_arn(self, "Powertools", powertools_layer_arn)
        # Names from the runtime's constants module: the settings read exactly these.
        self._env = {
            env.INPUT_BUCKET: input_bucket.bucket_name,
            env.OUTPUT_BUCKET: output_bucket.bucket_name,
            env.JOBS_TABLE: table.table_name,
            env.IDEMPOTENCY_TABLE: idempotency_table.table_name,
            env.GLUE_JOB_NAME: glue_job_name,
            env.CATALOG_DATABASE: catalog_database,
            env.MAX_UPLOAD_BYTES: str(max_upload_bytes),
            env.MULTIPART_THRESHOLD_BYTES: str(multipart_threshold_bytes),
            env.MIN_PART_BYTES: str(min_part_bytes),
            env.SMALL_FILE_THRESHOLD_BYTES: str(small_file_threshold_bytes),
            # Job records live as long as their outputs (the output bucket's lifecycle rule).
            env.JOB_RETENTION_DAYS: str(job_retention_days),
            env.MAX_ACTIVE_JOBS_PER_USER: str(max_active_jobs_per_user),
            env.MAX_SPARK_JOBS_PER_USER: str(max_spark_jobs_per_user),
            env.ALLOWED_ORIGINS: ",".join(allowed_origins),
            env.POWERTOOLS_METRICS_NAMESPACE: metrics_namespace,
            env.POWERTOOLS_LOG_LEVEL: "INFO",
            # How the events Lambda sizes each Glue run, and the prices run reports use.
            env.GLUE_WORKER_TYPES: ",".join(glue_sizing.worker_types),
            env.GLUE_MIN_WORKERS: str(glue_sizing.min_workers),
            env.GLUE_MAX_WORKERS: str(glue_sizing.max_workers),
            env.GLUE_TARGET_SECONDS: str(glue_sizing.target_seconds),
            env.GLUE_DPU_HOUR_USD: repr(prices.glue_dpu_hour),
            env.GLUE_FLEX_DPU_HOUR_USD: repr(prices.glue_flex_dpu_hour),
            env.LAMBDA_GB_SECOND_USD: repr(prices.lambda_gb_second),
        }
        stack = Stack.of(self)
        table_arn = table.table_arn
        index_arn = f"{table_arn}/index/{OWNER_INDEX}"

        # Asynchronous functions first: the events Lambda needs the converter's name.
        self.converter = self._function(
            "Converter",
            "converter",
            sizing=converter_sizing,
            asynchronous=True,
            # A run that crashed or timed out on every attempt would leave its job RUNNING:
            # Lambda sends the invocation record to the default event bus, where a rule
            # (EtlJob.converter_failure_rule) hands it to the events Lambda, which fails the
            # job. Through EventBridge, not a Lambda destination: the events Lambda already
            # depends on the converter (its name, the invoke grant), which would make a cycle.
            on_failure=destinations.EventBridgeDestination(),
            description="Converts small Parquet files in-process (etl_lib local engine).",
        )
        self.events = self._function(
            "Events",
            "events",
            sizing=api_sizing,
            asynchronous=True,
            extra_env={env.CONVERTER_FUNCTION_NAME: self.converter.function_name},
            description="Reacts to S3 Object Created and Glue Job State Change events.",
        )
        self.upload = self._function(
            "Upload", "upload", sizing=api_sizing, description="POST /jobs and /jobs/{job_id}/upload/* (multipart)"
        )
        self.status = self._function(
            "Status",
            "status",
            sizing=api_sizing,
            description="GET /jobs, GET and DELETE /jobs/{job_id}, GET /jobs/{job_id}/report",
        )
        self.download = self._function(
            "Download", "download", sizing=api_sizing, description="GET /jobs/{job_id}/download"
        )

        # upload: reserve a place among the caller's unfinished jobs (fair use: read the
        # owner's places item and the jobs in it, or on a first creation query them; then one
        # TransactWriteItems of two Puts, which IAM authorises as PutItem), create the job,
        # sign a POST for one server-chosen key under inputs/.
        _allow(self.upload, ["dynamodb:GetItem", "dynamodb:PutItem"], [table_arn])
        _allow(self.upload, ["dynamodb:Query"], [index_arn])
        # Idempotency-Key records (Powertools' DynamoDBPersistenceLayer: these four calls).
        _allow(
            self.upload,
            ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
            [idempotency_table.table_arn],
        )
        # PutObject authorises CreateMultipartUpload, the UploadPart URLs it signs and
        # CompleteMultipartUpload; ListParts (resume, complete) and Abort (a creation refused
        # by the active-jobs limit) have their own actions.
        _allow(
            self.upload,
            ["s3:PutObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"],
            [input_bucket.arn_for_objects(f"{UPLOAD_PREFIX}*")],
        )
        # Each part signed moves a PENDING job's expiry on (a conditional update).
        _allow(self.upload, ["dynamodb:UpdateItem"], [table_arn])
        # status: read and list the caller's jobs; DELETE removes the record and both files.
        _allow(self.status, ["dynamodb:GetItem", "dynamodb:DeleteItem"], [table_arn])
        _allow(self.status, ["dynamodb:Query"], [index_arn])
        _allow(
            self.status,
            ["s3:DeleteObject", "s3:AbortMultipartUpload"],
            [input_bucket.arn_for_objects(f"{UPLOAD_PREFIX}*"), output_bucket.arn_for_objects(f"{OUTPUT_PREFIX}*")],
        )
        # GET /jobs/{job_id}/report reads the run report stored next to the output.
        _allow(self.status, ["s3:GetObject"], [output_bucket.arn_for_objects(f"{OUTPUT_PREFIX}*/report.json")])
        # Deleting a job lists its prefixes first (etl_lib ObjectStore.delete_prefix).
        _allow(self.status, ["s3:ListBucket"], [input_bucket.bucket_arn, output_bucket.bucket_arn])
        # download: read the job, sign a GET of its single output object.
        _allow(self.download, ["dynamodb:GetItem"], [table_arn])
        _allow(self.download, ["s3:GetObject"], [output_bucket.arn_for_objects(f"{OUTPUT_PREFIX}*")])
        # A job that finished before outputs had a folder of their own is found by a HEAD of
        # the new key first: ListBucket makes its absence a 404 instead of a 403.
        _allow(self.download, ["s3:ListBucket"], [output_bucket.bucket_arn])
        # events: check the uploaded object (HEAD + ranged GETs), move the job, start the run.
        _allow(self.events, ["dynamodb:GetItem", "dynamodb:UpdateItem"], [table_arn])
        _allow(self.events, ["s3:GetObject"], [input_bucket.arn_for_objects(f"{UPLOAD_PREFIX}*")])
        # A run that ended SUCCEEDED without marking its job is recovered from its report; an
        # ended Glue run's cost (GetJobRun) is added to it.
        _allow(self.events, ["s3:GetObject"], [output_bucket.arn_for_objects(f"{OUTPUT_PREFIX}*")])
        _allow(self.events, ["s3:PutObject"], [output_bucket.arn_for_objects(f"{OUTPUT_PREFIX}*/report.json")])
        # ListBucket makes a missing key a 404 (handled) instead of a 403 (an error).
        _allow(self.events, ["s3:ListBucket"], [input_bucket.bucket_arn, output_bucket.bucket_arn])
        _allow(
            self.events,
            ["glue:StartJobRun", "glue:GetJobRun"],
            [stack.format_arn(service="glue", resource="job", resource_name=glue_job_name)],
        )
        _allow(self.events, ["lambda:InvokeFunction"], [self.converter.function_arn])
        # converter: no data permission of its own; each run assumes the run role scoped to
        # its job (infra/pipeline/run_role.py), which grants it.

    @property
    def all(self) -> dict[str, lambda_.Function]:
        return {
            "upload": self.upload,
            "status": self.status,
            "download": self.download,
            "events": self.events,
            "converter": self.converter,
            **self._added,
        }

    def add_function(
        self, construct_id: str, name: str, *, sizing: FunctionSizing, description: str, extra_env: dict[str, str]
    ) -> lambda_.Function:
        """Another function of lambdas/<name>/ on the shared asset, layer and environment,
        with no grant: the construct that adds it grants what it uses (the reconciler)."""
        function = self._function(construct_id, name, sizing=sizing, description=description, extra_env=extra_env)
        self._added[name] = function
        return function

    def _function(
        self,
        construct_id: str,
        name: str,
        *,
        sizing: FunctionSizing,
        description: str,
        asynchronous: bool = False,
        on_failure: lambda_.IDestination | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> lambda_.Function:
        log_group = logs.LogGroup(
            self,
            f"{construct_id}Logs",
            retention=self._log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        dlq = None
        if asynchronous:
            # Events that exhaust their retries are kept for two weeks instead of being dropped.
            dlq = sqs.Queue(
                self,
                f"{construct_id}Dlq",
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                retention_period=Duration.days(14),
            )
        return lambda_.Function(
            self,
            construct_id,
            runtime=RUNTIME,
            architecture=lambda_.Architecture.X86_64,
            code=self._code,
            handler=handler_path(name),
            description=description,
            memory_size=sizing.memory_mb,
            timeout=Duration.seconds(sizing.timeout_seconds),
            reserved_concurrent_executions=sizing.reserved_concurrency or None,
            tracing=lambda_.Tracing.ACTIVE,
            layers=[self._layer],
            log_group=log_group,
            environment={**self._env, **(extra_env or {}), env.POWERTOOLS_SERVICE_NAME: service_name(name)},
            dead_letter_queue=dlq,
            retry_attempts=2 if asynchronous else None,
            on_failure=on_failure,
            # With etl:vpc=true, in the isolated subnets (infra/pipeline/network.py).
            vpc=self._network.vpc if self._network else None,
            vpc_subnets=self._network.subnets if self._network else None,
            security_groups=[self._network.functions_security_group] if self._network else None,
        )


def _allow(function: lambda_.Function, actions: list[str], resources: list[str]) -> None:
    function.add_to_role_policy(iam.PolicyStatement(actions=actions, resources=resources))
