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


class OutputError(ConversionError):
    """The destination cannot be written."""

    code = "OUTPUT_FAILED"


def error_from_code(code: str, message: str) -> ConversionError:
    """Rebuild an error that crossed a process boundary (a Spark task, a job record)."""
    for cls in (InvalidInputError, UnsupportedTypeError, OutputError):
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
