"""The composition root: the only place that reads configuration and builds adapters.

Lambdas call :func:`service` (built once per container from environment variables); the
Glue job calls :func:`service_for_run` (built from its run arguments, the only
configuration a Glue run has). ``ETL_BACKEND=local`` swaps every AWS adapter for its
local twin under ``ETL_DATA_DIR``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from etl_lib.jobs.metrics import DEFAULT_NAMESPACE
from etl_lib.jobs.models import DEFAULT_MAX_UPLOAD_BYTES
from etl_lib.jobs.ports import JobLauncher, JobStore, ObjectStore
from etl_lib.jobs.service import DEFAULT_SMALL_FILE_THRESHOLD_BYTES, JobService, Limits


@dataclass(frozen=True)
class Settings:
    backend: str = "aws"  # "aws" or "local"
    input_bucket: str = ""
    output_bucket: str = ""
    jobs_table: str = ""
    glue_job_name: str = ""
    # Runs local-engine jobs in AWS; unset, the Glue job runs them too.
    converter_function_name: str = ""
    # The default engine of "auto" requests: "auto" routes by size, "spark"/"local" force.
    engine: str = "auto"
    small_file_threshold_bytes: int = DEFAULT_SMALL_FILE_THRESHOLD_BYTES
    metrics_namespace: str = DEFAULT_NAMESPACE
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    upload_expires_in: int = 15 * 60
    download_expires_in: int = 5 * 60
    data_dir: str = ".etl-local"
    public_url: str = "http://127.0.0.1:8000"
    signing_key: str = "local-development-only"
    # How ETL_BACKEND=local starts runs: subprocess | inline | queue (etl up's workers).
    local_runner: str = "subprocess"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        defaults = cls()

        def integer(name: str, default: int) -> int:
            raw = env.get(name)
            if raw is None or raw == "":
                return default
            try:
                value = int(raw)
            except ValueError as exc:
                raise ValueError(f"{name} must be an integer, not {raw!r}") from exc
            if value <= 0:
                raise ValueError(f"{name} must be positive, not {value}")
            return value

        backend = env.get("ETL_BACKEND", defaults.backend)
        if backend not in {"aws", "local"}:
            raise ValueError(f"ETL_BACKEND must be aws or local, not {backend!r}")
        if env.get("ETL_ENGINE", "auto") not in {"", "auto", "spark", "local"}:
            raise ValueError(f"ETL_ENGINE must be auto, spark or local, not {env['ETL_ENGINE']!r}")
        settings = cls(
            backend=backend,
            input_bucket=env.get("INPUT_BUCKET", "inputs" if backend == "local" else ""),
            output_bucket=env.get("OUTPUT_BUCKET", "outputs" if backend == "local" else ""),
            jobs_table=env.get("JOBS_TABLE", ""),
            glue_job_name=env.get("GLUE_JOB_NAME", ""),
            converter_function_name=env.get("CONVERTER_FUNCTION_NAME", ""),
            engine=env.get("ETL_ENGINE") or defaults.engine,
            small_file_threshold_bytes=integer("SMALL_FILE_THRESHOLD_BYTES", defaults.small_file_threshold_bytes),
            metrics_namespace=env.get("POWERTOOLS_METRICS_NAMESPACE") or defaults.metrics_namespace,
            max_upload_bytes=integer("MAX_UPLOAD_BYTES", defaults.max_upload_bytes),
            upload_expires_in=integer("UPLOAD_URL_EXPIRES", defaults.upload_expires_in),
            download_expires_in=integer("DOWNLOAD_URL_EXPIRES", defaults.download_expires_in),
            data_dir=env.get("ETL_DATA_DIR", defaults.data_dir),
            public_url=env.get("ETL_PUBLIC_URL", defaults.public_url),
            signing_key=env.get("ETL_SIGNING_KEY", defaults.signing_key),
            local_runner=env.get("ETL_LOCAL_RUNNER", defaults.local_runner),
        )
        if backend == "aws":
            missing = [
                n
                for n, v in (
                    ("INPUT_BUCKET", settings.input_bucket),
                    ("OUTPUT_BUCKET", settings.output_bucket),
                    ("JOBS_TABLE", settings.jobs_table),
                )
                if not v
            ]
            if missing:
                raise ValueError(f"missing environment variables: {', '.join(missing)}")
        return settings

    @property
    def limits(self) -> Limits:
        return Limits(
            max_upload_bytes=self.max_upload_bytes,
            upload_expires_in=self.upload_expires_in,
            download_expires_in=self.download_expires_in,
        )

    # Run arguments: how a Glue run (or the local runner) finds the same stores.
    def run_arguments(self) -> dict[str, str]:
        if self.backend == "local":
            data = Path(self.data_dir).resolve()
            return {
                "--jobs_store": f"sqlite:{data / 'jobs.db'}",
                "--input_store": str(data / "objects" / self.input_bucket),
                "--output_store": str(data / "objects" / self.output_bucket),
            }
        return {
            "--jobs_store": f"dynamodb:{self.jobs_table}",
            "--input_store": f"s3://{self.input_bucket}",
            "--output_store": f"s3://{self.output_bucket}",
        }


def allowed_origins(environ: Mapping[str, str] | None = None) -> list[str]:
    """Web app origins allowed to call the API (``ALLOWED_ORIGINS``, comma-separated).

    Read at import time by the API Lambdas (their CORS headers), so apart from the rest of
    the settings: an OpenAPI build or a test needs no buckets for it.
    """
    env = os.environ if environ is None else environ
    return [o.strip() for o in env.get("ALLOWED_ORIGINS", "").split(",") if o.strip()]


def _boto3_client(name: Literal["dynamodb", "s3", "glue", "lambda", "cloudwatch"]) -> Any:
    import boto3

    return boto3.client(name)  # honours AWS_ENDPOINT_URL (moto's server in tests)


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
    from etl_lib.jobs.local import DirectoryObjectStore, UrlSigner

    settings = settings or Settings(backend="local")
    return DirectoryObjectStore(
        spec, bucket=Path(spec).name, base_url=settings.public_url, signer=UrlSigner(settings.signing_key.encode())
    )


def build_service(
    settings: Settings, *, launcher: JobLauncher | None = None, spark_factory: Callable[[], Any] | None = None
) -> JobService:
    arguments = settings.run_arguments()
    local_launcher: JobLauncher | None = None
    if launcher is None:
        if settings.backend == "aws":
            from etl_lib.jobs.aws import GlueJobLauncher, LambdaLauncher

            launcher = GlueJobLauncher(_boto3_client("glue"), settings.glue_job_name)
            if settings.converter_function_name:
                local_launcher = LambdaLauncher(_boto3_client("lambda"), settings.converter_function_name)
        elif settings.local_runner == "queue":
            from etl_lib.local.runs import QueueLauncher, RunQueue

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
    )


@functools.cache
def service() -> JobService:
    """The service of this Lambda container (or local server), built once."""
    return build_service(Settings.from_env())


def service_for_run(arguments: Mapping[str, str]) -> JobService:
    """The service a Glue run needs, from its arguments (names without the ``--``).

    ``metrics_namespace`` (a default argument of the Glue job in AWS) publishes the job's
    end to CloudWatch; the local runner does not pass it.
    """
    metrics = None
    if arguments.get("metrics_namespace"):
        from etl_lib.jobs.aws import CloudWatchJobMetrics

        metrics = CloudWatchJobMetrics(_boto3_client("cloudwatch"), arguments["metrics_namespace"])
    # Only used for a job queued before it recorded its engine; a Glue run has no such
    # variable (the default), the local stack's workers share the server's.
    threshold = os.environ.get("SMALL_FILE_THRESHOLD_BYTES", "")
    return JobService(
        jobs=jobs_store_from_spec(arguments["jobs_store"]),
        inputs=object_store_from_spec(arguments["input_store"]),
        outputs=object_store_from_spec(arguments["output_store"]),
        small_file_threshold_bytes=int(threshold) if threshold.isdigit() else DEFAULT_SMALL_FILE_THRESHOLD_BYTES,
        metrics=metrics,
    )
