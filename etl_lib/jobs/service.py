"""The job use cases: what the Lambdas, the events handler and the Glue job call.

Handlers stay thin (parse, call one method here, shape the response); every rule about
jobs lives here or in :mod:`etl_lib.jobs.state`, so the AWS and local back ends behave
the same by construction.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from etl_lib.errors import ConversionError
from etl_lib.jobs import state
from etl_lib.jobs.models import (
    DEFAULT_MAX_UPLOAD_BYTES,
    MIN_PARQUET_BYTES,
    PARQUET_MAGIC,
    Job,
    JobError,
    JobPage,
    JobStatus,
    input_key,
    job_id_from_input_key,
    new_job_id,
    output_key,
    output_prefix,
    report_key,
    utc_now,
)
from etl_lib.jobs.ports import JobLauncher, JobMetrics, JobStore, ObjectStore, PresignedPost
from etl_lib.options import ConvertOptions

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

# Glue run states that end a run without our script having reported a result.
GLUE_FAILED_STATES = frozenset({"FAILED", "TIMEOUT", "STOPPED", "ERROR"})

DEFAULT_SMALL_FILE_THRESHOLD_BYTES = 256 * 1024**2
"""Inputs up to this size run on the local engine (the converter Lambda in AWS, in-process
in the local stack's worker); larger ones on Spark (Glue). SMALL_FILE_THRESHOLD_BYTES."""

# What a client may ask for when creating a job: "auto" leaves the choice to the service
# (by input size); "spark" forces Glue, e.g. to compare or when the local engine misbehaves.
REQUESTABLE_ENGINES = frozenset({"auto", "spark"})


class JobServiceError(Exception):
    """A request the service refuses; ``status`` is the HTTP status the API answers with."""

    status = 400
    code = "BAD_REQUEST"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class JobNotFoundError(JobServiceError):
    status = 404
    code = "JOB_NOT_FOUND"


class JobConflictError(JobServiceError):
    status = 409
    code = "JOB_CONFLICT"


class UploadTooLargeError(JobServiceError):
    status = 413
    code = "FILE_TOO_LARGE"


@dataclass(frozen=True)
class Limits:
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    upload_expires_in: int = 15 * 60
    download_expires_in: int = 5 * 60


@dataclass(frozen=True)
class Download:
    url: str
    expires_at: datetime
    filename: str


class JobService:
    def __init__(
        self,
        *,
        jobs: JobStore,
        inputs: ObjectStore,
        outputs: ObjectStore,
        launcher: JobLauncher | None = None,
        local_launcher: JobLauncher | None = None,
        limits: Limits | None = None,
        engine: str = "auto",
        small_file_threshold_bytes: int = DEFAULT_SMALL_FILE_THRESHOLD_BYTES,
        run_arguments: Mapping[str, str] | None = None,
        metrics: JobMetrics | None = None,
    ) -> None:
        self.jobs = jobs
        self.inputs = inputs
        self.outputs = outputs
        # ``launcher`` starts Spark runs (Glue); ``local_launcher`` local-engine runs (the
        # converter Lambda). Without one, ``launcher`` starts both: the run reads the engine
        # from the job, so the Glue script (or the local stack's worker) can run either.
        self.launcher = launcher
        self.local_launcher = local_launcher
        self.limits = limits or Limits()
        # The deployment's default for "auto" requests ("etl up --engine" locally).
        self.engine = engine
        self.small_file_threshold_bytes = small_file_threshold_bytes
        # Where the run finds the same stores (see settings.run_arguments): a Glue run
        # has no environment of ours, only its arguments.
        self.run_arguments = dict(run_arguments or {})
        self.metrics = metrics

    def observed_by(self, metrics: JobMetrics) -> JobService:
        """This service, reporting each job that ends to ``metrics`` (same stores)."""
        observed = copy.copy(self)
        observed.metrics = metrics
        return observed

    # --- API: create, read, download, delete -------------------------------------------

    def create_job(
        self, owner: str, *, filename: str, size: int, options: ConvertOptions, engine: str = "auto"
    ) -> tuple[Job, PresignedPost]:
        if engine not in REQUESTABLE_ENGINES:
            raise JobServiceError(f"engine must be one of {', '.join(sorted(REQUESTABLE_ENGINES))}, not {engine!r}")
        if size > self.limits.max_upload_bytes:
            raise UploadTooLargeError(
                f"{filename} is {size:,} bytes; the limit is {self.limits.max_upload_bytes:,} bytes"
            )
        now = utc_now()
        job = Job(
            job_id=new_job_id(),
            owner=owner,
            status=JobStatus.PENDING,
            filename=filename,
            options=options,
            # Until the upload is accepted this is the engine asked for ("auto" or a
            # forced one); from QUEUED on, the one chosen; once SUCCEEDED, the one that ran.
            engine=self.engine if engine == "auto" else engine,
            created_at=now,
            updated_at=now,
            declared_bytes=size,
        )
        self.jobs.create(job)
        upload = self.inputs.presign_post(
            input_key(job.job_id), max_bytes=size, expires_in=self.limits.upload_expires_in
        )
        return job, upload

    def get_job(self, owner: str, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        # Someone else's job is indistinguishable from a missing one.
        if job is None or job.owner != owner:
            raise JobNotFoundError(f"no job {job_id}")
        return job

    def list_jobs(self, owner: str, *, limit: int = 20, cursor: str | None = None) -> JobPage:
        try:
            return self.jobs.list_for_owner(owner, limit=limit, cursor=cursor)
        except ValueError as exc:
            raise JobServiceError(str(exc), code="BAD_CURSOR") from exc

    def download(self, owner: str, job_id: str) -> Download:
        job = self.get_job(owner, job_id)
        if job.status is not JobStatus.SUCCEEDED:
            raise JobConflictError(
                f"job {job_id} is {job.status.value}; the output is available once it has SUCCEEDED",
                code="JOB_NOT_FINISHED",
            )
        expires_in = self.limits.download_expires_in
        url = self.outputs.presign_get(
            output_key(job_id, job.options), download_name=job.download_name, expires_in=expires_in
        )
        return Download(url=url, expires_at=utc_now() + timedelta(seconds=expires_in), filename=job.download_name)

    def run_report(self, owner: str, job_id: str) -> dict[str, Any]:
        """The report (etl_lib.report.RunReport as JSON) the run stored next to a SUCCEEDED job's output.

        Returned unparsed: parsing it as a RunReport would load pyarrow into the API Lambdas.
        """
        job = self.get_job(owner, job_id)
        if job.status is not JobStatus.SUCCEEDED:
            raise JobConflictError(
                f"job {job_id} is {job.status.value}; its report is available once it has SUCCEEDED",
                code="JOB_NOT_FINISHED",
            )
        stored = self.outputs.get_bytes(report_key(job_id))
        if stored is None:
            raise JobNotFoundError(f"job {job_id} has no run report", code="REPORT_MISSING")
        report: dict[str, Any] = json.loads(stored)
        return report

    def delete_job(self, owner: str, job_id: str) -> None:
        self.get_job(owner, job_id)
        # A queued or running conversion would write its output after we removed it.
        if not self.jobs.delete(job_id, unless=state.ACTIVE):
            if self.jobs.get(job_id) is None:
                raise JobNotFoundError(f"no job {job_id}")
            raise JobConflictError(
                f"job {job_id} is being converted; delete it once it has finished", code="JOB_ACTIVE"
            )
        self.inputs.delete_prefix(f"inputs/{job_id}/")
        self.outputs.delete_prefix(output_prefix(job_id))

    # --- events: upload finished, run state changed ------------------------------------

    def on_object_created(self, key: str, size: int | None = None) -> Job | None:
        """The input object for a job exists: check it, queue the job, start the run.

        Safe to call twice (S3 delivers at least once): only a PENDING job is queued.
        """
        job_id = job_id_from_input_key(key)
        job = self.jobs.get(job_id) if job_id else None
        if job is None:
            log.warning("object created for no known job", extra={"key": key})
            return None
        if job.status is not JobStatus.PENDING:
            return job  # a duplicate event: the job has moved on already
        actual = self.inputs.size(key) if size is None or size >= 0 else size
        problem = self._check_upload(job, key, actual)
        if problem is not None:
            return self.fail(job.job_id, problem, input_bytes=actual)
        assert actual is not None  # _check_upload refuses a missing object
        engine = self.route(job.engine, actual)
        queued = self.jobs.transition(job.job_id, JobStatus.QUEUED, {"input_bytes": actual, "engine": engine})
        if queued is None:
            return self.jobs.get(job.job_id)  # a concurrent duplicate won the race
        return self._start_run(queued)

    def _check_upload(self, job: Job, key: str, size: int | None) -> JobError | None:
        name = job.filename
        if size is None:
            return JobError(code="UPLOAD_MISSING", message=f"{name}: the uploaded file is not there any more")
        if size == 0:
            return JobError(code="EMPTY_FILE", message=f"{name}: the uploaded file is empty")
        if size > self.limits.max_upload_bytes:
            return JobError(
                code="FILE_TOO_LARGE",
                message=f"{name}: {size:,} bytes is over the limit of {self.limits.max_upload_bytes:,}",
            )
        if size != job.declared_bytes:
            return JobError(
                code="SIZE_MISMATCH",
                message=f"{name}: {size:,} bytes were uploaded but the file has {job.declared_bytes:,}",
            )
        if size < MIN_PARQUET_BYTES:
            return JobError(code="INVALID_PARQUET", message=f"{name}: {size} bytes is too small to be a Parquet file")
        head = self.inputs.read_range(key, 0, 4)
        tail = self.inputs.read_range(key, size - 4, 4)
        if head != PARQUET_MAGIC or tail != PARQUET_MAGIC:
            where = "start" if head != PARQUET_MAGIC else "end"
            return JobError(
                code="INVALID_PARQUET",
                message=f"{name}: not a Parquet file (no PAR1 magic at the {where}; truncated or another format?)",
            )
        return None

    def route(self, engine: str, input_bytes: int) -> str:
        """The engine a job runs on: a forced one as is, "auto" by the input's size."""
        from etl_lib.convert import choose_engine

        return choose_engine(engine, input_bytes, self.small_file_threshold_bytes).value

    def _start_run(self, job: Job) -> Job | None:
        launcher = self.local_launcher if job.engine == "local" and self.local_launcher else self.launcher
        if launcher is None:
            raise RuntimeError("this service has no job launcher")
        try:
            run_id = launcher.start({"--job_id": job.job_id, **self.run_arguments})
        except Exception as exc:
            log.exception("cannot start the conversion run")
            return self.fail(
                job.job_id,
                JobError(code="RUN_NOT_STARTED", message=f"the conversion could not be started: {type(exc).__name__}"),
            )
        # The run may already have marked itself RUNNING (or even finished): then this
        # conditional write is a no-op and the newer state stands.
        running = self.jobs.transition(job.job_id, JobStatus.RUNNING, {"run_id": run_id})
        return running or self.jobs.get(job.job_id)

    def on_run_state(self, run_id: str, run_state: str, message: str | None = None) -> Job | None:
        """A Glue run changed state. Only a run that ended without reporting matters."""
        arguments = self.launcher.arguments_of(run_id) if self.launcher else None
        job_id = (arguments or {}).get("--job_id")
        job = self.jobs.get(job_id) if job_id else None
        if job is None or state.is_terminal(job.status):
            return job
        if run_state in GLUE_FAILED_STATES:
            detail = f": {message}" if message else ""
            return self.fail(
                job.job_id, JobError(code=f"RUN_{run_state}", message=f"the conversion run ended {run_state}{detail}")
            )
        if run_state == "SUCCEEDED":
            # The run ended cleanly but the job was not marked: recover from the report
            # the run stored, or fail rather than stay RUNNING for ever.
            report = self.outputs.get_bytes(report_key(job.job_id))
            if report is not None:
                from etl_lib.report import RunReport

                return self._succeed(job, RunReport.model_validate_json(report))
            return self.fail(
                job.job_id, JobError(code="RUN_LOST", message="the conversion run ended without a result; try again")
            )
        return job

    def on_run_lost(self, job_id: str, reason: str) -> Job | None:
        """A local-engine run (the converter Lambda) crashed or timed out on every attempt.

        Lambda reports it through the converter's on-failure destination; the job must not
        stay RUNNING. A job the run already finished is left as it is.
        """
        job = self.jobs.get(job_id)
        if job is None or state.is_terminal(job.status):
            return job
        return self.fail(job_id, JobError(code="RUN_FAILED", message=f"the conversion run failed: {reason}"))

    # --- the run itself (the Glue job's body) --------------------------------------------

    def run(
        self, job_id: str, *, spark_factory: Callable[[], SparkSession] | None = None, engine: str | None = None
    ) -> Job | None:
        """Convert the job's input to its output, then record SUCCEEDED or FAILED.

        ``spark_factory`` is only called when the job's engine is Spark, so a local-engine
        run never starts a JVM.
        """
        from etl_lib.convert import convert

        job = self.jobs.get(job_id)
        if job is None:
            log.warning("run for a job that no longer exists", extra={"job_id": job_id})
            return None
        if job.status is JobStatus.QUEUED:
            job = self.jobs.transition(job_id, JobStatus.RUNNING) or self.jobs.get(job_id)
        if job is None or job.status is not JobStatus.RUNNING:
            return job  # a duplicate run: the job is already finished
        dest_key = output_key(job_id, job.options)
        engine = engine or job.engine
        if engine == "auto":  # a job queued before routing recorded its engine
            size = job.input_bytes if job.input_bytes is not None else self.inputs.size(input_key(job_id))
            engine = self.route(engine, size or 0)
        try:
            spark = spark_factory() if spark_factory is not None and engine == "spark" else None
            report = convert(
                self.inputs.uri(input_key(job_id)),
                self.outputs.uri_for_write(dest_key),
                job.options,
                engine=engine,
                local_max_bytes=self.small_file_threshold_bytes,
                spark=spark,
            )
            self.outputs.put_bytes(report_key(job_id), report.model_dump_json(indent=2).encode())
        except ConversionError as exc:
            self.outputs.delete_prefix(output_prefix(job_id))
            return self.fail(job_id, JobError(code=exc.code, message=f"{job.filename}: {exc.message}"))
        except Exception as exc:
            self.outputs.delete_prefix(output_prefix(job_id))
            log.exception("conversion crashed")
            self.fail(
                job_id,
                JobError(code="INTERNAL_ERROR", message=f"the conversion failed unexpectedly ({type(exc).__name__})"),
            )
            raise
        finished = self._succeed(job, report)
        if finished is None:  # deleted (or failed by a timeout event) meanwhile: leave nothing
            with contextlib.suppress(Exception):
                self.outputs.delete_prefix(output_prefix(job_id))
        return finished

    def _succeed(self, job: Job, report: Any) -> Job | None:
        succeeded = self.jobs.transition(
            job.job_id,
            JobStatus.SUCCEEDED,
            {
                "engine": report.engine,  # what ran: "auto" resolves by input size
                "input_bytes": report.input_bytes,
                "output_bytes": report.output_bytes,
                "rows_in": report.rows_in,
                "rows_out": report.rows_out,
                "duration_ms": report.duration_ms,
                "error": None,
            },
        )
        self._ended(succeeded)
        return succeeded

    def fail(self, job_id: str, error: JobError, **changes: Any) -> Job | None:
        failed = self.jobs.transition(job_id, JobStatus.FAILED, {"error": error.model_dump(), **changes})
        self._ended(failed)
        return failed or self.jobs.get(job_id)

    def _ended(self, job: Job | None) -> None:
        # Only the caller whose conditional write ended the job reports it, so a job is
        # counted once whichever process (Glue, converter, events Lambda) ended it.
        if job is None or self.metrics is None:
            return
        try:
            self.metrics.job_ended(job)
        except Exception:  # metrics must never change a job's outcome
            log.exception("cannot publish the job's metrics")
