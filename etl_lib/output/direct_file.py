"""A local output file written around the page cache (``O_DIRECT``), with a buffered fallback.

Why by hand: no library writes a stream of unaligned chunks through ``O_DIRECT``. The output
of a conversion is written once, synced, renamed and not read again by this process. Through
the page cache that costs a copy of every byte into the cache (about a quarter of the local
engine's CPU at 5M rows) and then the final ``fsync`` waits for all of it to reach the disk.
Written directly, the bytes go from one reused, page-aligned buffer to the disk while the
encoder threads keep working, and the final sync has only metadata left to do.

``O_DIRECT`` needs the buffer, the file offset and the length of each write aligned to the
device's block size. Chunks are copied into the aligned buffer and written a whole buffer at a
time; the last, partial block is written padded with zeros and the file is then truncated to
its true length. A filesystem that refuses ``O_DIRECT`` (tmpfs, some network filesystems)
gets ordinary buffered writes on the same descriptor, so the output is the same either way.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
from types import TracebackType
from typing import Self

ALIGNMENT = 4096
"""The alignment of every direct write: a multiple of every common logical block size."""
BUFFER_BYTES = 8 * 1024 * 1024
"""The aligned staging buffer: large writes keep the disk busy, few system calls."""
_DIRECT = getattr(os, "O_DIRECT", 0)  # Linux; elsewhere every write is buffered


class DirectFile:
    """Append-only binary file for one output, created new at ``path``.

    ``write`` accepts any bytes-like object (``bytes``, ``memoryview``, ``pyarrow.Buffer``);
    ``close`` writes what is left, sets the file's exact length and, with ``sync``, waits for
    it to be on the disk. ``direct`` tells whether the writes bypass the page cache.

    Parameters
    ----------
    path : str
        The file to create; it must not exist.
    direct : bool, default True
        Try ``O_DIRECT``; False always writes through the page cache.
    buffer_bytes : int, default :data:`BUFFER_BYTES`
        Size of the aligned staging buffer (rounded up to :data:`ALIGNMENT`).

    Examples
    --------
    >>> with DirectFile("out.jsonl") as out:
    ...     out.write(b'{"a":1}\\n')
    8
    >>> open("out.jsonl", "rb").read()
    b'{"a":1}\\n'
    """

    def __init__(self, path: str, *, direct: bool = True, buffer_bytes: int = BUFFER_BYTES) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        self.direct = bool(direct and _DIRECT)
        try:
            self._fd = os.open(path, flags | (_DIRECT if self.direct else 0), 0o666)  # as open(): the umask decides
        except OSError as exc:
            if not self.direct or exc.errno != errno.EINVAL:
                raise
            self.direct = False
            self._fd = os.open(path, flags, 0o666)
        capacity = -(-max(buffer_bytes, ALIGNMENT) // ALIGNMENT) * ALIGNMENT
        self._buffer = mmap.mmap(-1, capacity)  # anonymous maps are page-aligned
        self._view = memoryview(self._buffer)
        self._used = 0
        self._written = 0  # bytes on the file so far (a multiple of ALIGNMENT while direct)
        self.closed = False

    def fileno(self) -> int:
        return self._fd

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._written + self._used

    def write(self, data: bytes | bytearray | memoryview | object) -> int:
        src = memoryview(data).cast("B")  # type: ignore[arg-type]
        size, pos, capacity = len(src), 0, len(self._view)
        while pos < size:
            take = min(size - pos, capacity - self._used)
            self._view[self._used : self._used + take] = src[pos : pos + take]
            self._used += take
            pos += take
            if self._used == capacity:
                self._drain(self._used)
        return size

    def write_from(self, fd: int, size: int) -> int:
        """Append the first ``size`` bytes of the open file ``fd``, read straight into the
        aligned buffer: one copy of each byte, where ``write`` of bytes read first makes two.

        Raises :class:`EOFError` if ``fd`` holds fewer than ``size`` bytes.
        """
        done, capacity = 0, len(self._view)
        while done < size:
            take = min(size - done, capacity - self._used)
            with self._view[self._used : self._used + take] as room:
                got = os.preadv(fd, [room], done)
            if got == 0:
                raise EOFError(f"the file ended after {done} of {size} bytes")
            self._used += got
            done += got
            if self._used == capacity:
                self._drain(capacity)
        return size

    def flush(self) -> None:
        """Nothing to do: bytes wait in the aligned buffer until it is full or closed (a
        direct write cannot be of a partial block)."""

    def _write_all(self, length: int) -> None:
        # Views of the buffer are released as soon as they are used (``with``), also when a
        # write fails: the buffer cannot be unmapped while one is alive.
        done = 0
        while done < length:
            try:
                with self._view[done:length] as rest:
                    done += os.write(self._fd, rest)
            except OSError as exc:
                if not self.direct or exc.errno != errno.EINVAL:
                    raise
                self._buffered()

    def _buffered(self) -> None:
        # The filesystem accepted the open but refuses direct writes: carry on buffered.
        fcntl.fcntl(self._fd, fcntl.F_SETFL, fcntl.fcntl(self._fd, fcntl.F_GETFL) & ~_DIRECT)
        self.direct = False

    def _drain(self, length: int) -> None:
        self._write_all(length)
        self._written += length
        self._used = 0

    def close(self, *, sync: bool = True) -> None:
        """Write what is buffered, give the file its exact length, sync it (``sync``), close."""
        if self.closed:
            return
        try:
            tail = self._used
            if tail:
                padded = -(-tail // ALIGNMENT) * ALIGNMENT if self.direct else tail
                self._view[tail:padded] = bytes(padded - tail)
                self._drain(padded)
                if padded != tail:
                    self._written -= padded - tail
                    os.ftruncate(self._fd, self._written)
            if sync:
                os.fsync(self._fd)
        finally:
            self.closed = True
            os.close(self._fd)
            self._view.release()
            self._buffer.close()

    def abandon(self) -> None:
        """Close without writing what is buffered or syncing (the caller removes the file)."""
        if not self.closed:
            self._used = 0
            self.close(sync=False)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if kind is None:
            self.close()
        else:
            self.abandon()
