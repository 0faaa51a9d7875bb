"""Reading Parquet inputs: validation, work planning and batch decoding.

An input is one Parquet file or a directory of part files. :func:`open_input` reads only
footers (cheap, on the driver) and turns every way a file can be unreadable into an
:class:`~etl_lib.errors.InvalidInputError` naming the file. :meth:`ParquetInput.plan`
cuts the row groups into ordered :class:`Slice` work units; :func:`read_slice` decodes
one slice as Arrow record batches, wherever it runs (a Spark executor, a local worker).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from etl_lib import fs, numpy_views
from etl_lib.budget import Budget
from etl_lib.contract import iso_timestamp
from etl_lib.errors import ConversionError, InvalidInputError, UnsupportedTypeError
from etl_lib.lazy import lazy_module
from etl_lib.options import BATCH_BYTES, Limits
from etl_lib.type_families import Family, children, family_of, fixed_width, nesting_depth

if TYPE_CHECKING:
    import numpy as np
    import pyarrow.compute as pc
else:  # loaded on first use: the native encoder's path never needs them
    np = lazy_module("numpy")
    pc = lazy_module("pyarrow.compute")

DEFAULT_BATCH_ROWS = 16_384
DEFAULT_SLICE_BYTES = 64 * 1024 * 1024
_NS_PER_SECOND = 1_000_000_000


@dataclass(frozen=True)
class InputFile:
    uri: str
    size: int
    rows: int
    row_group_rows: tuple[int, ...]
    row_group_bytes: tuple[int, ...]
    int96: tuple[str, ...] = ()


@dataclass(frozen=True)
class Slice:
    """Consecutive row groups of one file: the unit of parallel work, in output order."""

    seq: int
    uri: str
    row_groups: tuple[int, ...]
    rows: int
    is_last: bool
    int96: tuple[str, ...] = ()  # top-level columns holding INT96, decoded exactly by read_slice
    first_row: int = 0  # index in its file of the slice's first row (for error messages)


@dataclass(frozen=True)
class ParquetInput:
    uri: str
    files: tuple[InputFile, ...]
    schema: pa.Schema
    parquet_schema: str

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def plan(self, *, target_bytes: int = DEFAULT_SLICE_BYTES, min_slices: int = 1) -> list[Slice]:
        """Ordered slices of about ``target_bytes`` (compressed), at least ``min_slices``
        when there are enough row groups. Empty row groups are skipped."""
        total = max(1, sum(sum(f.row_group_bytes) for f in self.files))
        target = max(1, min(target_bytes, total // max(1, min_slices)))
        groups: list[tuple[InputFile, tuple[int, ...], int, int]] = []
        for f in self.files:
            current: list[int] = []
            rows = size = first = seen = 0
            for index, (rg_rows, rg_bytes) in enumerate(zip(f.row_group_rows, f.row_group_bytes, strict=True)):
                seen += rg_rows
                if rg_rows == 0:
                    continue
                if not current:
                    first = seen - rg_rows
                current.append(index)
                rows += rg_rows
                size += rg_bytes
                if size >= target:
                    groups.append((f, tuple(current), rows, first))
                    current, rows, size = [], 0, 0
            if current:
                groups.append((f, tuple(current), rows, first))
        return [
            Slice(seq, f.uri, rgs, rows, seq == len(groups) - 1, f.int96, first)
            for seq, (f, rgs, rows, first) in enumerate(groups)
        ]


def _name(uri: str) -> str:
    return posixpath.basename(uri.rstrip("/")) or uri


def _problem(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    lowered = text.lower()
    if "size is 0 bytes" in lowered:
        return "is empty (0 bytes), not a Parquet file"
    if "magic bytes not found" in lowered:
        return "is not a Parquet file (no PAR1 magic bytes at its end)"
    if "encrypt" in lowered or "decrypt" in lowered:
        return "is an encrypted Parquet file; encrypted inputs are not supported"
    return f"is corrupt or truncated ({text.rstrip('.')})"


def invalid_input(uri: str, exc: BaseException) -> InvalidInputError:
    return InvalidInputError(f"{_name(uri)} {_problem(exc)}")


LOCAL_READ_BYTES = 64 * 1024
"""A local file is read this many bytes at a time, as its pages are decoded (see :func:`_open`)."""


def _open(uri: str, **kwargs: object) -> pq.ParquetFile:
    filesystem, path = fs.resolve(uri)
    # Arrow extension types carry UUID (and JSON) logical types through to the encoder.
    if fs.is_s3(uri):
        # Pre-buffering (Arrow's default) fetches a row group's column chunks at once, on
        # Arrow's I/O threads: what S3's latency needs.
        kwargs.setdefault("pre_buffer", True)
    else:
        # A local file is read in the decoding thread, 64 KB at a time as its pages are
        # decoded. Unbuffered, Arrow reads each column chunk whole into fresh memory before
        # decoding its first page, on every thread, and the probe of _first_batch_rows
        # read whole chunks of which it needs only the first pages. Buffered: 14% fewer
        # page faults and 8% less wall time at 5M rows, 5% less at 500k (interleaved runs).
        kwargs.setdefault("pre_buffer", False)
        kwargs.setdefault("buffer_size", LOCAL_READ_BYTES)
    return pq.ParquetFile(filesystem.open_input_file(path), arrow_extensions_enabled=True, **kwargs)


def _list_parts(filesystem: pafs.FileSystem, path: str, uri: str) -> list[tuple[str, int]]:
    infos = filesystem.get_file_info(pafs.FileSelector(path, recursive=False))
    parts = sorted(
        (info for info in infos if info.type == pafs.FileType.File and not info.base_name.startswith(("_", "."))),
        key=lambda info: info.base_name,
    )
    if not parts:
        raise InvalidInputError(f"{_name(uri)} is a directory with no Parquet part files")
    base = uri.rstrip("/")
    return [(f"{base}/{info.base_name}", info.size or 0) for info in parts]


def _check_schema(uri: str, schema: pa.Schema, limits: Limits) -> None:
    """Refuse, before any work, schemas the reader or the encoder cannot walk."""
    for field in schema:
        depth = nesting_depth(field.type)
        if depth > limits.max_nesting_depth:
            raise UnsupportedTypeError(
                f"{_name(uri)}: column {field.name} is nested {depth} levels deep; "
                f"the limit is {limits.max_nesting_depth}"
            )
        # Arrow reads an empty group (a struct with no fields) only at the top level.
        for child in children(field.type):
            if _has_empty_struct(child.type):
                raise UnsupportedTypeError(
                    f"{_name(uri)}: column {field.name} holds a group with no fields inside another group; "
                    "only top-level empty groups are supported"
                )


def _has_empty_struct(t: pa.DataType) -> bool:
    if pa.types.is_struct(t) and t.num_fields == 0:
        return True
    return any(_has_empty_struct(child.type) for child in children(t))


def _read_footer(part_uri: str, size: int) -> tuple[InputFile, pa.Schema, str]:
    """One part's footer: its row groups, Arrow schema (INT96 as UTC) and Parquet schema."""
    try:
        pf = _open(part_uri)
        meta = pf.metadata
        rg_rows = tuple(meta.row_group(i).num_rows for i in range(meta.num_row_groups))
        rg_bytes = tuple(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        int96 = _int96_columns(pf)
        schema = pf.schema_arrow
        if int96:
            seconds = _open(part_uri, coerce_int96_timestamp_unit="s").schema_arrow
            schema = _with_int96_as_utc(schema, seconds, int96)
        parquet_schema = str(pf.schema)
    except ConversionError:
        raise
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... for bad files
        raise invalid_input(part_uri, exc) from exc
    # Row counts come from the row groups: some writers leave the footer's total at 0.
    return InputFile(part_uri, size, sum(rg_rows), rg_rows, rg_bytes, int96), schema, parquet_schema


def open_input(uri: str, limits: Limits | None = None) -> ParquetInput:
    """Validate ``uri`` (file or directory of parts) by reading its footers."""
    limits = limits or Limits()
    filesystem, path = fs.resolve(uri)
    info = filesystem.get_file_info(path)
    if info.type == pafs.FileType.NotFound:
        raise InvalidInputError(f"{_name(uri)} does not exist", code="INPUT_NOT_FOUND")
    entries = _list_parts(filesystem, path, uri) if info.type == pafs.FileType.Directory else [(uri, info.size or 0)]
    files: list[InputFile] = []
    schema: pa.Schema | None = None
    parquet_schema = ""
    for part_uri, size in entries:
        part, part_schema, part_parquet_schema = _read_footer(part_uri, size)
        if schema is None:
            _check_schema(part_uri, part_schema, limits)
            schema, parquet_schema = part_schema, part_parquet_schema
        elif not part_schema.equals(schema, check_metadata=False):
            raise InvalidInputError(f"{_name(part_uri)} has a different schema from {_name(entries[0][0])}")
        files.append(part)
    assert schema is not None
    return ParquetInput(uri, tuple(files), schema, parquet_schema)


def _int96_columns(pf: pq.ParquetFile) -> tuple[str, ...]:
    """Top-level columns holding INT96 values, at any depth (legacy Impala/Spark/Hive
    timestamps).

    Called once per file by :func:`open_input`, and carried to the readers in each
    :class:`Slice`: building ``pf.schema`` costs (and, in pyarrow 25 and 26, keeps) megabytes
    on wide footers, so doing it per slice made memory grow with the row groups read.
    (Column-chunk metadata is no cheaper alternative: reading it from an encrypted file
    with a plaintext footer crashes pyarrow.)
    """
    names: list[str] = []
    for i in range(len(pf.schema)):
        column = pf.schema.column(i)
        top = column.path.split(".")[0]
        if column.physical_type == "INT96" and top not in names:
            names.append(top)
    return tuple(names)


def _int96_type(ns_type: pa.DataType, s_type: pa.DataType) -> pa.DataType:
    """The type of a column read twice (INT96 as ns, then as s), INT96 leaves as UTC."""
    if ns_type == s_type:
        return ns_type
    if pa.types.is_timestamp(ns_type):
        return pa.timestamp("ns", "UTC")
    ns_children, s_children = children(ns_type), children(s_type)
    fields = [a.with_type(_int96_type(a.type, b.type)) for a, b in zip(ns_children, s_children, strict=True)]
    if pa.types.is_struct(ns_type):
        return pa.struct(fields)
    if pa.types.is_map(ns_type):
        return pa.map_(fields[0], fields[1])
    return pa.large_list(fields[0]) if pa.types.is_large_list(ns_type) else pa.list_(fields[0])


def _with_int96_as_utc(schema: pa.Schema, seconds_schema: pa.Schema, int96: tuple[str, ...]) -> pa.Schema:
    for name in int96:
        i = schema.get_field_index(name)
        merged = _int96_type(schema.field(i).type, seconds_schema.field(name).type)
        schema = schema.set(i, schema.field(i).with_type(merged))
    return schema


# INT96 is a Julian day (int32) and the nanoseconds of that day (int64). Arrow reads both as
# unsigned and its int64-nanosecond read wraps around; the exact instant T it denotes
# *as Arrow reads it* is recovered from two reads (below), then undone to the signed fields
# and to Spark's own overflow:
_DAY_NS = 86_400 * _NS_PER_SECOND
_JULIAN_EPOCH_DAY = 2_440_588  # Julian day of 1970-01-01
_NEGATIVE_DAYS_FROM = (2**31 - _JULIAN_EPOCH_DAY) * _DAY_NS  # T from a day field >= 2**31
_SPARK_MIN_NS = -(2**63) * 1000  # Spark's earliest instant (its microseconds are an int64)
_NEGATIVE_NANOS = 2**64 % 1000  # T mod 1000 when the nanos field is negative (Spark: whole micros)


def int96_instant(t: int) -> int:
    """Nanoseconds since the epoch of an INT96 value that Arrow reads as ``t``.

    - A day field >= 2**31 is a negative int32 (days before 4714 BC, written by Spark),
      which Arrow took as unsigned: 2**32 days too many.
    - Spark writes the nanoseconds of the day as a negative number for instants before
      Julian day 0 (its division truncates towards zero); Arrow took them as unsigned:
      2**64 ns too many. Spark's nanoseconds are whole microseconds, so a remainder of
      2**64 mod 1000 = 616 ns marks them; other writers keep nanoseconds in [0, 1 day).
    - Spark computes ``micros + 2440588 days`` in int64, which wraps for instants in its
      last 2440588 days (years ~287,600-294,247): a result earlier than Spark's earliest
      instant is that wrap, undone by adding 2**64 microseconds.

    Arrow reads every value whose day field is 0 as 0 (1970-01-01T00:00:00): instants
    within a day either side of 4714-11-24 BC cannot be recovered from its reads.
    """
    if t >= _NEGATIVE_DAYS_FROM:
        t -= 2**32 * _DAY_NS
        if t % 1000 == _NEGATIVE_NANOS:
            t -= 2**64
    if t < _SPARK_MIN_NS:
        t += 2**64 * 1000
    return t


def _int96_iso(seconds: pa.Array, wrapped_ns: pa.Array) -> pa.Array:
    """Exact ISO text of INT96 values from two lossy reads.

    Arrow reads INT96 either as int64 nanoseconds, which wraps around outside 1677-2262,
    or as whole seconds (floor). The nanoseconds of the second are recovered modulo 2**64
    from the wrapped read, which is exact because they lie in [0, 1e9).
    """
    valid = numpy_views.values(pc.is_valid(seconds))
    secs = numpy_views.values(pc.fill_null(pc.cast(seconds, pa.int64()), 0))
    ns = numpy_views.values(pc.fill_null(pc.cast(wrapped_ns, pa.int64()), 0))
    with np.errstate(over="ignore"):
        frac = (ns.astype(np.uint64) - (secs.astype(np.uint64) * np.uint64(_NS_PER_SECOND))).astype(np.int64)
    texts: list[str | None] = []
    for ok, s, f in zip(valid.tolist(), secs.tolist(), frac.tolist(), strict=True):
        texts.append(iso_timestamp(int96_instant(s * _NS_PER_SECOND + f), "ns", utc=True) if ok else None)
    return pa.array(texts, pa.string())


# Seconds Arrow reads for INT96 values whose instant fits int64 nanoseconds as it is read.
_FAST_SECONDS = (-9_223_372_035, 9_223_372_035)


def _int96_column(seconds: pa.Array, wrapped_ns: pa.Array) -> pa.Array:
    """INT96 as timestamp[ns, UTC] when it fits (virtually always), exact text otherwise."""
    secs = pc.cast(seconds, pa.int64())
    low, high = pc.min_max(secs).values()
    if low.as_py() is None or (low.as_py() >= _FAST_SECONDS[0] and high.as_py() <= _FAST_SECONDS[1]):
        return pc.cast(pc.cast(wrapped_ns, pa.int64()), pa.timestamp("ns", "UTC"))
    return pa.ExtensionArray.from_storage(IsoTimestampType(), _int96_iso(seconds, wrapped_ns))


def _merge_int96(ns_arr: pa.Array, s_arr: pa.Array) -> pa.Array:
    """``ns_arr`` with each INT96 leaf (a timestamp read as ns here, as s in ``s_arr``)
    replaced by its exact value; nested columns are rebuilt around the new leaves."""
    if ns_arr.type == s_arr.type:
        return ns_arr
    family = family_of(ns_arr.type)
    if family is Family.TIMESTAMP:
        return _int96_column(s_arr, ns_arr)
    mask = pc.is_null(ns_arr) if ns_arr.null_count else None
    if family is Family.STRUCT:
        merged = [_merge_int96(a, b) for a, b in zip(ns_arr.flatten(), s_arr.flatten(), strict=True)]
        fields = [ns_arr.type.field(i).with_type(m.type) for i, m in enumerate(merged)]
        return pa.StructArray.from_arrays(merged, fields=fields, mask=mask)
    if family is Family.MAP:
        keys, items = _merge_int96(ns_arr.keys, s_arr.keys), _merge_int96(ns_arr.items, s_arr.items)
        return pa.MapArray.from_arrays(ns_arr.offsets, keys, items, mask=mask)
    if family is Family.LIST and (pa.types.is_list(ns_arr.type) or pa.types.is_large_list(ns_arr.type)):
        values = _merge_int96(ns_arr.values, s_arr.values)
        cls = pa.LargeListArray if pa.types.is_large_list(ns_arr.type) else pa.ListArray
        return cls.from_arrays(ns_arr.offsets, values, mask=mask)
    raise UnsupportedTypeError(f"INT96 timestamps inside Arrow type {ns_arr.type} are not supported")


class IsoTimestampType(pa.ExtensionType):
    """A timestamp already rendered as exact ISO 8601 text (INT96 beyond year 2262)."""

    def __init__(self) -> None:
        super().__init__(pa.string(), "etl.iso_timestamp")

    def __arrow_ext_serialize__(self) -> bytes:
        return b""

    @classmethod
    def __arrow_ext_deserialize__(cls, storage_type: pa.DataType, serialized: bytes) -> IsoTimestampType:
        return cls()


PROBE_ROWS = 16
"""Rows measured before each row group is read: the footer's sizes are not trusted (a
hostile or buggy writer can declare anything), so the real bytes per row of its
variable-width columns are measured on a small batch before larger ones are read."""


MAX_REOPENS = 6
"""Times a row group may be opened again to change its batch size (see _sized_batches)."""


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


def _sized_batches(
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


@dataclass
class _Reader:
    """Reads one slice's row groups; INT96 columns are read a second time (as seconds)."""

    piece: Slice
    budget: Budget
    target_bytes: int
    max_rows: int

    def __post_init__(self) -> None:
        self.pf = _open(self.piece.uri)
        int96 = list(self.piece.int96)
        self.int96 = int96
        self.seconds = _open(self.piece.uri, coerce_int96_timestamp_unit="s") if int96 else None
        # Arrow leaves a top-level empty group (a struct with no fields, hence no column
        # chunk and no stored nulls) out of the batches: it is put back, present in every row.
        self.empty_groups = [
            (i, field)
            for i, field in enumerate(self.pf.schema_arrow)
            if pa.types.is_struct(field.type) and field.type.num_fields == 0
        ]

    def _with_empty_groups(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        for i, field in self.empty_groups:
            if batch.num_columns <= i or batch.schema.field(i).name != field.name:
                empty = pa.StructArray.from_buffers(field.type, batch.num_rows, [None], null_count=0)
                batch = batch.add_column(i, field, empty)
        return batch

    def batches(self) -> Iterator[pa.RecordBatch]:
        for rg in self.piece.row_groups:
            sized = _sized_batches(self.pf, rg, target_bytes=self.target_bytes, max_rows=self.max_rows)
            for batch in self._with_int96(rg, sized):
                if self.empty_groups:
                    batch = self._with_empty_groups(batch)
                self.budget.check_time()
                self.budget.charge_input(decoded_bytes(batch))
                yield batch

    def _with_int96(self, rg: int, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        if self.seconds is None:
            yield from batches
            return
        # The second read holds only the INT96 columns, so its batches are sized on their own.
        seconds = _sized_batches(
            self.seconds, rg, target_bytes=self.target_bytes, max_rows=self.max_rows, columns=self.int96
        )
        pending: pa.Table | None = None
        for batch in batches:
            # The two reads cut batches differently: align them by rows.
            while pending is None or pending.num_rows < batch.num_rows:
                more = pa.Table.from_batches([next(seconds)])
                pending = more if pending is None else pa.concat_tables([pending, more])
            secs, pending = pending.slice(0, batch.num_rows), pending.slice(batch.num_rows)
            for name in self.int96:
                i = batch.schema.get_field_index(name)
                column = _merge_int96(batch.column(i), secs.column(name).combine_chunks())
                batch = batch.set_column(i, pa.field(name, column.type), column)
            yield batch


def read_slice(
    piece: Slice,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    batch_bytes: int = BATCH_BYTES,
    budget: Budget | None = None,
) -> Iterator[pa.RecordBatch]:
    """Decode one slice as record batches, in row order, with INT96 columns exact.

    Batches hold about ``batch_bytes`` decoded bytes (at most ``batch_rows`` rows), as
    measured, whatever the footer declares. Every batch is charged to ``budget``
    (decoded bytes, run time), which raises when the job goes over a limit.
    """
    budget = budget or Budget(Limits.unlimited(), name=_name(piece.uri))
    try:
        yield from _Reader(piece, budget, batch_bytes, batch_rows).batches()
    except (pa.ArrowException, OSError, EOFError) as exc:  # how pyarrow reports unreadable data
        raise invalid_input(piece.uri, exc) from exc
