"""The one stack: storage, job table, API and Lambdas, Glue ETL, validation, hosting, monitoring."""

from __future__ import annotations

from typing import Any

from aws_cdk import Annotations, CfnOutput, RemovalPolicy, Stack, Tags
from aws_cdk import aws_logs as logs
from constructs import Construct

from etl_devstack.sessions.config import (
    OUTPUT_INSTALLER_OPTION,
    OUTPUT_MODULES,
    OUTPUT_REGION,
    OUTPUT_SESSION_ROLE,
    OUTPUT_WHEEL,
)
from infra import assets
from infra.config import InfraConfig
from infra.pipeline.api import Api
from infra.pipeline.catalog import OutputCatalogDatabase
from infra.pipeline.encryption import EncryptionKey
from infra.pipeline.etl import EtlJob, GlueArtifacts
from infra.pipeline.firewall import ApiFirewall
from infra.pipeline.functions import FunctionSizing, ServiceFunctions
from infra.pipeline.hosting import Hosting
from infra.pipeline.jobs_table import IdempotencyTable, JobsTable
from infra.pipeline.monitoring import Monitoring
from infra.pipeline.network import Network
from infra.pipeline.reconciler import JobReconciler
from infra.pipeline.run_role import JobRunRole
from infra.pipeline.sessions import GlueSessionRole
from infra.pipeline.sources import EngineerSources
from infra.pipeline.storage import Storage
from infra.pipeline.validation import ScheduledValidation


class PipelineStack(Stack):
    """Wires the units together: each one is a construct under infra/pipeline/."""

    def __init__(self, scope: Construct, construct_id: str, *, config: InfraConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        removal = RemovalPolicy.RETAIN if config.removal_policy == "retain" else RemovalPolicy.DESTROY
        log_retention = _retention(config.log_retention_days)
        for key, value in config.tags.items():
            Tags.of(self).add(key, value)

        self.key = EncryptionKey(self, "Key", name_prefix=config.name_prefix, removal_policy=removal).key

        storage = Storage(
            self,
            "Storage",
            input_retention_days=config.input_retention_days,
            output_retention_days=config.output_retention_days,
            access_log_retention_days=config.access_log_retention_days,
            abort_multipart_days=config.abort_multipart_days,
            removal_policy=removal,
        )
        jobs = JobsTable(self, "Jobs", ttl_attribute=config.job_ttl_attribute, removal_policy=removal)
        idempotency = IdempotencyTable(self, "Idempotency", removal_policy=removal)
        hosting = Hosting(
            self,
            "Hosting",
            access_logs=storage.access_logs,
            log_retention_days=config.access_log_retention_days,
            removal_policy=removal,
        )
        origins = [hosting.url, *config.extra_allowed_origins]
        storage.allow_browser_origins(origins)

        self.network = (
            Network(
                self,
                "Network",
                name_prefix=config.name_prefix,
                cidr=config.vpc_cidr,
                availability_zones=config.availability_zones,
                log_retention=log_retention,
            )
            if config.vpc
            else None
        )

        glue_job_name = f"{config.name_prefix}-parquet-to-json"
        catalog = OutputCatalogDatabase(self, "OutputCatalog", name_prefix=config.name_prefix)
        api_sizing = FunctionSizing(memory_mb=config.lambda_memory_mb, timeout_seconds=config.lambda_timeout_seconds)
        functions = ServiceFunctions(
            self,
            "Functions",
            code_dir=assets.lambda_code_dir(config.lambda_bundle),
            input_bucket=storage.input_bucket,
            output_bucket=storage.output_bucket,
            table=jobs.table,
            idempotency_table=idempotency.table,
            glue_job_name=glue_job_name,
            catalog_database=catalog.database_name,
            powertools_layer_arn=config.powertools_layer,
            api_sizing=api_sizing,
            converter_sizing=FunctionSizing(
                memory_mb=config.converter_memory_mb,
                timeout_seconds=config.converter_timeout_seconds,
                reserved_concurrency=config.converter_reserved_concurrency,
            ),
            log_retention=log_retention,
            max_upload_bytes=config.max_upload_bytes,
            multipart_threshold_bytes=config.multipart_threshold_bytes,
            min_part_bytes=config.min_part_bytes,
            small_file_threshold_bytes=config.small_file_threshold_bytes,
            job_retention_days=config.output_retention_days,
            max_active_jobs_per_user=config.max_active_jobs_per_user,
            max_spark_jobs_per_user=config.max_spark_jobs_per_user,
            metrics_namespace=config.metrics_namespace,
            allowed_origins=origins,
            removal_policy=removal,
            glue_sizing=config.glue_sizing,
            prices=config.prices,
            network=self.network,
        )
        api = Api(
            self,
            "Api",
            name_prefix=config.name_prefix,
            upload=functions.upload,
            status=functions.status,
            download=functions.download,
            allowed_origins=origins,
            throttle_rate=config.api_throttle_rate,
            throttle_burst=config.api_throttle_burst,
            log_retention=log_retention,
            mfa=config.cognito_mfa,
            self_sign_up=config.self_sign_up,
            removal_policy=removal,
        )
        self.firewall = (
            ApiFirewall(
                self,
                "Firewall",
                name_prefix=config.name_prefix,
                stage_arn=api.rest_api.deployment_stage.stage_arn,
                per_caller=config.waf_requests_per_caller,
                per_ip=config.waf_requests_per_ip,
            )
            if config.waf
            else None
        )

        staged, self.glue_script_present = assets.stage_glue_artifacts()
        artifacts = GlueArtifacts(
            self, "GlueArtifacts", staged_dir=staged, access_logs=storage.access_logs, removal_policy=removal
        )
        etl = EtlJob(
            self,
            "Etl",
            job_name=glue_job_name,
            artifacts=artifacts,
            input_bucket=storage.input_bucket,
            output_bucket=storage.output_bucket,
            table=jobs.table,
            events_function=functions.events,
            converter_function=functions.converter,
            key=self.key,
            worker_type=config.glue_worker_types[0],
            number_of_workers=config.glue_number_of_workers,
            timeout_minutes=config.glue_timeout_minutes,
            max_retries=config.glue_max_retries,
            max_concurrent_runs=config.glue_max_concurrent_runs,
            run_queuing=config.glue_job_run_queuing,
            metrics_namespace=config.metrics_namespace,
            network=self.network,
        )
        self.reconciler = JobReconciler(
            self,
            "Reconciler",
            functions=functions,
            table=jobs.table,
            output_bucket=storage.output_bucket,
            glue_job_name=glue_job_name,
        )
        self.run_role = JobRunRole(
            self,
            "RunRole",
            input_bucket=storage.input_bucket,
            output_bucket=storage.output_bucket,
            table=jobs.table,
            converter=functions.converter,
            glue_role=etl.role,
            glue_job=etl.job,
        )
        # The runs (in their job-scoped sessions of the run role) register their outputs'
        # tables; DELETE /jobs/{job_id} drops them, and the reconciler (ending a dead attempt,
        # sweeping the tables of gone or expired jobs) lists and drops them.
        catalog.grant_register(self.run_role.role)
        catalog.grant_drop(functions.status)
        catalog.grant_sweep(self.reconciler.function)
        self.engineer_sources = EngineerSources(
            self,
            "EngineerSources",
            user_pool=api.user_pool,
            glue_role=self.run_role.role,
            glue_job=etl.job,
            upload_function=functions.upload,
            buckets=config.source_buckets,
            databases=config.source_databases,
        )
        validation = ScheduledValidation(
            self,
            "Validation",
            name_prefix=config.name_prefix,
            artifacts=artifacts,
            input_bucket=storage.input_bucket,
            output_bucket=storage.output_bucket,
            table=jobs.table,
            key=self.key,
            security_configuration=etl.security_configuration.name or "",
            schedule=config.validation_schedule,
            max_jobs=config.validation_max_jobs,
            metrics_namespace=config.metrics_namespace,
        )
        validation.job.node.add_dependency(etl.security_configuration)
        sessions = GlueSessionRole(
            self,
            "GlueSessions",
            artifacts=artifacts,
            input_bucket=storage.input_bucket,
            output_bucket=storage.output_bucket,
            table=jobs.table,
            key=self.key,
            metrics_namespace=config.metrics_namespace,
        )

        hosting.publish(
            site_dir=assets.site_dir(),
            runtime_config=self._web_app_config(api),
            connect_src=self._web_app_origins(api),
        )

        monitoring = Monitoring(
            self,
            "Monitoring",
            dashboard_name=f"{config.name_prefix}-pipeline",
            metrics_namespace=config.metrics_namespace,
            key=self.key,
            rest_api=api.rest_api,
            functions=dict(functions.all),
            dead_letter_queues={
                "Events": _dlq(functions.events),
                "Converter": _dlq(functions.converter),
                "Rules": etl.events_dlq,
            },
            glue_job_names=[glue_job_name, validation.job_name],
            alarm_emails=list(config.alarm_emails),
        )

        self.storage, self.jobs, self.functions, self.api = storage, jobs, functions, api
        self.idempotency = idempotency
        self.etl, self.validation, self.hosting, self.monitoring = etl, validation, hosting, monitoring
        self.artifacts, self.sessions = artifacts, sessions
        self.catalog = catalog

        self._outputs(glue_job_name)

        if not self.glue_script_present:
            Annotations.of(etl.job).add_warning_v2(
                "etl:missing-glue-script",
                "glue_jobs/parquet_to_json.py is missing: a placeholder that fails every run was staged.",
            )

    def _web_app_config(self, api: Api) -> dict[str, Any]:
        """The shape frontend/src/lib/config.ts parses."""
        return {
            "apiBaseUrl": api.url,
            "auth": {
                "region": self.region,
                "userPoolId": api.user_pool.user_pool_id,
                "userPoolClientId": api.user_pool_client.user_pool_client_id,
                "selfSignUp": self.config.self_sign_up,
            },
        }

    def _web_app_origins(self, api: Api) -> list[str]:
        """What the web app's pages connect to besides their own origin: the API, Cognito, and
        S3 for uploads and previews. S3 by wildcard: naming the buckets would be a cycle in
        the template (their CORS rules name the site's distribution, which would name them)."""
        suffix = self.url_suffix
        return [
            f"https://{api.rest_api.rest_api_id}.execute-api.{self.region}.{suffix}",
            f"https://cognito-idp.{self.region}.{suffix}",
            f"https://*.s3.{self.region}.{suffix}",
            f"https://*.s3.{suffix}",
        ]

    def _outputs(self, glue_job_name: str) -> None:
        CfnOutput(self, "ApiUrl", value=self.api.url)
        CfnOutput(self, "WebUrl", value=self.hosting.url)
        CfnOutput(self, "UserPoolId", value=self.api.user_pool.user_pool_id)
        CfnOutput(self, "UserPoolClientId", value=self.api.user_pool_client.user_pool_client_id)
        CfnOutput(self, "InputBucketName", value=self.storage.input_bucket.bucket_name)
        CfnOutput(self, "OutputBucketName", value=self.storage.output_bucket.bucket_name)
        CfnOutput(self, "JobsTableName", value=self.jobs.table.table_name)
        CfnOutput(self, "GlueJobName", value=glue_job_name)
        CfnOutput(self, "AlarmTopicArn", value=self.monitoring.topic.topic_arn)
        # Read by `etl session-config` (notebooks on Glue interactive sessions).
        CfnOutput(self, OUTPUT_SESSION_ROLE, value=self.sessions.role.role_arn)
        CfnOutput(self, OUTPUT_WHEEL, value=self.sessions.wheel_url)
        CfnOutput(self, OUTPUT_MODULES, value=self.sessions.python_modules)
        CfnOutput(self, OUTPUT_INSTALLER_OPTION, value=self.sessions.installer_option)
        CfnOutput(self, OUTPUT_REGION, value=self.region)


def _dlq(function: Any) -> Any:
    queue = function.dead_letter_queue
    assert queue is not None, "asynchronous functions are created with a dead-letter queue"
    return queue


def _retention(days: int) -> logs.RetentionDays:
    """CloudWatch accepts only certain retention periods: take the smallest one ≥ ``days``."""
    for allowed, retention in _RETENTION_DAYS:
        if allowed >= days:
            return retention
    return _RETENTION_DAYS[-1][1]


_R = logs.RetentionDays
_RETENTION_DAYS = [
    (1, _R.ONE_DAY),
    (3, _R.THREE_DAYS),
    (5, _R.FIVE_DAYS),
    (7, _R.ONE_WEEK),
    (14, _R.TWO_WEEKS),
    (30, _R.ONE_MONTH),
    (60, _R.TWO_MONTHS),
    (90, _R.THREE_MONTHS),
    (120, _R.FOUR_MONTHS),
    (150, _R.FIVE_MONTHS),
    (180, _R.SIX_MONTHS),
    (365, _R.ONE_YEAR),
    (400, _R.THIRTEEN_MONTHS),
    (545, _R.EIGHTEEN_MONTHS),
    (731, _R.TWO_YEARS),
    (1827, _R.FIVE_YEARS),
    (3653, _R.TEN_YEARS),
]
