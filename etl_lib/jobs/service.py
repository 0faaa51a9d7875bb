"""The job use cases: what the Lambdas, the events handler and the Glue job call.

Handlers stay thin (parse, call one method here, shape the response); every rule about
jobs lives here or in :mod:`etl_lib.jobs.state`, so the AWS and local back ends behave
the same by construction.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from etl_lib import errors
from etl_lib.errors import (
    ConversionError,
    JobConflictError,
    JobExpiredError,
    JobNotFoundError,
    JobServiceError,
    SourceNotAllowedError,
    TooManyActiveJobsError,
    TooManySparkJobsError,
    UploadTooLargeError,
)
from etl_lib.input.sources import is_catalog, s3_bucket, source_name, split_table
from etl_lib.jobs import state
from etl_lib.jobs.models import (
    DEFAULT_MAX_UPLOAD_BYTES,
    DEFAULT_MIN_PART_BYTES,
    DEFAULT_MULTIPART_THRESHOLD_BYTES,
    MIN_PARQUET_BYTES,
    PARQUET_MAGIC,
    Job,
    JobError,
    JobPage,
    JobStatus,
    attempt_prefix,
    input_key,
    job_id_from_input_key,
    legacy_output_key,
    new_attempt_id,
    new_job_id,
    output_key,
    output_prefix,
    part_bytes,
    plan_parts,
    report_key,
    utc_now,
)
from etl_lib.jobs.ports import (
    JobLauncher,
    JobMetrics,
    JobStore,
    ObjectStore,
    OutputCatalog,
    PartsRefusedError,
    PresignedPart,
    PresignedPost,
    Quota,
    RunSpec,
    UploadedPart,
    UploadGoneError,
)
from etl_lib.jobs.sizing import ExecutionClass, Prices, RunCost, lambda_gb_seconds
from etl_lib.options import (
    DEFAULT_SMALL_FILE_THRESHOLD_BYTES,
    Compression,
    ConvertOptions,
    Engine,
    Limits,
    OutputFormat,
    choose_engine,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

# Glue run states that end a run without our script having reported a result.
GLUE_FAILED_STATES = frozenset({"FAILED", "TIMEOUT", "STOPPED", "ERROR"})

DEFAULT_RUN_LEASE_SECONDS = 120
# Kept free before a run's ``must_end_by``: the report, the final conditional write, and the
# removal of the attempt's files after a failure.
RUN_FINISH_SECONDS = 30
# A run that could not claim its job until less than this is left before ``must_end_by``
# stops waiting: the job's holder, or the reconciler, ends it.
MIN_RUN_SECONDS = 60
"""How long a run's claim on its job stands without renewal. The run renews it every third
of that while it converts, so a live run keeps its job; a dead one (killed worker, crashed
or timed-out Lambda) frees it this long after its last renewal, for a retry to take over."""

__all__ = ["JobConflictError", "JobNotFoundError", "JobService", "JobServiceError", "UploadTooLargeError"]

# What a client may ask for when creating a job: "auto" leaves the choice to the service
# (by input size); "spark" forces Glue, e.g. to compare or when the local engine misbehaves.
REQUESTABLE_ENGINES = frozenset({Engine.AUTO, Engine.SPARK})


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


@dataclass(frozen=True)
class MultipartPlan:
    """How a client uploads a file in parts: ``part_count`` parts of ``part_size`` bytes,
    the last one holding the remainder."""

    part_size: int
    part_count: int


# Part numbers named in one refusal at most (the message stays one short line).
NAMED_PARTS = 5


@dataclass(frozen=True)
class Download:
    url: str
    expires_at: datetime
    filename: str


@dataclass(frozen=True)
class ReportLink:
    """Where a large run report can be read (see :attr:`JobLimits.report_inline_max_bytes`)."""

    url: str
    expires_at: datetime
    size: int


class JobService:
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
        self.jobs = jobs
        self.inputs = inputs
        self.outputs = outputs
        # ``launcher`` starts Spark runs (Glue); ``local_launcher`` local-engine runs (the
        # converter Lambda). Without one, ``launcher`` starts both: the run reads the engine
        # from the job, so the Glue script (or the local stack's worker) can run either.
        self.launcher = launcher
        self.local_launcher = local_launcher
        self.limits = limits or JobLimits()
        # The deployment's default for "auto" requests ("etl up --engine" locally).
        self.engine = Engine(engine)
        self.small_file_threshold_bytes = small_file_threshold_bytes
        # Where the run finds the same stores (see settings.run_arguments): a Glue run
        # has no environment of ours, only its arguments.
        self.run_arguments = dict(run_arguments or {})
        self.metrics = metrics
        self.lease_seconds = lease_seconds
        # A local-engine run (the converter Lambda) keeps the Lambda-sized defaults; a Spark
        # run (Glue) takes the large files and is bounded by the Glue job's timeout.
        self.spark_limits = spark_limits or Limits.for_spark()
        # How often a run that found its job claimed by another looks again (see _claim).
        self.claim_poll_seconds = claim_poll_seconds
        # Where SUCCEEDED JSON Lines outputs are registered as tables; None: not registered
        # (a deployment or run without a catalog database, e.g. runs started before one).
        self.catalog = catalog
        # What a run's estimated cost is computed at (record_cost).
        self.prices = prices or Prices()
        # Epoch seconds now: what job expiry and the per-user limit are judged by (leases use
        # the real time, as every process holding one must agree on it).
        self.clock: Callable[[], float] = time.time

    def observed_by(self, metrics: JobMetrics) -> JobService:
        """This service, reporting each job that ends to ``metrics`` (same stores)."""
        observed = copy.copy(self)
        observed.metrics = metrics
        return observed

    # --- API: create, read, download, delete -------------------------------------------

    def create_job(
        self,
        owner: str,
        *,
        filename: str,
        size: int,
        options: ConvertOptions,
        engine: Engine | str = Engine.AUTO,
        execution_class: ExecutionClass | str = ExecutionClass.STANDARD,
    ) -> tuple[Job, PresignedPost | MultipartPlan]:
        """A PENDING job and how to upload its file: a presigned POST up to the multipart
        threshold, above it a multipart upload the store has started (its plan)."""
        if engine not in REQUESTABLE_ENGINES:
            raise JobServiceError(f"engine must be one of {', '.join(sorted(REQUESTABLE_ENGINES))}, not {engine!r}")
        if size > self.limits.max_upload_bytes:
            raise UploadTooLargeError(
                f"{filename} is {size:,} bytes; the limit is {self.limits.max_upload_bytes:,} bytes"
            )
        now = utc_now()
        job_id = new_job_id()
        multipart = size > self.limits.multipart_threshold_bytes
        part_size, part_count = plan_parts(size, self.limits.min_part_bytes)
        job = Job(
            job_id=job_id,
            owner=owner,
            status=JobStatus.PENDING,
            filename=filename,
            options=options,
            # Until the upload is accepted this is the engine asked for ("auto" or a
            # forced one); from QUEUED on, the one chosen; once SUCCEEDED, the one that ran.
            engine=self.engine if engine == Engine.AUTO else Engine(engine),
            execution_class=ExecutionClass(execution_class),
            created_at=now,
            updated_at=now,
            declared_bytes=size,
            # Without an upload the job is useless once the upload URL has expired (a
            # multipart upload moves this on with each part it signs).
            expires_at=int(now.timestamp()) + self.limits.upload_expires_in + UPLOAD_GRACE_SECONDS,
            # Started before the job is stored, so the record is written once, whole.
            upload_id=self.inputs.create_multipart(input_key(job_id)) if multipart else None,
            part_size=part_size if multipart else None,
        )
        try:
            self._create_within_limit(job)
        except BaseException:
            if job.upload_id is not None:
                self.inputs.abort_multipart(input_key(job_id), job.upload_id)
            raise
        if multipart:
            return job, MultipartPlan(part_size=part_size, part_count=part_count)
        upload = self.inputs.presign_post(input_key(job_id), max_bytes=size, expires_in=self.limits.upload_expires_in)
        return job, upload

    def create_source_job(
        self,
        owner: str,
        *,
        source: str,
        options: ConvertOptions,
        partition_filter: str | None = None,
        engine: Engine | str = Engine.AUTO,
    ) -> Job:
        """A job that converts a dataset where it is, an ``s3://`` prefix or a
        ``glue://DATABASE/TABLE`` of the allow-list, its run started at once (no upload).

        It runs on Spark (the Glue job, whose role the deployment grants the allow-list):
        the input's size is only known once the run lists it. The caller must be a data
        engineer; the API checks that before calling.
        """
        if engine not in REQUESTABLE_ENGINES:
            raise JobServiceError(f"engine must be one of {', '.join(sorted(REQUESTABLE_ENGINES))}, not {engine!r}")
        self._check_source(source, partition_filter)
        now = utc_now()
        job = Job(
            job_id=new_job_id(),
            owner=owner,
            status=JobStatus.QUEUED,
            filename=source_name(source),
            options=options,
            engine=Engine.SPARK,
            created_at=now,
            updated_at=now,
            declared_bytes=0,
            expires_at=self._retained(),
            source=source,
            partition_filter=partition_filter,
        )
        self._create_within_limit(job)
        return self._start_run(job) or job

    def _check_source(self, source: str, partition_filter: str | None) -> None:
        """Refuse a source outside the allow-list (403), or a malformed one (400)."""
        if is_catalog(source):
            try:
                database, _ = split_table(source)
            except ConversionError as exc:
                raise JobServiceError(exc.message) from None
            if database not in self.limits.source_databases:
                raise SourceNotAllowedError(f"the catalog database {database} is not one this deployment reads")
            return
        bucket = s3_bucket(source)
        if bucket is None:
            raise JobServiceError(f"{source} is neither an s3://bucket/prefix nor a glue://DATABASE/TABLE")
        if partition_filter:
            raise JobServiceError("a partition filter applies to glue:// catalog tables only")
        if bucket not in self.limits.source_buckets:
            raise SourceNotAllowedError(f"the bucket {bucket} is not one this deployment reads")

    def _create_within_limit(self, job: Job) -> None:
        """Store the job unless its owner has the most unfinished jobs one user may have.

        Reserved, not counted: the store judges the limit and writes the job atomically, so
        requests racing for the last place let exactly one in (see JobStore.create).
        """
        limit, spark_limit, now = (
            self.limits.max_active_jobs_per_user,
            self.limits.max_spark_jobs_per_user,
            int(self.clock()),
        )
        quota = Quota(spark_limit, self.runs_on_spark) if spark_limit else None
        if self.jobs.create(job, max_active=limit, now=now, quota=quota):
            return
        # Which limit held it back (read after the fact: only the message depends on it).
        if (
            quota is not None
            and quota.counts(job)
            and (not limit or self.jobs.count_active(job.owner, now=now) < limit)
        ):
            raise TooManySparkJobsError(
                f"you already have {spark_limit} unfinished jobs on Spark, the most one user may have; "
                "wait for one to finish, or convert a file small enough for the single-machine engine"
            )
        raise TooManyActiveJobsError(
            f"you already have {limit} unfinished jobs, the most one user may have; "
            "wait for one to finish (or delete one that waits for its upload) and try again"
        )

    def runs_on_spark(self, job: Job) -> bool:
        """Whether ``job`` runs (or will run) on Spark: the engine it was routed to, or, while
        its upload is awaited, the one its requested engine and declared size route to."""
        return self.route(job.engine, job.input_bytes or job.declared_bytes) is Engine.SPARK

    def get_job(self, owner: str, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        # Someone else's job is indistinguishable from a missing one.
        if job is None or job.owner != owner:
            raise JobNotFoundError(f"no job {job_id}")
        return job

    def list_jobs(self, owner: str, *, limit: int = 20, cursor: str | None = None) -> JobPage:
        # A made-up cursor raises InvalidCursorError (400 BAD_CURSOR) from the store.
        return self.jobs.list_for_owner(owner, limit=limit, cursor=cursor)

    def download(self, owner: str, job_id: str) -> Download:
        job = self._succeeded_job(owner, job_id, kept="its output", available="the output")
        expires_in = self.limits.download_expires_in
        key = output_key(job_id, job.options, job.attempt)
        if job.catalog_table is None and self.outputs.size(key) is None:
            # A job that finished before outputs moved into a folder of their own.
            key = legacy_output_key(job_id, job.options, job.attempt)
        url = self.outputs.presign_get(key, download_name=job.download_name, expires_in=expires_in)
        return Download(url=url, expires_at=utc_now() + timedelta(seconds=expires_in), filename=job.download_name)

    def run_report(self, owner: str, job_id: str) -> dict[str, Any] | ReportLink:
        """The report (etl_lib.report.RunReport as JSON) the run stored next to a SUCCEEDED
        job's output; above ``report_inline_max_bytes``, a short-lived link to it instead.

        Returned unparsed: parsing it as a RunReport would load pyarrow into the API Lambdas.
        """
        job = self._succeeded_job(owner, job_id, kept="its report", available="its report")
        key = report_key(job_id, job.attempt)
        size = self.outputs.size(key)
        if size is not None and size > self.limits.report_inline_max_bytes:
            expires_in = self.limits.download_expires_in
            stem = job.download_name.removesuffix(job.options.file_extension)
            url = self.outputs.presign_get(key, download_name=f"{stem}-report.json", expires_in=expires_in)
            return ReportLink(url=url, expires_at=utc_now() + timedelta(seconds=expires_in), size=size)
        stored = self.outputs.get_bytes(key) if size is not None else None
        if stored is None:
            raise JobNotFoundError(f"job {job_id} has no run report", code="REPORT_MISSING")
        report: dict[str, Any] = json.loads(stored)
        return report

    def _succeeded_job(self, owner: str, job_id: str, *, kept: str, available: str) -> Job:
        """The caller's job, if its results may be read: SUCCEEDED and not expired."""
        job = self.get_job(owner, job_id)
        if job.is_expired(self.clock()):
            # Its files are deleted (or about to be) by the bucket's lifecycle rule.
            raise JobExpiredError(f"job {job_id} has expired; {kept} is no longer kept")
        if job.status is not JobStatus.SUCCEEDED:
            raise JobConflictError(
                f"job {job_id} is {job.status.value}; {available} is available once it has SUCCEEDED",
                code="JOB_NOT_FINISHED",
            )
        return job

    # --- API: a multipart upload's parts -------------------------------------------------

    def _uploading_job(self, owner: str, job_id: str) -> Job:
        """The caller's job, if its multipart upload is open: PENDING, unexpired, multipart."""
        job = self.get_job(owner, job_id)
        if job.upload_id is None or job.part_size is None:
            raise JobConflictError(
                f"job {job_id} is uploaded with a single POST form, not in parts", code=errors.UPLOAD_NOT_MULTIPART
            )
        if job.status is not JobStatus.PENDING:
            raise JobConflictError(f"job {job_id} is {job.status.value}: its upload is over", code=errors.UPLOAD_CLOSED)
        if job.is_expired(self.clock()):
            raise JobConflictError(f"job {job_id}'s upload has expired", code=errors.UPLOAD_CLOSED)
        return job

    def _parts_held(self, job: Job) -> list[UploadedPart]:
        assert job.upload_id is not None  # _uploading_job checked it
        try:
            return self.inputs.list_parts(input_key(job.job_id), job.upload_id)
        except UploadGoneError:
            raise JobConflictError(
                f"job {job.job_id}'s upload was completed or aborted", code=errors.UPLOAD_CLOSED
            ) from None

    def upload_parts(self, owner: str, job_id: str) -> list[UploadedPart]:
        """The parts the store holds for the job's multipart upload, by part number (a
        client resuming after a reload sends only the others)."""
        return self._parts_held(self._uploading_job(owner, job_id))

    def presign_part(self, owner: str, job_id: str, part_number: int, *, checksum_sha256: str) -> PresignedPart:
        """A signed UploadPart of one part of the job's upload, bound to the part's SHA-256
        (base64): the store refuses bytes that do not have it. Each part signed keeps the
        upload (the PENDING job) alive for another upload URL lifetime."""
        job = self._uploading_job(owner, job_id)
        assert job.upload_id is not None and job.part_size is not None
        count = -(-job.declared_bytes // job.part_size)
        if not 1 <= part_number <= count:
            raise JobServiceError(
                f"part {part_number} is not one of job {job_id}'s parts (1 to {count})", code=errors.INVALID_PART_NUMBER
            )
        expires_in = self.limits.upload_expires_in
        if not self.jobs.extend_pending(job_id, expires_at=int(self.clock()) + expires_in + UPLOAD_GRACE_SECONDS):
            raise JobConflictError(f"job {job_id}'s upload is over", code=errors.UPLOAD_CLOSED)
        return self.inputs.presign_part(
            input_key(job_id), job.upload_id, part_number, checksum_sha256=checksum_sha256, expires_in=expires_in
        )

    def complete_upload(self, owner: str, job_id: str) -> Job:
        """Assemble the job's parts into its input, from the parts the store holds (not a
        client's list): parts 1 to part_count, each of its planned size. The store then
        announces the object like an upload by POST, which queues the job."""
        job = self._uploading_job(owner, job_id)
        assert job.upload_id is not None and job.part_size is not None
        parts = self._parts_held(job)
        problem = self._parts_problem(job, parts)
        if problem:
            raise JobConflictError(f"{job.filename}: {problem}", code=errors.UPLOAD_INCOMPLETE)
        try:
            self.inputs.complete_multipart(input_key(job_id), job.upload_id, parts)
        except UploadGoneError:
            raise JobConflictError(
                f"job {job_id}'s upload was completed or aborted", code=errors.UPLOAD_CLOSED
            ) from None
        except PartsRefusedError as exc:
            raise JobConflictError(
                f"{job.filename}: the parts changed while completing ({exc}); list them and try again",
                code=errors.UPLOAD_INCOMPLETE,
            ) from None
        return self.jobs.get(job_id) or job

    @staticmethod
    def _parts_problem(job: Job, parts: list[UploadedPart]) -> str | None:
        """What keeps ``parts`` from being the job's whole file, in one line; None if nothing."""
        assert job.part_size is not None
        size, part_size = job.declared_bytes, job.part_size
        count = -(-size // part_size)
        held = {p.part_number: p for p in parts}
        missing = [n for n in range(1, count + 1) if n not in held]
        wrong = [p for p in parts if p.part_number > count or p.size != part_bytes(size, part_size, p.part_number)]
        problems = []
        if missing:
            named = ", ".join(str(n) for n in missing[:NAMED_PARTS])
            more = f" and {len(missing) - NAMED_PARTS} more" if len(missing) > NAMED_PARTS else ""
            problems.append(f"part{'s' * (len(missing) > 1)} {named}{more} of {count} missing")
        for part in wrong[:NAMED_PARTS]:
            if part.part_number > count:
                problems.append(f"part {part.part_number} is beyond the last part ({count})")
            else:
                expected = part_bytes(size, part_size, part.part_number)
                problems.append(f"part {part.part_number} has {part.size:,} bytes, not {expected:,}")
        if not problems:
            return None
        return "the upload is incomplete: " + "; ".join(problems)

    def delete_job(self, owner: str, job_id: str) -> None:
        """Delete the job and its files, unless a live run holds it (409 JOB_ACTIVE).

        A job no run holds may go whatever its status: one whose run never claimed it (that
        run, if it ever starts, finds no job and does nothing), or whose holder's lease has
        lapsed (a dead run; were it only stalled, its final write fails for want of the
        job and it removes its own files)."""
        job = self.get_job(owner, job_id)
        if not self.jobs.delete(job_id, leased_after=int(time.time())):
            if self.jobs.get(job_id) is None:
                raise JobNotFoundError(f"no job {job_id}")
            raise JobConflictError(
                f"job {job_id} is being converted; delete it once it has finished", code="JOB_ACTIVE"
            )
        self._remove_files(job)

    def _remove_files(self, job: Job) -> None:
        """A deleted job's files: its input, its outputs, and its multipart upload's parts."""
        if job.upload_id is not None:
            self.inputs.abort_multipart(input_key(job.job_id), job.upload_id)
        self.inputs.delete_prefix(f"inputs/{job.job_id}/")
        self.outputs.delete_prefix(output_prefix(job.job_id))
        if job.catalog_table is not None and self.catalog is not None:
            self.catalog.drop(job.catalog_table)

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
        changes = {"input_bytes": actual, "engine": engine, "expires_at": self._retained()}
        queued = self.jobs.transition(
            job.job_id,
            JobStatus.QUEUED,
            # queued_at: from when the reconciler judges that no run was started.
            {**changes, "input_version": self.inputs.version(key), "queued_at": int(time.time())},
        )
        if queued is None:
            return self.jobs.get(job.job_id)  # a concurrent duplicate won the race
        return self._start_run(queued)

    def _check_upload(self, job: Job, key: str, size: int | None) -> JobError | None:
        name = job.filename
        if size is None:
            return JobError(code=errors.UPLOAD_MISSING, message=f"{name}: the uploaded file is not there any more")
        if size == 0:
            return JobError(code=errors.EMPTY_FILE, message=f"{name}: the uploaded file is empty")
        if size > self.limits.max_upload_bytes:
            return JobError(
                code=errors.FILE_TOO_LARGE,
                message=f"{name}: {size:,} bytes is over the limit of {self.limits.max_upload_bytes:,}",
            )
        if size != job.declared_bytes:
            return JobError(
                code=errors.SIZE_MISMATCH,
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

    def route(self, engine: Engine | str, input_bytes: int) -> Engine:
        """The engine a job runs on: the library's own choice, with this service's threshold."""
        return choose_engine(engine, input_bytes, self.small_file_threshold_bytes)

    def _start_run(self, job: Job) -> Job | None:
        launcher = self.local_launcher if job.engine is Engine.LOCAL and self.local_launcher else self.launcher
        if launcher is None:
            raise RuntimeError("this service has no job launcher")
        try:
            run_id = launcher.start(
                {"--job_id": job.job_id, **self.run_arguments},
                RunSpec(input_bytes=job.input_bytes or 0, execution_class=job.execution_class),
            )
        except Exception as exc:
            log.exception("cannot start the conversion run")
            return self.fail(
                job.job_id,
                JobError(
                    code=errors.RUN_NOT_STARTED, message=f"the conversion could not be started: {type(exc).__name__}"
                ),
            )
        # The run may already have marked itself RUNNING (or even finished): then this
        # conditional write is a no-op and the newer state stands.
        running = self.jobs.transition(job.job_id, JobStatus.RUNNING, {"run_id": run_id})
        return running or self.jobs.get(job.job_id)

    def on_run_state(self, run_id: str, run_state: str, message: str | None = None) -> Job | None:
        """A Glue run changed state. Only a run that ended without reporting matters, and only
        if it is the job's run: an event about a duplicate run must not end the job another
        run holds."""
        arguments = self.launcher.arguments_of(run_id) if self.launcher else None
        job_id = (arguments or {}).get("--job_id")
        job = self.jobs.get(job_id) if job_id else None
        if job is not None and job.status is JobStatus.SUCCEEDED and run_state == "SUCCEEDED":
            return self._record_glue_cost(job, run_id)
        if job is None or state.is_terminal(job.status):
            return job
        if job.run_id is not None and job.run_id != run_id:
            return job
        if run_state in GLUE_FAILED_STATES:
            detail = f": {message}" if message else ""
            return self.fail(
                job.job_id,
                JobError(code=f"RUN_{run_state}", message=f"the conversion run ended {run_state}{detail}"),
                attempt=job.attempt,
            )
        if run_state == "SUCCEEDED":
            # The run ended cleanly but the job was not marked: recover from the report
            # the run stored, or fail rather than stay RUNNING for ever.
            report = self.outputs.get_bytes(report_key(job.job_id, job.attempt))
            if report is not None:
                from etl_lib.report import RunReport

                recovered = self._succeed(job, RunReport.from_json(report), job.attempt)
                return self._record_glue_cost(recovered, run_id) if recovered is not None else None
            if job.lease_expires_at is not None and job.lease_expires_at > time.time():
                return job  # its holder is alive (a duplicate run ended): it will report
            return self.fail(
                job.job_id,
                JobError(code=errors.RUN_LOST, message="the conversion run ended without a result; try again"),
                attempt=job.attempt,
            )
        return job

    # --- what a run cost -------------------------------------------------------------------

    def _record_glue_cost(self, job: Job, run_id: str) -> Job:
        """Add the Glue run's charge to the report of the job it published (only that run's:
        a duplicate run's end changes nothing)."""
        if job.run_id != run_id or self.launcher is None:
            return job
        usage = self.launcher.usage(run_id)
        if usage is None:
            return job
        price = self.prices.per_dpu_second(usage.execution_class)
        self.record_cost(
            job,
            RunCost(
                service="glue",
                units=usage.dpu_seconds,
                unit="DPU-second",
                source=usage.source,
                price_per_unit_usd=price,
                estimated_usd=usage.dpu_seconds * price,
                execution_class=usage.execution_class.glue_name,
                worker_type=usage.worker_type,
                workers=usage.workers,
            ),
        )
        return job

    def record_lambda_cost(self, job: Job, *, memory_mb: int, duration_ms: float) -> None:
        """Add the converter Lambda's charge for ``job``'s run (``memory_mb`` for
        ``duration_ms``) to its report."""
        units = lambda_gb_seconds(memory_mb, duration_ms)
        price = self.prices.lambda_gb_second
        self.record_cost(
            job,
            RunCost(
                service="lambda",
                units=units,
                unit="GB-second",
                source="memory x duration",
                price_per_unit_usd=price,
                estimated_usd=units * price,
                memory_mb=memory_mb,
            ),
        )

    def record_cost(self, job: Job, cost: RunCost) -> None:
        """Write ``cost`` into the SUCCEEDED job's stored report (its ``cost``). The report is
        edited as JSON, unparsed, as run_report reads it: pyarrow stays out of the events
        Lambda. Never fails the job: a cost that cannot be recorded is logged."""
        key = report_key(job.job_id, job.attempt)
        try:
            stored = self.outputs.get_bytes(key)
            if stored is None:
                return
            report = json.loads(stored)
            report["cost"] = cost.to_dict()
            self.outputs.put_bytes(key, json.dumps(report, indent=2).encode())
        except Exception:
            log.exception("cannot record the run's cost", extra={"job_id": job.job_id})

    def on_run_lost(self, job_id: str, reason: str) -> Job | None:
        """A local-engine run (the converter Lambda) crashed or timed out on every attempt.

        Lambda reports it through the converter's on-failure destination; the job must not
        stay RUNNING. A job the run already finished is left as it is.
        """
        job = self.jobs.get(job_id)
        if job is None or state.is_terminal(job.status):
            return job
        return self.fail(job_id, JobError(code=errors.RUN_FAILED, message=f"the conversion run failed: {reason}"))

    # --- the run itself (the Glue job's body) --------------------------------------------

    def run(
        self,
        job_id: str,
        *,
        spark_factory: Callable[[], SparkSession] | None = None,
        engine: Engine | str | None = None,
        attempt: str | None = None,
        run_id: str | None = None,
        must_end_by: float | None = None,
    ) -> Job | None:
        """Convert the job's input to its output, then record SUCCEEDED or FAILED.

        Exactly once in effect, however often it is called: the run first claims the job
        (see :meth:`_claim`); a run that cannot claim it returns the job as it is and
        touches nothing. The claim holder writes under its own ``attempt`` folder and
        publishes by one conditional write (SUCCEEDED, only while it still holds the job),
        so a run that lost its claim meanwhile can only remove its own files.

        ``attempt`` names this execution (unique per call; a supervisor that must end a dead
        worker's job passes its own, see :meth:`fail_if_attempt`); ``run_id`` is the
        launcher's run (Glue's ``JOB_RUN_ID``). ``spark_factory`` is only called when the
        job's engine is Spark, so a local-engine run never starts a JVM.

        ``must_end_by`` (a ``time.monotonic()`` instant) is when the caller will be killed, the
        converter Lambda's own timeout: waiting for a claim and the conversion's deadline
        both fit before it, leaving :data:`RUN_FINISH_SECONDS` to record the end and clean up.
        """
        attempt = attempt or new_attempt_id()
        job = self._claim(job_id, attempt, run_id, must_end_by=must_end_by)
        if job is None or job.attempt != attempt or job.status is not JobStatus.RUNNING:
            return job
        with self._holding(job_id, attempt):
            return self._convert(job, attempt, spark_factory=spark_factory, engine=engine, must_end_by=must_end_by)

    def _claim(self, job_id: str, attempt: str, run_id: str | None, *, must_end_by: float | None) -> Job | None:
        """Claim the job for ``attempt``; the job as it is when another run keeps it.

        When another attempt holds a lease, wait (bounded by one lease) to see whether it
        is alive: a live holder renews its lease (then this run is a duplicate and gives
        way), a dead one stops renewing (then this run, typically Lambda's retry of a crashed
        invocation, takes over when the lease ends).
        """
        deadline = time.monotonic() + self.lease_seconds + 2 * self.claim_poll_seconds
        if must_end_by is not None:  # a wait that would leave no time to convert is not worth it
            deadline = min(deadline, must_end_by - RUN_FINISH_SECONDS - MIN_RUN_SECONDS)
        seen_lease: int | None = None
        for _ in range(1_000_000):  # bounded by the deadline; the count only guards the loop
            now = int(time.time())
            claimed = self.jobs.claim(
                job_id, attempt=attempt, lease_until=now + self.lease_seconds, now=now, run_id=run_id
            )
            if claimed is not None:
                return claimed
            current = self.jobs.get(job_id)
            if current is None or current.status not in state.CLAIMABLE:
                if current is None:
                    log.warning("run for a job that no longer exists", extra={"job_id": job_id})
                return current  # deleted, or finished by an earlier run
            if seen_lease is not None and current.lease_expires_at != seen_lease:
                return current  # renewed or taken over: someone alive holds it
            seen_lease = current.lease_expires_at
            if time.monotonic() >= deadline:
                return current
            time.sleep(self.claim_poll_seconds)
        return self.jobs.get(job_id)

    @contextlib.contextmanager
    def _holding(self, job_id: str, attempt: str) -> Iterator[None]:
        """Renew ``attempt``'s lease every third of it while the block runs."""
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(self.lease_seconds / 3):
                try:
                    if not self.jobs.renew(job_id, attempt=attempt, lease_until=int(time.time()) + self.lease_seconds):
                        return  # lost (taken over or ended): the final write will say so
                except Exception:  # a transient store error: try again at the next beat
                    log.exception("cannot renew the run's lease")

        beat = threading.Thread(target=renew, name=f"lease-{job_id[:8]}", daemon=True)
        beat.start()
        try:
            yield
        finally:
            stop.set()
            beat.join()

    def _convert(
        self,
        job: Job,
        attempt: str,
        *,
        spark_factory: Callable[[], SparkSession] | None,
        engine: Engine | str | None,
        must_end_by: float | None = None,
    ) -> Job | None:
        # The module, looked up at call time: importing the service stays light (no pyarrow
        # for the API Lambdas), and the conversion is the one the module holds now.
        conversion = importlib.import_module("etl_lib.conversion")

        job_id = job.job_id
        dest_key = output_key(job_id, job.options, attempt)
        engine = Engine(engine or job.engine)
        if engine is Engine.AUTO:  # a job queued before routing recorded its engine
            size = job.input_bytes if job.input_bytes is not None else self.inputs.size(input_key(job_id))
            engine = self.route(engine, size or 0)
        changed = self._upload_changed(job)
        if changed is not None:
            return self.fail(job_id, changed, attempt=attempt)
        limits = self.spark_limits if engine is Engine.SPARK else Limits()
        if must_end_by is not None:
            left = max(1.0, must_end_by - time.monotonic() - RUN_FINISH_SECONDS)
            limits = replace(limits, max_run_seconds=min(limits.max_run_seconds or left, left))
        try:
            spark = spark_factory() if spark_factory is not None and engine is Engine.SPARK else None
            report = conversion.convert(
                job.source or self.inputs.uri(input_key(job_id)),
                self.outputs.uri_for_write(dest_key),
                job.options,
                engine=engine,
                local_max_bytes=self.small_file_threshold_bytes,
                spark=spark,
                limits=limits,
                partition_filter=job.partition_filter,
            )
            report = self._register(job, attempt, report)
            self.outputs.put_bytes(report_key(job_id, attempt), report.to_json(indent=2).encode())
        except ConversionError as exc:
            self._discard(job_id, attempt)
            return self.fail(job_id, JobError(code=exc.code, message=f"{job.filename}: {exc.message}"), attempt=attempt)
        except Exception as exc:
            self._discard(job_id, attempt)
            log.exception("conversion crashed")
            self.fail(
                job_id,
                JobError(
                    code=errors.INTERNAL_ERROR, message=f"the conversion failed unexpectedly ({type(exc).__name__})"
                ),
                attempt=attempt,
            )
            raise
        changed = self._upload_changed(job)  # written again while it was being read?
        if changed is not None:
            self._discard(job_id, attempt)
            return self.fail(job_id, changed, attempt=attempt)
        finished = self._succeed(job, report, attempt)
        if finished is None:  # lost the claim, or deleted meanwhile: leave nothing of ours
            with contextlib.suppress(Exception):
                self._discard(job_id, attempt)
            return self.jobs.get(job_id)
        return finished

    def _upload_changed(self, job: Job) -> JobError | None:
        """The upload's key was written again after the upload was checked (a second POST
        with the same form): the run must not publish what it read. Before and after the
        conversion, since pyarrow's S3 reads cannot be pinned to an ETag themselves."""
        if job.input_version is None:  # queued before versions were recorded
            return None
        if self.inputs.version(input_key(job.job_id)) == job.input_version:
            return None
        return JobError(
            code=errors.UPLOAD_CHANGED,
            message=f"{job.filename}: the uploaded file was replaced after it was checked; upload it as a new job",
        )

    def _register(self, job: Job, attempt: str, report: Any) -> Any:
        """Register a JSON Lines output as the attempt's own table; the report, naming it.

        A catalog that refuses (an API error, a throttle) costs the table, not the job: the
        output is whole and downloadable, so the job still succeeds, with no table named.
        """
        if self.catalog is None or job.options.format is not OutputFormat.JSONL:
            return report
        from etl_lib.jobs.catalog import hive_columns, table_name
        from etl_lib.jobs.ports import OutputTable

        # The folder's URI from the file's (a local store names files, not folders).
        folder = self.outputs.uri(output_key(job.job_id, job.options, attempt)).rsplit("/", 1)[0] + "/"
        try:
            table = OutputTable(
                name=table_name(job.job_id, attempt),
                location=folder,
                columns=hive_columns(report.json_schema),
                compressed=job.options.compression is Compression.GZIP,
            )
            self.catalog.register(table)
        except Exception:
            log.exception("cannot register the output in the catalog", extra={"job_id": job.job_id})
            return report
        return replace(report, catalog_table=table.name)

    def _discard(self, job_id: str, attempt: str) -> None:
        """Remove what ``attempt`` made: its files and, if it registered one, its table."""
        self.outputs.delete_prefix(attempt_prefix(job_id, attempt))
        if self.catalog is not None:
            from etl_lib.jobs.catalog import table_name

            try:
                self.catalog.drop(table_name(job_id, attempt))
            except Exception:  # the run's outcome stands; the table is named in the log
                log.exception("cannot drop the attempt's table", extra={"job_id": job_id, "attempt": attempt})

    def _succeed(self, job: Job, report: Any, attempt: str | None) -> Job | None:
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
                "catalog_table": report.catalog_table,
                "error": None,
                # The output was just written: the lifecycle rule keeps it at least as long.
                "expires_at": self._retained(),
            },
            attempt=attempt,
        )
        self._ended(succeeded)
        return succeeded

    def fail_if_attempt(
        self, job_id: str, attempt: str, error: JobError, *, lapsed_by: int | None = None
    ) -> Job | None:
        """End the job FAILED with ``error`` only if ``attempt`` still holds it (with
        ``lapsed_by``, only if its lease ended at or before that time too), and remove that
        attempt's files. For a supervisor whose worker died mid-run (``WORKER_DIED``), or
        the reconciler ending a run that stopped renewing its lease: if another attempt took
        the job over meanwhile, renewed, or it has ended, nothing changes. Returns the
        failed job, or None when the condition did not hold."""
        changes = {"error": error.model_dump(), "expires_at": self._retained()}
        failed = self.jobs.transition(job_id, JobStatus.FAILED, changes, attempt=attempt, lapsed_by=lapsed_by)
        if failed is not None:
            self._discard(job_id, attempt)
            self._ended(failed)
        return failed

    def relaunch(self, job: Job, *, queued_by: int, now: int) -> Job | None:
        """Start another run of a QUEUED job no run was started for (the process that queued
        it died before starting one), if it is still so: counted by one conditional write,
        so of reconcilers racing exactly one starts a run. None when another one did, or a
        run moved the job on; otherwise the job as the start left it."""
        relaunched = self.jobs.relaunch(job.job_id, relaunches=job.relaunches, queued_by=queued_by, now=now)
        return None if relaunched is None else self._start_run(relaunched)

    def fail_unclaimed(self, job_id: str, error: JobError, *, queued_by: int) -> Job | None:
        """End the job FAILED with ``error`` only if no run has claimed it and it was queued
        at or before ``queued_by``: a run that never started, or never reached the job. A
        run that claims it afterwards finds it ended and does nothing. None when the
        condition did not hold."""
        changes = {"error": error.model_dump(), "expires_at": self._retained()}
        failed = self.jobs.transition(job_id, JobStatus.FAILED, changes, unclaimed_by=queued_by)
        self._ended(failed)
        return failed

    def fail(self, job_id: str, error: JobError, *, attempt: str | None = None, **changes: Any) -> Job | None:
        """End the job FAILED (if it has not ended; with ``attempt``, only while that attempt
        holds it). Returns the job as it is afterwards."""
        failed = self.jobs.transition(
            job_id,
            JobStatus.FAILED,
            {"error": error.model_dump(), "expires_at": self._retained(), **changes},
            attempt=attempt,
        )
        self._ended(failed)
        return failed or self.jobs.get(job_id)

    def _retained(self) -> int:
        return int(self.clock()) + self.limits.job_retention_seconds

    # --- housekeeping ----------------------------------------------------------------------

    def sweep_expired(self, *, now: int | None = None, limit: int = 100) -> int:
        """Delete up to ``limit`` expired jobs and their files; returns how many went.

        The local stack calls it periodically. In AWS, DynamoDB's TTL deletes the records and
        the buckets' lifecycle rules the files, so calling it there is optional. Each record
        is deleted only if it is still expired at the time of the write (an upload that
        just arrived extends a PENDING job's life), then its files.
        """
        now = int(self.clock()) if now is None else now
        swept = 0
        for job_id in self.jobs.expired_ids(now=now, limit=limit):
            job = self.jobs.get(job_id)  # read first: its upload id goes with the record
            if job is None or not self.jobs.delete(job_id, expired_by=now):
                continue
            self._remove_files(job)
            swept += 1
        return swept

    def _ended(self, job: Job | None) -> None:
        # Only the caller whose conditional write ended the job reports it, so a job is
        # counted once whichever process (Glue, converter, events Lambda) ended it.
        if job is None or self.metrics is None:
            return
        try:
            self.metrics.job_ended(job)
        except Exception:  # metrics must never change a job's outcome
            log.exception("cannot publish the job's metrics")
