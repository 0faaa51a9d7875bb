"""The API's request and response bodies (the OpenAPI schemas are generated from them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from etl_lib.errors import Surface
from etl_lib.jobs.models import DEFAULT_MAX_UPLOAD_BYTES, MIB, Filename, Job, JobError, JobStatus, error_code_field
from etl_lib.jobs.sizing import ExecutionClass
from etl_lib.options import ConvertOptions, Engine

IDEMPOTENCY_HEADER = "Idempotency-Key"
"""POST /jobs's retry-safety header (the handler reads it, CORS allows it)."""


class CreateJobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: Filename = Field(
        description="The file's name; only displayed and used to name the download.", examples=["sales.parquet"]
    )
    size: int = Field(
        ge=1,
        # The most any deployment accepts (its max_upload_bytes may be lower, never higher):
        # over it a request breaks the schema (422); under it but over the deployment's limit,
        # it is refused as too large (413).
        le=DEFAULT_MAX_UPLOAD_BYTES,
        description="The file's size in bytes (the upload must have exactly this many). At most the "
        "maximum stated here (1 TiB, 422 INVALID_REQUEST over it); over a deployment's own lower limit "
        "(its max_upload_bytes setting) the answer is 413 FILE_TOO_LARGE. Above its multipart threshold "
        "(100 MiB by default) the file is uploaded in parts (see `upload`).",
    )
    options: ConvertOptions = Field(default_factory=ConvertOptions)
    # The engines a client may ask for (JobService.REQUESTABLE_ENGINES; a test keeps them equal).
    engine: Literal[Engine.AUTO, Engine.SPARK] = Field(
        default=Engine.AUTO,
        description="auto: small files on the fast single-machine engine, large ones on Spark (Glue); "
        "spark: always Spark.",
    )
    execution_class: ExecutionClass = Field(
        default=ExecutionClass.STANDARD,
        description="For a job that runs on Spark (Glue): standard starts at once; flex, for jobs that are not "
        "urgent, runs on Glue's spare capacity at a lower price and may start later or take longer. Ignored by "
        "the single-machine engine.",
    )


_NAME_CHAR = r"[^/\u0000-\u0020\u007f-\u009f]"
SOURCE_PATTERN = rf"^(s3://{_NAME_CHAR}+(/[^\u0000-\u0020\u007f-\u009f]*)?|glue://{_NAME_CHAR}+/{_NAME_CHAR}+)$"
"""An s3:// prefix or a glue:// table, without control characters or spaces. Written with
explicit ranges, not ``\\s``: pydantic's (Rust) and Python's regexes count U+0085 as a space,
clients' and fuzzers' (ECMA) do not, so the same text would pass one and fail the other."""


class CreateSourceJobRequest(BaseModel):
    """A data engineer's job: a dataset or catalog table converted where it is."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(
        min_length=1,
        max_length=2048,
        pattern=SOURCE_PATTERN,
        description="An s3://bucket/prefix/ (a dataset, read recursively, its key=value folders as columns) "
        "or glue://DATABASE/TABLE (a Glue Data Catalog table), in the deployment's allow-list of buckets "
        "and databases (403 SOURCE_NOT_ALLOWED otherwise).",
        examples=["glue://lake/sales", "s3://lake-bucket/sales/"],
    )
    partition_filter: str = Field(
        default="",
        max_length=2048,
        description="For a glue:// table: the partitions to read, a GetPartitions expression; empty: every one.",
        examples=["year = '2024' AND region = 'eu'"],
    )
    options: ConvertOptions = Field(default_factory=ConvertOptions)
    engine: Literal[Engine.AUTO, Engine.SPARK] = Field(
        default=Engine.AUTO, description="Either way the job runs on Spark (Glue), whose role reads the sources."
    )


class JobView(BaseModel):
    """A job as clients see it."""

    job_id: str
    status: JobStatus
    filename: str
    options: ConvertOptions
    engine: Engine = Field(
        description="The engine asked for (auto, spark) until the upload is accepted; then the one chosen "
        "(local or spark), which is the one that ran.",
        examples=["local"],
    )
    execution_class: ExecutionClass = Field(description="The Glue execution class asked for (standard, flex).")
    created_at: datetime
    updated_at: datetime
    input_bytes: int | None
    output_bytes: int | None
    rows_in: int | None
    rows_out: int | None
    duration_ms: int | None
    error: JobError | None
    catalog_table: str | None = Field(
        default=None,
        description="A SUCCEEDED JSON Lines job's output as a table of the outputs' Glue Data Catalog "
        "database (query it with Athena); null otherwise. See docs/catalog.md.",
        examples=["job_0f8fad5bd9cb469fa16570867728950e_3c1d8a2b9e4f7a60"],
    )
    source: str | None = Field(
        default=None,
        description="A data engineer's job: the s3:// prefix or glue:// table it reads; null for an upload.",
    )

    @classmethod
    def of(cls, job: Job) -> JobView:
        return cls.model_validate(job.model_dump())


class PostUpload(BaseModel):
    """A file up to the multipart threshold: one presigned POST."""

    method: Literal["post"]
    url: str = Field(description="POST a multipart form here: every field below, then the file as `file`.")
    fields: dict[str, str]


class MultipartUpload(BaseModel):
    """A file above the multipart threshold: an S3 multipart upload, already started. Upload
    each part with POST /jobs/{job_id}/upload/parts/{part_number} (its signed URL), then POST
    /jobs/{job_id}/upload/complete; GET /jobs/{job_id}/upload/parts lists the parts held (to resume)."""

    method: Literal["multipart"]
    part_size: int = Field(
        description="Bytes in every part but the last, which holds the rest: part n is bytes "
        "[(n-1)*part_size, min(n*part_size, size)).",
        examples=[16 * MIB],
    )
    part_count: int = Field(description="Parts 1 to part_count, all needed to complete.", examples=[7])


class CreateJobResponse(BaseModel):
    job: JobView
    upload: Annotated[PostUpload | MultipartUpload, Field(discriminator="method")]


SHA256_BASE64_PATTERN = r"^[A-Za-z0-9+/]{43}=$"


class PartUploadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    checksum_sha256: str = Field(
        pattern=SHA256_BASE64_PATTERN,
        description="The SHA-256 of the part's bytes, base64 (44 characters): storage refuses a part whose "
        "bytes do not have it.",
        examples=["47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="],
    )


class PresignedPartView(BaseModel):
    url: str = Field(description="PUT the part's bytes here, with exactly the headers below.")
    headers: dict[str, str] = Field(
        description="Headers the PUT must carry (they are signed): x-amz-checksum-sha256 among them.",
        examples=[{"x-amz-checksum-sha256": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}],
    )


class UploadedPartView(BaseModel):
    part_number: int
    size: int
    etag: str = Field(description="The part's ETag, as storage gave it when the part was uploaded.")
    checksum_sha256: str | None = Field(
        description="The part's SHA-256, base64, as storage verified it (S3 reports it for every part; null "
        "only from a store that does not, such as the moto emulator)."
    )


class UploadedParts(BaseModel):
    parts: list[UploadedPartView] = Field(description="The parts storage holds, by part number.")


class JobEnvelope(BaseModel):
    job: JobView


class JobList(BaseModel):
    jobs: list[JobView]
    next_token: str | None = Field(description="Pass as `next_token` to get the next page; null on the last page.")


class DownloadLink(BaseModel):
    url: str
    expires_at: datetime
    filename: str


class ReportPart(BaseModel):
    """One row group of the input (etl_lib.report.InputPart)."""

    file: str = Field(description="The Parquet file the row group is in (a directory input has several).")
    row_group: int = Field(description="Index of the row group in its file.")
    rows: int
    bytes: int = Field(
        description="Uncompressed size of the row group: Parquet total_byte_size, its column chunks before compression."
    )


class RunCostView(BaseModel):
    """What the run was charged for, and its cost at the deployment's prices (etl_lib.jobs.sizing.RunCost)."""

    service: Literal["glue", "lambda"] = Field(description="glue: the Spark run; lambda: the converter function.")
    units: float = Field(description="DPU-seconds (glue) or GB-seconds (lambda) charged.", examples=[1234.5])
    unit: Literal["DPU-second", "GB-second"]
    source: str = Field(
        description="Where units come from: Glue's DPUSeconds, ExecutionTime x workers (a run without Auto "
        "Scaling's account), or memory x duration (the converter's handler, rounded up to the millisecond).",
        examples=["DPUSeconds"],
    )
    price_per_unit_usd: float = Field(description="The deployment's configured price of one unit, in USD.")
    estimated_usd: float = Field(description="units x price_per_unit_usd: an estimate, not an invoice.")
    execution_class: str | None = Field(default=None, description="Glue's execution class (STANDARD, FLEX).")
    worker_type: str | None = Field(default=None, examples=["G.1X"])
    workers: int | None = Field(
        default=None, description="Workers the run was started with (its Auto Scaling ceiling)."
    )
    memory_mb: int | None = Field(default=None, description="The converter function's memory.")


class RunReportView(BaseModel):
    """The summary of a SUCCEEDED job's run (etl_lib.report.RunReport without storage paths)."""

    engine: str = Field(description="The engine that ran (local or spark).", examples=["local"])
    rows_in: int
    rows_out: int
    input_bytes: int
    output_bytes: int
    duration_ms: int
    started_at: datetime
    finished_at: datetime
    parquet_schema: str = Field(description="The input's Parquet schema, as Parquet prints it.")
    arrow_schema: str = Field(description="The Arrow schema the input was read with.")
    json_schema: dict[str, Any] = Field(description="JSON Schema (2020-12) of one output record.")
    parts: list[ReportPart] = Field(description="The input's row groups in output order; empty for older runs.")
    catalog_table: str | None = Field(
        default=None, description="The output's table in the outputs' catalog database, if it was registered."
    )
    cost: RunCostView | None = Field(
        default=None,
        description="What the run was charged for and its estimated cost; null until the run's end has been "
        "accounted (a Glue run's, moments after the job SUCCEEDED) and for runs that cost nothing (the local stack).",
    )


class JobReport(BaseModel):
    job_id: str
    report: RunReportView | None = Field(
        description="The report; null when it is too large for this response (over 1 MiB: a file of "
        "thousands of columns), then read it from `report_url`."
    )
    report_url: str | None = Field(
        default=None, description="A short-lived link to the report's JSON, when `report` is null."
    )
    report_expires_at: datetime | None = Field(default=None, description="When `report_url` stops working.")


class ErrorDetail(BaseModel):
    code: str = error_code_field(Surface.API, "What went wrong, for a client to switch on.")
    message: str


class ErrorResponse(BaseModel):
    error: ErrorDetail
