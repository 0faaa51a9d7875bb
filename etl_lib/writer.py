"""Writing slices as JSON bytes: the step both engines share after decoding.

A slice is written as a self-contained piece of the final file, so the pieces only need
to be concatenated in order: the first slice of a ``json`` array opens the bracket, the
last one closes it, and with gzip every piece is one gzip member (a concatenation of
members is a valid gzip file, RFC 1952).
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import pyarrow as pa

from etl_lib.contract import encode_lines
from etl_lib.options import Compression, ConvertOptions, OutputFormat
from etl_lib.parquet_input import Slice, read_slice

Progress = Callable[[int], None]


@dataclass(frozen=True)
class PieceResult:
    seq: int
    rows: int
    bytes_uncompressed: int


def empty_output(opts: ConvertOptions) -> bytes:
    """The whole output of an input with no rows."""
    body = b"[]\n" if opts.format is OutputFormat.JSON else b""
    return gzip.compress(body, mtime=0) if opts.compression is Compression.GZIP else body


def _line_bytes(lines: pa.Array) -> pa.Buffer:
    """The concatenated text of a string array, straight from its data buffer."""
    _, offsets, data = lines.buffers()
    bounds = (
        np.frombuffer(offsets, dtype=np.int32, count=2, offset=4 * lines.offset)
        if len(lines) == 0
        else (np.frombuffer(offsets, dtype=np.int32)[[lines.offset, lines.offset + len(lines)]])
    )
    start, end = int(bounds[0]), int(bounds[-1])
    return data.slice(start, end - start)


def _encoded(batches: Iterable[pa.RecordBatch], opts: ConvertOptions, terminator: str) -> Iterable[pa.Array]:
    for batch in batches:
        if batch.num_rows:
            yield encode_lines(batch, opts, terminator=terminator)


def write_piece(piece: Slice, opts: ConvertOptions, sink: BinaryIO, *, progress: Progress | None = None) -> PieceResult:
    """Write the JSON of ``piece`` to ``sink`` (a binary file object) and count it."""
    is_array = opts.format is OutputFormat.JSON
    terminator = ",\n" if is_array else "\n"
    out: BinaryIO | gzip.GzipFile = sink
    if opts.compression is Compression.GZIP:
        out = gzip.GzipFile(fileobj=sink, mode="wb", mtime=0, compresslevel=6)
    rows = written = 0
    if is_array and piece.seq == 0:
        written += out.write(b"[\n")
    pending: pa.Buffer | None = None  # held back: the array's last record drops its comma
    for lines in _encoded(read_slice(piece), opts, terminator):
        if pending is not None:
            written += out.write(pending)
        pending = _line_bytes(lines)
        rows += len(lines)
        if progress is not None:
            progress(len(lines))
    if pending is not None:
        if is_array and piece.is_last:
            written += out.write(pending[: pending.size - 2]) + out.write(b"\n")
        else:
            written += out.write(pending)
    if is_array and piece.is_last:
        written += out.write(b"]\n")
    if out is not sink:
        out.close()  # flushes the gzip member's trailer; ``sink`` stays open
    return PieceResult(piece.seq, rows, written)
