"""Writing slices as JSON bytes: the step both engines share after decoding.

A slice is written as a self-contained piece of the final file, so the pieces only need
to be concatenated in order: the first slice of a ``json`` array opens the bracket, the
last one closes it, and with gzip every piece is one gzip member (a concatenation of
members is a valid gzip file, RFC 1952).

The local engine encodes row groups on a thread pool (Arrow and numpy release the GIL)
and writes their bytes in order through one :class:`JsonFramer`; a Spark task writes
its slice through its own framer.
"""

from __future__ import annotations

import gzip
import itertools
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO

import pyarrow as pa

from etl_lib.budget import Budget
from etl_lib.contract import encode_lines
from etl_lib.errors import BadValueError
from etl_lib.options import IN_FLIGHT_BYTES, Compression, ConvertOptions, Limits, OutputFormat
from etl_lib.parquet_input import Slice, read_slice

Progress = Callable[[int], None]
Chunk = tuple[pa.Buffer, int]
"""Encoded records (each with its terminator) and their number."""


@dataclass(frozen=True)
class PieceResult:
    seq: int
    rows: int
    bytes_uncompressed: int
    input_bytes: int = 0


def empty_output(opts: ConvertOptions) -> bytes:
    """The whole output of an input with no rows."""
    body = b"[]\n" if opts.format is OutputFormat.JSON else b""
    return gzip.compress(body, mtime=0) if opts.compression is Compression.GZIP else body


def _terminator(opts: ConvertOptions) -> str:
    return ",\n" if opts.format is OutputFormat.JSON else "\n"


def _line_bytes(lines: pa.Array) -> pa.Buffer:
    """The concatenated text of a string array, straight from its data buffer."""
    _, offsets, data = lines.buffers()
    bounds = memoryview(offsets).cast("q" if pa.types.is_large_string(lines.type) else "i")
    start, end = bounds[lines.offset], bounds[lines.offset + len(lines)]
    return data.slice(start, end - start)


def _unlimited(piece: Slice) -> Budget:
    return Budget(Limits.unlimited(), name=piece.uri)


def _encode_batch(batch: pa.RecordBatch, opts: ConvertOptions, terminator: str, file: str, row: int) -> Chunk:
    """Encode one batch whose first row is row ``row`` of ``file`` (for error messages)."""
    try:
        lines = encode_lines(batch, opts, terminator=terminator)
    except BadValueError as exc:
        raise exc.located(file, row) from None
    return _line_bytes(lines), batch.num_rows


MIN_PART_ROWS = 1024
"""Batches are cut into row ranges of at least this many rows for the encoding threads: smaller
parts would cost more in calls than they gain."""


def _row_ranges(batch: pa.RecordBatch, parts: int, first_row: int) -> list[tuple[pa.RecordBatch, int]]:
    """``batch`` as up to ``parts`` zero-copy slices of consecutive rows, each with the number
    of its first row."""
    parts = max(1, min(parts, batch.num_rows // MIN_PART_ROWS))
    bounds = [batch.num_rows * k // parts for k in range(parts + 1)]
    return [(batch.slice(a, b - a), first_row + a) for a, b in itertools.pairwise(bounds)]


def encode_slice(
    piece: Slice, opts: ConvertOptions, budget: Budget | None = None, *, pool: Executor | None = None, parts: int = 1
) -> Iterator[Chunk]:
    """Decode and encode one slice, batch by batch.

    A value the contract refuses is reported with the file and its row in the file. With
    ``pool``, each batch is cut into ``parts`` row ranges encoded on the pool while this
    thread decodes the next batch, so one slice alone keeps every core busy.
    """
    terminator = _terminator(opts)
    file = piece.uri.rstrip("/").rsplit("/", 1)[-1]
    row = piece.first_row
    batches = (b for b in read_slice(piece, budget=budget or _unlimited(piece)) if b.num_rows)
    if pool is None:
        for batch in batches:
            yield _encode_batch(batch, opts, terminator, file, row)
            row += batch.num_rows
        return
    pending: list[Future[Chunk]] = []
    try:
        for batch in batches:
            submitted = [
                pool.submit(_encode_batch, part, opts, terminator, file, first)
                for part, first in _row_ranges(batch, parts, row)
            ]
            row += batch.num_rows
            for future in pending:
                yield future.result()
            pending = submitted
        for future in pending:
            yield future.result()
    finally:
        for future in pending:
            future.cancel()


class JsonFramer:
    """Writes encoded chunks as (part of) the output format: array brackets, the last
    record's comma, gzip. ``first``/``last`` say whether this stream starts/ends the file."""

    def __init__(
        self, sink: BinaryIO, opts: ConvertOptions, *, first: bool, last: bool, budget: Budget | None = None
    ) -> None:
        self._budget = budget  # counts the JSON bytes (before compression) against the output limit
        self._array = opts.format is OutputFormat.JSON
        self._last = last
        self._out: BinaryIO | gzip.GzipFile = sink
        if opts.compression is Compression.GZIP:
            # No file name in the header: a sink's name is a temporary one, and the bytes must not
            # depend on it.
            self._out = gzip.GzipFile(filename="", fileobj=sink, mode="wb", mtime=0, compresslevel=6)
        self._pending: pa.Buffer | None = None  # held back: the array's last record drops its comma
        self.rows = self.bytes = 0
        if self._array and first:
            self.bytes += self._out.write(b"[\n")

    def write(self, chunk: pa.Buffer, rows: int) -> None:
        if self._budget is not None:
            self._budget.charge_output(chunk.size)
        if self._pending is not None:
            self.bytes += self._out.write(self._pending)
        self._pending = chunk
        self.rows += rows

    def close(self) -> None:
        if self._pending is not None:
            if self._array and self._last:
                self.bytes += self._out.write(self._pending[: self._pending.size - 2]) + self._out.write(b"\n")
            else:
                self.bytes += self._out.write(self._pending)
        if self._array and self._last:
            self.bytes += self._out.write(b"]\n")
        if isinstance(self._out, gzip.GzipFile):
            self._out.close()  # writes the member's trailer; the sink itself stays open


def write_piece(piece: Slice, opts: ConvertOptions, sink: BinaryIO, budget: Budget | None = None) -> PieceResult:
    """Write the JSON of ``piece`` to ``sink`` (a binary file object) and count it."""
    budget = budget or _unlimited(piece)
    framer = JsonFramer(sink, opts, first=piece.seq == 0, last=piece.is_last, budget=budget)
    for chunk, rows in encode_slice(piece, opts, budget):
        framer.write(chunk, rows)
    framer.close()
    return PieceResult(piece.seq, framer.rows, framer.bytes, budget.input_bytes)


class _Cancelled(Exception):
    """The consumer stopped: encoding threads give up."""


class _InFlight:
    """Bounds the encoded bytes waiting for the writer.

    The slice the writer is reading (the head) waits only on its own queued bytes, which
    the writer is draining; later slices also wait while everything queued is over the
    limit. So the writer always makes progress (the pool starts slices in plan order, so
    the head is always running), and at most about twice the limit is ever queued.
    """

    def __init__(self, limit: int) -> None:
        self.limit, self.used, self.head = limit, 0, 0
        self.by_slice: dict[int, int] = {}
        self.cancelled = False
        self._cond = threading.Condition()

    def _must_wait(self, seq: int, n: int) -> bool:
        own = self.by_slice.get(seq, 0)
        if seq == self.head:
            return own > 0 and own + n > self.limit
        return self.used > 0 and self.used + n > self.limit

    def acquire(self, seq: int, n: int) -> None:
        with self._cond:
            while not self.cancelled and self._must_wait(seq, n):
                self._cond.wait()
            if self.cancelled:
                raise _Cancelled
            self.used += n
            self.by_slice[seq] = self.by_slice.get(seq, 0) + n

    def release(self, seq: int, n: int) -> None:
        with self._cond:
            self.used -= n
            self.by_slice[seq] -= n
            self._cond.notify_all()

    def advance(self, seq: int) -> None:
        with self._cond:
            self.head = seq
            self._cond.notify_all()

    def cancel(self) -> None:
        with self._cond:
            self.cancelled = True
            self._cond.notify_all()


_DONE = object()


def _produce(piece: Slice, opts: ConvertOptions, budget: Budget, flight: _InFlight, out: queue.SimpleQueue) -> None:
    """Encode one slice into ``out``: its chunks, then ``_DONE`` (or the error raised)."""
    try:
        for chunk, rows in encode_slice(piece, opts, budget):
            flight.acquire(piece.seq, chunk.size)
            out.put((chunk, rows))
        out.put(_DONE)
    except _Cancelled:
        pass
    except BaseException as exc:  # handed to the consumer, which raises it in order
        out.put(exc)


def encode_in_order(
    plan: Iterable[Slice],
    opts: ConvertOptions,
    *,
    workers: int,
    budget: Budget | None = None,
    in_flight_bytes: int = IN_FLIGHT_BYTES,
) -> Iterator[Chunk]:
    """Encode slices on ``workers`` threads, yielding their chunks in plan order.

    At most ``2 * workers`` slices are started ahead of the writer, and their encoded
    chunks waiting for it are bounded by ``in_flight_bytes`` (the slice being written is
    always let through), so memory stays bounded whatever the size of a row group.
    """
    pieces = list(plan)
    if not pieces:
        return
    budget = budget or _unlimited(pieces[0])
    if workers <= 1:
        for piece in pieces:
            yield from encode_slice(piece, opts, budget)
        return
    if len(pieces) < workers:
        # Fewer slices than threads (a file of one row group is common): each slice's
        # batches are cut by rows and encoded on every thread, one slice after another.
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="etl-encode") as pool:
            for piece in pieces:
                yield from encode_slice(piece, opts, budget, pool=pool, parts=workers)
        return
    flight = _InFlight(in_flight_bytes)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="etl-encode") as pool:
        started: deque[tuple[int, queue.SimpleQueue, Future[None]]] = deque()
        upcoming = iter(pieces)
        try:
            for piece in upcoming:
                out: queue.SimpleQueue = queue.SimpleQueue()
                started.append((piece.seq, out, pool.submit(_produce, piece, opts, budget, flight, out)))
                if len(started) >= 2 * workers:
                    yield from _drain(started.popleft(), flight)
            while started:
                yield from _drain(started.popleft(), flight)
        finally:
            flight.cancel()
            for _, _, future in started:
                future.cancel()


def _drain(entry: tuple[int, queue.SimpleQueue, Future[None]], flight: _InFlight) -> Iterator[Chunk]:
    seq, out, _ = entry
    flight.advance(seq)
    while True:
        item = out.get()
        if item is _DONE:
            return
        if isinstance(item, BaseException):
            raise item
        chunk, rows = item
        flight.release(seq, chunk.size)
        yield chunk, rows


def write_stream(
    plan: list[Slice],
    opts: ConvertOptions,
    sink: BinaryIO,
    *,
    workers: int,
    progress: Progress | None = None,
    budget: Budget | None = None,
) -> PieceResult:
    """The whole output of ``plan`` to one sink, encoded in parallel, written in order."""
    framer = JsonFramer(sink, opts, first=True, last=True, budget=budget)
    for chunk, rows in encode_in_order(plan, opts, workers=workers, budget=budget):
        framer.write(chunk, rows)
        if progress is not None:
            progress(rows)
        if budget is not None:
            budget.check_time()
    framer.close()
    return PieceResult(0, framer.rows, framer.bytes, budget.input_bytes if budget else 0)
