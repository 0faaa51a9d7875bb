"""Reading Parquet inputs: validation, work planning and slice decoding.

An input is one Parquet file, a dataset (a folder or ``s3://`` prefix read recursively, its
``key=value`` folders as columns: :mod:`etl_lib.input.dataset`) or a Glue Data Catalog table
(``glue://DATABASE/TABLE``: :mod:`etl_lib.input.catalog`). :func:`open_input` reads only
footers (cheap, on the driver) and turns every way a file can be unreadable into an
:class:`~etl_lib.errors.InvalidInputError` naming the file. :meth:`ParquetInput.plan`
cuts the row groups into ordered :class:`Slice` work units; :func:`read_slice` decodes
one slice as Arrow record batches, wherever it runs (a Spark executor, a local worker),
sized by :mod:`etl_lib.input.batches`, with INT96 columns made exact by
:mod:`etl_lib.input.int96` and VARIANT columns typed by :mod:`etl_lib.contract.variant`.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import accumulate
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from etl_lib._runtime import fs
from etl_lib.contract.geo import geometry_columns, with_geometry_types, wrap_geometries
from etl_lib.contract.time_of_day import utc_time_columns, wrap_negative_times
from etl_lib.contract.type_families import children, nesting_depth
from etl_lib.contract.variant import (
    nested_variant_names,
    variant_columns,
    with_nested_variants,
    with_variant_types,
    wrap_nested_variants,
    wrap_variants,
)
from etl_lib.errors import (
    ConversionError,
    InputNotFoundError,
    InputTooLargeError,
    InvalidInputError,
    UnsupportedTypeError,
)
from etl_lib.input.batches import DEFAULT_BATCH_ROWS, decoded_bytes, sized_batches
from etl_lib.input.budget import Budget
from etl_lib.input.catalog import catalog_dataset
from etl_lib.input.dataset import Dataset, PartitionValue, hive_dataset, single_file, union_schema
from etl_lib.input.footer import TAIL_BYTES, FooterError, footer_length, footer_shape
from etl_lib.input.int96 import int96_columns, merge_int96, with_int96_as_utc
from etl_lib.input.sources import is_catalog
from etl_lib.options import BATCH_BYTES, PARQUET_LEVELS_PER_NESTING, Limits

DEFAULT_SLICE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class InputFile:
    uri: str
    size: int
    rows: int
    row_group_rows: tuple[int, ...]
    row_group_bytes: tuple[int, ...]
    int96: tuple[str, ...] = ()
    variant: tuple[str, ...] = ()
    template: bytes = b""
    """When the file's columns are not the input's (a dataset's partition columns, a column
    other files have): one row of the input's schema in Arrow's IPC stream format, holding
    this file's partition values and nulls; empty when the file's columns are the input's."""
    parquet_schema: str = ""
    """The file's Parquet schema as text, read once here: each slice's reader finds its
    logical columns (geometry, UTC times, nested variants) in it. Reading it again from a
    reader's ``ParquetFile.schema`` makes pyarrow keep that file's whole footer alive (about
    5 MB at 400 row groups, measured), once per slice."""


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
    variant: tuple[str, ...] = ()  # top-level VARIANT columns, typed as such by read_slice
    template: bytes = b""  # the file's InputFile.template: read_slice gives its batches the input's columns
    parquet_schema: str = ""  # the file's InputFile.parquet_schema


@dataclass(frozen=True)
class ParquetInput:
    uri: str
    files: tuple[InputFile, ...]
    schema: pa.Schema
    """The input's columns: every file's (in order of first appearance), then the partition columns."""
    parquet_schema: str
    """The first file's Parquet schema."""
    partition_columns: tuple[str, ...] = ()

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def plan(self, *, target_bytes: int = DEFAULT_SLICE_BYTES, min_slices: int = 1, workers: int = 1) -> list[Slice]:
        """Ordered slices of at most about ``target_bytes`` of uncompressed data each (a row
        group's ``total_byte_size`` as its footer declares it), at least ``min_slices`` when
        there are enough row groups, and as even as whole row groups allow. Empty row groups
        are skipped; a slice never spans two files.

        The number of slices aimed at is a multiple of ``workers``, the slices that run at
        once. The last wave's slices are half the size of the others, and where whole row
        groups cannot make the slices even, the larger ones come first: the slices are cut
        from the end, each at most its share of what is left. The workers then end within
        half a slice of each other, and what is left to assemble after the last task is half a
        slice's piece. Cut greedily from the front, 6 slices and a seventh a third that size
        kept one of two cores idle for a third of a wave at the end of a 5M-row run; cut evenly
        but with the smaller slices anywhere, 38 row groups in 8 slices still left one core
        idle for a row group's time, and the last piece took 0.11 s to append after the job.

        Example::

            >>> import pyarrow as pa, pyarrow.parquet as pq, tempfile, os
            >>> path = os.path.join(tempfile.mkdtemp(), "t.parquet")
            >>> pq.write_table(pa.table({"x": list(range(1000))}), path, row_group_size=100)
            >>> [s.rows for s in open_input(path).plan(target_bytes=1, min_slices=1)][:3]
            [100, 100, 100]
            >>> [s.rows for s in open_input(path).plan(min_slices=4, workers=2)]
            [400, 400, 100, 100]
        """
        total = max(1, sum(sum(f.row_group_bytes) for f in self.files))
        count = max(1, min_slices, -(-total // max(1, target_bytes)))
        count = -(-count // max(1, workers)) * max(1, workers)
        groups = _cut_from_the_end(self.files, count, min(count, max(1, workers)))
        return [
            Slice(
                seq, f.uri, rgs, rows, seq == len(groups) - 1, f.int96, first, f.variant, f.template, f.parquet_schema
            )
            for seq, (f, rgs, rows, first) in enumerate(groups)
        ]


LAST_WAVE_SHARE = 0.5
"""The size of a slice of the last wave, against the others'."""
SHARE_SLACK = 0.01
"""How far over its share a slice may go: row groups written to one size differ in their
declared bytes by a fraction of a percent, and five of them must make a share of five."""


class _Group(NamedTuple):
    """A non-empty row group of one file of the input."""

    file: InputFile
    row_group: int  # its index in its file
    rows: int
    bytes: int
    first_row: int  # its first row's number in its file


def _cut_from_the_end(
    files: Sequence[InputFile], count: int, last_wave: int
) -> list[tuple[InputFile, tuple[int, ...], int, int]]:
    """The non-empty row groups of ``files`` in about ``count`` runs of one file each, as
    (file, row groups, rows, first row), cut from the last row group backwards: each run takes
    row groups while it stays within its share of the bytes left (one at least), the last
    ``last_wave`` runs a share :data:`LAST_WAVE_SHARE` the size of the others'."""
    groups = [
        _Group(f, index, rows, size, first)
        for f in files
        for index, (rows, size, first) in enumerate(
            zip(f.row_group_rows, f.row_group_bytes, accumulate(f.row_group_rows, initial=0), strict=False)
        )
        if rows
    ]
    runs: list[list[_Group]] = []  # each backwards, from the end
    weights = (count - last_wave) + last_wave * LAST_WAVE_SHARE  # of the runs not cut yet
    remaining = sum(g.bytes for g in groups)
    current: list[_Group] = []
    size = 0
    for group in reversed(groups):
        weight = LAST_WAVE_SHARE if len(runs) < last_wave else 1.0
        share = remaining * weight / weights if weights > weight else float("inf")
        if current and (group.file is not current[0].file or size + group.bytes > share * (1 + SHARE_SLACK)):
            runs.append(current)
            remaining -= size
            weights = max(0.0, weights - weight)
            current, size = [], 0
        current.append(group)
        size += group.bytes
    if current:
        runs.append(current)
    return [
        (run[-1].file, tuple(g.row_group for g in reversed(run)), sum(g.rows for g in run), run[-1].first_row)
        for run in reversed(runs)
    ]


def _name(uri: str) -> str:
    return posixpath.basename(uri.rstrip("/")) or uri


def _printable(text: str) -> str:
    """``text`` with control characters escaped: a reader's message may quote raw bytes."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def _problem(exc: BaseException) -> str:
    text = _printable(str(exc).strip().splitlines()[0]) if str(exc).strip() else type(exc).__name__
    lowered = text.lower()
    if "size is 0 bytes" in lowered:
        return "is empty (0 bytes), not a Parquet file"
    if "magic bytes not found" in lowered:
        return "is not a Parquet file (no PAR1 magic bytes at its end)"
    if "encrypt" in lowered or "decrypt" in lowered:
        return "is an encrypted Parquet file; encrypted inputs are not supported"
    return f"is corrupt or truncated ({text.rstrip('.')})"


def invalid_input(uri: str, exc: BaseException) -> InvalidInputError:
    """The error of a file ``uri`` that cannot be read: missing where it is read (a Spark
    executor may see another filesystem than the driver that planned it), or not Parquet."""
    if isinstance(exc, FileNotFoundError):
        return InputNotFoundError(f"{_name(uri)} cannot be opened: {fs.absolute(uri)} does not exist")
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
        # decoding its first page, on every thread, and the probe of the batch sizing (batches.py)
        # read whole chunks of which it needs only the first pages. (Measured: docs/benchmarks.md,
        # "Measurements behind design choices".)
        kwargs.setdefault("pre_buffer", False)
        kwargs.setdefault("buffer_size", LOCAL_READ_BYTES)
    return pq.ParquetFile(filesystem.open_input_file(path), arrow_extensions_enabled=True, **kwargs)


def _check_schema(uri: str, schema: pa.Schema, limits: Limits) -> None:
    """Refuse, before any work, schemas the reader or the encoder cannot walk."""
    for field in schema:
        depth = nesting_depth(field.type)
        if depth > limits.max_nesting_depth:
            raise UnsupportedTypeError(
                f"{_name(uri)}: column {field.name} is nested {depth} levels deep; "
                f"the limit is {limits.max_nesting_depth}"
            )
        # Arrow reads an empty group (a struct with no fields) only where no leaf is beside
        # it: at the top level, or in groups that hold only empty groups.
        for child in children(field.type):
            if _has_empty_struct(child.type) and not _leafless(field.type):
                raise UnsupportedTypeError(
                    f"{_name(uri)}: column {field.name} holds a group with no fields inside another group; "
                    "only top-level empty groups are supported"
                )


def _leafless(t: pa.DataType) -> bool:
    """A struct with no leaf below it: empty, or holding only such structs."""
    return pa.types.is_struct(t) and all(_leafless(child.type) for child in t)


def _present_everywhere(t: pa.DataType, rows: int) -> pa.Array:
    """A :func:`_leafless` struct array of ``rows`` values, none null (nothing stored says otherwise)."""
    kids = [_present_everywhere(child.type, rows) for child in t]
    return pa.StructArray.from_buffers(t, rows, [None], null_count=0, children=kids)


def _has_empty_struct(t: pa.DataType) -> bool:
    if pa.types.is_struct(t) and t.num_fields == 0:
        return True
    return any(_has_empty_struct(child.type) for child in children(t))


def _check_footer(part_uri: str, size: int, limits: Limits) -> None:
    """Refuse a footer outside ``limits`` before pyarrow parses it (see :mod:`etl_lib.input.footer`)."""
    filesystem, path = fs.resolve(part_uri)
    try:
        with filesystem.open_input_file(path) as file:
            length = footer_length(file.read_at(TAIL_BYTES, max(0, size - TAIL_BYTES)), size)
            if length > limits.max_footer_bytes:
                raise InputTooLargeError(
                    f"{_name(part_uri)} has a footer of {length} bytes; the limit is {limits.max_footer_bytes}"
                )
            shape = footer_shape(file.read_at(length, size - TAIL_BYTES - length))
    except FooterError as exc:
        raise InvalidInputError(f"{_name(part_uri)} {exc}") from None
    except OSError as exc:
        raise invalid_input(part_uri, exc) from exc
    depth_limit = PARQUET_LEVELS_PER_NESTING * limits.max_nesting_depth
    if shape.schema_depth > depth_limit:
        raise UnsupportedTypeError(
            f"{_name(part_uri)}: its schema is nested {shape.schema_depth} levels deep (Parquet groups); "
            f"the limit is {depth_limit}"
        )
    for count, limit, what in ((shape.columns, limits.max_columns, "columns"),
                               (shape.row_groups, limits.max_row_groups, "row groups")):  # fmt: skip
        if count > limit:
            raise InputTooLargeError(f"{_name(part_uri)} has {count} {what}; the limit is {limit}")


def _read_footer(part_uri: str, size: int, limits: Limits) -> tuple[InputFile, pa.Schema, str]:
    """One part's footer: its row groups, Arrow schema (INT96 as UTC) and Parquet schema."""
    _check_footer(part_uri, size, limits)
    try:
        pf = _open(part_uri)
        meta = pf.metadata
        rg_rows = tuple(meta.row_group(i).num_rows for i in range(meta.num_row_groups))
        rg_bytes = tuple(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        int96 = int96_columns(pf)
        schema = pf.schema_arrow
        if int96:
            seconds = _open(part_uri, coerce_int96_timestamp_unit="s").schema_arrow
            schema = with_int96_as_utc(schema, seconds, int96)
        parquet_schema = str(pf.schema)
        # pyarrow reads a VARIANT group as a plain struct: only the Parquet (or Spark) schema says so.
        variants = variant_columns(parquet_schema, schema)
        schema = with_variant_types(schema, variants)
        nested = nested_variant_names(parquet_schema)
        if nested:
            schema = pa.schema([f.with_type(with_nested_variants(f.type, nested)) for f in schema], schema.metadata)
        schema = with_geometry_types(schema, geometry_columns(parquet_schema, schema, meta.metadata or {}))
    except ConversionError:
        raise
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... for bad files
        raise invalid_input(part_uri, exc) from exc
    # Row counts come from the row groups: some writers leave the footer's total at 0.
    found = InputFile(part_uri, size, sum(rg_rows), rg_rows, rg_bytes, int96, variants, parquet_schema=parquet_schema)
    return found, schema, parquet_schema


def _dataset(uri: str, partition_filter: str | None, glue: Any) -> Dataset:
    """The files ``uri`` names: a catalog table's, a folder's (recursively), or one file."""
    if is_catalog(uri):
        return catalog_dataset(uri, partition_filter=partition_filter, glue=glue)
    if partition_filter:
        raise InvalidInputError(f"{_name(uri)}: a partition filter applies to glue:// catalog tables only")
    filesystem, path = fs.resolve(uri)
    info = filesystem.get_file_info(path)
    if info.type == pafs.FileType.NotFound:
        raise InputNotFoundError(f"{_name(uri)} does not exist")
    if info.type != pafs.FileType.Directory:
        return single_file(uri, info.size or 0)
    dataset = hive_dataset(filesystem, path, uri)
    if not dataset.files:
        raise InvalidInputError(f"{_name(uri)} is a directory with no Parquet part files")
    return dataset


def _null_column(t: pa.DataType, rows: int) -> pa.Array:
    if isinstance(t, pa.BaseExtensionType):
        return pa.ExtensionArray.from_storage(t, pa.nulls(rows, t.storage_type))
    return pa.nulls(rows, t)


def _template(schema: pa.Schema, file_schema: pa.Schema, partition: tuple[PartitionValue, ...]) -> bytes:
    """A file's :attr:`InputFile.template`: empty when its columns are the input's."""
    partitions = len(partition)
    if not partitions and file_schema.names == schema.names and file_schema.types == schema.types:
        return b""
    own = len(schema) - partitions
    columns = [_null_column(field.type, 1) for field in schema][:own]
    columns += [pa.array([value], field.type) for value, field in zip(partition, list(schema)[own:], strict=True)]
    out = pa.BufferOutputStream()
    with pa.ipc.new_stream(out, schema) as writer:
        writer.write_batch(pa.RecordBatch.from_arrays(columns, schema=schema))
    return bytes(out.getvalue().to_pybytes())


def open_input(
    uri: str, limits: Limits | None = None, *, partition_filter: str | None = None, glue: Any = None
) -> ParquetInput:
    """Validate ``uri`` by reading its footers: one Parquet file, a dataset (a folder or
    ``s3://`` prefix, read recursively) or a catalog table (``glue://DATABASE/TABLE``, its
    partitions filtered by the ``GetPartitions`` expression ``partition_filter``, read with
    the boto3 Glue client ``glue``, by default a new one).

    A local path is made absolute first, so the slices it plans name files every process
    can open, whatever its working directory (a Spark executor's is not the driver's).
    Each file's footer is checked against ``limits`` before it is parsed.
    """
    limits = limits or Limits()
    uri = uri if is_catalog(uri) else fs.absolute(uri)
    dataset = _dataset(uri, partition_filter, glue)
    read = [_read_footer(f.uri, f.size, limits) for f in dataset.files]
    for f, (_, part_schema, _) in zip(dataset.files, read, strict=True):
        _check_schema(f.uri, part_schema, limits)
    schema = union_schema(((part.uri, part_schema) for part, part_schema, _ in read), dataset)
    files = tuple(
        replace(part, template=_template(schema, part_schema, f.partition))
        for (part, part_schema, _), f in zip(read, dataset.files, strict=True)
    )
    return ParquetInput(uri, files, schema, read[0][2], tuple(dataset.partition_schema.names))


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
        # A dataset's file whose columns are not the dataset's: the one-row template of the
        # dataset's columns (its partition values, nulls for the columns this file lacks).
        self.template = pa.ipc.open_stream(self.piece.template).read_next_batch() if self.piece.template else None
        # Arrow leaves a top-level group with no leaf below it (an empty group, or groups
        # holding only empty groups, at any depth: no column chunk, hence no stored nulls)
        # out of the batches: it is put back, present in every row.
        self.empty_groups = [(i, field) for i, field in enumerate(self.pf.schema_arrow) if _leafless(field.type)]
        # GEOMETRY, GEOGRAPHY and GeoParquet WKB columns, and TIME columns adjusted to UTC
        # (negative ones wrap around midnight), found again from this part's footer.
        parquet_schema = self.piece.parquet_schema or str(self.pf.schema)
        self.geometries = geometry_columns(parquet_schema, self.pf.schema_arrow, self.pf.metadata.metadata or {})
        self.utc_times = utc_time_columns(parquet_schema)
        self.nested_variants = nested_variant_names(parquet_schema)

    def _with_empty_groups(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        for i, field in self.empty_groups:
            if batch.num_columns <= i or batch.schema.field(i).name != field.name:
                batch = batch.add_column(i, field, _present_everywhere(field.type, batch.num_rows))
        return batch

    def batches(self) -> Iterator[pa.RecordBatch]:
        for rg in self.piece.row_groups:
            sized = sized_batches(self.pf, rg, target_bytes=self.target_bytes, max_rows=self.max_rows)
            for batch in self._with_int96(rg, sized):
                if self.empty_groups:
                    batch = self._with_empty_groups(batch)
                if self.piece.variant:
                    batch = wrap_variants(batch, self.piece.variant)
                if self.geometries:
                    batch = wrap_geometries(batch, self.geometries)
                if self.nested_variants:
                    batch = wrap_nested_variants(batch, self.nested_variants)
                if self.utc_times:
                    batch = wrap_negative_times(batch, self.utc_times)
                if self.template is not None:
                    batch = self._conformed(batch)
                self.budget.check_time()
                self.budget.charge_input(decoded_bytes(batch))
                yield batch

    def _conformed(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """``batch`` with the input's columns: the file's own, nulls for the columns it lacks,
        its partition values repeated."""
        assert self.template is not None
        columns: list[pa.Array] = []
        fields: list[pa.Field] = []
        for i, field in enumerate(self.template.schema):
            own = batch.schema.get_field_index(field.name)
            if own >= 0:
                columns.append(batch.column(own))
                fields.append(batch.schema.field(own))
                continue
            value = self.template.column(i)
            columns.append(
                _null_column(field.type, batch.num_rows) if value.null_count else pa.repeat(value[0], batch.num_rows)
            )
            fields.append(field)
        return pa.RecordBatch.from_arrays(columns, schema=pa.schema(fields))

    def _with_int96(self, rg: int, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        if self.seconds is None:
            yield from batches
            return
        # The second read holds only the INT96 columns, so its batches are sized on their own.
        seconds = sized_batches(
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
                column = merge_int96(batch.column(i), secs.column(name).combine_chunks())
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
