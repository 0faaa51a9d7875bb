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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from etl_lib import fs
from etl_lib.contract import iso_timestamp
from etl_lib.errors import ConversionError, InvalidInputError

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
    int96: tuple[str, ...] = ()  # top-level INT96 columns, decoded exactly by read_slice


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
        groups: list[tuple[InputFile, tuple[int, ...], int]] = []
        for f in self.files:
            current: list[int] = []
            rows = size = 0
            for index, (rg_rows, rg_bytes) in enumerate(zip(f.row_group_rows, f.row_group_bytes, strict=True)):
                if rg_rows == 0:
                    continue
                current.append(index)
                rows += rg_rows
                size += rg_bytes
                if size >= target:
                    groups.append((f, tuple(current), rows))
                    current, rows, size = [], 0, 0
            if current:
                groups.append((f, tuple(current), rows))
        return [
            Slice(seq, f.uri, rgs, rows, seq == len(groups) - 1, f.int96) for seq, (f, rgs, rows) in enumerate(groups)
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


def _open(uri: str, **kwargs: object) -> pq.ParquetFile:
    filesystem, path = fs.resolve(uri)
    # Arrow extension types carry UUID (and JSON) logical types through to the encoder.
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


def open_input(uri: str) -> ParquetInput:
    """Validate ``uri`` (file or directory of parts) by reading its footers."""
    filesystem, path = fs.resolve(uri)
    info = filesystem.get_file_info(path)
    if info.type == pafs.FileType.NotFound:
        raise InvalidInputError(f"{_name(uri)} does not exist", code="INPUT_NOT_FOUND")
    entries = _list_parts(filesystem, path, uri) if info.type == pafs.FileType.Directory else [(uri, info.size or 0)]
    files: list[InputFile] = []
    schema: pa.Schema | None = None
    parquet_schema = ""
    for part_uri, size in entries:
        try:
            pf = _open(part_uri)
            meta = pf.metadata
            part_schema = pf.schema_arrow
            rg_rows = tuple(meta.row_group(i).num_rows for i in range(meta.num_row_groups))
            rg_bytes = tuple(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
            int96 = _int96_columns(pf)
        except ConversionError:
            raise
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... for bad files
            raise invalid_input(part_uri, exc) from exc
        if schema is None:
            schema, parquet_schema = part_schema, str(pf.schema)
        elif not part_schema.equals(schema, check_metadata=False):
            raise InvalidInputError(f"{_name(part_uri)} has a different schema from {_name(entries[0][0])}")
        # Row counts come from the row groups: some writers leave the footer's total at 0.
        files.append(InputFile(part_uri, size, sum(rg_rows), rg_rows, rg_bytes, int96))
    assert schema is not None
    return ParquetInput(uri, tuple(files), _with_int96_as_utc(schema, files[0].int96), parquet_schema)


def _int96_columns(pf: pq.ParquetFile) -> tuple[str, ...]:
    """Top-level INT96 columns (legacy Impala/Spark/Hive timestamps).

    Called once per file by :func:`open_input`, and carried to the readers in each
    :class:`Slice`: building ``pf.schema`` costs (and, in pyarrow 25 and 26, keeps) megabytes
    on wide footers, so doing it per slice made memory grow with the row groups read.
    (Column-chunk metadata is no cheaper alternative: reading it from an encrypted file
    with a plaintext footer crashes pyarrow.)
    """
    names = []
    for i in range(len(pf.schema)):
        column = pf.schema.column(i)
        if column.physical_type == "INT96" and "." not in column.path:
            names.append(column.path)
    return tuple(names)


def _with_int96_as_utc(schema: pa.Schema, int96: tuple[str, ...]) -> pa.Schema:
    for name in int96:
        i = schema.get_field_index(name)
        schema = schema.set(i, schema.field(i).with_type(pa.timestamp("ns", "UTC")))
    return schema


def _int96_iso(seconds: pa.Array, wrapped_ns: pa.Array) -> pa.Array:
    """Exact ISO text of INT96 values from two lossy reads.

    Arrow reads INT96 either as int64 nanoseconds, which wraps around outside 1677-2262,
    or as whole seconds (floor). The nanoseconds of the second are recovered modulo 2**64
    from the wrapped read, which is exact because they lie in [0, 1e9).
    """
    valid = pc.is_valid(seconds).to_numpy(zero_copy_only=False)
    secs = pc.fill_null(pc.cast(seconds, pa.int64()), 0).to_numpy(zero_copy_only=False)
    ns = pc.fill_null(pc.cast(wrapped_ns, pa.int64()), 0).to_numpy(zero_copy_only=False)
    with np.errstate(over="ignore"):
        frac = (ns.astype(np.uint64) - (secs.astype(np.uint64) * np.uint64(_NS_PER_SECOND))).astype(np.int64)
    texts: list[str | None] = []
    for ok, s, f in zip(valid.tolist(), secs.tolist(), frac.tolist(), strict=True):
        texts.append(iso_timestamp(s * _NS_PER_SECOND + f, "ns", utc=True) if ok else None)
    return pa.array(texts, pa.string())


def _int96_column(seconds: pa.Array, wrapped_ns: pa.Array) -> pa.Array:
    """INT96 as timestamp[ns, UTC] when it fits (virtually always), exact text otherwise."""
    secs = pc.cast(seconds, pa.int64())
    low, high = pc.min_max(secs).values()
    if low.as_py() is None or (low.as_py() >= -9_223_372_035 and high.as_py() <= 9_223_372_035):
        return pc.cast(pc.cast(wrapped_ns, pa.int64()), pa.timestamp("ns", "UTC"))
    return pa.ExtensionArray.from_storage(IsoTimestampType(), _int96_iso(seconds, wrapped_ns))


class IsoTimestampType(pa.ExtensionType):
    """A timestamp already rendered as exact ISO 8601 text (INT96 beyond year 2262)."""

    def __init__(self) -> None:
        super().__init__(pa.string(), "etl.iso_timestamp")

    def __arrow_ext_serialize__(self) -> bytes:
        return b""

    @classmethod
    def __arrow_ext_deserialize__(cls, storage_type: pa.DataType, serialized: bytes) -> IsoTimestampType:
        return cls()


_BATCH_BYTES = 256 * 1024 * 1024


def _batch_rows_for(pf: pq.ParquetFile, rg: int, batch_rows: int) -> int:
    """Fewer rows per batch for very wide rows, so a batch stays near 256 MiB decoded."""
    meta = pf.metadata.row_group(rg)
    per_row = meta.total_byte_size / max(1, meta.num_rows)
    return int(max(1, min(batch_rows, _BATCH_BYTES // max(1, per_row))))


def _resilient_batches(
    pf: pq.ParquetFile, rg: int, batch_rows: int, columns: list[str] | None = None
) -> Iterator[pa.RecordBatch]:
    delivered = 0
    while True:
        skip = delivered
        try:
            for batch in pf.iter_batches(batch_size=batch_rows, row_groups=[rg], columns=columns, use_threads=False):
                if skip:
                    cut = min(skip, batch.num_rows)
                    skip -= cut
                    batch = batch.slice(cut)
                    if not batch.num_rows:
                        continue
                delivered += batch.num_rows
                yield batch
            return
        except (pa.ArrowNotImplementedError, pa.ArrowCapacityError):
            # A nested column whose values exceed 2 GiB in one batch cannot be returned
            # as one Arrow chunk: read this row group again, in smaller batches.
            if batch_rows == 1:
                raise
            batch_rows = max(1, batch_rows // 1024)


def read_slice(piece: Slice, *, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """Decode one slice as record batches, in row order, with INT96 columns exact."""
    try:
        pf = _open(piece.uri)
        int96 = list(piece.int96)
        seconds_reader = _open(piece.uri, coerce_int96_timestamp_unit="s") if int96 else None
        # One row group at a time keeps memory bounded by the row group.
        for rg in piece.row_groups:
            batches = _resilient_batches(pf, rg, _batch_rows_for(pf, rg, batch_rows))
            if seconds_reader is None:
                yield from batches
                continue
            seconds = _resilient_batches(seconds_reader, rg, batch_rows, columns=int96)
            pending: pa.Table | None = None
            for batch in batches:
                # The two reads may cut batches differently after a retry: align by rows.
                while pending is None or pending.num_rows < batch.num_rows:
                    more = pa.Table.from_batches([next(seconds)])
                    pending = more if pending is None else pa.concat_tables([pending, more])
                secs, pending = pending.slice(0, batch.num_rows), pending.slice(batch.num_rows)
                for name in int96:
                    i = batch.schema.get_field_index(name)
                    column = _int96_column(secs.column(name).combine_chunks(), batch.column(i))
                    batch = batch.set_column(i, pa.field(name, column.type), column)
                yield batch
    except (pa.ArrowException, OSError, EOFError) as exc:  # how pyarrow reports unreadable data
        raise invalid_input(piece.uri, exc) from exc
