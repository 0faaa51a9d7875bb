"""The job use cases: what the Lambdas, the events handler and the Glue job call.

Handlers stay thin (parse, call one method here, shape the response); every rule about
jobs lives in the modules this facade composes, or in :mod:`etl_lib.jobs.state`, so the AWS
and local back ends behave the same by construction:

- :mod:`etl_lib.jobs.requests`: create, read, list, download, report, delete;
- :mod:`etl_lib.jobs.uploads`: a multipart upload's parts, and the upload's arrival (checked,
  routed to an engine, its run started);
- :mod:`etl_lib.jobs.launches`: starting runs and the launchers' run-state events;
- :mod:`etl_lib.jobs.attempts` and :mod:`etl_lib.jobs.claims`: the run itself, its claim and
  lease;
- :mod:`etl_lib.jobs.endings`: how a job ends (one conditional write, metrics, files);
- :mod:`etl_lib.jobs.costs`: what a run cost; :mod:`etl_lib.jobs.sweep`: expired jobs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, overload

from etl_lib.errors import JobConflictError, JobNotFoundError, JobServiceError, UploadTooLargeError
from etl_lib.jobs import endings, sweep
from etl_lib.jobs.attempts import Attempts
from etl_lib.jobs.claims import MIN_RUN_SECONDS, RUN_FINISH_SECONDS
from etl_lib.jobs.context import (
    DEFAULT_JOB_RETENTION_DAYS,
    DEFAULT_RUN_LEASE_SECONDS,
    UPLOAD_GRACE_SECONDS,
    JobContext,
    JobLimits,
)
from etl_lib.jobs.costs import RunCosts
from etl_lib.jobs.launches import GLUE_FAILED_STATES, Launches
from etl_lib.jobs.models import Job, JobError
from etl_lib.jobs.ports import JobLauncher, JobMetrics, JobStore, ObjectStore, OutputCatalog
from etl_lib.jobs.requests import REQUESTABLE_ENGINES, Download, MultipartPlan, ReportLink, Requests
from etl_lib.jobs.sizing import Prices
from etl_lib.jobs.uploads import NAMED_PARTS, Uploads
from etl_lib.options import DEFAULT_SMALL_FILE_THRESHOLD_BYTES, Engine, Limits

__all__ = [
    "DEFAULT_JOB_RETENTION_DAYS",
    "DEFAULT_RUN_LEASE_SECONDS",
    "GLUE_FAILED_STATES",
    "MIN_RUN_SECONDS",
    "NAMED_PARTS",
    "REQUESTABLE_ENGINES",
    "RUN_FINISH_SECONDS",
    "UPLOAD_GRACE_SECONDS",
    "Download",
    "JobConflictError",
    "JobLimits",
    "JobNotFoundError",
    "JobService",
    "JobServiceError",
    "MultipartPlan",
    "ReportLink",
    "UploadTooLargeError",
]


class _Shared[T]:
    """A setting of the service that is its context's own: read and written there, so that
    every part sees a change made on the service (a test's clock, a shorter lease)."""

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, service: None, owner: type[Any] | None = None) -> _Shared[T]: ...
    @overload
    def __get__(self, service: JobService, owner: type[Any] | None = None) -> T: ...
    def __get__(self, service: JobService | None, owner: type[Any] | None = None) -> T | _Shared[T]:
        if service is None:  # read on the class (inspect, help): the descriptor itself
            return self
        value: T = getattr(service.context, self.name)
        return value

    def __set__(self, service: JobService, value: T) -> None:
        setattr(service.context, self.name, value)


class JobService:
    """The job use cases behind one object: a facade over the parts that hold them, all
    sharing one :class:`~etl_lib.jobs.context.JobContext`."""

    jobs = _Shared[JobStore]()
    inputs = _Shared[ObjectStore]()
    outputs = _Shared[ObjectStore]()
    launcher = _Shared[JobLauncher | None]()
    local_launcher = _Shared[JobLauncher | None]()
    limits = _Shared[JobLimits]()
    engine = _Shared[Engine]()
    small_file_threshold_bytes = _Shared[int]()
    run_arguments = _Shared[dict[str, str]]()
    metrics = _Shared[JobMetrics | None]()
    lease_seconds = _Shared[int]()
    spark_limits = _Shared[Limits]()
    claim_poll_seconds = _Shared[float]()
    catalog = _Shared[OutputCatalog | None]()
    prices = _Shared[Prices]()
    clock = _Shared[Callable[[], float]]()

    def __init__(
        self,
        *,
        jobs: JobStore,
        inputs: ObjectStore,
        outputs: ObjectStore,
        launcher: JobLauncher | None = None,
        local_launcher: JobLauncher | None = None,
        limits: JobLimits | None = None,
        engine: Engine | str = Engine.AUTO,
        small_file_threshold_bytes: int = DEFAULT_SMALL_FILE_THRESHOLD_BYTES,
        run_arguments: Mapping[str, str] | None = None,
        metrics: JobMetrics | None = None,
        lease_seconds: int = DEFAULT_RUN_LEASE_SECONDS,
        spark_limits: Limits | None = None,
        claim_poll_seconds: float = 1.0,
        catalog: OutputCatalog | None = None,
        prices: Prices | None = None,
    ) -> None:
        self._compose(
            JobContext(
                jobs=jobs,
                inputs=inputs,
                outputs=outputs,
                launcher=launcher,
                local_launcher=local_launcher,
                limits=limits or JobLimits(),
                engine=Engine(engine),
                small_file_threshold_bytes=small_file_threshold_bytes,
                run_arguments=dict(run_arguments or {}),
                metrics=metrics,
                lease_seconds=lease_seconds,
                spark_limits=spark_limits or Limits.for_spark(),
                claim_poll_seconds=claim_poll_seconds,
                catalog=catalog,
                prices=prices or Prices(),
            )
        )

    def _compose(self, context: JobContext) -> None:
        self.context = context
        costs = RunCosts(context)
        launches = Launches(context, costs)
        requests = Requests(context, launches)
        uploads = Uploads(context, requests, launches)
        attempts = Attempts(context)
        # Each use case is its part's own method, bound here rather than restated as a
        # wrapper: the signature and the docstring are written once, in that part.
        self.create_job = requests.create_job
        self.create_source_job = requests.create_source_job
        self.runs_on_spark = requests.runs_on_spark
        self.get_job = requests.get_job
        self.list_jobs = requests.list_jobs
        self.download = requests.download
        self.run_report = requests.run_report
        self.delete_job = requests.delete_job
        self.upload_parts = uploads.upload_parts
        self.presign_part = uploads.presign_part
        self.complete_upload = uploads.complete_upload
        self.on_object_created = uploads.on_object_created
        self.relaunch = launches.relaunch
        self.on_run_state = launches.on_run_state
        self.on_run_lost = launches.on_run_lost
        self.record_lambda_cost = costs.record_lambda_cost
        self.record_cost = costs.record_cost
        self.run = attempts.run

    def observed_by(self, metrics: JobMetrics) -> JobService:
        """This service, reporting each job that ends to ``metrics`` (same stores)."""
        observed = JobService.__new__(JobService)
        observed._compose(replace(self.context, metrics=metrics))
        return observed

    def route(self, engine: Engine | str, input_bytes: int) -> Engine:
        """The engine a job runs on: :func:`etl_lib.options.choose_engine` (the library's
        routing, the only one), with this service's threshold."""
        return self.context.route(engine, input_bytes)

    def fail(self, job_id: str, error: JobError, *, attempt: str | None = None, **changes: Any) -> Job | None:
        """See :func:`etl_lib.jobs.endings.fail`."""
        return endings.fail(self.context, job_id, error, attempt=attempt, **changes)

    def fail_if_attempt(
        self, job_id: str, attempt: str, error: JobError, *, lapsed_by: int | None = None
    ) -> Job | None:
        """See :func:`etl_lib.jobs.endings.fail_if_attempt`."""
        return endings.fail_if_attempt(self.context, job_id, attempt, error, lapsed_by=lapsed_by)

    def fail_unclaimed(self, job_id: str, error: JobError, *, queued_by: int) -> Job | None:
        """See :func:`etl_lib.jobs.endings.fail_unclaimed`."""
        return endings.fail_unclaimed(self.context, job_id, error, queued_by=queued_by)

    def sweep_expired(self, *, now: int | None = None, limit: int = 100) -> int:
        """See :func:`etl_lib.jobs.sweep.sweep_expired`."""
        return sweep.sweep_expired(self.context, now=now, limit=limit)
