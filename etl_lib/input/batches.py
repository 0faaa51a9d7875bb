"""Batch sizing: the rows of a row group in batches of about a target of *decoded* bytes.

The footer's sizes are not trusted: :func:`sized_batches` measures the rows before it reads
many of them, re-reads a row group when its rows change size, and cuts a batch that came
out too large (:func:`decoded_bytes` is what every batch weighs).
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from etl_lib.contract.type_families import fixed_width

DEFAULT_BATCH_ROWS = 16_384

PROBE_ROWS = 16
"""Rows measured before each row group is read: the footer's sizes are not trusted (a
hostile or buggy writer can declare anything), so the real bytes per row of its
variable-width columns are measured on a small batch before larger ones are read."""


MAX_REOPENS = 6
"""Times a row group may be opened again to change its batch size (see :func:`sized_batches`)."""


def decoded_bytes(batch: pa.RecordBatch) -> int:
    """The Arrow bytes ``batch`` holds (of its own rows, not of shared parent buffers)."""
    return int(batch.nbytes)


def _decode_dictionaries(batch: pa.RecordBatch) -> pa.RecordBatch:
    # The encoder writes a dictionary column as its values, so its real size is decoded:
    # a 100 KB value repeated 100,000 times is 10 GB, whatever the indices weigh.
    for i, column in enumerate(batch.columns):
        if pa.types.is_dictionary(column.type):
            decoded = column.dictionary_decode()
            batch = batch.set_column(i, batch.schema.field(i).with_type(decoded.type), decoded)
    return batch


def _resliced(batch: pa.RecordBatch, target_bytes: int) -> Iterator[pa.RecordBatch]:
    """``batch`` in zero-copy slices of at most about twice ``target_bytes`` when it came
    out larger (its rows were fatter than the previous batch said): the encoder's working
    memory grows with the rows it encodes at once. Halved until small enough, so a few fat
    rows among thin ones are cut out too."""
    pending = [batch]  # a stack: the next slice to deliver is last
    while pending:
        part = pending.pop()
        if part.num_rows <= 1 or decoded_bytes(part) <= 2 * target_bytes:
            yield part
            continue
        half = part.num_rows // 2
        pending += [part.slice(half), part.slice(0, half)]


def _next_size(rows: int, batch: pa.RecordBatch, target_bytes: int, max_rows: int) -> int:
    """Rows per batch to read next: ``rows`` unless the measured batch says otherwise."""
    per_row = max(1, decoded_bytes(batch) // max(1, batch.num_rows))
    wanted = max(1, min(max_rows, target_bytes // per_row))
    return wanted if wanted < rows // 2 or wanted >= 2 * rows else rows


def _first_batch_rows(
    pf: pq.ParquetFile,
    rg: int,
    *,
    target_bytes: int,
    max_rows: int,
    columns: list[str] | None,
) -> int:
    """Rows of the first batch to read of row group ``rg``: about ``target_bytes`` decoded.

    Fixed-width columns weigh what their types say; variable-width ones are measured on
    their first ``PROBE_ROWS`` rows, read on their own (decompressing only their pages).
    """
    fields = [f for f in pf.schema_arrow if columns is None or f.name in columns]
    names = [f.name for f in fields]
    if len(set(names)) != len(names):  # a name that is not unique cannot select its column
        return min(max_rows, PROBE_ROWS)
    fixed = 0
    variable: list[str] = []
    for field in fields:
        width = fixed_width(field.type)
        if width is None:
            variable.append(field.name)
        else:
            fixed += width
    measured = 0
    if variable:
        probe = pf.iter_batches(batch_size=PROBE_ROWS, row_groups=[rg], columns=variable, use_threads=False)
        sample = next(probe, None)
        if sample is None or not sample.num_rows:
            return min(max_rows, PROBE_ROWS)
        measured = -(-decoded_bytes(_decode_dictionaries(sample)) // sample.num_rows)
    return max(1, min(max_rows, target_bytes // max(1, fixed + measured)))


def sized_batches(
    pf: pq.ParquetFile,
    rg: int,
    *,
    target_bytes: int,
    max_rows: int,
    columns: list[str] | None = None,
) -> Iterator[pa.RecordBatch]:
    """The rows of row group ``rg`` in batches of about ``target_bytes`` *decoded* bytes.

    The first batch is sized by :func:`_first_batch_rows`. Arrow reads batches of a fixed
    row count, so when a measured batch says another count is right, the row group is
    opened again and the rows already delivered are skipped (decoded again). That happens
    at most ``MAX_REOPENS`` times per row group, so rows whose sizes keep changing cost no
    more than a few re-reads; past that, batches that come out too large are still cut by
    :func:`_resliced`.
    """
    delivered = reopens = 0
    try:
        rows = _first_batch_rows(pf, rg, target_bytes=target_bytes, max_rows=max_rows, columns=columns)
    except (pa.ArrowNotImplementedError, pa.ArrowCapacityError):
        rows = 1  # a probe too large for one Arrow chunk: rows that large are read one by one
    while True:
        skip, resized = delivered, False
        try:
            for raw in pf.iter_batches(batch_size=rows, row_groups=[rg], columns=columns, use_threads=False):
                if skip:
                    cut = min(skip, raw.num_rows)
                    skip -= cut
                    raw = raw.slice(cut)
                    if not raw.num_rows:
                        continue
                batch = _decode_dictionaries(raw)
                delivered += batch.num_rows
                yield from _resliced(batch, target_bytes)
                wanted = _next_size(rows, batch, target_bytes, max_rows)
                if wanted != rows and reopens < MAX_REOPENS:
                    rows, resized, reopens = wanted, True, reopens + 1
                    break
        except (pa.ArrowNotImplementedError, pa.ArrowCapacityError):
            # A nested column whose values exceed 2 GiB in one batch cannot be returned
            # as one Arrow chunk: read this row group again, in smaller batches.
            if rows == 1:
                raise
            rows, resized = max(1, rows // 1024), True
        if not resized:
            return
