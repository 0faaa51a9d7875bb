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


class GlueApiError(Exception):
    """An error of the local Glue interactive-sessions endpoint (etl_lib.sessions), as Glue
    names it on the wire: ``code`` is the JSON protocol's ``__type`` (botocore's
    ``ClientError`` code), ``message`` its text, ``status`` the HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
