"""What a job is, as stored and as returned by the API."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from etl_lib.errors import ErrorCode, Surface, codes_on
from etl_lib.jobs.sizing import ExecutionClass
from etl_lib.options import ConvertOptions, Engine

MIB = 1024**2
DEFAULT_MAX_UPLOAD_BYTES = 1024**4
"""The largest upload the API accepts unless the deployment says otherwise (MAX_UPLOAD_BYTES): 1 TiB."""
DEFAULT_MULTIPART_THRESHOLD_BYTES = 100 * MIB
"""Uploads larger than this are S3 multipart uploads; smaller ones a single presigned POST."""
DEFAULT_MIN_PART_BYTES = 16 * MIB
"""The smallest part a multipart upload is planned with (larger files get larger parts)."""
S3_MIN_PART_BYTES = 5 * MIB
"""S3's smallest part (all but the last): CompleteMultipartUpload refuses smaller ones."""
S3_MAX_PART_BYTES = 5 * 1024**3
S3_MAX_PARTS = 10_000
# Smallest possible Parquet file: magic, 4-byte footer length, magic.
MIN_PARQUET_BYTES = 12
PARQUET_MAGIC = b"PAR1"


class JobStatus(StrEnum):
    PENDING = "PENDING"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


def error_code_field(surface: Surface, description: str, **kwargs: Any) -> Any:
    """A code field whose JSON schema (and so the OpenAPI document) enumerates the catalogue's
    codes that reach a user through ``surface``. It stays ``str`` when read: a stored record
    is read back whatever it holds, and the tests hold what may be written."""
    schema: dict[str, Any] = {"enum": [code.value for code in codes_on(surface)]}
    return Field(description=description, json_schema_extra=schema, **kwargs)


class JobError(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str = error_code_field(
        Surface.CONVERSION | Surface.JOB,
        "Why the job failed: a conversion's code, or a reason outside the conversion.",
        examples=[ErrorCode.INVALID_PARQUET.value],
    )
    message: str = Field(examples=["data.parquet: not a Parquet file (no PAR1 magic at the end)"])


# Characters a file name may not contain: C0 and C1 controls (DEL included), path
# separators, and the bidirectional embeddings, overrides and isolates (U+202A-202E,
# U+2066-2069) that make "gnp.exe" display as "exe.png". Written with \u escapes, which the
# pattern dialects involved (Python re, Rust regex in pydantic-core, ECMA-262 for JSON Schema
# and Java for API Gateway) all read the same way.
_FORBIDDEN_CHARS = r"\u0000-\u001f\u007f-\u009f/\\\u202a-\u202e\u2066-\u2069"
FILENAME_PATTERN = rf"^[^{_FORBIDDEN_CHARS}]*[^{_FORBIDDEN_CHARS} .][^{_FORBIDDEN_CHARS}]*$"
"""A plain file name: no forbidden character, and at least one that is not a space or a dot
(so not "", ".", ".." or blanks). Stated in the JSON schema, applied by the validator."""
FILENAME_MAX_LENGTH = 255
_FILENAME = re.compile(FILENAME_PATTERN)


def _check_filename(name: str) -> str:
    # The name is only displayed and used for the download name: the object key is
    # chosen by the server, so a hostile name can never address another object.
    if _FILENAME.fullmatch(name) is None:
        raise ValueError(
            "must be a plain file name: no path separators, control characters or bidirectional "
            "overrides, and not only dots or spaces"
        )
    return name


Filename = Annotated[
    str,
    Field(min_length=1, max_length=FILENAME_MAX_LENGTH, json_schema_extra={"pattern": FILENAME_PATTERN}),
    AfterValidator(_check_filename),
]


JOB_ID_PATTERN = r"^[0-9a-f]{32}$"
"""Every job id :func:`new_job_id` draws matches it; the API refuses any other in a path (400)."""

ENGINEERS_GROUP = "engineers"
"""The Cognito group whose members may convert a dataset or catalog table in place
(``cognito:groups``): the stack creates it, the API checks it."""


def new_job_id() -> str:
    return uuid.uuid4().hex


def utc_now() -> datetime:
    return datetime.now(UTC)


class Job(BaseModel):
    """One conversion job. ``owner`` (the caller's identity) is never sent to clients."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    owner: str = Field(exclude=True)
    status: JobStatus
    filename: str
    options: ConvertOptions
    # Until the upload is accepted, the engine asked for (auto or a forced one); from QUEUED
    # on, the one chosen; once SUCCEEDED, the one that ran.
    engine: Engine = Engine.AUTO
    # Glue's execution class for a Spark run (flex: cheaper, may start later); jobs stored
    # before it existed are standard.
    execution_class: ExecutionClass = ExecutionClass.STANDARD
    created_at: datetime
    updated_at: datetime
    declared_bytes: int = Field(exclude=True)
    input_bytes: int | None = None
    output_bytes: int | None = None
    rows_in: int | None = None
    rows_out: int | None = None
    duration_ms: int | None = None
    error: JobError | None = None
    # The SUCCEEDED output as a table of the outputs' catalog database (JSON Lines only).
    catalog_table: str | None = None
    run_id: str | None = Field(default=None, exclude=True)
    # The run that holds the job (see JobStore.claim): its id, and until when (epoch
    # seconds) the claim stands unless renewed. Once SUCCEEDED, ``attempt`` names the
    # attempt whose output was published (the download's location).
    attempt: str | None = Field(default=None, exclude=True)
    lease_expires_at: int | None = Field(default=None, exclude=True)
    # When the record (and its files) may be deleted, epoch seconds: the DynamoDB table's
    # TTL attribute, and what JobService.sweep_expired reads.
    expires_at: int | None = Field(default=None, exclude=True)
    # A multipart upload's S3 UploadId and planned part size (see plan_parts); None for an
    # upload by presigned POST.
    upload_id: str | None = Field(default=None, exclude=True)
    part_size: int | None = Field(default=None, exclude=True)
    # The upload's version (ObjectStore.version) when it was checked: the run converts that
    # object, and fails UPLOAD_CHANGED if the key was written again since.
    input_version: str | None = Field(default=None, exclude=True)
    # When the scheduled validation last checked the SUCCEEDED output (epoch seconds): each
    # night takes the oldest jobs without one first (etl_lib.notebook.validate_jobs).
    validated_at: int | None = Field(default=None, exclude=True)
    # When the job was queued (or last relaunched by the reconciler), epoch seconds, and how
    # many times the reconciler relaunched it (see etl_lib.jobs.reconcile).
    queued_at: int | None = Field(default=None, exclude=True)
    relaunches: int = Field(default=0, exclude=True)
    # A data engineer's job reads its input where it is, not from an upload: an s3:// prefix
    # or a glue://DATABASE/TABLE, and for a table the GetPartitions expression of its partitions.
    source: str | None = None
    partition_filter: str | None = None

    @property
    def download_name(self) -> str:
        """``<input stem><ext>``: ``sales.parquet`` -> ``sales.jsonl`` (or ``.json``, ``.json.gz``)."""
        stem = self.filename.rsplit(".", 1)[0] if "." in self.filename.strip(".") else self.filename
        return f"{stem or 'output'}{self.options.file_extension}"

    def stored(self) -> dict[str, object]:
        """Every field, the internal ones included, JSON-compatible (for the stores)."""
        data = self.model_dump(mode="json")
        data.update({name: getattr(self, name) for name in INTERNAL_FIELDS})
        return data

    def is_expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now


# Stored with the job but never sent to clients.
INTERNAL_FIELDS = (
    "owner",
    "declared_bytes",
    "run_id",
    "attempt",
    "lease_expires_at",
    "expires_at",
    "upload_id",
    "part_size",
    "input_version",
    "validated_at",
    "queued_at",
    "relaunches",
)


def plan_parts(size: int, min_part_bytes: int = DEFAULT_MIN_PART_BYTES) -> tuple[int, int]:
    """(part size, part count) of a multipart upload of ``size`` bytes: at least
    ``min_part_bytes``, and large enough (a whole number of MiB) for S3's 10,000 parts."""
    fitting = -(-size // S3_MAX_PARTS)
    # With the 16 MiB default this is max(16 MiB, fitting rounded up to a MiB); a smaller
    # minimum (the local stack's tests) is kept as is while the parts fit.
    part_size = min_part_bytes if fitting <= min_part_bytes else -(-fitting // MIB) * MIB
    return part_size, -(-size // part_size)


def part_bytes(size: int, part_size: int, part_number: int) -> int:
    """How many bytes part ``part_number`` (from 1) of a ``size``-byte upload holds: every
    part ``part_size`` but the last, which holds the remainder."""
    count = -(-size // part_size)
    return part_size if part_number < count else size - part_size * (count - 1)


def input_key(job_id: str) -> str:
    return f"inputs/{job_id}/input.parquet"


def job_id_from_input_key(key: str) -> str | None:
    parts = key.split("/")
    if (
        len(parts) == 3
        and parts[0] == "inputs"
        and parts[2] == "input.parquet"
        and re.fullmatch(r"[0-9a-f]{32}", parts[1])
    ):
        return parts[1]
    return None


def output_prefix(job_id: str) -> str:
    return f"outputs/{job_id}/"


def attempt_prefix(job_id: str, attempt: str | None) -> str:
    """Where one attempt writes: its own folder, so a duplicate run never touches the
    winner's files (jobs from before attempts existed have none)."""
    return f"{output_prefix(job_id)}{attempt}/" if attempt else output_prefix(job_id)


def output_folder(job_id: str, attempt: str | None = None) -> str:
    """The folder holding an attempt's output file and nothing else: a catalog table's
    location (its report and any staging stay outside, so a query reads only the records)."""
    return f"{attempt_prefix(job_id, attempt)}data/"


def output_key(job_id: str, options: ConvertOptions, attempt: str | None = None) -> str:
    return f"{output_folder(job_id, attempt)}output{options.file_extension}"


def legacy_output_key(job_id: str, options: ConvertOptions, attempt: str | None = None) -> str:
    """Where jobs that finished before outputs had a folder of their own keep them."""
    return f"{attempt_prefix(job_id, attempt)}output{options.file_extension}"


def report_key(job_id: str, attempt: str | None = None) -> str:
    return f"{attempt_prefix(job_id, attempt)}report.json"


VALIDATION_FOLDER = "validation/"
"""Inside a job's output folder, the scheduled validation's files about it (one folder per run)."""
DEFAULT_VALIDATION_MAX_JOBS = 50
"""Jobs one scheduled validation run checks at most (infra/config.py validation_max_jobs)."""


def job_validation_prefix(job_id: str, run: str) -> str:
    """Where one validation run keeps a job's files: inside the job's own output folder, so
    deleting the job (or its expiry) removes them with its output."""
    return f"{output_prefix(job_id)}{VALIDATION_FOLDER}{run}/"


def new_attempt_id() -> str:
    return uuid.uuid4().hex[:16]


class JobPage(BaseModel):
    jobs: list[Job]
    next_cursor: str | None = None


def sort_key(job: Job) -> str:
    """Newest-first listing order: fixed-width UTC time, then the id (ties are stable)."""
    return f"{job.created_at.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%fZ}#{job.job_id}"


CURSOR_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z#[0-9a-f]{32}$"
"""A page's ``next_token``: the :func:`sort_key` of its last job. Any token of this form is a
position in the owner's newest-first list (a job's own sort key, or a point between two), so a
page after it can always be answered: the API documents the form and refuses only others.
It tells the caller nothing they cannot see: the creation time and id of their own job."""

_CURSOR = re.compile(CURSOR_PATTERN)


def encode_cursor(key: str) -> str:
    """The ``next_token`` after the job whose :func:`sort_key` is ``key``."""
    return key


def decode_cursor(cursor: str) -> str:
    """The sort key a ``next_token`` stands for; InvalidCursorError for any other string."""
    if not _CURSOR.fullmatch(cursor):
        from etl_lib.errors import InvalidCursorError

        raise InvalidCursorError("invalid next_token: pass the next_token of the previous page")
    return cursor


def job_id_of(key: str) -> str:
    """The job id at the end of a :func:`sort_key`."""
    return key.rsplit("#", 1)[1]
