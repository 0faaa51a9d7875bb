"""Writing slices as JSON bytes: the step both engines share after decoding.

A slice is written as a self-contained piece of the final file, so the pieces only need
to be concatenated in order: the first slice of a ``json`` array opens the bracket, the
last one closes it, and with gzip every piece is one gzip member (a concatenation of
members is a valid gzip file, RFC 1952).

The local engine decodes and encodes row groups on a thread pool (Arrow and the native
encoder release the GIL; :class:`_Scheduler`) and writes their bytes in order through one
:class:`JsonFramer`; a Spark task writes its slice through its own framer.
"""

from __future__ import annotations

import gzip
import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, NamedTuple

import pyarrow as pa

from etl_lib.contract.reference import encode_lines
from etl_lib.errors import BadValueError
from etl_lib.input.batches import decoded_bytes
from etl_lib.input.budget import Budget
from etl_lib.input.planning import Slice, read_slice
from etl_lib.options import IN_FLIGHT_BYTES, Compression, ConvertOptions, Limits, OutputFormat

Progress = Callable[[int], None]


class Chunk(NamedTuple):
    """Encoded records, each with its terminator, and how many there are."""

    records: pa.Buffer
    rows: int


@dataclass(frozen=True)
class PieceResult:
    seq: int
    rows: int
    bytes_uncompressed: int
    input_bytes: int = 0
    stored_bytes: int = 0  # the piece as stored (compressed); Spark tasks report it for the publish


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
    return Chunk(_line_bytes(lines), batch.num_rows)


MIN_PART_ROWS = 1024
"""Batches are cut into row ranges of at least this many rows for the encoding threads: smaller
parts would cost more in calls than they gain."""


def _row_ranges(batch: pa.RecordBatch, parts: int, first_row: int) -> list[tuple[pa.RecordBatch, int]]:
    """``batch`` as up to ``parts`` zero-copy slices of consecutive rows, each with the number
    of its first row."""
    parts = max(1, min(parts, batch.num_rows // MIN_PART_ROWS))
    bounds = [batch.num_rows * k // parts for k in range(parts + 1)]
    return [(batch.slice(a, b - a), first_row + a) for a, b in itertools.pairwise(bounds)]


def encode_slice(piece: Slice, opts: ConvertOptions, budget: Budget | None = None) -> Iterator[Chunk]:
    """Decode and encode one slice, batch by batch, on this thread.

    A value the contract refuses is reported with the file and its row in the file.
    """
    terminator = _terminator(opts)
    file = _file_name(piece)
    row = piece.first_row
    for batch in read_slice(piece, budget=budget or _unlimited(piece)):
        if batch.num_rows:
            yield _encode_batch(batch, opts, terminator, file, row)
            row += batch.num_rows


def _file_name(piece: Slice) -> str:
    return piece.uri.rstrip("/").rsplit("/", 1)[-1]


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


@dataclass
class _Part:
    """Rows of one decoded batch waiting for an encoding thread."""

    ordinal: int  # its place among the slice's parts, in row order
    batch: pa.RecordBatch
    first_row: int  # its first row's number in the file (for error messages)
    nbytes: int  # its share of the batch's decoded bytes


@dataclass
class _SliceWork:
    """One slice's state in :class:`_Scheduler`; every field is guarded by the scheduler's lock."""

    piece: Slice
    batches: Iterator[pa.RecordBatch] | None = None  # its decoder, opened by its first decode
    row: int = 0  # the file row of the next batch decoded
    parts: int = 0  # parts decoded so far; once exhausted, all of them
    decoding: bool = False  # a thread is running its decoder (one at a time: a generator)
    exhausted: bool = False  # no part will be decoded any more (the end, or an error)
    waiting: deque[_Part] = field(default_factory=deque)  # decoded, not yet taken by an encoder
    chunks: dict[int, Chunk] = field(default_factory=dict)  # encoded, not yet taken by the writer
    errors: dict[int, BaseException] = field(default_factory=dict)  # by the ordinal they stand in for


class _Scheduler:
    """Decodes and encodes the slices of a plan on ``workers`` threads for one in-order writer.

    Why not a thread per slice: its output must wait until every slice before it is written,
    so a slice encoded beside the one being written was held whole as JSON, and written only
    when the encoders had nothing left to do (measured in docs/benchmarks.md, "Measurements
    behind design choices"). Here a slice's decoder runs on one thread at a time
    but its decoded batches, cut into row ranges, are encoded on every thread, so the writer
    gets the slice it is writing as fast as all the threads make it. A thread takes, in this
    order: the next batch to decode of the slice being written (the head); a part of the
    head to encode; a batch to decode of the next slices (``workers - 1`` at most); a part
    of those to encode. The decoded bytes waiting for the encoders are bounded by a quarter
    of ``limit`` and the JSON bytes waiting for the writer by ``limit``, checked before a
    task starts (so each thread may go one batch past them). Only the head's next batch to
    decode and next part to write are let through every bound, so the writer always makes
    progress, and a thread waits only when there is nothing it may take.
    """

    def __init__(self, pieces: list[Slice], opts: ConvertOptions, budget: Budget, workers: int, limit: int) -> None:
        self._slices = [_SliceWork(piece, row=piece.first_row) for piece in pieces]
        self._opts, self._budget, self._workers = opts, budget, workers
        self._terminator = _terminator(opts)
        self._encoded_limit, self._decoded_limit = limit, max(1, limit // 4)
        self._encoded = self._decoded = 0  # bytes waiting: JSON for the writer, decoded for the encoders
        self._head = self._next_part = 0  # the slice being written, and the number of its next part to write
        self._cancelled = False
        self._failure: BaseException | None = None
        self._cond = threading.Condition()

    # ---- the threads

    def run_thread(self) -> None:
        """One encoding thread: take tasks until none is left or the writer stopped."""
        try:
            while True:
                with self._cond:
                    task = self._take()
                    while task is None:
                        if self._cancelled or all(w.exhausted and not w.waiting for w in self._slices):
                            return
                        self._cond.wait()
                        task = self._take()
                task()
        except BaseException as exc:  # a fault of the scheduler itself (a task's error is kept in its slice)
            with self._cond:
                self._failure = exc  # raised by the writer
                self._cond.notify_all()

    def _take(self) -> Callable[[], None] | None:
        """The next task by the order of the class docstring, marked taken (lock held)."""
        if self._cancelled or self._head >= len(self._slices):
            return None
        head = self._slices[self._head]
        if self._can_decode(head) and (not head.waiting or self._decoded < self._decoded_limit):
            return self._decode_task(head)
        if head.waiting and (self._encoded < self._encoded_limit or head.waiting[0].ordinal == self._next_part):
            return self._encode_task(head)
        ahead = self._slices[self._head + 1 : self._head + self._workers]
        if self._decoded < self._decoded_limit:
            for slice_work in ahead:
                if self._can_decode(slice_work):
                    return self._decode_task(slice_work)
        if self._encoded < self._encoded_limit:
            for slice_work in ahead:
                if slice_work.waiting:
                    return self._encode_task(slice_work)
        return None

    @staticmethod
    def _can_decode(slice_work: _SliceWork) -> bool:
        return not slice_work.decoding and not slice_work.exhausted

    def _decode_task(self, slice_work: _SliceWork) -> Callable[[], None]:
        slice_work.decoding = True
        return lambda: self._decode(slice_work)

    def _encode_task(self, slice_work: _SliceWork) -> Callable[[], None]:
        part = slice_work.waiting.popleft()
        self._decoded -= part.nbytes
        return lambda: self._encode(slice_work, part)

    def _decode(self, slice_work: _SliceWork) -> None:
        try:
            if slice_work.batches is None:
                slice_work.batches = iter(read_slice(slice_work.piece, budget=self._budget))
            batch = next((b for b in slice_work.batches if b.num_rows), None)
        except BaseException as exc:  # handed to the writer at its place in the output
            with self._cond:
                slice_work.errors[slice_work.parts] = exc
                slice_work.decoding, slice_work.exhausted = False, True
                self._cond.notify_all()
            return
        parts = [] if batch is None else _row_ranges(batch, self._workers, slice_work.row)
        nbytes = 0 if batch is None else decoded_bytes(batch) // len(parts)
        with self._cond:
            for rows, first in parts:
                slice_work.waiting.append(_Part(slice_work.parts, rows, first, nbytes))
                slice_work.parts += 1
                self._decoded += nbytes
            if batch is None:
                slice_work.exhausted = True
            else:
                slice_work.row += batch.num_rows
            slice_work.decoding = False
            self._cond.notify_all()

    def _encode(self, slice_work: _SliceWork, part: _Part) -> None:
        try:
            chunk = _encode_batch(
                part.batch, self._opts, self._terminator, _file_name(slice_work.piece), part.first_row
            )
        except BaseException as exc:  # handed to the writer at its place in the output
            with self._cond:
                slice_work.errors[part.ordinal] = exc
                self._cond.notify_all()
            return
        with self._cond:
            slice_work.chunks[part.ordinal] = chunk
            self._encoded += chunk.records.size
            self._cond.notify_all()

    # ---- the writer

    def chunks(self) -> Iterator[Chunk]:
        """Every slice's chunks in plan order; a slice's error is raised at its place."""
        for index, slice_work in enumerate(self._slices):
            with self._cond:
                self._head, self._next_part = index, 0
                self._cond.notify_all()
            while (chunk := self._next_chunk(slice_work)) is not None:
                yield chunk

    def _next_chunk(self, slice_work: _SliceWork) -> Chunk | None:
        """The head's next chunk, or None once all of it is written."""
        with self._cond:
            while True:
                if self._failure is not None:
                    raise self._failure
                if self._next_part in slice_work.chunks:
                    break
                if self._next_part in slice_work.errors:  # every part before it is written
                    raise slice_work.errors[self._next_part]
                if slice_work.exhausted and self._next_part == slice_work.parts:
                    return None
                self._cond.wait()
            chunk = slice_work.chunks.pop(self._next_part)
            self._encoded -= chunk.records.size
            self._next_part += 1
            self._cond.notify_all()
            return chunk

    def cancel(self) -> None:
        with self._cond:
            self._cancelled = True
            self._cond.notify_all()


def encode_in_order(
    plan: Iterable[Slice],
    opts: ConvertOptions,
    *,
    workers: int,
    budget: Budget | None = None,
    in_flight_bytes: int = IN_FLIGHT_BYTES,
) -> Iterator[Chunk]:
    """Encode slices on ``workers`` threads, yielding their chunks in plan order.

    The JSON waiting for the caller is bounded by ``in_flight_bytes`` and the decoded rows
    waiting for the threads by a quarter of it (the next chunk to write is always let
    through), so memory stays bounded whatever the size of a row group (see
    :class:`_Scheduler`).
    """
    pieces = list(plan)
    if not pieces:
        return
    budget = budget or _unlimited(pieces[0])
    if workers <= 1:
        for piece in pieces:
            yield from encode_slice(piece, opts, budget)
        return
    # Threads of its own, not an executor's: the scheduler is the pool (and concurrent.futures
    # would be imported by every `etl convert` for nothing).
    scheduler = _Scheduler(pieces, opts, budget, workers, in_flight_bytes)
    threads = [
        threading.Thread(target=scheduler.run_thread, name=f"etl-encode_{k}", daemon=True) for k in range(workers)
    ]
    for thread in threads:
        thread.start()
    try:
        yield from scheduler.chunks()
    finally:
        scheduler.cancel()
        for thread in threads:
            thread.join()


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
