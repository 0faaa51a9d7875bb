"""A local output assembled while the Spark job still runs.

Each staged piece is copied into the output's hidden temporary file, at its place, as soon as
it and every piece before it are complete, and removed. When the job ends, only the pieces
of its last wave are left to copy: the copy, and the disk writes behind it, overlap the
executors' work instead of following it. Copied after the job, they were the longest serial
step of a local Spark run (docs/benchmarks.md): a 1.5 GB output took 0.6 s to copy and 0.7 s
to sync, while every core but one waited.

A piece is complete when it exists under its own name: :func:`etl_lib.output.sink.open_piece`
writes each under a temporary name and renames it when closed. A piece rewritten by a
retried task holds the same records; its size is checked against what its writer reported
when the job ends, and any difference fails the publication rather than publish a mix.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import BinaryIO

from etl_lib.errors import OutputError
from etl_lib.output.sink import check_destination, copy_at, local_atomic

POLL_SECONDS = 0.05
"""How often the driver looks for newly completed pieces while the job runs."""


class Assembly:
    """The pieces of ``staging`` (``piece_uri(staging, seq)``) copied in order into ``out``
    (the output's temporary file, ``prefix`` already written), as they complete."""

    def __init__(self, out: BinaryIO, pieces: Sequence[str], prefix: int) -> None:
        out.flush()
        self._fd = out.fileno()
        self._pieces = pieces
        self._offset = prefix
        self._copied: list[int] = []  # the size of each piece copied so far, in order

    def collect(self) -> None:
        """Copy every piece that is now complete and follows the ones already copied."""
        while len(self._copied) < len(self._pieces):
            piece = self._pieces[len(self._copied)]
            try:
                size = os.stat(piece).st_size
            except FileNotFoundError:
                return
            copy_at(piece, size, self._fd, self._offset, consume=True)
            # Start writing these bytes to the disk now (posix_fadvise's DONTNEED writes dirty
            # pages back before it drops them), so the final sync has little left to wait for.
            os.posix_fadvise(self._fd, self._offset, size, os.POSIX_FADV_DONTNEED)
            self._copied.append(size)
            self._offset += size

    def finish(self, sizes: Sequence[int]) -> int:
        """Copy the pieces still left, in parallel, once their writers reported ``sizes`` (one
        per piece); check the pieces copied earlier against them. Returns the output's size."""
        from concurrent.futures import ThreadPoolExecutor

        if len(sizes) != len(self._pieces):
            raise ValueError(f"{len(self._pieces)} pieces but {len(sizes)} sizes")
        for seq, (copied, reported) in enumerate(zip(self._copied, sizes, strict=False)):
            if copied != reported:
                name = os.path.basename(self._pieces[seq])
                raise OutputError(f"staged piece {name} held {copied} bytes, its writer wrote {reported}")
        rest = range(len(self._copied), len(self._pieces))
        offsets = list(itertools.accumulate([sizes[i] for i in rest], initial=self._offset))
        with ThreadPoolExecutor(max(1, min(len(rest), os.cpu_count() or 1))) as pool:
            list(
                pool.map(
                    lambda k: copy_at(self._pieces[rest[k]], sizes[rest[k]], self._fd, offsets[k], consume=True),
                    range(len(rest)),
                )
            )
        return offsets[-1]


@contextlib.contextmanager
def assembling(pieces: Sequence[str], dest: str, *, prefix: bytes = b"") -> Iterator[Assembly]:
    """An :class:`Assembly` of ``pieces`` into ``dest``: published (synced, renamed over
    ``dest``) when the block ends normally, removed otherwise. Call ``finish`` before the
    block ends."""
    check_destination(dest)
    with local_atomic(dest) as out:
        out.write(prefix)
        yield Assembly(out, pieces, len(prefix))


def run_while[T](job: Callable[[], T], tick: Callable[[], None], *, every: float = POLL_SECONDS) -> T:
    """Run ``job`` on a thread of its own and call ``tick`` on this one every ``every``
    seconds until it ends; then its result, or its exception raised here.

    Example::

        >>> calls = []
        >>> run_while(lambda: sum(range(10)), lambda: calls.append(1))
        45
    """
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(job())
        except BaseException as exc:  # handed to the caller's thread below
            errors.append(exc)

    # A daemon: an interrupted caller (Ctrl-C, which PySpark turns into cancelled jobs) must
    # not wait for the thread at exit.
    worker = threading.Thread(target=run, name="etl-spark-job", daemon=True)
    worker.start()
    while worker.is_alive():
        tick()
        worker.join(every)
    if errors:
        raise errors[0]
    return results[0]
