"""Datasets: a folder or ``s3://`` prefix of Parquet files, read as one table.

A dataset is listed recursively. Names that start with ``.`` or ``_`` (``_SUCCESS``,
``_metadata``, ``.part-0.crc``, ``_temporary/``) are skipped as Spark skips them; like Spark,
a ``_`` name that holds ``=`` is a partition folder, not skipped. Hive-style ``key=value``
folders give every file below them a column ``key``, after the file's own columns, typed as
Spark's partition inference types it (``PartitioningUtils.inferPartitionColumnValue``):

- each value, on its own: ``int``, else ``long``, else a whole number as a ``decimal(p, 0)``
  (p up to 38; ``1e3`` too, a ``BigDecimal`` of scale 0 or below), else ``double`` (Java's
  number syntax, ``NaN`` and ``Infinity`` included), else a timestamp
  (``yyyy-MM-dd HH:mm:ss[.fraction]``, in UTC, the Glue session's time zone), else a date
  (``yyyy-MM-dd``), else a string; ``__HIVE_DEFAULT_PARTITION__`` is null;
- a column's values together: the widest of their types as Spark widens them (``int`` <
  ``long`` < ``decimal``; ``int`` and ``double`` make ``double``; ``date`` and ``timestamp``
  make ``timestamp``), and a string for any other mix (``long`` with ``double`` included),
  each folder's text then cast to that type (so a string column keeps ``01`` as it is); a
  column of nulls only is of Arrow's null type (Spark's ``void``).

Files are ordered by their path below the dataset's root, so partitions come in path order
and the files of one partition by name. No library does this listing with Spark's rules:
``pyarrow.dataset`` infers partition types its own way (every integer an ``int32``, no
decimals, dates or timestamps) and skips ``_k=v`` folders, so it is written here.
"""

from __future__ import annotations

import datetime as dt
import decimal
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.fs as pafs

from etl_lib.errors import InvalidInputError, SchemaConflictError

HIVE_DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__"
"""The folder value Hive and Spark write for a null partition value."""

PartitionValue = int | float | decimal.Decimal | dt.date | dt.datetime | str | None


@dataclass(frozen=True)
class DatasetFile:
    """One Parquet file of a dataset: where it is, its size, and its partition values."""

    uri: str
    size: int
    partition: tuple[PartitionValue, ...] = ()
    """The file's value of each partition column, in :attr:`Dataset.partition_schema` order."""


@dataclass(frozen=True)
class Dataset:
    """The files of a dataset in reading order, and the columns their folders (or the catalog) add."""

    root: str
    files: tuple[DatasetFile, ...]
    partition_schema: pa.Schema

    def display(self, uri: str) -> str:
        """How an error names the file ``uri``: its path below the dataset's root."""
        if not uri.startswith(self.root):
            return uri  # a catalog table's file, under its partition's own location
        return uri[len(self.root) :].lstrip("/") or posixpath.basename(uri.rstrip("/")) or uri


def is_hidden(name: str) -> bool:
    """Whether Spark leaves the file or folder ``name`` out of a dataset."""
    return name.startswith(".") or (name.startswith("_") and "=" not in name) or name.endswith("._COPYING_")


def list_files(filesystem: pafs.FileSystem, path: str, root: str) -> list[tuple[str, int]]:
    """Every file under ``path`` (on ``filesystem``) that is not hidden, as (path below
    ``root``... ``root`` + '/' + relative path, size), sorted by relative path."""
    infos = filesystem.get_file_info(pafs.FileSelector(path, recursive=True))
    prefix = path.rstrip("/") + "/"
    found: list[tuple[str, int]] = []
    for info in infos:
        if info.type != pafs.FileType.File or not info.path.startswith(prefix):
            continue
        relative = info.path[len(prefix) :]
        if any(is_hidden(part) for part in relative.split("/")):
            continue
        found.append((relative, info.size or 0))
    found.sort()
    base = root.rstrip("/")
    return [(f"{base}/{relative}", size) for relative, size in found]


def _partition_path(relative: str) -> list[tuple[str, str]]:
    """The ``key=value`` folders that end the file's folder path (as Spark reads them,
    from the file upwards to the first folder that is not one), values unescaped."""
    folders = relative.split("/")[:-1]
    pairs: list[tuple[str, str]] = []
    for folder in reversed(folders):
        key, equals, value = folder.partition("=")
        if not equals or not key:
            break
        pairs.append((unquote(key), value))
    return pairs[::-1]


# --- Spark's partition value inference ---------------------------------------------------

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_WHOLE = re.compile(r"[+-]?[0-9]+")
# java.math.BigDecimal's syntax: Spark takes one whose scale is not positive (1e3, 1.5e2) as a decimal.
_BIG_DECIMAL = re.compile(r"[+-]?([0-9]*)(?:\.([0-9]*))?[eE]([+-]?[0-9]+)")
# java.lang.Double.parseDouble's syntax (its string is trimmed first): decimal digits with an
# optional exponent and an optional type suffix, NaN, Infinity (hexadecimal floats left out).
_JAVA_DOUBLE = re.compile(r"[+-]?(NaN|Infinity|([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?[fFdD]?)")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_TIMESTAMP = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?")
_MAX_DECIMAL_DIGITS = 38


def _java_trim(text: str) -> str:
    """``String.trim()``: Java strips every character up to U+0020, not Python's whitespace."""
    start, end = 0, len(text)
    while start < end and text[start] <= " ":
        start += 1
    while end > start and text[end - 1] <= " ":
        end -= 1
    return text[start:end]


def _as_double(raw: str) -> float | None:
    text = _java_trim(raw)
    if not _JAVA_DOUBLE.fullmatch(text):
        return None
    return float(text.rstrip("fFdD").replace("Infinity", "inf"))


def _as_timestamp(raw: str) -> dt.datetime | None:
    match = _TIMESTAMP.fullmatch(raw)
    if not match:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction = (match.group(7) or ".")[1:]
    try:
        # Arrow's timestamps here are microseconds, as Spark's are: digits beyond are cut.
        return dt.datetime(year, month, day, hour, minute, second, int((fraction + "000000")[:6]), tzinfo=dt.UTC)
    except ValueError:
        return None


def _as_date(raw: str) -> dt.date | None:
    match = _DATE.fullmatch(raw)
    if not match:
        return None
    try:
        return dt.date(*(int(g) for g in match.groups()))
    except ValueError:
        return None


def _whole_decimal(number: int) -> tuple[pa.DataType, PartitionValue]:
    digits = len(str(abs(number)))
    if digits <= _MAX_DECIMAL_DIGITS:
        return pa.decimal128(digits, 0), decimal.Decimal(number)
    return pa.string(), str(number)


def _literal(raw: str) -> tuple[pa.DataType, PartitionValue]:
    """One folder value, typed on its own as Spark types it."""
    if raw == HIVE_DEFAULT_PARTITION:
        return pa.null(), None
    if _WHOLE.fullmatch(raw):
        number = int(raw)
        if _INT32[0] <= number <= _INT32[1]:
            return pa.int32(), number
        if _INT64[0] <= number <= _INT64[1]:
            return pa.int64(), number
        return _whole_decimal(number)
    big = _BIG_DECIMAL.fullmatch(raw)
    if big and (big.group(1) or big.group(2)) and len(big.group(2) or "") <= int(big.group(3)):
        return _whole_decimal(int(decimal.Decimal(raw)))
    double = _as_double(raw)
    if double is not None:
        return pa.float64(), double
    text = unquote(raw)
    timestamp = _as_timestamp(text)
    if timestamp is not None:
        return pa.timestamp("us", tz="UTC"), timestamp
    date = _as_date(raw)
    if date is not None:
        return pa.date32(), date
    return pa.string(), text


_INTEGRAL_AS_DECIMAL = {pa.int32(): 10, pa.int64(): 20}  # Spark's DecimalType.forType


def _wider(a: pa.DataType, b: pa.DataType) -> pa.DataType:
    """The type two partition types widen to (Spark's ``findWiderTypeForPartitionColumn``)."""
    if a == b:
        return a
    if pa.types.is_null(a) or pa.types.is_null(b):
        return b if pa.types.is_null(a) else a
    pair = {a, b}
    if pair == {pa.int32(), pa.int64()}:
        return pa.int64()
    if pair == {pa.int32(), pa.float64()}:
        return pa.float64()
    if pair == {pa.date32(), pa.timestamp("us", tz="UTC")}:
        return pa.timestamp("us", tz="UTC")
    decimals = [t for t in (a, b) if pa.types.is_decimal(t)]
    others = [t for t in (a, b) if not pa.types.is_decimal(t)]
    if decimals and all(t in _INTEGRAL_AS_DECIMAL for t in others):
        precision = max(max(t.precision for t in decimals), *(_INTEGRAL_AS_DECIMAL[t] for t in others))
        return pa.decimal128(min(precision, _MAX_DECIMAL_DIGITS), 0)
    return pa.string()


def _cast(raw: str, value: PartitionValue, to: pa.DataType) -> PartitionValue:
    """A folder value typed on its own (``value``), as its column's wider type holds it:
    Spark casts the folder's text (``raw``) to that type, so a string column keeps ``01``."""
    if value is None:
        return None
    if pa.types.is_string(to):
        return unquote(raw)
    if pa.types.is_decimal(to) and isinstance(value, int):
        return decimal.Decimal(value)
    if pa.types.is_floating(to) and isinstance(value, int):
        return float(value)
    if pa.types.is_timestamp(to) and not isinstance(value, dt.datetime) and isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    return value


def infer_partitions(
    keys: Sequence[str], raw_values: Sequence[Sequence[str]]
) -> tuple[pa.Schema, list[tuple[PartitionValue, ...]]]:
    """The partition columns of ``keys`` typed from every file's folder values
    (``raw_values``, one row per file), and each file's typed values."""
    literals = [[_literal(raw) for raw in row] for row in raw_values]
    types: list[pa.DataType] = []
    for column in range(len(keys)):
        wide: pa.DataType = pa.null()
        for row in literals:
            wide = _wider(wide, row[column][0])
        types.append(wide)
    schema = pa.schema([pa.field(key, t) for key, t in zip(keys, types, strict=True)])
    values = [
        tuple(_cast(raw, v, t) for raw, (_, v), t in zip(raws, row, types, strict=True))
        for raws, row in zip(raw_values, literals, strict=True)
    ]
    return schema, values


def hive_dataset(filesystem: pafs.FileSystem, path: str, root: str) -> Dataset:
    """The dataset under the folder ``path`` of ``filesystem`` (``root`` as the user named it):
    its files in order and the columns its ``key=value`` folders add.

    Every file must sit below the same partition keys, in the same order: a file outside
    them (or under other keys) is refused, as Spark refuses it, with both paths named.
    """
    files = list_files(filesystem, path, root)
    base = root.rstrip("/") + "/"
    layouts = [(uri, _partition_path(uri[len(base) :])) for uri, _ in files]
    keys: tuple[str, ...] | None = None
    first = ""
    for uri, pairs in layouts:
        these = tuple(key for key, _ in pairs)
        if keys is None:
            keys, first = these, uri
        elif these != keys:
            raise SchemaConflictError(
                f"{uri[len(base) :]} is partitioned by ({', '.join(these) or 'nothing'}) but "
                f"{first[len(base) :]} by ({', '.join(keys) or 'nothing'}): a dataset has one set of partition folders"
            )
    schema, values = infer_partitions(keys or (), [[raw for _, raw in pairs] for _, pairs in layouts])
    return Dataset(
        root,
        tuple(DatasetFile(uri, size, row) for (uri, size), row in zip(files, values, strict=True)),
        schema,
    )


def single_file(uri: str, size: int) -> Dataset:
    """A dataset of one file, with no partition columns."""
    return Dataset(uri, (DatasetFile(uri, size),), pa.schema([]))


def union_schema(schemas: Iterable[tuple[str, pa.Schema]], dataset: Dataset) -> pa.Schema:
    """The columns of every file, in order of first appearance, typed as the files type them.

    A column a file lacks is null in that file's rows (so nullable). A column typed
    differently by two files is refused with one line naming both files and the column.
    """
    listed = list(schemas)
    if not listed:
        raise InvalidInputError(f"{dataset.display(dataset.root)} holds no Parquet files")
    first = listed[0][1]
    if all(schema.equals(first, check_metadata=False) for _, schema in listed):
        # One schema (the usual case): kept as it is, a column named twice included.
        return _with_partitions([(field, listed[0][0]) for field in first], dataset)
    fields: dict[str, tuple[pa.Field, str]] = {}
    present: dict[str, int] = {}
    for uri, schema in listed:
        if len(set(schema.names)) != len(schema.names):
            raise SchemaConflictError(
                f"{dataset.display(uri)} names a column twice; files of a dataset with different columns "
                "must name each column once"
            )
        for field in schema:
            present[field.name] = present.get(field.name, 0) + 1
            if field.name not in fields:
                fields[field.name] = (field, uri)
                continue
            seen, seen_uri = fields[field.name]
            if not seen.type.equals(field.type):
                raise SchemaConflictError(
                    f"column {field.name} is {seen.type} in {dataset.display(seen_uri)} but {field.type} "
                    f"in {dataset.display(uri)}"
                )
            if field.nullable and not seen.nullable:
                fields[field.name] = (seen.with_nullable(True), seen_uri)
    union = [
        (field.with_nullable(True) if present[name] < len(listed) else field, uri)
        for name, (field, uri) in fields.items()
    ]
    return _with_partitions(union, dataset)


def _with_partitions(columns: list[tuple[pa.Field, str]], dataset: Dataset) -> pa.Schema:
    """The files' columns (each with a file that has it), then the partition columns."""
    owners = {field.name: uri for field, uri in columns}
    for partition in dataset.partition_schema:
        if partition.name in owners:
            raise SchemaConflictError(
                f"partition column {partition.name} is also a column of {dataset.display(owners[partition.name])}"
            )
    return pa.schema([field for field, _ in columns] + list(dataset.partition_schema))
