"""A job's upload: the parts of a multipart upload (listed, signed, completed), then the
store's announcement that the input exists, which checks it, routes the job to an engine
and starts its run."""

from __future__ import annotations

import logging
import time

from etl_lib import errors
from etl_lib.errors import JobConflictError, JobServiceError
from etl_lib.jobs import endings
from etl_lib.jobs.context import UPLOAD_GRACE_SECONDS, JobContext
from etl_lib.jobs.launches import Launches
from etl_lib.jobs.models import (
    MIN_PARQUET_BYTES,
    PARQUET_MAGIC,
    Job,
    JobError,
    JobStatus,
    input_key,
    job_id_from_input_key,
    part_bytes,
)
from etl_lib.jobs.ports import PartsRefusedError, PresignedPart, UploadedPart, UploadGoneError
from etl_lib.jobs.requests import Requests

log = logging.getLogger(__name__)

# Part numbers named in one refusal at most (the message stays one short line).
NAMED_PARTS = 5


class Uploads:
    """The API's use cases on a multipart upload, and the upload's arrival (an event)."""

    def __init__(self, context: JobContext, requests: Requests, launches: Launches) -> None:
        self.context = context
        self.requests = requests
        self.launches = launches

    # --- API: a multipart upload's parts -------------------------------------------------

    def _uploading_job(self, owner: str, job_id: str) -> Job:
        """The caller's job, if its multipart upload is open: PENDING, unexpired, multipart."""
        job = self.requests.get_job(owner, job_id)
        if job.upload_id is None or job.part_size is None:
            raise JobConflictError(
                f"job {job_id} is uploaded with a single POST form, not in parts",
                code=errors.ErrorCode.UPLOAD_NOT_MULTIPART,
            )
        if job.status is not JobStatus.PENDING:
            raise JobConflictError(
                f"job {job_id} is {job.status.value}: its upload is over", code=errors.ErrorCode.UPLOAD_CLOSED
            )
        if job.is_expired(self.context.clock()):
            raise JobConflictError(f"job {job_id}'s upload has expired", code=errors.ErrorCode.UPLOAD_CLOSED)
        return job

    def _parts_held(self, job: Job) -> list[UploadedPart]:
        assert job.upload_id is not None  # _uploading_job checked it
        try:
            return self.context.inputs.list_parts(input_key(job.job_id), job.upload_id)
        except UploadGoneError:
            raise JobConflictError(
                f"job {job.job_id}'s upload was completed or aborted", code=errors.ErrorCode.UPLOAD_CLOSED
            ) from None

    def upload_parts(self, owner: str, job_id: str) -> list[UploadedPart]:
        """The parts the store holds for the job's multipart upload, by part number (a
        client resuming after a reload sends only the others)."""
        return self._parts_held(self._uploading_job(owner, job_id))

    def presign_part(self, owner: str, job_id: str, part_number: int, *, checksum_sha256: str) -> PresignedPart:
        """A signed UploadPart of one part of the job's upload, bound to the part's SHA-256
        (base64): the store refuses bytes that do not have it. Each part signed keeps the
        upload (the PENDING job) alive for another upload URL lifetime."""
        context = self.context
        job = self._uploading_job(owner, job_id)
        assert job.upload_id is not None and job.part_size is not None
        count = -(-job.declared_bytes // job.part_size)
        if not 1 <= part_number <= count:
            raise JobServiceError(
                f"part {part_number} is not one of job {job_id}'s parts (1 to {count})",
                code=errors.ErrorCode.INVALID_PART_NUMBER,
            )
        expires_in = context.limits.upload_expires_in
        if not context.jobs.extend_pending(job_id, expires_at=int(context.clock()) + expires_in + UPLOAD_GRACE_SECONDS):
            raise JobConflictError(f"job {job_id}'s upload is over", code=errors.ErrorCode.UPLOAD_CLOSED)
        return context.inputs.presign_part(
            input_key(job_id), job.upload_id, part_number, checksum_sha256=checksum_sha256, expires_in=expires_in
        )

    def complete_upload(self, owner: str, job_id: str) -> Job:
        """Assemble the job's parts into its input, from the parts the store holds (not a
        client's list): parts 1 to part_count, each of its planned size. The store then
        announces the object like an upload by POST, which queues the job."""
        job = self._uploading_job(owner, job_id)
        assert job.upload_id is not None and job.part_size is not None
        parts = self._parts_held(job)
        problem = parts_problem(job, parts)
        if problem:
            raise JobConflictError(f"{job.filename}: {problem}", code=errors.ErrorCode.UPLOAD_INCOMPLETE)
        try:
            self.context.inputs.complete_multipart(input_key(job_id), job.upload_id, parts)
        except UploadGoneError:
            raise JobConflictError(
                f"job {job_id}'s upload was completed or aborted", code=errors.ErrorCode.UPLOAD_CLOSED
            ) from None
        except PartsRefusedError as exc:
            raise JobConflictError(
                f"{job.filename}: the parts changed while completing ({exc}); list them and try again",
                code=errors.ErrorCode.UPLOAD_INCOMPLETE,
            ) from None
        return self.context.jobs.get(job_id) or job

    # --- event: the upload finished ---------------------------------------------------------

    def on_object_created(self, key: str, size: int | None = None) -> Job | None:
        """The input object for a job exists: check it, queue the job, start the run.

        Safe to call twice (S3 delivers at least once): only a PENDING job is queued.
        """
        context = self.context
        job_id = job_id_from_input_key(key)
        job = context.jobs.get(job_id) if job_id else None
        if job is None:
            log.warning("object created for no known job", extra={"key": key})
            return None
        if job.status is not JobStatus.PENDING:
            return job  # a duplicate event: the job has moved on already
        actual = context.inputs.size(key) if size is None or size >= 0 else size
        problem = self._check_upload(job, key, actual)
        if problem is not None:
            return endings.fail(context, job.job_id, problem, input_bytes=actual)
        assert actual is not None  # _check_upload refuses a missing object
        engine = context.route(job.engine, actual)
        changes = {"input_bytes": actual, "engine": engine, "expires_at": context.retained()}
        queued = context.jobs.transition(
            job.job_id,
            JobStatus.QUEUED,
            # queued_at: from when the reconciler judges that no run was started.
            {**changes, "input_version": context.inputs.version(key), "queued_at": int(time.time())},
        )
        if queued is None:
            return context.jobs.get(job.job_id)  # a concurrent duplicate won the race
        return self.launches.start(queued)

    def _check_upload(self, job: Job, key: str, size: int | None) -> JobError | None:
        name, max_bytes = job.filename, self.context.limits.max_upload_bytes
        if size is None:
            return JobError(
                code=errors.ErrorCode.UPLOAD_MISSING, message=f"{name}: the uploaded file is not there any more"
            )
        if size == 0:
            return JobError(code=errors.ErrorCode.EMPTY_FILE, message=f"{name}: the uploaded file is empty")
        if size > max_bytes:
            return JobError(
                code=errors.ErrorCode.FILE_TOO_LARGE,
                message=f"{name}: {size:,} bytes is over the limit of {max_bytes:,}",
            )
        if size != job.declared_bytes:
            return JobError(
                code=errors.ErrorCode.SIZE_MISMATCH,
                message=f"{name}: {size:,} bytes were uploaded but the file has {job.declared_bytes:,}",
            )
        if size < MIN_PARQUET_BYTES:
            return JobError(
                code=errors.ErrorCode.INVALID_PARQUET, message=f"{name}: {size} bytes is too small to be a Parquet file"
            )
        head = self.context.inputs.read_range(key, 0, 4)
        tail = self.context.inputs.read_range(key, size - 4, 4)
        if head != PARQUET_MAGIC or tail != PARQUET_MAGIC:
            where = "start" if head != PARQUET_MAGIC else "end"
            return JobError(
                code=errors.ErrorCode.INVALID_PARQUET,
                message=f"{name}: not a Parquet file (no PAR1 magic at the {where}; truncated or another format?)",
            )
        return None


def parts_problem(job: Job, parts: list[UploadedPart]) -> str | None:
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
