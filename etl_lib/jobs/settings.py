"""The composition root: the only place that reads configuration and builds adapters.

Configuration is one typed model (:class:`Settings`, pydantic-settings) whose fields are
read from the environment variables named in :mod:`etl_lib.jobs.env`; every value is
parsed strictly (a bad number or name is refused, never replaced by a default) and, in a
Lambda, checked at cold start (:func:`validate_at_cold_start`).

Lambdas call :func:`service` (built once per container); the Glue job calls
:func:`service_for_run` (built from its run arguments, the only configuration a Glue run
has, plus the :class:`RunSettings` subset). ``ETL_BACKEND=local`` swaps every AWS adapter
for its local twin under ``ETL_DATA_DIR``.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self

from pydantic import Field, NonNegativeFloat, NonNegativeInt, PositiveInt, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from etl_lib.errors import SettingsError
from etl_lib.jobs import env
from etl_lib.jobs.metrics import DEFAULT_NAMESPACE
from etl_lib.jobs.models import (
    DEFAULT_MAX_UPLOAD_BYTES,
    DEFAULT_MIN_PART_BYTES,
    DEFAULT_MULTIPART_THRESHOLD_BYTES,
    S3_MAX_PART_BYTES,
    S3_MIN_PART_BYTES,
)
from etl_lib.jobs.ports import JobLauncher, JobStore, ObjectStore, OutputCatalog
from etl_lib.jobs.reconcile import (
    DEFAULT_MAX_RELAUNCHES,
    DEFAULT_RELAUNCH_AFTER_SECONDS,
    DEFAULT_START_TIMEOUT_SECONDS,
    ReconcilePolicy,
)
from etl_lib.jobs.service import (
    DEFAULT_JOB_RETENTION_DAYS,
    DEFAULT_RUN_LEASE_SECONDS,
    JobLimits,
    JobService,
)
from etl_lib.jobs.sizing import (
    DEFAULT_GLUE_DPU_HOUR_USD,
    DEFAULT_GLUE_FLEX_DPU_HOUR_USD,
    DEFAULT_LAMBDA_GB_SECOND_USD,
    DEFAULT_MAX_WORKERS,
    DEFAULT_TARGET_SECONDS,
    DEFAULT_WORKER_TYPES,
    GLUE_MIN_WORKERS,
    GlueSizing,
    Prices,
)
from etl_lib.options import DEFAULT_SMALL_FILE_THRESHOLD_BYTES, Engine, Limits
from etl_lib.platform import DEFAULT_DATA_DIR

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer

    from etl_lib.jobs.local import DirectoryObjectStore


class RunSettings(BaseSettings):
    """What a conversion run reads besides its arguments (a Glue run has none of our
    variables, so every field has a default; the local stack's workers share the server's)."""

    model_config = SettingsConfigDict(
        case_sensitive=True, extra="ignore", frozen=True, populate_by_name=True, env_ignore_empty=True
    )

    small_file_threshold_bytes: PositiveInt = Field(
        default=DEFAULT_SMALL_FILE_THRESHOLD_BYTES, validation_alias=env.SMALL_FILE_THRESHOLD_BYTES
    )
    # How long a run's claim on its job stands unrenewed (JobService.run).
    run_lease_seconds: int = Field(default=DEFAULT_RUN_LEASE_SECONDS, ge=3, validation_alias=env.RUN_LEASE_SECONDS)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """The settings from ``environ`` (default: the process environment); SettingsError,
        one line naming each bad variable, when a value is missing or malformed."""
        try:
            if environ is None:
                return cls()
            return cls.model_validate({k: v for k, v in environ.items() if v != ""})
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}"
                + (f" (got {e['input']!r})" if e["loc"] else "")
                for e in exc.errors(include_url=False)
            )
            raise SettingsError(f"invalid settings: {problems}") from None


class Settings(RunSettings):
    backend: Literal["aws", "local"] = Field(default="aws", validation_alias=env.ETL_BACKEND)
    input_bucket: str = Field(default="", validation_alias=env.INPUT_BUCKET)
    output_bucket: str = Field(default="", validation_alias=env.OUTPUT_BUCKET)
    jobs_table: str = Field(default="", validation_alias=env.JOBS_TABLE)
    glue_job_name: str = Field(default="", validation_alias=env.GLUE_JOB_NAME)
    # Powertools' idempotency records of POST /jobs (Idempotency-Key) in AWS.
    idempotency_table: str = Field(default="", validation_alias=env.IDEMPOTENCY_TABLE)
    # Runs local-engine jobs in AWS; unset, the Glue job runs them too.
    converter_function_name: str = Field(default="", validation_alias=env.CONVERTER_FUNCTION_NAME)
    # Outputs are registered as tables of this Glue database; unset, in AWS, none are.
    catalog_database: str = Field(default="", validation_alias=env.CATALOG_DATABASE)
    # The run role the converter assumes for each job, scoped to it; unset: no scoping.
    run_role_arn: str = Field(default="", validation_alias=env.RUN_ROLE_ARN)
    # The default engine of "auto" requests: "auto" routes by size, "spark"/"local" force.
    engine: Engine = Field(default=Engine.AUTO, validation_alias=env.ETL_ENGINE)
    metrics_namespace: str = Field(default=DEFAULT_NAMESPACE, validation_alias=env.POWERTOOLS_METRICS_NAMESPACE)
    max_upload_bytes: PositiveInt = Field(default=DEFAULT_MAX_UPLOAD_BYTES, validation_alias=env.MAX_UPLOAD_BYTES)
    # Larger uploads are multipart (a presigned POST carries at most 5 GiB), in parts of at
    # least MIN_PART_BYTES (S3 refuses parts under 5 MiB but the last; the local stack does not).
    multipart_threshold_bytes: int = Field(
        default=DEFAULT_MULTIPART_THRESHOLD_BYTES,
        ge=1,
        le=S3_MAX_PART_BYTES,
        validation_alias=env.MULTIPART_THRESHOLD_BYTES,
    )
    min_part_bytes: int = Field(
        default=DEFAULT_MIN_PART_BYTES, ge=1, le=S3_MAX_PART_BYTES, validation_alias=env.MIN_PART_BYTES
    )
    upload_expires_in: PositiveInt = Field(default=15 * 60, validation_alias=env.UPLOAD_URL_EXPIRES)
    download_expires_in: PositiveInt = Field(default=5 * 60, validation_alias=env.DOWNLOAD_URL_EXPIRES)
    job_retention_days: PositiveInt = Field(default=DEFAULT_JOB_RETENTION_DAYS, validation_alias=env.JOB_RETENTION_DAYS)
    # Unfinished jobs one user may have (429 beyond); 0 for no limit (the local stack).
    max_active_jobs_per_user: NonNegativeInt = Field(default=0, validation_alias=env.MAX_ACTIVE_JOBS_PER_USER)
    # Of those, how many may run on Spark (Glue's slots are shared by all users); 0: no limit.
    max_spark_jobs_per_user: NonNegativeInt = Field(default=0, validation_alias=env.MAX_SPARK_JOBS_PER_USER)
    # The allow-list of data engineers' sources (infra/config.py source_buckets, source_databases),
    # comma-separated names; empty: none.
    source_buckets: str = Field(default="", validation_alias=env.SOURCE_BUCKETS)
    source_databases: str = Field(default="", validation_alias=env.SOURCE_DATABASES)
    data_dir: str = Field(default=DEFAULT_DATA_DIR, validation_alias=env.ETL_DATA_DIR)
    public_url: str = Field(default="http://127.0.0.1:8000", validation_alias=env.ETL_PUBLIC_URL)
    # The key of the local presigned URLs; unset, the data directory's own random key
    # (created private on first use), never a key anyone could read in this source.
    signing_key: str | None = Field(default=None, validation_alias=env.ETL_SIGNING_KEY)
    # When the reconciler relaunches or fails a job no live run holds (etl_lib.jobs.reconcile).
    reconcile_relaunch_after_seconds: PositiveInt = Field(
        default=DEFAULT_RELAUNCH_AFTER_SECONDS, validation_alias=env.RECONCILE_RELAUNCH_AFTER_SECONDS
    )
    reconcile_max_relaunches: NonNegativeInt = Field(
        default=DEFAULT_MAX_RELAUNCHES, validation_alias=env.RECONCILE_MAX_RELAUNCHES
    )
    reconcile_start_timeout_seconds: PositiveInt = Field(
        default=DEFAULT_START_TIMEOUT_SECONDS, validation_alias=env.RECONCILE_START_TIMEOUT_SECONDS
    )
    # How ETL_BACKEND=local starts runs: subprocess | inline | queue (etl up's workers).
    local_runner: Literal["subprocess", "inline", "queue"] = Field(
        default="subprocess", validation_alias=env.ETL_LOCAL_RUNNER
    )

    # Each Glue run's workers, from its input's size (etl_lib.jobs.sizing.run_capacity):
    # worker types smallest first (comma-separated), bounds, and the target conversion time.
    glue_worker_types: str = Field(default=",".join(DEFAULT_WORKER_TYPES), validation_alias=env.GLUE_WORKER_TYPES)
    glue_min_workers: int = Field(default=GLUE_MIN_WORKERS, ge=GLUE_MIN_WORKERS, validation_alias=env.GLUE_MIN_WORKERS)
    glue_max_workers: int = Field(
        default=DEFAULT_MAX_WORKERS, ge=GLUE_MIN_WORKERS, validation_alias=env.GLUE_MAX_WORKERS
    )
    glue_target_seconds: PositiveInt = Field(default=DEFAULT_TARGET_SECONDS, validation_alias=env.GLUE_TARGET_SECONDS)
    # The prices (USD) a run's estimated cost is computed at (its report's cost).
    glue_dpu_hour_usd: NonNegativeFloat = Field(
        default=DEFAULT_GLUE_DPU_HOUR_USD, validation_alias=env.GLUE_DPU_HOUR_USD
    )
    glue_flex_dpu_hour_usd: NonNegativeFloat = Field(
        default=DEFAULT_GLUE_FLEX_DPU_HOUR_USD, validation_alias=env.GLUE_FLEX_DPU_HOUR_USD
    )
    lambda_gb_second_usd: NonNegativeFloat = Field(
        default=DEFAULT_LAMBDA_GB_SECOND_USD, validation_alias=env.LAMBDA_GB_SECOND_USD
    )

    @model_validator(mode="after")
    def _complete(self) -> Self:
        _ = self.glue_sizing  # bad bounds or an unknown worker type are refused at start-up
        if self.backend == "local":
            # The local buckets are directories; their names only appear in URLs.
            object.__setattr__(self, "input_bucket", self.input_bucket or "inputs")
            object.__setattr__(self, "output_bucket", self.output_bucket or "outputs")
            return self
        if self.min_part_bytes < S3_MIN_PART_BYTES:
            raise ValueError(f"{env.MIN_PART_BYTES} must be at least {S3_MIN_PART_BYTES} (S3's smallest part)")
        required = (
            (env.INPUT_BUCKET, self.input_bucket),
            (env.OUTPUT_BUCKET, self.output_bucket),
            (env.JOBS_TABLE, self.jobs_table),
            (env.IDEMPOTENCY_TABLE, self.idempotency_table),
        )
        missing = [name for name, value in required if not value]
        if missing:
            raise ValueError(f"missing environment variables: {', '.join(missing)}")
        return self

    @property
    def glue_sizing(self) -> GlueSizing:
        """The bounds each Glue run is sized within."""
        return GlueSizing(
            worker_types=tuple(t.strip() for t in self.glue_worker_types.split(",") if t.strip()),
            min_workers=self.glue_min_workers,
            max_workers=self.glue_max_workers,
            target_seconds=self.glue_target_seconds,
        )

    @property
    def prices(self) -> Prices:
        return Prices(
            glue_dpu_hour=self.glue_dpu_hour_usd,
            glue_flex_dpu_hour=self.glue_flex_dpu_hour_usd,
            lambda_gb_second=self.lambda_gb_second_usd,
        )

    @property
    def limits(self) -> JobLimits:
        return JobLimits(
            max_upload_bytes=self.max_upload_bytes,
            upload_expires_in=self.upload_expires_in,
            download_expires_in=self.download_expires_in,
            job_retention_seconds=self.job_retention_days * 86_400,
            max_active_jobs_per_user=self.max_active_jobs_per_user,
            max_spark_jobs_per_user=self.max_spark_jobs_per_user,
            multipart_threshold_bytes=self.multipart_threshold_bytes,
            min_part_bytes=self.min_part_bytes,
            source_buckets=_names(self.source_buckets),
            source_databases=_names(self.source_databases),
        )

    @property
    def reconcile_policy(self) -> ReconcilePolicy:
        return ReconcilePolicy(
            relaunch_after=self.reconcile_relaunch_after_seconds,
            max_relaunches=self.reconcile_max_relaunches,
            start_timeout=self.reconcile_start_timeout_seconds,
        )

    # Run arguments: how a Glue run (or the local runner) finds the same stores.
    def run_arguments(self) -> dict[str, str]:
        """What each run is started with besides ``--job_id``: the stores, and how long the
        job it ends is kept (a Glue run has no environment of ours, only its arguments)."""
        retention = {"--job_retention_days": str(self.job_retention_days)}
        if self.backend == "local":
            data = Path(self.data_dir).resolve()
            return {
                "--jobs_store": f"sqlite:{data / 'jobs.db'}",
                "--input_store": str(data / "objects" / self.input_bucket),
                "--output_store": str(data / "objects" / self.output_bucket),
                "--output_catalog": f"sqlite:{data / 'catalog.db'}",
                **retention,
            }
        catalog = {"--output_catalog": f"glue:{self.catalog_database}"} if self.catalog_database else {}
        return {
            "--jobs_store": f"dynamodb:{self.jobs_table}",
            "--input_store": f"s3://{self.input_bucket}",
            "--output_store": f"s3://{self.output_bucket}",
            **catalog,
            **retention,
        }


def _names(text: str) -> frozenset[str]:
    """A comma-separated list of names (an allow-list variable), blanks ignored."""
    return frozenset(name.strip() for name in text.split(",") if name.strip())


def allowed_origins(environ: Mapping[str, str] | None = None) -> list[str]:
    """Web app origins allowed to call the API (``ALLOWED_ORIGINS``, comma-separated).

    Read at import time by the API Lambdas (their CORS headers), so apart from the rest of
    the settings: an OpenAPI build or a test needs no buckets for it.
    """
    source = os.environ if environ is None else environ
    return [o.strip() for o in source.get(env.ALLOWED_ORIGINS, "").split(",") if o.strip()]


def metrics_namespace(environ: Mapping[str, str] | None = None) -> str:
    """The CloudWatch namespace of our metrics (POWERTOOLS_METRICS_NAMESPACE), read at import
    time by the Lambdas' Metrics objects, so apart from the rest of the settings too."""
    source = os.environ if environ is None else environ
    return source.get(env.POWERTOOLS_METRICS_NAMESPACE) or DEFAULT_NAMESPACE


def _boto3_client(name: Literal["dynamodb", "s3", "glue", "lambda", "cloudwatch", "sts"]) -> Any:
    import boto3

    return boto3.client(name)  # honours AWS_ENDPOINT_URL (moto's server in tests)


@functools.cache
def _own_sts() -> Any:
    """STS with this process's own credentials, created once, before any job's scoped
    credentials replace them in the environment."""
    return _boto3_client("sts")


def _scoped_credentials(
    role_arn: str,
    job_id: str,
    *,
    input_bucket: str,
    output_bucket: str,
    table: str,
    catalog_database: str,
    source_buckets: str = "",
    source_databases: str = "",
) -> dict[str, str]:
    from etl_lib.jobs.aws import assume_for_job

    sts = _own_sts()
    return assume_for_job(
        sts,
        role_arn,
        job_id,
        input_bucket=input_bucket,
        output_bucket=output_bucket,
        table=table,
        region=sts.meta.region_name,
        catalog_database=catalog_database,
        source_buckets=tuple(sorted(_names(source_buckets))),
        source_databases=tuple(sorted(_names(source_databases))),
    )


def _use_credentials(values: Mapping[str, str]) -> Callable[[], None]:
    """Make ``values`` this process's AWS credentials; returns what puts the old ones back.

    In the environment (pyarrow's S3 filesystem reads them there, and the Glue job passes
    its environment to the executors) and in a fresh boto3 default session: boto3 keeps the
    credentials its default session resolved first, so clients made afterwards would
    otherwise still use the old ones."""
    import boto3

    saved_env = {name: os.environ.get(name) for name in values}
    saved_session = boto3.DEFAULT_SESSION
    os.environ.update(values)
    boto3.DEFAULT_SESSION = None

    def restore() -> None:
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        boto3.DEFAULT_SESSION = saved_session

    return restore


def jobs_store_from_spec(spec: str) -> JobStore:
    kind, _, where = spec.partition(":")
    if kind == "dynamodb":
        from etl_lib.jobs.aws import DynamoJobStore

        return DynamoJobStore(_boto3_client("dynamodb"), where)
    if kind == "sqlite":
        from etl_lib.jobs.local import SqliteJobStore

        return SqliteJobStore(where)
    raise ValueError(f"unknown job store {spec!r} (dynamodb:TABLE or sqlite:PATH)")


def object_store_from_spec(spec: str, *, settings: Settings | None = None) -> ObjectStore:
    if spec.startswith("s3://"):
        from etl_lib.jobs.aws import S3ObjectStore

        return S3ObjectStore(_boto3_client("s3"), spec.removeprefix("s3://").strip("/"))
    from etl_lib.jobs.local import DirectoryObjectStore, UrlSigner, signing_key

    settings = settings or Settings(backend="local")
    key = settings.signing_key or signing_key(settings.data_dir)
    return DirectoryObjectStore(
        spec, bucket=Path(spec).name, base_url=settings.public_url, signer=UrlSigner(key.encode())
    )


def build_service(
    settings: Settings, *, launcher: JobLauncher | None = None, spark_factory: Callable[[], Any] | None = None
) -> JobService:
    arguments = settings.run_arguments()
    local_launcher: JobLauncher | None = None
    if launcher is None:
        if settings.backend == "aws":
            from etl_lib.jobs.aws import GlueJobLauncher, LambdaLauncher

            launcher = GlueJobLauncher(_boto3_client("glue"), settings.glue_job_name, settings.glue_sizing)
            if settings.converter_function_name:
                local_launcher = LambdaLauncher(_boto3_client("lambda"), settings.converter_function_name)
        elif settings.local_runner == "queue":
            from etl_lib.jobs.runs import QueueLauncher, RunQueue

            launcher = QueueLauncher(RunQueue(Path(settings.data_dir) / "runs.db"))
        else:
            from etl_lib.jobs.local import ScriptLauncher

            launcher = ScriptLauncher(
                Path(settings.data_dir) / "runs", mode=settings.local_runner, spark_factory=spark_factory
            )
    return JobService(
        jobs=jobs_store_from_spec(arguments["--jobs_store"]),
        inputs=object_store_from_spec(arguments["--input_store"], settings=settings),
        outputs=object_store_from_spec(arguments["--output_store"], settings=settings),
        launcher=launcher,
        local_launcher=local_launcher,
        limits=settings.limits,
        engine=settings.engine,
        small_file_threshold_bytes=settings.small_file_threshold_bytes,
        run_arguments=arguments,
        lease_seconds=settings.run_lease_seconds,
        catalog=_catalog(arguments.get("--output_catalog")),
        prices=settings.prices,
    )


def _catalog(spec: str | None) -> OutputCatalog | None:
    """The outputs' catalog a run argument names (``glue:DATABASE`` or ``sqlite:PATH``);
    None without one (no catalog database deployed, or a run started before there was)."""
    if not spec:
        return None
    from etl_lib.jobs.catalog import catalog_from_spec

    return catalog_from_spec(spec)


def build_idempotency_store(settings: Settings) -> BasePersistenceLayer:
    """Where POST /jobs keeps its Idempotency-Key records: Powertools' DynamoDB layer in AWS,
    the SQLite twin (etl_lib.jobs.idempotency) locally."""
    if settings.backend == "aws":
        from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

        return DynamoDBPersistenceLayer(table_name=settings.idempotency_table, boto3_client=_boto3_client("dynamodb"))
    from etl_lib.jobs.idempotency import SqliteIdempotencyStore

    return SqliteIdempotencyStore(Path(settings.data_dir) / "idempotency.db")


@functools.cache
def service() -> JobService:
    """The service of this Lambda container (or local server), built once."""
    return build_service(Settings.from_env())


@contextlib.contextmanager
def service_for_job(job_id: str) -> Iterator[JobService]:
    """The service one run of ``job_id`` works with (the converter Lambda). With
    ``RUN_ROLE_ARN`` set (in AWS), a service built in the block's credentials, which reach
    only that job's objects and record (see :func:`etl_lib.jobs.aws.job_session_policy`);
    otherwise :func:`service`."""
    settings = Settings.from_env()
    if settings.backend != "aws" or not settings.run_role_arn:
        yield service()
        return
    scoped = _scoped_credentials(
        settings.run_role_arn,
        job_id,
        input_bucket=settings.input_bucket,
        output_bucket=settings.output_bucket,
        table=settings.jobs_table,
        catalog_database=settings.catalog_database,
    )
    restore = _use_credentials(scoped)
    try:
        yield build_service(settings)
    finally:
        restore()


def service_for_run(arguments: Mapping[str, str]) -> JobService:
    """The service a Glue run needs, from its arguments (names without the ``--``).

    ``metrics_namespace`` (a default argument of the Glue job in AWS) publishes the job's
    end to CloudWatch; the local runner does not pass it.
    """
    metrics = None
    if arguments.get("metrics_namespace"):
        from etl_lib.jobs.aws import CloudWatchJobMetrics

        metrics = CloudWatchJobMetrics(_boto3_client("cloudwatch"), arguments["metrics_namespace"])
    # The threshold is only used for a job queued before it recorded its engine; a Glue run
    # has none of our variables (the defaults), the local stack's workers share the server's.
    run = RunSettings.from_env()
    if arguments.get("run_role_arn"):
        # From here on this process (and the executors it passes its environment to) works
        # with credentials that reach this job only; the metrics client keeps the job role's.
        scoped = _scoped_credentials(
            arguments["run_role_arn"],
            arguments["job_id"],
            input_bucket=arguments["input_store"].removeprefix("s3://").strip("/"),
            output_bucket=arguments["output_store"].removeprefix("s3://").strip("/"),
            table=arguments["jobs_store"].removeprefix("dynamodb:"),
            catalog_database=arguments.get("output_catalog", "").removeprefix("glue:"),
            # The deployment's allow-list (the job's default arguments): a source job reads one.
            source_buckets=arguments.get("source_buckets", ""),
            source_databases=arguments.get("source_databases", ""),
        )
        _use_credentials(scoped)  # for the rest of the run: this process is the run
    return JobService(
        jobs=jobs_store_from_spec(arguments["jobs_store"]),
        inputs=object_store_from_spec(arguments["input_store"]),
        outputs=object_store_from_spec(arguments["output_store"]),
        limits=JobLimits(job_retention_seconds=_retention_days(arguments) * 86_400),
        small_file_threshold_bytes=run.small_file_threshold_bytes,
        lease_seconds=run.run_lease_seconds,
        spark_limits=_spark_limits(arguments),
        metrics=metrics,
        catalog=_catalog(arguments.get("output_catalog")),
    )


def _spark_limits(arguments: Mapping[str, str]) -> Limits:
    """A Spark run's limits: its run time from ``max_run_seconds`` (the deployed Glue job's
    timeout less a margin, a default argument of the job), parsed as strictly as the rest."""
    raw = arguments.get("max_run_seconds")
    if raw is None:
        return Limits.for_spark()
    if not raw.isascii() or not raw.isdigit() or int(raw) <= 0:
        raise SettingsError(f"invalid run argument: max_run_seconds must be a positive integer (got {raw!r})")
    return Limits.for_spark(int(raw))


def _retention_days(arguments: Mapping[str, str]) -> int:
    """``job_retention_days`` of a run (the deployment's JOB_RETENTION_DAYS, passed by the
    events Lambda with each run), as strictly as the settings parse it."""
    raw = arguments.get("job_retention_days")
    if raw is None:  # a run started before the argument existed
        return DEFAULT_JOB_RETENTION_DAYS
    if not raw.isascii() or not raw.isdigit() or int(raw) <= 0:
        raise SettingsError(f"invalid run argument: job_retention_days must be a positive integer (got {raw!r})")
    return int(raw)


def validate_at_cold_start() -> None:
    """In a Lambda (the runtime sets AWS_LAMBDA_FUNCTION_NAME), read and check the settings
    while the container starts, so a misconfigured deployment fails its init with one line
    naming the variable instead of answering 500 to its first request. Elsewhere (tests,
    tools importing the handlers) nothing is read."""
    if os.environ.get(env.AWS_LAMBDA_FUNCTION_NAME):
        Settings.from_env()


def local_object_stores(jobs: JobService) -> tuple[DirectoryObjectStore, DirectoryObjectStore]:
    """The local stack's input and output directories, typed (the server verifies signed
    uploads and downloads against them); TypeError on the AWS back end."""
    from etl_lib.jobs.local import DirectoryObjectStore

    inputs, outputs = jobs.inputs, jobs.outputs
    if not isinstance(inputs, DirectoryObjectStore) or not isinstance(outputs, DirectoryObjectStore):
        raise TypeError("the local object stores exist only with ETL_BACKEND=local")
    return inputs, outputs
