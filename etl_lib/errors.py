"""Errors a user can act on, and the one catalogue of their codes.

Every failure that reaches a user (CLI stderr, a FAILED job, an API response) carries a
stable machine-readable code from :class:`ErrorCode` and a one-line message that names the
input and the problem. Conversion failures are ``ConversionError``; anything else is a bug
and is reported as ``INTERNAL_ERROR`` without its stack trace.

Codes are written here once: the exception classes, the API's error answers, the job
records, ``docs/openapi.json`` (its enums are generated from :data:`ERROR_CODES`) and the
error table of ``docs/json-contract.md`` (checked against it by a test) all come from it.
Because ``ErrorCode`` is a ``StrEnum``, a member *is* its string: JSON, DynamoDB items and
job records hold exactly the strings they held before the enum existed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Flag, StrEnum, auto


class ErrorCode(StrEnum):
    """Every code this project answers or records with. Clients switch on them: never rename
    a value; each member's when-and-where is in :data:`ERROR_CODES`."""

    # A conversion's own failures (the ConversionError classes below).
    CONVERSION_FAILED = "CONVERSION_FAILED"
    INVALID_PARQUET = "INVALID_PARQUET"
    INPUT_NOT_FOUND = "INPUT_NOT_FOUND"
    SCHEMA_CONFLICT = "SCHEMA_CONFLICT"
    INVALID_UTF8 = "INVALID_UTF8"
    INVALID_VALUE = "INVALID_VALUE"
    UNSUPPORTED_TYPE = "UNSUPPORTED_TYPE"
    INPUT_TOO_LARGE = "INPUT_TOO_LARGE"
    OUTPUT_TOO_LARGE = "OUTPUT_TOO_LARGE"
    TIMED_OUT = "TIMED_OUT"
    OUTPUT_FAILED = "OUTPUT_FAILED"
    # A job failed for a reason outside the conversion itself.
    UPLOAD_MISSING = "UPLOAD_MISSING"
    EMPTY_FILE = "EMPTY_FILE"
    FILE_TOO_LARGE = "FILE_TOO_LARGE"
    SIZE_MISMATCH = "SIZE_MISMATCH"
    UPLOAD_CHANGED = "UPLOAD_CHANGED"
    RUN_NOT_STARTED = "RUN_NOT_STARTED"
    RUN_LOST = "RUN_LOST"
    RUN_FAILED = "RUN_FAILED"
    RUN_TIMEOUT = "RUN_TIMEOUT"
    RUN_STOPPED = "RUN_STOPPED"
    RUN_ERROR = "RUN_ERROR"
    RUN_SUCCEEDED = "RUN_SUCCEEDED"
    WORKER_DIED = "WORKER_DIED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    BAD_SETTINGS = "BAD_SETTINGS"
    # Answers of the jobs API.
    BAD_REQUEST = "BAD_REQUEST"
    MALFORMED_JSON = "MALFORMED_JSON"
    INVALID_REQUEST = "INVALID_REQUEST"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    INVALID_JOB_ID = "INVALID_JOB_ID"
    BAD_CURSOR = "BAD_CURSOR"
    NOT_FOUND = "NOT_FOUND"
    UNAUTHORIZED = "UNAUTHORIZED"
    FORBIDDEN = "FORBIDDEN"
    SOURCE_NOT_ALLOWED = "SOURCE_NOT_ALLOWED"
    JOB_NOT_FOUND = "JOB_NOT_FOUND"
    REPORT_MISSING = "REPORT_MISSING"
    JOB_NOT_FINISHED = "JOB_NOT_FINISHED"
    JOB_ACTIVE = "JOB_ACTIVE"
    JOB_CONFLICT = "JOB_CONFLICT"
    JOB_EXPIRED = "JOB_EXPIRED"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    IDEMPOTENCY_IN_PROGRESS = "IDEMPOTENCY_IN_PROGRESS"
    IDEMPOTENT_JOB_DELETED = "IDEMPOTENT_JOB_DELETED"
    UPLOAD_NOT_MULTIPART = "UPLOAD_NOT_MULTIPART"
    UPLOAD_CLOSED = "UPLOAD_CLOSED"
    UPLOAD_INCOMPLETE = "UPLOAD_INCOMPLETE"
    INVALID_PART_NUMBER = "INVALID_PART_NUMBER"
    TOO_MANY_ACTIVE_JOBS = "TOO_MANY_ACTIVE_JOBS"
    TOO_MANY_SPARK_JOBS = "TOO_MANY_SPARK_JOBS"
    # Answers of the local stack's HTTP server, on any route (API Gateway's own in AWS).
    REQUEST_TIMEOUT = "REQUEST_TIMEOUT"
    REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    MISSING_HOST = "MISSING_HOST"
    BAD_HOST = "BAD_HOST"
    MISDIRECTED_REQUEST = "MISDIRECTED_REQUEST"
    SERVER_BUSY = "SERVER_BUSY"
    # Answers of the local stack's stand-in for S3 (uploads and downloads by presigned URL).
    NO_SUCH_BUCKET = "NO_SUCH_BUCKET"
    NO_SUCH_KEY = "NO_SUCH_KEY"
    BAD_KEY = "BAD_KEY"
    ACCESS_DENIED = "ACCESS_DENIED"
    BAD_FORM = "BAD_FORM"
    FORM_TOO_LARGE = "FORM_TOO_LARGE"
    MISSING_FILE = "MISSING_FILE"
    CLIENT_GONE = "CLIENT_GONE"


class S3ErrorCode(StrEnum):
    """Error codes as S3 names them: the ones the AWS adapter reads in S3's answers, and the
    ones the local stack's stand-in for S3 answers a multipart upload's parts with (so that
    the uploader reads the same codes from both). S3's names, not this project's: not in
    :class:`ErrorCode` nor the OpenAPI."""

    NO_SUCH_BUCKET = "NoSuchBucket"
    """No such bucket."""
    NO_SUCH_UPLOAD = "NoSuchUpload"
    """A part or a completion for a multipart upload that was completed or aborted."""
    SIGNATURE_DOES_NOT_MATCH = "SignatureDoesNotMatch"
    """A presigned URL whose signature is bad or expired."""
    INVALID_KEY = "InvalidKey"
    """An object key that is not one (the local stand-in's name; S3 answers 400 too)."""
    MISSING_CONTENT_LENGTH = "MissingContentLength"
    """A part sent without a Content-Length."""
    ENTITY_TOO_LARGE = "EntityTooLarge"
    """A part over 5 GiB."""
    BAD_DIGEST = "BadDigest"
    """A part whose SHA-256 is not the signed one."""
    INCOMPLETE_BODY = "IncompleteBody"
    """A part shorter than its Content-Length."""
    REQUEST_TIMEOUT = "RequestTimeout"
    """A part whose upload stalled."""
    INVALID_PART = "InvalidPart"
    """CompleteMultipartUpload: a part is missing, or its ETag is not the one listed."""
    INVALID_PART_ORDER = "InvalidPartOrder"
    """CompleteMultipartUpload: the parts are not listed in ascending order."""
    ENTITY_TOO_SMALL = "EntityTooSmall"
    """CompleteMultipartUpload: a part other than the last is under 5 MiB."""
    INVALID_REQUEST = "InvalidRequest"
    """CompleteMultipartUpload: a request S3 refuses, e.g. a part's checksum missing."""


class Surface(Flag):
    """Where a code reaches a user; a code can reach several."""

    CONVERSION = auto()
    """A conversion's own failure: ``etl convert``'s stderr line, and a FAILED job's error."""
    JOB = auto()
    """A FAILED job's ``error.code`` for a reason outside the conversion itself."""
    API = auto()
    """An answer of the jobs API (``{"error": {"code", "message"}}``), from the Lambdas or, on
    the same routes, from the local stack."""
    LOCAL_STORE = auto()
    """Only the local stack's stand-in for S3 (presigned form POST, UploadPart, download): in
    AWS, S3 answers these requests itself, so they are not the API's and not in its OpenAPI."""
    NONE = 0
    """Reserved: never emitted as such (see :data:`RESERVED`)."""


@dataclass(frozen=True)
class CodeInfo:
    """One catalogue entry: where the code surfaces, and when it is emitted."""

    surface: Surface
    when: str


_C, _J, _A, _S = Surface.CONVERSION, Surface.JOB, Surface.API, Surface.LOCAL_STORE

ERROR_CODES: dict[ErrorCode, CodeInfo] = {
    ErrorCode.CONVERSION_FAILED: CodeInfo(
        Surface.NONE, "the base of every conversion failure; never raised as such (a narrower code always is)"
    ),
    ErrorCode.INVALID_PARQUET: CodeInfo(_C, "not a readable Parquet file"),
    ErrorCode.INPUT_NOT_FOUND: CodeInfo(
        _C,
        "no such file or directory, where the run planned it or where a slice is read; "
        "no such catalog database or table",
    ),
    ErrorCode.SCHEMA_CONFLICT: CodeInfo(
        _C,
        "files of a dataset type a column differently (both named), or sit under different partition "
        "folders ([datasets.md](datasets.md))",
    ),
    ErrorCode.INVALID_UTF8: CodeInfo(_C, "a string that is not UTF-8"),
    ErrorCode.INVALID_VALUE: CodeInfo(
        _C,
        "a value outside its type's range (TIME outside 0–24 h), a malformed or spec-invalid VARIANT, "
        "WKB that is not a geometry",
    ),
    ErrorCode.UNSUPPORTED_TYPE: CodeInfo(
        _C,
        "a type no rule covers, an empty group beside leaf columns inside a group, or nesting deeper than the limit",
    ),
    ErrorCode.INPUT_TOO_LARGE: CodeInfo(
        _C,
        "the job decoded more than its input limit, or the footer is over its limits (bytes, columns, row groups)",
    ),
    ErrorCode.OUTPUT_TOO_LARGE: CodeInfo(_C, "the job's JSON (before compression) went over its output limit"),
    ErrorCode.TIMED_OUT: CodeInfo(_C, "the job ran longer than its time limit"),
    ErrorCode.OUTPUT_FAILED: CodeInfo(_C, "the destination cannot be written"),
    ErrorCode.UPLOAD_MISSING: CodeInfo(_J, "the uploaded file is not there any more when the job is checked"),
    ErrorCode.EMPTY_FILE: CodeInfo(_J, "the uploaded file is empty"),
    ErrorCode.FILE_TOO_LARGE: CodeInfo(
        _J | _A, "the upload is over the deployment's largest upload (a job asked for with such a size: 413)"
    ),
    ErrorCode.SIZE_MISMATCH: CodeInfo(_J, "the uploaded file's size is not the size the job was created with"),
    ErrorCode.UPLOAD_CHANGED: CodeInfo(
        _J, "the upload was written again after it was checked: the run would not convert what was checked"
    ),
    ErrorCode.RUN_NOT_STARTED: CodeInfo(
        _J, "no conversion run could be started (the launcher refused, or relaunches ran out)"
    ),
    ErrorCode.RUN_LOST: CodeInfo(
        _J, "the conversion run ended, or stopped renewing its claim, without reporting a result"
    ),
    ErrorCode.RUN_FAILED: CodeInfo(
        _J, "the conversion run failed outside the conversion (Glue's FAILED, a crashed run)"
    ),
    ErrorCode.RUN_TIMEOUT: CodeInfo(_J, "the Glue run ended TIMEOUT"),
    ErrorCode.RUN_STOPPED: CodeInfo(_J, "the Glue run ended STOPPED"),
    ErrorCode.RUN_ERROR: CodeInfo(_J, "the Glue run ended ERROR"),
    ErrorCode.RUN_SUCCEEDED: CodeInfo(_J, "the run ended SUCCEEDED without ever claiming the job"),
    ErrorCode.WORKER_DIED: CodeInfo(
        _J, "the local stack's worker process died while it held the job (its supervisor ends the job)"
    ),
    ErrorCode.INTERNAL_ERROR: CodeInfo(
        _J | _A, "a bug: an unexpected exception, reported without its stack trace (500 from the API)"
    ),
    ErrorCode.BAD_SETTINGS: CodeInfo(
        Surface.NONE,
        "SettingsError's: the deployment's configuration (environment variables, run arguments) is "
        "malformed; the Lambda or the run stops before it serves anything (a run's job then fails as "
        "its run ended), so no answer or record carries this code",
    ),
    ErrorCode.BAD_REQUEST: CodeInfo(
        _A, "a request the job service refuses, or a body the local server cannot read (400)"
    ),
    ErrorCode.MALFORMED_JSON: CodeInfo(_A, "the request body is not valid JSON (400)"),
    ErrorCode.INVALID_REQUEST: CodeInfo(_A, "the request's fields fail validation; the message names each (422)"),
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: CodeInfo(_A, "the request body is not JSON (415)"),
    ErrorCode.INVALID_JOB_ID: CodeInfo(_A, "a job id in a path that no job could have (400)"),
    ErrorCode.BAD_CURSOR: CodeInfo(_A, "a next_token the API never handed out (400)"),
    ErrorCode.NOT_FOUND: CodeInfo(_A, "no route for this method and path (404)"),
    ErrorCode.UNAUTHORIZED: CodeInfo(_A, "the caller is not signed in (401)"),
    ErrorCode.FORBIDDEN: CodeInfo(_A, "the caller may not do this, e.g. convert a source in place (403)"),
    ErrorCode.SOURCE_NOT_ALLOWED: CodeInfo(_A, "a source outside the deployment's allowed buckets and databases (403)"),
    ErrorCode.JOB_NOT_FOUND: CodeInfo(_A, "no such job for this caller (404)"),
    ErrorCode.REPORT_MISSING: CodeInfo(_A, "the job has no run report (404)"),
    ErrorCode.JOB_NOT_FINISHED: CodeInfo(_A, "the job has not finished: no output or report yet (409)"),
    ErrorCode.JOB_ACTIVE: CodeInfo(_A, "the job is being converted: delete it once it has finished (409)"),
    ErrorCode.JOB_CONFLICT: CodeInfo(_A, "the job is not in a state that allows this (409)"),
    ErrorCode.JOB_EXPIRED: CodeInfo(_A, "the job's retention ended: its output is gone or going (410)"),
    ErrorCode.IDEMPOTENCY_KEY_REUSED: CodeInfo(_A, "an Idempotency-Key already used for another request (422)"),
    ErrorCode.IDEMPOTENCY_IN_PROGRESS: CodeInfo(_A, "a request with this Idempotency-Key is still being handled (409)"),
    ErrorCode.IDEMPOTENT_JOB_DELETED: CodeInfo(_A, "a replayed Idempotency-Key whose job was deleted since (409)"),
    ErrorCode.UPLOAD_NOT_MULTIPART: CodeInfo(
        _A, "the job's upload is a single presigned POST, not a multipart upload (409)"
    ),
    ErrorCode.UPLOAD_CLOSED: CodeInfo(
        _A, "the job's upload is over: completed, aborted, expired, or the job has moved on (409)"
    ),
    ErrorCode.UPLOAD_INCOMPLETE: CodeInfo(
        _A, "completing found parts missing or of the wrong size; the message names them (409)"
    ),
    ErrorCode.INVALID_PART_NUMBER: CodeInfo(_A, "a part number outside 1..part_count of the job's upload plan (400)"),
    ErrorCode.TOO_MANY_ACTIVE_JOBS: CodeInfo(
        _A, "the caller already has the most unfinished jobs one user may have (429)"
    ),
    ErrorCode.TOO_MANY_SPARK_JOBS: CodeInfo(
        _A, "the caller already has the most unfinished Spark jobs one user may have (429)"
    ),
    ErrorCode.REQUEST_TIMEOUT: CodeInfo(_A | _S, "local stack: the request or upload stalled (408)"),
    ErrorCode.REQUEST_TOO_LARGE: CodeInfo(_A | _S, "local stack: the request body is over the server's limit (413)"),
    ErrorCode.METHOD_NOT_ALLOWED: CodeInfo(_A, "local stack: the route exists, not for this method (405)"),
    ErrorCode.MISSING_HOST: CodeInfo(_A, "local stack: the request has no Host header (400)"),
    ErrorCode.BAD_HOST: CodeInfo(_A, "local stack: the Host header is malformed (400)"),
    ErrorCode.MISDIRECTED_REQUEST: CodeInfo(_A, "local stack: a Host the server was not started to answer to (421)"),
    ErrorCode.SERVER_BUSY: CodeInfo(_A, "local stack: too many connections at once (503)"),
    ErrorCode.NO_SUCH_BUCKET: CodeInfo(_S, "local store: no such bucket (404)"),
    ErrorCode.NO_SUCH_KEY: CodeInfo(_S, "local store: the object to download does not exist (404)"),
    ErrorCode.BAD_KEY: CodeInfo(_S, "local store: an object key that is not one (400)"),
    ErrorCode.ACCESS_DENIED: CodeInfo(
        _S, "local store: a bad or expired signature, or an upload over its policy (403)"
    ),
    ErrorCode.BAD_FORM: CodeInfo(_S, "local store: the upload is not a well-formed multipart/form-data form (400)"),
    ErrorCode.FORM_TOO_LARGE: CodeInfo(_S, "local store: the form's fields are too large (413)"),
    ErrorCode.MISSING_FILE: CodeInfo(_S, "local store: the form has no file field (400)"),
    ErrorCode.CLIENT_GONE: CodeInfo(_S, "local store: the client closed the connection during the upload (400)"),
}
"""When and where each code is emitted: the one description of every code."""

RESERVED: frozenset[ErrorCode] = frozenset(code for code, info in ERROR_CODES.items() if not info.surface)
"""Codes in the catalogue that no answer or record carries (their entry says why)."""


def codes_on(surface: Surface) -> list[ErrorCode]:
    """The codes that can reach a user through ``surface`` (any of its flags), in catalogue order."""
    return [code for code, info in ERROR_CODES.items() if info.surface & surface]


_RUN_ENDED: dict[str, ErrorCode] = {
    "FAILED": ErrorCode.RUN_FAILED,
    "TIMEOUT": ErrorCode.RUN_TIMEOUT,
    "STOPPED": ErrorCode.RUN_STOPPED,
    "ERROR": ErrorCode.RUN_ERROR,
    "SUCCEEDED": ErrorCode.RUN_SUCCEEDED,
}


def run_ended_code(run_state: str) -> ErrorCode:
    """The code a job fails with when its run ended in Glue's ``run_state`` before it finished
    the job (``RUN_<state>``); ``RUN_FAILED`` for a state Glue may add later."""
    return _RUN_ENDED.get(run_state, ErrorCode.RUN_FAILED)


class ConversionError(Exception):
    """Base class: ``code`` is stable (API clients switch on it), ``message`` is for humans."""

    code: str = ErrorCode.CONVERSION_FAILED

    def __init__(self, message: str, *, code: str | None = None) -> None:
        # Keep the message on one line: it goes to stderr, job records and UI toasts.
        self.message = " ".join(message.split())
        if code is not None:
            self.code = code
        super().__init__(self.message)


class InvalidInputError(ConversionError):
    """The input is not a readable Parquet file (empty, truncated, corrupt, encrypted...)."""

    code = ErrorCode.INVALID_PARQUET


class InputNotFoundError(InvalidInputError):
    """The input, or one of its files, does not exist where it is read."""

    code = ErrorCode.INPUT_NOT_FOUND


class SchemaConflictError(InvalidInputError):
    """The files of a dataset disagree: a column typed differently by two files (both named),
    or files under different partition folders."""

    code = ErrorCode.SCHEMA_CONFLICT


class UnsupportedTypeError(ConversionError):
    """The input is valid Parquet but holds a type the JSON contract does not cover."""

    code = ErrorCode.UNSUPPORTED_TYPE


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

    code = ErrorCode.INVALID_UTF8


class InvalidValueError(BadValueError):
    """A value outside its type's range (e.g. a TIME below 0 or beyond 24:00:00)."""

    code = ErrorCode.INVALID_VALUE


class LimitExceededError(ConversionError):
    """The job went over one of its limits (see ``etl_lib.options.Limits``)."""


class InputTooLargeError(LimitExceededError):
    code = ErrorCode.INPUT_TOO_LARGE


class OutputTooLargeError(LimitExceededError):
    code = ErrorCode.OUTPUT_TOO_LARGE


class TimedOutError(LimitExceededError):
    code = ErrorCode.TIMED_OUT


class OutputError(ConversionError):
    """The destination cannot be written."""

    code = ErrorCode.OUTPUT_FAILED


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


class SettingsError(ValueError):
    """The deployment's configuration (environment variables) is missing or malformed."""

    code = ErrorCode.BAD_SETTINGS


class JobServiceError(Exception):
    """A request the job service refuses; ``status`` is the HTTP status the API answers with."""

    status = 400
    code: str = ErrorCode.BAD_REQUEST

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidCursorError(JobServiceError):
    """A ``next_token`` the API never handed out (made up, truncated or for another store)."""

    code = ErrorCode.BAD_CURSOR


class UnauthorizedError(JobServiceError):
    status = 401
    code = ErrorCode.UNAUTHORIZED


class ForbiddenError(JobServiceError):
    """The caller may not do this: converting a source in place is for data engineers (the
    Cognito group :data:`etl_lib.jobs.models.ENGINEERS_GROUP`)."""

    status = 403
    code = ErrorCode.FORBIDDEN


class SourceNotAllowedError(ForbiddenError):
    """A source outside the deployment's allow-list of buckets and catalog databases."""

    code = ErrorCode.SOURCE_NOT_ALLOWED


class JobNotFoundError(JobServiceError):
    status = 404
    code = ErrorCode.JOB_NOT_FOUND


class IdempotentJobDeletedError(JobServiceError):
    """A request replayed with an Idempotency-Key whose job was deleted since: the key has
    done its one thing, and answering with a job that no longer exists would mislead."""

    status = 409
    code = ErrorCode.IDEMPOTENT_JOB_DELETED


class JobConflictError(JobServiceError):
    status = 409
    code = ErrorCode.JOB_CONFLICT


class JobExpiredError(JobServiceError):
    """The job's retention ended: its output is gone (S3 lifecycle) or going."""

    status = 410
    code = ErrorCode.JOB_EXPIRED


class UploadTooLargeError(JobServiceError):
    status = 413
    code = ErrorCode.FILE_TOO_LARGE


class TooManyActiveJobsError(JobServiceError):
    """The caller already has the most unfinished jobs one user may have."""

    status = 429
    code = ErrorCode.TOO_MANY_ACTIVE_JOBS


class TooManySparkJobsError(TooManyActiveJobsError):
    """The caller already has the most unfinished Spark jobs one user may have: the Glue job's
    concurrent runs are shared by every user, so no one user may hold them all."""

    code = ErrorCode.TOO_MANY_SPARK_JOBS


class GlueErrorCode(StrEnum):
    """Error types as AWS Glue names them: the ones the catalog reader reads in Glue's answers,
    and the ones the local interactive-sessions endpoint (etl_devstack.sessions) answers with,
    so that Glue's own clients understand it. Glue's names, not this project's: not in
    :class:`ErrorCode` nor the OpenAPI."""

    INVALID_INPUT = "InvalidInputException"
    """A request field is missing or malformed."""
    ALREADY_EXISTS = "AlreadyExistsException"
    """A session with this id exists already."""
    ILLEGAL_SESSION_STATE = "IllegalSessionStateException"
    """The session is not in a state that allows the call."""
    ENTITY_NOT_FOUND = "EntityNotFoundException"
    """No such session, statement, catalog database or table."""


class GlueApiError(Exception):
    """An error of the local Glue interactive-sessions endpoint (etl_devstack.sessions), as Glue
    names it on the wire: ``code`` is the JSON protocol's ``__type`` (botocore's
    ``ClientError`` code), ``message`` its text, ``status`` the HTTP status."""

    def __init__(self, code: GlueErrorCode, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
