"""A local output assembled while the Spark job still runs.

Each staged piece is appended to the output's hidden temporary file as soon as it and every
piece before it are complete, and removed. When the job ends, only the pieces of its last
wave are left to append: the copy, and the disk writes behind it, overlap the executors'
work instead of following it. Copied after the job, they were the longest serial step of a
local Spark run (docs/benchmarks.md): a 1.5 GB output took 0.6 s to copy and 0.7 s to sync,
while every core but one waited.

The output is written around the page cache (:class:`~etl_lib.output.direct_file.DirectFile`),
each piece read straight into its aligned buffer: half the CPU of copying through the page
cache (``copy_file_range``, then the kernel's writeback), 0.3 against 0.65 CPU s for 1.5 GB,
in the same time. On two cores that CPU is taken from the executors.

A piece is complete when it exists under its own name: :func:`etl_lib.output.sink.open_piece`
writes each under a temporary name and renames it when closed. A piece rewritten by a
retried task holds the same records; its size is checked against what its writer reported
when the job ends, and any difference fails the publication rather than publish a mix.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence

from etl_lib.errors import OutputError
from etl_lib.output.sink import Destination, check_destination, local_atomic, size_mismatch

POLL_SECONDS = 0.05
"""How often the driver looks for newly completed pieces while the job runs."""


class Assembly:
    """The pieces ``pieces`` appended in order to ``out`` (the output's temporary file, its
    prefix already written), each as soon as it and the ones before it are complete."""

    def __init__(self, out: Destination, pieces: Sequence[str]) -> None:
        self._out = out
        self._pieces = pieces
        self._copied: list[int] = []  # the size of each piece appended so far, in order

    def collect(self) -> None:
        """Append every piece that is now complete and follows the ones already appended."""
        while len(self._copied) < len(self._pieces):
            piece = self._pieces[len(self._copied)]
            try:
                size = os.stat(piece).st_size
            except FileNotFoundError:
                return
            self._append(piece, size)
            self._copied.append(size)

    def _append(self, piece: str, size: int) -> None:
        with open(piece, "rb") as src:
            actual = os.fstat(src.fileno()).st_size
            if actual != size:
                raise size_mismatch(piece, actual, size)
            try:
                self._out.write_from(src.fileno(), size)
            except EOFError as exc:  # shortened while it was read
                raise OutputError(f"staged piece {os.path.basename(piece)} changed while it was copied") from exc
        os.unlink(piece)  # nobody reads it again: its pages are dropped, never written to the disk

    def finish(self, sizes: Sequence[int]) -> int:
        """Append the pieces still left, once their writers reported ``sizes`` (one per piece),
        and check the pieces appended earlier against them. Returns the output's size."""
        if len(sizes) != len(self._pieces):
            raise ValueError(f"{len(self._pieces)} pieces but {len(sizes)} sizes")
        for seq, (copied, reported) in enumerate(zip(self._copied, sizes, strict=False)):
            if copied != reported:
                name = os.path.basename(self._pieces[seq])
                raise OutputError(f"staged piece {name} held {copied} bytes, its writer wrote {reported}")
        for seq in range(len(self._copied), len(self._pieces)):
            self._append(self._pieces[seq], sizes[seq])
            self._copied.append(sizes[seq])
        return self._out.tell()


@contextlib.contextmanager
def assembling(pieces: Sequence[str], dest: str, *, prefix: bytes = b"") -> Iterator[Assembly]:
    """An :class:`Assembly` of ``pieces`` into ``dest``: published (synced, renamed over
    ``dest``) when the block ends normally, removed otherwise. Call ``finish`` before the
    block ends."""
    check_destination(dest)
    with local_atomic(dest, Destination) as out:
        assert isinstance(out, Destination)
        out.write(prefix)
        yield Assembly(out, pieces)


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
