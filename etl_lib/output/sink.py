"""The single output file: staged pieces, ordered concatenation, atomic publication.

Nothing is ever visible at the destination until the whole output is there:
locally the file is assembled under a hidden temporary name in the destination's
directory and renamed over it (``os.replace`` is atomic on POSIX); on S3 it is a
multipart upload, which creates the object only when completed (and is aborted on any
failure). Part copies (``UploadPartCopy``) concatenate large pieces server-side
(:mod:`etl_lib.output.s3_publish`).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any, BinaryIO

from etl_lib._runtime import fs
from etl_lib.errors import OutputError
from etl_lib.output.direct_file import DirectFile


def staging_uri(dest: str) -> str:
    """A private location next to ``dest`` for the pieces (same filesystem / bucket)."""
    token = uuid.uuid4().hex[:12]
    if fs.is_s3(dest):
        return f"{dest}.parts-{token}"
    directory, name = os.path.split(os.path.abspath(dest))
    return os.path.join(directory, f".{name}.parts-{token}")


def check_destination(dest: str) -> None:
    """Fail before any work if ``dest`` cannot be written (local: its directory must exist)."""
    if fs.is_s3(dest):
        bucket, key = fs.split_s3(dest)
        if not bucket or not key or key.endswith("/"):
            raise OutputError(f"cannot write {dest}: an S3 destination is s3://bucket/key of one object")
        return
    directory = os.path.dirname(os.path.abspath(dest))
    if not os.path.isdir(directory):
        raise OutputError(f"cannot write {dest}: directory {directory} does not exist")
    if not os.access(directory, os.W_OK):
        raise OutputError(f"cannot write {dest}: directory {directory} is not writable")
    if os.path.isdir(dest):
        raise OutputError(f"cannot write {dest}: it is a directory; DEST is the path of one file")


def piece_uri(staging: str, seq: int) -> str:
    return f"{staging}/piece-{seq:06d}"


@contextlib.contextmanager
def open_piece(uri: str) -> Iterator[BinaryIO]:
    """A writable binary stream for one piece, local or S3."""
    if fs.is_s3(uri):
        filesystem, path = fs.resolve(uri)
        with filesystem.open_output_stream(path) as stream:
            yield stream
    else:
        # Written under a name of its own and renamed when closed: a piece that exists under
        # its name is complete (etl_lib.output.assembly copies pieces as they appear). Not
        # synced: a piece is read once, soon, and removed.
        os.makedirs(os.path.dirname(uri), exist_ok=True)
        with local_atomic(uri, _unsynced_file) as handle:
            yield handle


class Destination(DirectFile):
    """The temporary file ``tmp`` of ``dest``, written around the page cache and synced when
    its block succeeds: the output is written once and not read back, so the cache's copy is
    pure cost. A write that fails (a full disk, a quota) is an :class:`OutputError` naming
    ``dest``, not an internal error."""

    def __init__(self, tmp: str, dest: str) -> None:
        super().__init__(tmp)
        self._dest = dest

    def _failed(self, exc: OSError) -> OutputError:
        return OutputError(f"cannot write {self._dest}: {exc.strerror or exc}")

    def write(self, data: bytes | bytearray | memoryview | object) -> int:
        try:
            return super().write(data)
        except OSError as exc:
            raise self._failed(exc) from exc

    def write_from(self, fd: int, size: int) -> int:
        try:
            return super().write_from(fd, size)
        except OSError as exc:
            raise self._failed(exc) from exc

    def close(self, *, sync: bool = True) -> None:
        try:
            super().close(sync=sync)
        except OSError as exc:
            raise self._failed(exc) from exc


@contextlib.contextmanager
def _unsynced_file(tmp: str, dest: str) -> Iterator[BinaryIO]:
    with open(tmp, "wb") as out:
        yield out


@contextlib.contextmanager
def _synced_file(tmp: str, dest: str) -> Iterator[BinaryIO]:
    """A buffered file at ``tmp``, flushed and synced when the block succeeds."""
    with open(tmp, "wb") as out:
        yield out
        out.flush()
        os.fsync(out.fileno())


@contextlib.contextmanager
def local_atomic(
    dest: str, opener: Callable[[str, str], contextlib.AbstractContextManager[Any]] = _synced_file
) -> Iterator[BinaryIO]:
    """A hidden temporary file beside ``dest``, opened by ``opener`` (which syncs it), renamed
    over ``dest`` on success (``os.replace`` is atomic on POSIX), removed on failure."""
    dest = os.path.abspath(dest)
    tmp = os.path.join(os.path.dirname(dest), f".{os.path.basename(dest)}.tmp-{uuid.uuid4().hex[:12]}")
    try:
        with opener(tmp, dest) as out:
            yield out
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_output(dest: str, *, s3_client: Any = None) -> Iterator[BinaryIO]:
    """A write-only stream that becomes ``dest`` only if the block succeeds.

    Locally: a hidden temporary file beside ``dest``, written directly to the disk
    (:class:`~etl_lib.output.direct_file.DirectFile`), synced and renamed over it. On S3: one staged
    piece, published by a (server-side copy) multipart upload, then removed.
    """
    if fs.is_s3(dest):
        staging = staging_uri(dest)
        try:
            with open_piece(piece_uri(staging, 0)) as out:
                yield out
                size = out.tell()
            publish([piece_uri(staging, 0)], dest, sizes=[size], s3_client=s3_client)
        finally:
            remove_tree(staging, s3_client=s3_client)
        return
    with local_atomic(dest, Destination) as out:
        yield out


def remove_tree(uri: str, *, s3_client: Any = None) -> None:
    """Best-effort removal of a staging location (on S3, with ``s3_client``)."""
    with contextlib.suppress(Exception):
        if fs.is_s3(uri):
            _delete_s3_prefix(uri, s3_client or _s3_client())
        else:
            import shutil  # only the Spark engine's staging: a local conversion need not import it

            shutil.rmtree(uri, ignore_errors=True)


def _delete_s3_prefix(uri: str, s3: Any) -> None:
    """Delete every object under ``uri/``, and nothing else. Written out rather than Arrow's
    ``delete_dir``, which then puts back the parent "directory" as an empty ``parent/``
    object whenever it holds nothing else: a marker nobody asked for beside the output."""
    bucket, key = fs.split_s3(uri)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key.rstrip("/") + "/"):
        objects = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if objects:  # a page holds at most 1,000 keys: what one DeleteObjects takes
            s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})


def _s3_client() -> Any:
    import boto3  # imported lazily: the local path does not need it
    from botocore.config import Config

    from etl_lib.output.s3_publish import PUBLISH_CALLS

    # As many connections as a publication makes calls at once (boto3 keeps 10).
    return boto3.client("s3", config=Config(max_pool_connections=PUBLISH_CALLS))


def publish(
    pieces: Sequence[str],
    dest: str,
    *,
    sizes: Sequence[int] | None = None,
    prefix: bytes = b"",
    s3_client: Any = None,
) -> int:
    """Concatenate ``prefix`` and ``pieces`` (in order) into ``dest``, atomically.

    ``sizes`` are the pieces' sizes as their writers counted them; an ``s3://`` destination
    needs them (:mod:`etl_lib.output.s3_publish` plans its parts from them instead of asking
    S3 for each piece's size), a local one checks each piece against them (a piece of another
    size fails the publish). Returns the size of ``dest``. (A local Spark run's pieces are
    assembled while its job runs instead: :mod:`etl_lib.output.assembly`.)
    """
    try:
        if fs.is_s3(dest):
            return _publish_s3(pieces, sizes, dest, prefix, s3_client or _s3_client())
        return _publish_local(pieces, sizes, dest, prefix)
    except OutputError:
        raise
    except Exception as exc:
        raise OutputError(f"cannot write {dest}: {exc}") from exc


def _append(src: BinaryIO, out: BinaryIO) -> None:
    """Append ``src`` to ``out``: in the kernel (copy_file_range) where possible."""
    out.flush()
    remaining = os.fstat(src.fileno()).st_size
    try:
        while remaining > 0:
            copied = os.copy_file_range(src.fileno(), out.fileno(), remaining)
            if copied == 0:
                break
            remaining -= copied
    except OSError:  # other filesystems / platforms: a plain buffered copy
        pass
    if remaining > 0:
        import shutil

        src.seek(os.fstat(src.fileno()).st_size - remaining)
        out.seek(0, os.SEEK_END)
        shutil.copyfileobj(src, out, 8 * 1024 * 1024)


def size_mismatch(piece: str, actual: int, reported: int) -> OutputError:
    """The error of a staged piece holding another size than its writer reported."""
    return OutputError(f"staged piece {os.path.basename(piece)} holds {actual} bytes, its writer wrote {reported}")


def _publish_local(pieces: Sequence[str], sizes: Sequence[int] | None, dest: str, prefix: bytes) -> int:
    check_destination(dest)
    with local_atomic(dest) as out:
        out.write(prefix)
        for seq, piece in enumerate(pieces):
            with open(piece, "rb") as src:
                actual = os.fstat(src.fileno()).st_size
                if sizes is not None and actual != sizes[seq]:
                    raise size_mismatch(piece, actual, sizes[seq])
                _append(src, out)
    return os.path.getsize(dest)


def _publish_s3(pieces: Sequence[str], sizes: Sequence[int] | None, dest: str, prefix: bytes, s3: Any) -> int:
    from etl_lib.output.s3_publish import publish_s3  # S3 only: a local conversion need not import its pools

    if sizes is None:
        raise ValueError("publishing to S3 needs the pieces' sizes, as their writers counted them")
    return publish_s3(pieces, sizes, dest, s3, prefix=prefix)


def size_of(uri: str, *, s3_client: Any = None) -> int:
    if fs.is_s3(uri):
        bucket, key = fs.split_s3(uri)
        return int((s3_client or _s3_client()).head_object(Bucket=bucket, Key=key)["ContentLength"])
    return os.path.getsize(uri)


def write_bytes(dest: str, data: bytes, *, s3_client: Any = None) -> int:
    """Publish a small output (e.g. the output of an empty input) atomically."""
    if fs.is_s3(dest):
        bucket, key = fs.split_s3(dest)
        (s3_client or _s3_client()).put_object(Bucket=bucket, Key=key, Body=data)
        return len(data)
    return publish([], dest, prefix=data)
