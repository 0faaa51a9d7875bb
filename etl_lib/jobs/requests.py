"""The API's job requests: create a job (an upload's, or a dataset's read in place), read
one or a page of them, download its output or its run report, delete it."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from etl_lib.errors import (
    ConversionError,
    ErrorCode,
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
from etl_lib.jobs import endings
from etl_lib.jobs.context import UPLOAD_GRACE_SECONDS, JobContext
from etl_lib.jobs.launches import Launches
from etl_lib.jobs.models import (
    Job,
    JobPage,
    JobStatus,
    input_key,
    legacy_output_key,
    new_job_id,
    output_key,
    plan_parts,
    report_key,
    utc_now,
)
from etl_lib.jobs.ports import PresignedPost, Quota
from etl_lib.jobs.sizing import ExecutionClass
from etl_lib.options import ConvertOptions, Engine

# What a client may ask for when creating a job: "auto" leaves the choice to the service
# (by input size); "spark" forces Glue, e.g. to compare or when the local engine misbehaves.
REQUESTABLE_ENGINES = frozenset({Engine.AUTO, Engine.SPARK})


@dataclass(frozen=True)
class MultipartPlan:
    """How a client uploads a file in parts: ``part_count`` parts of ``part_size`` bytes,
    the last one holding the remainder."""

    part_size: int
    part_count: int


@dataclass(frozen=True)
class Download:
    """A short-lived link to a SUCCEEDED job's output, and the name it downloads as."""

    url: str
    expires_at: datetime
    filename: str


@dataclass(frozen=True)
class ReportLink:
    """Where a large run report can be read (see :attr:`JobLimits.report_inline_max_bytes`)."""

    url: str
    expires_at: datetime
    size: int


def _check_engine(engine: Engine | str) -> None:
    if engine not in REQUESTABLE_ENGINES:
        raise JobServiceError(f"engine must be one of {', '.join(sorted(REQUESTABLE_ENGINES))}, not {engine!r}")


class Requests:
    """The API's use cases on whole jobs, each on behalf of the job's owner."""

    def __init__(self, context: JobContext, launches: Launches) -> None:
        self.context = context
        self.launches = launches

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
        context, limits = self.context, self.context.limits
        _check_engine(engine)
        if size > limits.max_upload_bytes:
            raise UploadTooLargeError(f"{filename} is {size:,} bytes; the limit is {limits.max_upload_bytes:,} bytes")
        now = utc_now()
        job_id = new_job_id()
        multipart = size > limits.multipart_threshold_bytes
        part_size, part_count = plan_parts(size, limits.min_part_bytes)
        job = Job(
            job_id=job_id,
            owner=owner,
            status=JobStatus.PENDING,
            filename=filename,
            options=options,
            # Until the upload is accepted this is the engine asked for ("auto" or a
            # forced one); from QUEUED on, the one chosen; once SUCCEEDED, the one that ran.
            engine=context.engine if engine == Engine.AUTO else Engine(engine),
            execution_class=ExecutionClass(execution_class),
            created_at=now,
            updated_at=now,
            declared_bytes=size,
            # Without an upload the job is useless once the upload URL has expired (a
            # multipart upload moves this on with each part it signs).
            expires_at=int(now.timestamp()) + limits.upload_expires_in + UPLOAD_GRACE_SECONDS,
            # Started before the job is stored, so the record is written once, whole.
            upload_id=context.inputs.create_multipart(input_key(job_id)) if multipart else None,
            part_size=part_size if multipart else None,
        )
        try:
            self._create_within_limit(job)
        except BaseException:
            if job.upload_id is not None:
                context.inputs.abort_multipart(input_key(job_id), job.upload_id)
            raise
        if multipart:
            return job, MultipartPlan(part_size=part_size, part_count=part_count)
        upload = context.inputs.presign_post(input_key(job_id), max_bytes=size, expires_in=limits.upload_expires_in)
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
        _check_engine(engine)
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
            expires_at=self.context.retained(),
            source=source,
            partition_filter=partition_filter,
        )
        self._create_within_limit(job)
        return self.launches.start(job) or job

    def _check_source(self, source: str, partition_filter: str | None) -> None:
        """Refuse a source outside the allow-list (403), or a malformed one (400)."""
        limits = self.context.limits
        if is_catalog(source):
            try:
                database, _ = split_table(source)
            except ConversionError as exc:
                raise JobServiceError(exc.message) from None
            if database not in limits.source_databases:
                raise SourceNotAllowedError(f"the catalog database {database} is not one this deployment reads")
            return
        bucket = s3_bucket(source)
        if bucket is None:
            raise JobServiceError(f"{source} is neither an s3://bucket/prefix nor a glue://DATABASE/TABLE")
        if partition_filter:
            raise JobServiceError("a partition filter applies to glue:// catalog tables only")
        if bucket not in limits.source_buckets:
            raise SourceNotAllowedError(f"the bucket {bucket} is not one this deployment reads")

    def _create_within_limit(self, job: Job) -> None:
        """Store the job unless its owner has the most unfinished jobs one user may have.

        Reserved, not counted: the store judges the limit and writes the job atomically, so
        requests racing for the last place let exactly one in (see JobStore.create).
        """
        context = self.context
        limit, spark_limit, now = (
            context.limits.max_active_jobs_per_user,
            context.limits.max_spark_jobs_per_user,
            int(context.clock()),
        )
        quota = Quota(spark_limit, self.runs_on_spark) if spark_limit else None
        if context.jobs.create(job, max_active=limit, now=now, quota=quota):
            return
        # Which limit held it back (read after the fact: only the message depends on it).
        if (
            quota is not None
            and quota.counts(job)
            and (not limit or context.jobs.count_active(job.owner, now=now) < limit)
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
        return self.context.route(job.engine, job.input_bytes or job.declared_bytes) is Engine.SPARK

    def get_job(self, owner: str, job_id: str) -> Job:
        """The caller's job; JobNotFoundError for a missing one or someone else's."""
        job = self.context.jobs.get(job_id)
        # Someone else's job is indistinguishable from a missing one.
        if job is None or job.owner != owner:
            raise JobNotFoundError(f"no job {job_id}")
        return job

    def list_jobs(self, owner: str, *, limit: int = 20, cursor: str | None = None) -> JobPage:
        """A page of the caller's jobs, newest first, and the cursor of the next one."""
        # A made-up cursor raises InvalidCursorError (400 BAD_CURSOR) from the store.
        return self.context.jobs.list_for_owner(owner, limit=limit, cursor=cursor)

    def download(self, owner: str, job_id: str) -> Download:
        """A short-lived link to the caller's SUCCEEDED job's output."""
        outputs = self.context.outputs
        job = self._succeeded_job(owner, job_id, kept="its output", available="the output")
        expires_in = self.context.limits.download_expires_in
        key = output_key(job_id, job.options, job.attempt)
        if job.catalog_table is None and outputs.size(key) is None:
            # A job that finished before outputs moved into a folder of their own.
            key = legacy_output_key(job_id, job.options, job.attempt)
        url = outputs.presign_get(key, download_name=job.download_name, expires_in=expires_in)
        return Download(url=url, expires_at=utc_now() + timedelta(seconds=expires_in), filename=job.download_name)

    def run_report(self, owner: str, job_id: str) -> dict[str, Any] | ReportLink:
        """The report (etl_lib.report.RunReport as JSON) the run stored next to a SUCCEEDED
        job's output; above ``report_inline_max_bytes``, a short-lived link to it instead.

        Returned unparsed: parsing it as a RunReport would load pyarrow into the API Lambdas.
        """
        outputs, limits = self.context.outputs, self.context.limits
        job = self._succeeded_job(owner, job_id, kept="its report", available="its report")
        key = report_key(job_id, job.attempt)
        size = outputs.size(key)
        if size is not None and size > limits.report_inline_max_bytes:
            expires_in = limits.download_expires_in
            stem = job.download_name.removesuffix(job.options.file_extension)
            url = outputs.presign_get(key, download_name=f"{stem}-report.json", expires_in=expires_in)
            return ReportLink(url=url, expires_at=utc_now() + timedelta(seconds=expires_in), size=size)
        stored = outputs.get_bytes(key) if size is not None else None
        if stored is None:
            raise JobNotFoundError(f"job {job_id} has no run report", code=ErrorCode.REPORT_MISSING)
        report: dict[str, Any] = json.loads(stored)
        return report

    def _succeeded_job(self, owner: str, job_id: str, *, kept: str, available: str) -> Job:
        """The caller's job, if its results may be read: SUCCEEDED and not expired."""
        job = self.get_job(owner, job_id)
        if job.is_expired(self.context.clock()):
            # Its files are deleted (or about to be) by the bucket's lifecycle rule.
            raise JobExpiredError(f"job {job_id} has expired; {kept} is no longer kept")
        if job.status is not JobStatus.SUCCEEDED:
            raise JobConflictError(
                f"job {job_id} is {job.status.value}; {available} is available once it has SUCCEEDED",
                code=ErrorCode.JOB_NOT_FINISHED,
            )
        return job

    def delete_job(self, owner: str, job_id: str) -> None:
        """Delete the job and its files, unless a live run holds it (409 JOB_ACTIVE).

        A job no run holds may go whatever its status: one whose run never claimed it (that
        run, if it ever starts, finds no job and does nothing), or whose holder's lease has
        lapsed (a dead run; were it only stalled, its final write fails for want of the
        job and it removes its own files)."""
        jobs = self.context.jobs
        job = self.get_job(owner, job_id)
        if not jobs.delete(job_id, leased_after=int(time.time())):
            if jobs.get(job_id) is None:
                raise JobNotFoundError(f"no job {job_id}")
            raise JobConflictError(
                f"job {job_id} is being converted; delete it once it has finished", code=ErrorCode.JOB_ACTIVE
            )
        endings.remove_files(self.context, job)
