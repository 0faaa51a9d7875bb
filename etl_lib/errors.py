"""Errors a user can act on.

Every failure that reaches a user (CLI stderr, a FAILED job, an API response) is a
``ConversionError`` with a stable machine-readable ``code`` and a one-line ``message``
that names the input and the problem. Anything else is a bug and is reported as
``INTERNAL_ERROR`` without its stack trace.
"""

from __future__ import annotations


class ConversionError(Exception):
    """Base class: ``code`` is stable (API clients switch on it), ``message`` is for humans."""

    code = "CONVERSION_FAILED"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        # Keep the message on one line: it goes to stderr, job records and UI toasts.
        self.message = " ".join(message.split())
        if code is not None:
            self.code = code
        super().__init__(self.message)


class InvalidInputError(ConversionError):
    """The input is not a readable Parquet file (empty, truncated, corrupt, encrypted...)."""

    code = "INVALID_PARQUET"


class InputNotFoundError(InvalidInputError):
    """The input, or one of its files, does not exist where it is read."""

    code = "INPUT_NOT_FOUND"


class SchemaConflictError(InvalidInputError):
    """The files of a dataset disagree: a column typed differently by two files (both named),
    or files under different partition folders."""

    code = "SCHEMA_CONFLICT"


class UnsupportedTypeError(ConversionError):
    """The input is valid Parquet but holds a type the JSON contract does not cover."""

    code = "UNSUPPORTED_TYPE"


class BadValueError(InvalidInputError):
    """One value of the input cannot be written as JSON: names the column and the row.

    The encoder knows the column and the row within its batch; the reader adds the file
    and the batch's first row with :meth:`located`.
    """

    def __init__(
        self, message: str, *, code: str | None = None, column: str = "", row: int = 0, problem: str = ""
    ) -> None:
        super().__init__(message, code=code)
        self.column, self.row, self.problem = column, row, problem or message

    @classmethod
    def at(cls, problem: str, *, column: str, row: int, file: str = "") -> BadValueError:
        where = f"{file}: " if file else ""
        return cls(f"{where}column {column}, row {row}: {problem}", column=column, row=row, problem=problem)

    def located(self, file: str, first_row: int) -> BadValueError:
        return self.at(self.problem, column=self.column, row=first_row + self.row, file=file)


class InvalidUtf8Error(BadValueError):
    """A string column holds bytes that are not UTF-8 (files from non-validating writers)."""

    code = "INVALID_UTF8"


class InvalidValueError(BadValueError):
    """A value outside its type's range (e.g. a TIME below 0 or beyond 24:00:00)."""

    code = "INVALID_VALUE"


class LimitExceededError(ConversionError):
    """The job went over one of its limits (see ``etl_lib.options.Limits``)."""


class InputTooLargeError(LimitExceededError):
    code = "INPUT_TOO_LARGE"


class OutputTooLargeError(LimitExceededError):
    code = "OUTPUT_TOO_LARGE"


class TimedOutError(LimitExceededError):
    code = "TIMED_OUT"


class OutputError(ConversionError):
    """The destination cannot be written."""

    code = "OUTPUT_FAILED"


_CONVERSION_ERRORS: tuple[type[ConversionError], ...] = (
    InvalidInputError,
    InputNotFoundError,
    SchemaConflictError,
    InvalidUtf8Error,
    InvalidValueError,
    UnsupportedTypeError,
    InputTooLargeError,
    OutputTooLargeError,
    TimedOutError,
    OutputError,
)


def error_from_code(code: str, message: str) -> ConversionError:
    """Rebuild an error that crossed a process boundary (a Spark task, a job record)."""
    for cls in _CONVERSION_ERRORS:
        if cls.code == code:
            return cls(message)
    return ConversionError(message, code=code)


# --- Job and API errors -----------------------------------------------------------------
# Codes a job can end FAILED with for reasons outside the conversion itself (the conversion's
# own codes are the ConversionError classes above). Clients switch on them: never rename.
UPLOAD_MISSING = "UPLOAD_MISSING"
EMPTY_FILE = "EMPTY_FILE"
FILE_TOO_LARGE = "FILE_TOO_LARGE"
SIZE_MISMATCH = "SIZE_MISMATCH"
RUN_NOT_STARTED = "RUN_NOT_STARTED"
RUN_LOST = "RUN_LOST"
RUN_FAILED = "RUN_FAILED"
INTERNAL_ERROR = "INTERNAL_ERROR"
# The upload was written again after it was checked: the run would not convert what was checked.
UPLOAD_CHANGED = "UPLOAD_CHANGED"
# The local stack's worker process died while it held the job (its supervisor ends the job).
WORKER_DIED = "WORKER_DIED"


# API answers about a job's multipart upload (the /jobs/{job_id}/upload routes).
# The job's upload is a single presigned POST, not a multipart upload (409).
UPLOAD_NOT_MULTIPART = "UPLOAD_NOT_MULTIPART"
# The job's upload is over: completed, aborted, expired, or the job has moved on (409).
UPLOAD_CLOSED = "UPLOAD_CLOSED"
# Completing found parts missing or of the wrong size; the message names them (409).
UPLOAD_INCOMPLETE = "UPLOAD_INCOMPLETE"
# A part number outside 1..part_count of the job's upload plan (400).
INVALID_PART_NUMBER = "INVALID_PART_NUMBER"


# A job id in a path that no job could have (not the form new_job_id draws) (400).
INVALID_JOB_ID = "INVALID_JOB_ID"


# API answers about the Idempotency-Key header of POST /jobs.
IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
IDEMPOTENCY_IN_PROGRESS = "IDEMPOTENCY_IN_PROGRESS"


class SettingsError(ValueError):
    """The deployment's configuration (environment variables) is missing or malformed."""

    code = "BAD_SETTINGS"


class JobServiceError(Exception):
    """A request the job service refuses; ``status`` is the HTTP status the API answers with."""

    status = 400
    code = "BAD_REQUEST"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidCursorError(JobServiceError):
    """A ``next_token`` the API never handed out (made up, truncated or for another store)."""

    code = "BAD_CURSOR"


class UnauthorizedError(JobServiceError):
    status = 401
    code = "UNAUTHORIZED"


class ForbiddenError(JobServiceError):
    """The caller may not do this: converting a source in place is for data engineers (the
    Cognito group :data:`etl_lib.jobs.models.ENGINEERS_GROUP`)."""

    status = 403
    code = "FORBIDDEN"


class SourceNotAllowedError(ForbiddenError):
    """A source outside the deployment's allow-list of buckets and catalog databases."""

    code = "SOURCE_NOT_ALLOWED"


class JobNotFoundError(JobServiceError):
    status = 404
    code = "JOB_NOT_FOUND"


class IdempotentJobDeletedError(JobServiceError):
    """A request replayed with an Idempotency-Key whose job was deleted since: the key has
    done its one thing, and answering with a job that no longer exists would mislead."""

    status = 409
    code = "IDEMPOTENT_JOB_DELETED"


class JobConflictError(JobServiceError):
    status = 409
    code = "JOB_CONFLICT"


class JobExpiredError(JobServiceError):
    """The job's retention ended: its output is gone (S3 lifecycle) or going."""

    status = 410
    code = "JOB_EXPIRED"


class UploadTooLargeError(JobServiceError):
    status = 413
    code = FILE_TOO_LARGE


class TooManyActiveJobsError(JobServiceError):
    """The caller already has the most unfinished jobs one user may have."""

    status = 429
    code = "TOO_MANY_ACTIVE_JOBS"


class TooManySparkJobsError(TooManyActiveJobsError):
    """The caller already has the most unfinished Spark jobs one user may have: the Glue job's
    concurrent runs are shared by every user, so no one user may hold them all."""

    code = "TOO_MANY_SPARK_JOBS"


class GlueApiError(Exception):
    """An error of the local Glue interactive-sessions endpoint (etl_devstack.sessions), as Glue
    names it on the wire: ``code`` is the JSON protocol's ``__type`` (botocore's
    ``ClientError`` code), ``message`` its text, ``status`` the HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
