"""Environment-specific settings, read from CDK context (cdk.json, ``-c key=value``).

Everything that differs between a dev and a prod deployment lives here, so an environment is
chosen with context, never by editing code. Keys are camelCase as in cdk.json; each has a
default that synthesizes a working (dev-sized) stack.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field, fields
from typing import Any

from constructs import Node

from etl_lib.jobs.models import (
    DEFAULT_MAX_UPLOAD_BYTES,
    DEFAULT_MIN_PART_BYTES,
    DEFAULT_MULTIPART_THRESHOLD_BYTES,
    DEFAULT_VALIDATION_MAX_JOBS,
    S3_MAX_PART_BYTES,
    S3_MIN_PART_BYTES,
)
from etl_lib.jobs.service import DEFAULT_JOB_RETENTION_DAYS
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
from etl_lib.options import DEFAULT_SMALL_FILE_THRESHOLD_BYTES

# S3's bucket names, and the Glue database names the allow-list takes (no wildcards: each
# name is granted as it is).
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_DATABASE = re.compile(r"[A-Za-z0-9_-]{1,255}")

# The context key prefix: every setting is `etl:<key>` so it cannot collide with CDK's own flags.
PREFIX = "etl:"


@dataclass(frozen=True, kw_only=True)
class InfraConfig:
    # Where to deploy. The dummy defaults keep `synth` offline and deterministic: no lookups.
    account: str = "111111111111"
    region: str = "eu-west-1"
    stack_name: str = "ParquetJsonEtl-dev"
    # Physical-name prefix for resources that have one (Glue job, dashboard, user pool...).
    name_prefix: str = "parquet-json-etl-dev"
    # Data lifecycle: uploads are only needed until converted, results until downloaded.
    input_retention_days: int = 7
    # Outputs, and the job records that link to them (JOB_RETENTION_DAYS), are kept this long.
    output_retention_days: int = DEFAULT_JOB_RETENTION_DAYS
    access_log_retention_days: int = 90
    abort_multipart_days: int = 1
    log_retention_days: int = 30
    # Job records expire through the DynamoDB TTL attribute set by the Lambdas.
    job_ttl_attribute: str = "expires_at"
    # Upload limit and the size up to which the converter Lambda runs a job (larger: Glue);
    # the runtime's own defaults, so a deployment behaves like `etl up` unless told otherwise.
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    # Uploads larger than this are S3 multipart uploads (parts of at least min_part_bytes,
    # larger for files over 10,000 of them); smaller ones a single presigned POST.
    multipart_threshold_bytes: int = DEFAULT_MULTIPART_THRESHOLD_BYTES
    min_part_bytes: int = DEFAULT_MIN_PART_BYTES
    small_file_threshold_bytes: int = DEFAULT_SMALL_FILE_THRESHOLD_BYTES
    # Fair use: unfinished (PENDING, QUEUED, RUNNING) jobs one user may have; more get 429.
    # 0 turns the limit off.
    max_active_jobs_per_user: int = 10
    # Of those, jobs on Spark (asked for, or large): kept below the Glue job's concurrent runs
    # so no one user can hold them all. 0 turns the limit off.
    max_spark_jobs_per_user: int = 3
    # Whether anyone may create an account in the user pool (and the web app offers it). Off:
    # an administrator creates users (Cognito's AdminCreateUser, or the console).
    self_sign_up: bool = False
    # API protection: the stage's throttling is shared by all callers; the WAF web ACL's
    # rate-based rules (requests per 5 minutes) block one caller, or one IP, over its limit.
    api_throttle_rate: float = 20.0
    api_throttle_burst: int = 40
    waf: bool = True
    waf_requests_per_caller: int = 1500
    waf_requests_per_ip: int = 3000
    # Browser origins allowed besides the CloudFront distribution (e.g. a local Vite dev server).
    extra_allowed_origins: tuple[str, ...] = ()
    cognito_mfa: str = "OPTIONAL"  # OFF | OPTIONAL | REQUIRED
    # Data engineers' sources (POST /jobs/source, the Cognito group "engineers"): the S3 buckets
    # and Glue catalog databases they may convert in place; the Glue role may read exactly these.
    source_buckets: tuple[str, ...] = ()
    source_databases: tuple[str, ...] = ()
    # Lambdas.
    lambda_memory_mb: int = 512
    lambda_timeout_seconds: int = 29
    converter_memory_mb: int = 3008
    converter_timeout_seconds: int = 900
    # Concurrent converter runs reserved (and allowed): a flood of small jobs can neither
    # starve the API's functions of the account's concurrency nor grow past it. Lambda keeps
    # 100 of the account's quota unreserved, so the quota must be at least 100 + this. 0: none.
    converter_reserved_concurrency: int = 20
    powertools_layer_arn: str = (
        "arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-x86_64:18"
    )
    # "auto": use build/infra/lambda-bundle (with vendored wheels) when `make lambda-bundle`
    # made it, else the source-only asset. "source": always source-only (tests, CI).
    lambda_bundle: str = "auto"
    # Glue.
    glue_timeout_minutes: int = 60
    glue_max_retries: int = 0
    glue_max_concurrent_runs: int = 10
    # Glue job run queuing: a run started beyond glue_max_concurrent_runs (or the account's
    # quotas) WAITs for a slot instead of failing at once (the job would end RUN_NOT_STARTED).
    # Glue queues only runs of jobs without retries, hence glue_max_retries must be 0.
    glue_job_run_queuing: bool = True
    # Glue sizing by data (etl_lib/jobs/sizing.py, docs/scaling.md). The job runs with Glue Auto
    # Scaling; each run is started with the worker type and count its input's size needs, within
    # these bounds: types tried smallest first, at least glue_min_workers, at most
    # glue_number_of_workers (the job definition's NumberOfWorkers: every run's ceiling), enough
    # workers to convert in glue_target_seconds at the measured per-core throughput.
    glue_worker_types: tuple[str, ...] = DEFAULT_WORKER_TYPES
    glue_min_workers: int = GLUE_MIN_WORKERS
    glue_number_of_workers: int = DEFAULT_MAX_WORKERS
    glue_target_seconds: int = DEFAULT_TARGET_SECONDS
    # The prices (USD) each run's report estimates its cost at: check them for the region.
    glue_dpu_hour_usd: float = DEFAULT_GLUE_DPU_HOUR_USD
    glue_flex_dpu_hour_usd: float = DEFAULT_GLUE_FLEX_DPU_HOUR_USD
    lambda_gb_second_usd: float = DEFAULT_LAMBDA_GB_SECOND_USD
    # VPC isolation: the Lambdas and the Glue job in private isolated subnets of a VPC of their
    # own (infra/pipeline/network.py), reaching AWS through VPC endpoints only. Off: no VPC.
    vpc: bool = False
    vpc_cidr: str = "10.42.0.0/16"
    # Its two Availability Zones; empty: the region's "a" and "b" (named, so synth looks nothing up).
    vpc_availability_zones: tuple[str, ...] = ()
    # Scheduled validation of recent results.
    validation_schedule: str = "cron(0 3 * * ? *)"
    # Jobs one scheduled run validates at most: the oldest not yet validated, the rest next run.
    validation_max_jobs: int = DEFAULT_VALIDATION_MAX_JOBS
    # Monitoring.
    metrics_namespace: str = "ParquetJsonEtl"
    alarm_emails: tuple[str, ...] = ()
    # "retain" keeps buckets/table/user pool on stack deletion (prod); "destroy" for throwaway stacks.
    removal_policy: str = "retain"
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.lambda_bundle not in {"auto", "source"}:
            raise ValueError(f"etl:lambdaBundle must be 'auto' or 'source', not {self.lambda_bundle!r}")
        if self.removal_policy not in {"retain", "destroy"}:
            raise ValueError(f"etl:removalPolicy must be 'retain' or 'destroy', not {self.removal_policy!r}")
        if self.cognito_mfa not in {"OFF", "OPTIONAL", "REQUIRED"}:
            raise ValueError(f"etl:cognitoMfa must be OFF, OPTIONAL or REQUIRED, not {self.cognito_mfa!r}")
        if self.glue_job_run_queuing and self.glue_max_retries:
            raise ValueError("etl:glueJobRunQueuing needs etl:glueMaxRetries=0 (Glue queues only runs without retries)")
        if self.max_active_jobs_per_user < 0:
            raise ValueError("etl:maxActiveJobsPerUser must be 0 (no limit) or positive")
        if not 0 <= self.max_spark_jobs_per_user < self.glue_max_concurrent_runs:
            raise ValueError(
                "etl:maxSparkJobsPerUser must be below etl:glueMaxConcurrentRuns (one user must not fill "
                "the Glue job's slots), or 0 (no limit)"
            )
        if self.converter_reserved_concurrency < 0:
            raise ValueError("etl:converterReservedConcurrency must be 0 (none) or positive")
        for name in ("waf_requests_per_caller", "waf_requests_per_ip"):
            if not 10 <= getattr(self, name) <= 2_000_000_000:  # AWS WAF's bounds for a rate limit
                raise ValueError(f"etl:{_camel(name)} must be between 10 and 2,000,000,000 requests per 5 minutes")
        if not S3_MIN_PART_BYTES <= self.min_part_bytes <= S3_MAX_PART_BYTES:
            raise ValueError(
                f"etl:minPartBytes must be between {S3_MIN_PART_BYTES} and {S3_MAX_PART_BYTES} (S3's parts)"
            )
        if not 1 <= self.multipart_threshold_bytes <= S3_MAX_PART_BYTES:
            raise ValueError(f"etl:multipartThresholdBytes must be between 1 and {S3_MAX_PART_BYTES} (a POST's limit)")
        if self.max_upload_bytes > DEFAULT_MAX_UPLOAD_BYTES:
            raise ValueError(
                f"etl:maxUploadBytes may not exceed {DEFAULT_MAX_UPLOAD_BYTES}, the API's documented maximum"
            )
        if self.small_file_threshold_bytes > self.max_upload_bytes:
            raise ValueError("etl:smallFileThresholdBytes must not exceed etl:maxUploadBytes")
        self._check_sizing_and_network()
        self._check_sources()

    def _check_sizing_and_network(self) -> None:
        _ = self.glue_sizing, self.prices  # bad bounds, worker types or prices fail the synth here
        if self.vpc_availability_zones and len(self.vpc_availability_zones) != 2:
            raise ValueError("etl:vpcAvailabilityZones must name two Availability Zones")

    @property
    def glue_sizing(self) -> GlueSizing:
        """The bounds each Glue run is sized within (the events Lambda reads them)."""
        try:
            return GlueSizing(
                worker_types=self.glue_worker_types,
                min_workers=self.glue_min_workers,
                max_workers=self.glue_number_of_workers,
                target_seconds=self.glue_target_seconds,
            )
        except ValueError as exc:
            raise ValueError(
                f"etl:glueWorkerTypes/glueMinWorkers/glueNumberOfWorkers/glueTargetSeconds: {exc}"
            ) from None

    @property
    def prices(self) -> Prices:
        if min(self.glue_dpu_hour_usd, self.glue_flex_dpu_hour_usd, self.lambda_gb_second_usd) < 0:
            raise ValueError(
                "etl:glueDpuHourUsd, etl:glueFlexDpuHourUsd and etl:lambdaGbSecondUsd must not be negative"
            )
        return Prices(
            glue_dpu_hour=self.glue_dpu_hour_usd,
            glue_flex_dpu_hour=self.glue_flex_dpu_hour_usd,
            lambda_gb_second=self.lambda_gb_second_usd,
        )

    @property
    def availability_zones(self) -> tuple[str, ...]:
        return self.vpc_availability_zones or (f"{self.region}a", f"{self.region}b")

    def _check_sources(self) -> None:
        """Each allow-listed source is one name (it is granted as written: no wildcards)."""
        for bucket in self.source_buckets:
            if not _BUCKET.fullmatch(bucket):
                raise ValueError(f"etl:sourceBuckets: {bucket!r} is not an S3 bucket name")
        for database in self.source_databases:
            if not _DATABASE.fullmatch(database):
                raise ValueError(f"etl:sourceDatabases: {database!r} is not a Glue database name")

    @property
    def powertools_layer(self) -> str:
        return self.powertools_layer_arn.format(region=self.region)

    @classmethod
    def context_keys(cls) -> dict[str, str]:
        """Context key (`etl:camelCase`) → field name."""
        return {PREFIX + _camel(f.name): f.name for f in fields(cls)}

    @classmethod
    def from_node(cls, node: Node) -> InfraConfig:
        """The settings ``node``'s context gives (``etl:`` keys), over the defaults. A key that
        names no setting (a typo, or one renamed since) fails the synth rather than be ignored
        while the deployment runs with the default."""
        known = cls.context_keys()
        unknown = sorted(key for key in node.get_all_context() if key.startswith(PREFIX) and key not in known)
        if unknown:
            raise ValueError("; ".join(_unknown_setting(key, known) for key in unknown))
        values: dict[str, Any] = {}
        for key, name in known.items():
            raw = node.try_get_context(key)
            if raw is not None:
                values[name] = _coerce(cls, name, raw)
        return cls(**values)


def _unknown_setting(key: str, known: dict[str, str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    return f"{key} is not a setting" + (f"; did you mean {close[0]}?" if close else " (see infra/config.py)")


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _coerce(cls: type[InfraConfig], name: str, raw: Any) -> Any:
    """Context given on the command line (`-c etl:glueNumberOfWorkers=4`) arrives as a string."""
    default = next(f for f in fields(cls) if f.name == name)
    kind = default.type
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        if str(raw).lower() in {"true", "false"}:
            return str(raw).lower() == "true"
        raise ValueError(f"{PREFIX}{_camel(name)} must be true or false, not {raw!r}")
    if isinstance(raw, str) and kind not in ("str",):
        if kind.startswith(("tuple", "dict")):
            raw = json.loads(raw)
        elif kind == "int":
            return int(raw)
        elif kind == "float":
            return float(raw)
    if kind.startswith("tuple"):
        return tuple(raw)
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    return raw
