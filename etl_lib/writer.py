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
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import pyarrow as pa

from etl_lib.contract import encode_lines
from etl_lib.options import Compression, ConvertOptions, OutputFormat
from etl_lib.parquet_input import Slice, read_slice

Progress = Callable[[int], None]
Chunk = tuple[pa.Buffer, int]
"""Encoded records (each with its terminator) and their number."""


@dataclass(frozen=True)
class PieceResult:
    seq: int
    rows: int
    bytes_uncompressed: int


def empty_output(opts: ConvertOptions) -> bytes:
    """The whole output of an input with no rows."""
    body = b"[]\n" if opts.format is OutputFormat.JSON else b""
    return gzip.compress(body, mtime=0) if opts.compression is Compression.GZIP else body


def _terminator(opts: ConvertOptions) -> str:
    return ",\n" if opts.format is OutputFormat.JSON else "\n"


def _line_bytes(lines: pa.Array) -> pa.Buffer:
    """The concatenated text of a string array, straight from its data buffer."""
    _, offsets, data = lines.buffers()
    width = np.int64 if pa.types.is_large_string(lines.type) else np.int32
    bounds = np.frombuffer(offsets, dtype=width)[[lines.offset, lines.offset + len(lines)]]
    start, end = int(bounds[0]), int(bounds[1])
    return data.slice(start, end - start)


def encode_slice(piece: Slice, opts: ConvertOptions) -> Iterator[Chunk]:
    """Decode and encode one slice, batch by batch."""
    terminator = _terminator(opts)
    for batch in read_slice(piece):
        if batch.num_rows:
            yield _line_bytes(encode_lines(batch, opts, terminator=terminator)), batch.num_rows


class JsonFramer:
    """Writes encoded chunks as (part of) the output format: array brackets, the last
    record's comma, gzip. ``first``/``last`` say whether this stream starts/ends the file."""

    def __init__(self, sink: BinaryIO, opts: ConvertOptions, *, first: bool, last: bool) -> None:
        self._array = opts.format is OutputFormat.JSON
        self._last = last
        self._out: BinaryIO | gzip.GzipFile = sink
        if opts.compression is Compression.GZIP:
            self._out = gzip.GzipFile(fileobj=sink, mode="wb", mtime=0, compresslevel=6)
        self._pending: pa.Buffer | None = None  # held back: the array's last record drops its comma
        self.rows = self.bytes = 0
        if self._array and first:
            self.bytes += self._out.write(b"[\n")

    def write(self, chunk: pa.Buffer, rows: int) -> None:
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


def write_piece(piece: Slice, opts: ConvertOptions, sink: BinaryIO) -> PieceResult:
    """Write the JSON of ``piece`` to ``sink`` (a binary file object) and count it."""
    framer = JsonFramer(sink, opts, first=piece.seq == 0, last=piece.is_last)
    for chunk, rows in encode_slice(piece, opts):
        framer.write(chunk, rows)
    framer.close()
    return PieceResult(piece.seq, framer.rows, framer.bytes)


def _encode_all(piece: Slice, opts: ConvertOptions) -> list[Chunk]:
    return list(encode_slice(piece, opts))


def encode_in_order(plan: Iterable[Slice], opts: ConvertOptions, *, workers: int) -> Iterator[Chunk]:
    """Encode slices on ``workers`` threads, yielding their chunks in plan order.

    At most ``2 * workers`` slices are in flight, so memory stays bounded by a few row
    groups whatever the size of the file.
    """
    if workers <= 1:
        for piece in plan:
            yield from encode_slice(piece, opts)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="etl-encode") as pool:
        in_flight: deque[Future[list[Chunk]]] = deque()
        try:
            for piece in plan:
                in_flight.append(pool.submit(_encode_all, piece, opts))
                if len(in_flight) >= 2 * workers:
                    yield from in_flight.popleft().result()
            while in_flight:
                yield from in_flight.popleft().result()
        finally:
            for future in in_flight:
                future.cancel()


def write_stream(
    plan: list[Slice], opts: ConvertOptions, sink: BinaryIO, *, workers: int, progress: Progress | None = None
) -> PieceResult:
    """The whole output of ``plan`` to one sink, encoded in parallel, written in order."""
    framer = JsonFramer(sink, opts, first=True, last=True)
    for chunk, rows in encode_in_order(plan, opts, workers=workers):
        framer.write(chunk, rows)
        if progress is not None:
            progress(rows)
    framer.close()
    return PieceResult(0, framer.rows, framer.bytes)
