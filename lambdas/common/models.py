"""The API's request and response bodies (the OpenAPI schemas are generated from them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from etl_lib.jobs.models import DEFAULT_MAX_UPLOAD_BYTES, Filename, Job, JobError, JobStatus
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
        description="The file's size in bytes (the upload must not be larger). Over the deployment's "
        "limit (the maximum stated here by default) the answer is 413 FILE_TOO_LARGE.",
        # Stated, not enforced here: the service refuses with 413 and the deployment's own limit.
        json_schema_extra={"maximum": DEFAULT_MAX_UPLOAD_BYTES},
    )
    options: ConvertOptions = Field(default_factory=ConvertOptions)
    # The engines a client may ask for (JobService.REQUESTABLE_ENGINES; a test keeps them equal).
    engine: Literal[Engine.AUTO, Engine.SPARK] = Field(
        default=Engine.AUTO,
        description="auto: small files on the fast single-machine engine, large ones on Spark (Glue); "
        "spark: always Spark.",
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
    created_at: datetime
    updated_at: datetime
    input_bytes: int | None
    output_bytes: int | None
    rows_in: int | None
    rows_out: int | None
    duration_ms: int | None
    error: JobError | None

    @classmethod
    def of(cls, job: Job) -> JobView:
        return cls.model_validate(job.model_dump())


class Upload(BaseModel):
    url: str = Field(description="POST a multipart form here: every field below, then the file as `file`.")
    fields: dict[str, str]


class CreateJobResponse(BaseModel):
    job: JobView
    upload: Upload


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


class JobReport(BaseModel):
    job_id: str
    report: RunReportView


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorDetail
