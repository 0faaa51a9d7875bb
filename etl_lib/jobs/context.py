"""What every job use case shares: the stores, the launchers, the limits and the clock.

The job service (:mod:`etl_lib.jobs.service`) is split by use case into parts that each hold
the same :class:`JobContext`, so a setting changed on the service (a test's clock, a shorter
lease) is seen by every part at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from etl_lib.jobs.models import DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_MIN_PART_BYTES, DEFAULT_MULTIPART_THRESHOLD_BYTES
from etl_lib.jobs.ports import JobLauncher, JobMetrics, JobStore, ObjectStore, OutputCatalog
from etl_lib.jobs.sizing import Prices
from etl_lib.options import DEFAULT_SMALL_FILE_THRESHOLD_BYTES, Engine, Limits, choose_engine

DEFAULT_RUN_LEASE_SECONDS = 120
"""How long a run's claim on its job stands without renewal. The run renews it every third
of that while it converts, so a live run keeps its job; a dead one (killed worker, crashed
or timed-out Lambda) frees it this long after its last renewal, for a retry to take over."""

DEFAULT_JOB_RETENTION_DAYS = 30
"""How long a job and its output are kept after it ends: the output bucket's lifecycle rule
deletes outputs after the same number of days (infra/config.py output_retention_days)."""

UPLOAD_GRACE_SECONDS = 15 * 60
"""A PENDING job expires this long after its upload URL: an upload that started just before
the URL expired is still accepted (S3 checks the policy when the request starts)."""


@dataclass(frozen=True)
class JobLimits:
    """What the API allows around a job (upload size, URL lifetimes, retention, active jobs
    per user); the conversion's own limits are :class:`etl_lib.options.Limits`."""

    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    upload_expires_in: int = 15 * 60
    download_expires_in: int = 5 * 60
    # Seconds a job is kept once its upload arrived (then it and its files are deleted).
    job_retention_seconds: int = DEFAULT_JOB_RETENTION_DAYS * 86_400
    # Unfinished (PENDING, QUEUED, RUNNING) jobs one user may have; 0 for no limit.
    max_active_jobs_per_user: int = 0
    # Of those, jobs on Spark (asked for, or routed there by their size); 0 for no limit.
    max_spark_jobs_per_user: int = 0
    # Larger uploads are multipart uploads, in parts of at least min_part_bytes.
    multipart_threshold_bytes: int = DEFAULT_MULTIPART_THRESHOLD_BYTES
    min_part_bytes: int = DEFAULT_MIN_PART_BYTES
    # A run report larger than this (a file of thousands of columns) is served by a
    # presigned link, not in the API's body: Lambda answers 6 MB at most.
    report_inline_max_bytes: int = 1024**2
    # Where data engineers' jobs may read in place (create_source_job): S3 buckets and Glue
    # catalog databases, the deployment's allow-list; none by default.
    source_buckets: frozenset[str] = frozenset()
    source_databases: frozenset[str] = frozenset()


@dataclass(eq=False)
class JobContext:
    """The stores and settings of one job service; mutable, as the service's own attributes
    are (see :class:`etl_lib.jobs.service.JobService`)."""

    jobs: JobStore
    inputs: ObjectStore
    outputs: ObjectStore
    # ``launcher`` starts Spark runs (Glue); ``local_launcher`` local-engine runs (the
    # converter Lambda). Without one, ``launcher`` starts both: the run reads the engine
    # from the job, so the Glue script (or the local stack's worker) can run either.
    launcher: JobLauncher | None = None
    local_launcher: JobLauncher | None = None
    limits: JobLimits = field(default_factory=JobLimits)
    # The deployment's default for "auto" requests ("etl up --engine" locally).
    engine: Engine = Engine.AUTO
    small_file_threshold_bytes: int = DEFAULT_SMALL_FILE_THRESHOLD_BYTES
    # Where the run finds the same stores (see settings.run_arguments): a Glue run
    # has no environment of ours, only its arguments.
    run_arguments: dict[str, str] = field(default_factory=dict)
    metrics: JobMetrics | None = None
    lease_seconds: int = DEFAULT_RUN_LEASE_SECONDS
    # A local-engine run (the converter Lambda) keeps the Lambda-sized defaults; a Spark
    # run (Glue) takes the large files and is bounded by the Glue job's timeout.
    spark_limits: Limits = field(default_factory=Limits.for_spark)
    # How often a run that found its job claimed by another looks again (see claims.claim).
    claim_poll_seconds: float = 1.0
    # Where SUCCEEDED JSON Lines outputs are registered as tables; None: not registered
    # (a deployment or run without a catalog database, e.g. runs started before one).
    catalog: OutputCatalog | None = None
    # What a run's estimated cost is computed at (record_cost).
    prices: Prices = field(default_factory=Prices)
    # Epoch seconds now: what job expiry and the per-user limit are judged by (leases use
    # the real time, as every process holding one must agree on it).
    clock: Callable[[], float] = time.time

    def retained(self) -> int:
        """When a job that ends now expires (epoch seconds): kept for the retention period."""
        return int(self.clock()) + self.limits.job_retention_seconds

    def route(self, engine: Engine | str, input_bytes: int) -> Engine:
        """The engine a job runs on: the library's own choice, with this service's threshold."""
        return choose_engine(engine, input_bytes, self.small_file_threshold_bytes)
