"""Presigned form uploads and multipart upload parts to the local object store, streamed and
checked as they arrive.

The form's signature, expiry and key are checked when the file part starts, before any
of its bytes is kept; the body's declared length is checked against the signed size
limit then too; the file's bytes go to a private temporary file that is cut off the
moment it passes the limit and renamed into place only when the whole form is valid.
Like S3, the ``file`` part must come after the fields; parts after it are ignored.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import NEED_DATA, Data, Event, Field, File, MultipartDecoder

from etl_devstack.local.limits import ServerLimits
from etl_lib.errors import ErrorCode, S3ErrorCode

UPLOAD_TEMP_PREFIX = ".upload-"
_CHUNK = 64 * 1024
# What follows the file's bytes: "\r\n--" boundary "--\r\n", with some slack for whitespace.
_TAIL_SLACK = 64


class UploadRefused(Exception):
    """An upload answered with ``status``/``code``; ``message`` is for the client."""

    def __init__(self, status: int, code: ErrorCode | S3ErrorCode, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class _Counter:
    read: int = 0


def _events(decoder: MultipartDecoder, stream: BinaryIO, counter: _Counter) -> Iterator[Event]:
    while True:
        event = decoder.next_event()
        if event is NEED_DATA:
            chunk = stream.read(_CHUNK)
            counter.read += len(chunk)
            decoder.receive_data(chunk or None)
            continue
        yield event


def _field(events: Iterator[Event], name: str, budget: int) -> tuple[str, int]:
    value = b""
    for event in events:
        if not isinstance(event, Data):
            break
        value += event.data
        if len(value) > budget:
            raise UploadRefused(413, ErrorCode.FORM_TOO_LARGE, "the form's fields are too large")
        if not event.more_data:
            break
    try:
        return value.decode(), budget - len(value)
    except UnicodeDecodeError as exc:
        raise UploadRefused(400, ErrorCode.BAD_FORM, f"the form field {name} is not UTF-8 text") from exc


def _save(events: Iterator[Event], tmp: Path, allowed: int) -> int:
    size = 0
    # Private from the start (no umask window); O_EXCL: never through a planted link.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        for event in events:
            if not isinstance(event, Data):
                break
            size += len(event.data)
            if size > allowed:
                raise UploadRefused(
                    403, ErrorCode.ACCESS_DENIED, f"the upload is larger than the {allowed} bytes its policy allows"
                )
            out.write(event.data)
            if not event.more_data:
                break
    return size


def receive_part(request: Any, inputs: Any, key: str) -> Any:
    """Store one part of a multipart upload sent to a presigned UploadPart URL, as S3 does:
    the signature covers the ``x-amz-checksum-sha256`` header (another value: 403), the body
    must have that SHA-256 (otherwise 400 BadDigest, and nothing is kept), a length is
    required and a part holds at most 5 GiB. Returns the stored part
    (:class:`etl_lib.jobs.ports.UploadedPart`)."""
    from etl_lib.jobs.local import CHECKSUM_HEADER, BadDigestError, SignatureError
    from etl_lib.jobs.models import S3_MAX_PART_BYTES
    from etl_lib.jobs.ports import UploadGoneError

    checksum = request.headers.get(CHECKSUM_HEADER, "")
    try:
        upload_id, part_number = inputs.verify_part(key, request.args, checksum)
    except SignatureError as exc:
        raise UploadRefused(403, S3ErrorCode.SIGNATURE_DOES_NOT_MATCH, str(exc)) from exc
    except ValueError as exc:  # a key that is not one
        raise UploadRefused(400, S3ErrorCode.INVALID_KEY, str(exc)) from exc
    length = request.content_length
    if length is None:
        raise UploadRefused(411, S3ErrorCode.MISSING_CONTENT_LENGTH, "You must provide the Content-Length HTTP header.")
    if length > S3_MAX_PART_BYTES:
        raise UploadRefused(400, S3ErrorCode.ENTITY_TOO_LARGE, f"a part holds at most {S3_MAX_PART_BYTES} bytes")
    try:
        return inputs.put_part(key, upload_id, part_number, request.stream, length=length, checksum_sha256=checksum)
    except BadDigestError as exc:
        raise UploadRefused(400, S3ErrorCode.BAD_DIGEST, str(exc)) from exc
    except UploadGoneError as exc:
        raise UploadRefused(404, S3ErrorCode.NO_SUCH_UPLOAD, "The specified upload does not exist.") from exc
    except (EOFError, ConnectionError) as exc:
        raise UploadRefused(400, S3ErrorCode.INCOMPLETE_BODY, "the part ended before its Content-Length") from exc
    except TimeoutError as exc:
        raise UploadRefused(408, S3ErrorCode.REQUEST_TIMEOUT, "the upload stalled; try again") from exc


def receive(request: Any, inputs: Any, limits: ServerLimits, max_upload_bytes: int) -> tuple[str, int]:
    """Store the file of a presigned form POST; returns (object key, size).

    ``inputs`` is the local input store (:class:`etl_lib.jobs.local.DirectoryObjectStore`).
    Raises :class:`UploadRefused`; never leaves a file behind when it does.
    """
    from etl_lib.jobs.local import SignatureError

    mimetype, options = parse_options_header(request.headers.get("Content-Type", ""))
    boundary = options.get("boundary", "")
    if mimetype != "multipart/form-data" or not boundary:
        raise UploadRefused(400, ErrorCode.BAD_FORM, "the upload must be a multipart/form-data form")
    declared = request.content_length
    if declared is not None and declared > max_upload_bytes + limits.form_overhead_bytes:
        raise UploadRefused(
            413, ErrorCode.REQUEST_TOO_LARGE, f"the upload is over the limit of {max_upload_bytes:,} bytes"
        )
    request.max_content_length = max_upload_bytes + limits.form_overhead_bytes
    # The decoder's buffer holds at most one chunk read and what is left of the previous
    # one; the fields' total is bounded by ``_field``.
    decoder = MultipartDecoder(boundary.encode(), 4 * _CHUNK, max_parts=limits.max_form_parts)
    counter = _Counter()
    events = _events(decoder, request.stream, counter)
    fields: dict[str, str] = {}
    budget = limits.max_form_field_bytes
    tmp = inputs.root / f"{UPLOAD_TEMP_PREFIX}{uuid.uuid4().hex}"
    try:
        for event in events:
            if isinstance(event, Field):
                fields[event.name], budget = _field(events, event.name, budget)
            elif isinstance(event, File) and event.name == "file":
                key, allowed = inputs.check_post_policy(fields)
                before_data = counter.read - len(decoder.buffer)
                if declared is not None and declared - before_data > allowed + len(boundary) + _TAIL_SLACK:
                    raise UploadRefused(
                        403, ErrorCode.ACCESS_DENIED, f"the upload is larger than the {allowed} bytes its policy allows"
                    )
                size = _save(events, tmp, allowed)
                key = inputs.verify_post(fields, size)
                target = inputs.path(key)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, target)
                return key, size
        raise UploadRefused(400, ErrorCode.MISSING_FILE, "the form has no file field")
    except SignatureError as exc:
        raise UploadRefused(403, ErrorCode.ACCESS_DENIED, str(exc)) from exc
    except HTTPException as exc:  # werkzeug: body over the limit, client gone, too many parts
        code = ErrorCode.REQUEST_TOO_LARGE if exc.code == 413 else ErrorCode.BAD_FORM
        raise UploadRefused(exc.code or 400, code, exc.description or "the form is malformed") from exc
    except TimeoutError as exc:
        raise UploadRefused(408, ErrorCode.REQUEST_TIMEOUT, "the upload stalled; try again") from exc
    except ConnectionError as exc:
        raise UploadRefused(400, ErrorCode.CLIENT_GONE, "the client closed the connection during the upload") from exc
    except ValueError as exc:  # the multipart parser: a truncated or malformed body
        raise UploadRefused(400, ErrorCode.BAD_FORM, f"the form is malformed: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
