"""VARIANT columns: the JSON value each one holds.

Parquet stores a VARIANT (Spark 4 ``parse_json``, Iceberg v3) as a group annotated
``VARIANT`` holding a ``metadata`` binary (the field-name dictionary), a ``value`` binary (the
Variant binary encoding) and, when it is *shredded*, a ``typed_value`` holding parts of the
value as ordinary Parquet columns (Parquet's VariantEncoding.md and VariantShredding.md).
pyarrow 25 reads such a group as a plain struct and exposes no Variant type, so:

- :func:`variant_columns` finds the annotated top-level columns in the Parquet schema's
  text (the one place pyarrow shows a group's logical type), once per file;
- the reader wraps them in :class:`VariantType` (:func:`with_variant_types`,
  :func:`wrap_variants`), so every walker of Arrow types sees what they are;
- :func:`to_json` renders a variant array as JSON text under the contract's rule for each
  primitive type, in a :class:`JsonTextType` array that both encoders write verbatim
  (the reference in ``reference.py``, the native one in ``_native/encoder.c``), so the
  two engines write the same bytes.

No library decodes the Variant encoding for pyarrow 25 (pyarrow has no Variant type and
Spark's decoder lives in the JVM), hence the hand-written decoder below: the reference.
The native encoder decodes binary values the same way, much faster (``_native/encoder.c``,
checked against this one byte for byte): it writes unshredded columns itself and the
binary cells of shredded ones for :class:`_Assembler`, which renders typed (shredded)
leaves with the contract's own vectorised encoder and joins objects and arrays with Arrow
kernels.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import struct
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from etl_lib._runtime import numpy_views
from etl_lib._runtime.lazy import lazy_module
from etl_lib.contract import native
from etl_lib.contract import reference as contract
from etl_lib.contract.type_families import Family, family_of
from etl_lib.errors import BadValueError, InvalidValueError
from etl_lib.options import ConvertOptions

if TYPE_CHECKING:
    import numpy as np
    import pyarrow.compute as pc
else:
    np = lazy_module("numpy")
    pc = lazy_module("pyarrow.compute")

VARIANT_EXTENSION = "etl.variant"
JSON_TEXT_EXTENSION = "etl.json"


class VariantType(pa.ExtensionType):
    """A Parquet VARIANT column: its storage is the group as Arrow reads it
    (``metadata``, ``value`` and, when shredded, ``typed_value``)."""

    def __init__(self, storage_type: pa.DataType) -> None:
        super().__init__(storage_type, VARIANT_EXTENSION)

    def __arrow_ext_serialize__(self) -> bytes:
        return b""

    @classmethod
    def __arrow_ext_deserialize__(cls, storage_type: pa.DataType, serialized: bytes) -> VariantType:
        return cls(storage_type)


class JsonTextType(pa.ExtensionType):
    """JSON text already rendered under the contract: the encoders write it as it is."""

    def __init__(self) -> None:
        super().__init__(pa.string(), JSON_TEXT_EXTENSION)

    def __arrow_ext_serialize__(self) -> bytes:
        return b""

    @classmethod
    def __arrow_ext_deserialize__(cls, storage_type: pa.DataType, serialized: bytes) -> JsonTextType:
        return cls()


def is_variant_type(t: pa.DataType) -> bool:
    return isinstance(t, pa.BaseExtensionType) and t.extension_name == VARIANT_EXTENSION


def is_json_text_type(t: pa.DataType) -> bool:
    return isinstance(t, pa.BaseExtensionType) and t.extension_name == JSON_TEXT_EXTENSION


# --- finding VARIANT columns ----------------------------------------------------------

# A top-level group annotated VARIANT, as pyarrow prints a Parquet schema, e.g.
# "  optional group field_id=-1 v (Variant(1)) {". Top-level nodes are indented by two spaces.
_TOP_LEVEL_VARIANT = re.compile(
    r"^  (?:required|optional|repeated) group field_id=-?\d+ (.*) \(Variant(?:\(\d*\))?\) \{$"
)


# Spark's own schema of what it wrote, in the file's key-value metadata: it names variant
# columns even where the Parquet schema does not (Spark 4.0, or 4.1 with
# spark.sql.parquet.variant.annotateLogicalType.enabled=false).
_SPARK_SCHEMA_KEY = b"org.apache.spark.sql.parquet.row.metadata"


def _spark_variant_columns(schema: pa.Schema) -> list[str]:
    raw = (schema.metadata or {}).get(_SPARK_SCHEMA_KEY)
    if raw is None:
        return []
    try:
        fields = json.loads(raw).get("fields", [])
        return [f["name"] for f in fields if isinstance(f, dict) and f.get("type") == "variant"]
    except (ValueError, AttributeError, KeyError, TypeError):
        return []  # not Spark's schema after all: the annotation alone decides


def variant_columns(parquet_schema: str, schema: pa.Schema) -> tuple[str, ...]:
    """Top-level columns of ``schema`` that the Parquet schema (pyarrow's text of it)
    annotates as VARIANT, or that Spark's schema in the file's metadata types as variant,
    and that have a variant's shape (a binary ``metadata`` and a ``value`` or
    ``typed_value``)."""
    candidates = [m.group(1) for m in map(_TOP_LEVEL_VARIANT.match, parquet_schema.splitlines()) if m]
    candidates += _spark_variant_columns(schema)
    names: list[str] = []
    for name in candidates:
        if name not in names and schema.get_field_index(name) >= 0 and _has_variant_shape(schema.field(name).type):
            names.append(name)
    return tuple(names)


def _has_variant_shape(t: pa.DataType) -> bool:
    if not pa.types.is_struct(t) or t.get_field_index("metadata") < 0:
        return False
    if family_of(t.field("metadata").type) != Family.BINARY:
        return False
    return t.get_field_index("value") >= 0 or t.get_field_index("typed_value") >= 0


def with_variant_types(schema: pa.Schema, names: tuple[str, ...]) -> pa.Schema:
    """``schema`` with the columns ``names`` typed as :class:`VariantType`."""
    for name in names:
        i = schema.get_field_index(name)
        schema = schema.set(i, schema.field(i).with_type(VariantType(schema.field(i).type)))
    return schema


# A VARIANT group nested in a group, a list or a map: indented deeper than the top level.
_NESTED_VARIANT = re.compile(
    r"^ {4,}(?:required|optional|repeated) group field_id=-?\d+ (.*) \(Variant(?:\(\d*\))?\) \{$"
)


def nested_variant_names(parquet_schema: str) -> frozenset[str]:
    """Names of the groups below the top level that the Parquet schema (pyarrow's text of
    it) annotates as VARIANT (a struct field's name, ``element`` in a list, ``value`` in a map)."""
    return frozenset(m.group(1) for m in map(_NESTED_VARIANT.match, parquet_schema.splitlines()) if m)


def with_nested_variants(t: pa.DataType, names: frozenset[str]) -> pa.DataType:
    """``t`` with the structs below it that are named in ``names`` and have a variant's
    shape typed as :class:`VariantType`, in structs, lists and maps at any depth. Recursion
    is bounded by the nesting limit the input checks apply first."""
    if not names or is_variant_type(t):
        return t
    family = family_of(t)
    if family is Family.STRUCT:
        fields = [_nested_variant_field(f, names) for f in t]
        return t if all(a.equals(b) for a, b in zip(fields, t, strict=True)) else pa.struct(fields)
    if family is Family.MAP:
        item = _nested_variant_field(t.item_field, names)
        return t if item.equals(t.item_field) else pa.map_(t.key_field, item, t.keys_sorted)
    if family is Family.LIST and (pa.types.is_list(t) or pa.types.is_large_list(t)):
        value = _nested_variant_field(t.value_field, names)
        if value.equals(t.value_field):
            return t
        return pa.large_list(value) if pa.types.is_large_list(t) else pa.list_(value)
    return t


def _nested_variant_field(field: pa.Field, names: frozenset[str]) -> pa.Field:
    if field.name in names and _has_variant_shape(field.type):
        return field.with_type(VariantType(field.type))
    return field.with_type(with_nested_variants(field.type, names))


def wrap_nested_variants(batch: pa.RecordBatch, names: frozenset[str]) -> pa.RecordBatch:
    """``batch`` with the variants nested in its columns typed as :class:`VariantType`
    (an Arrow cast from a storage type to its extension type keeps the buffers)."""
    for i, field in enumerate(batch.schema):
        typed = with_nested_variants(field.type, names)
        if not typed.equals(field.type):
            batch = batch.set_column(i, field.with_type(typed), batch.column(i).cast(typed))
    return batch


def wrap_variants(batch: pa.RecordBatch, names: tuple[str, ...]) -> pa.RecordBatch:
    """``batch`` with the columns ``names`` as :class:`VariantType` arrays."""
    for name in names:
        i = batch.schema.get_field_index(name)
        column = batch.column(i)
        if i < 0 or is_variant_type(column.type):
            continue
        wrapped = pa.ExtensionArray.from_storage(VariantType(column.type), column)
        batch = batch.set_column(i, batch.schema.field(i).with_type(wrapped.type), wrapped)
    return batch


# --- the Variant binary encoding ------------------------------------------------------


class _Malformed(Exception):
    """A variant the encoding or the shredding rules do not allow (the caller names where)."""


def _uint(buf: bytes, at: int, size: int) -> int:
    if at < 0 or at + size > len(buf):
        raise _Malformed("truncated")
    return int.from_bytes(buf[at : at + size], "little")


def _unpack(fmt: str, buf: bytes, at: int) -> Any:
    try:
        return struct.unpack_from(fmt, buf, at)[0]
    except struct.error:
        raise _Malformed("truncated") from None


def _utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Malformed("a string that is not UTF-8") from None


def _dictionary(metadata: bytes) -> list[str]:
    """The field names of a variant's metadata."""
    if not metadata:
        raise _Malformed("empty metadata")
    header = metadata[0]
    if header & 0x0F != 1:
        raise _Malformed(f"metadata version {header & 0x0F}, expected 1")
    size = (header >> 6) + 1
    count = _uint(metadata, 1, size)
    offsets = [_uint(metadata, 1 + size * (k + 1), size) for k in range(count + 1)]
    start = 1 + size * (count + 2)
    if any(b < a for a, b in itertools.pairwise(offsets)) or start + offsets[-1] > len(metadata):
        raise _Malformed("metadata offsets out of bounds")
    return [_utf8(metadata[start + a : start + b]) for a, b in itertools.pairwise(offsets)]


_EXPONENT_LOW, _EXPONENT_HIGH = -7, 10


def float_text(value: float, *, single: bool) -> str:
    """The shortest text that reads back as ``value`` at its width, laid out as Arrow's
    float -> string cast does for ordinary columns (what the contract writes there):
    plain between 1e-6 and 1e10, else ``d.ddde+N``. Finite values only."""
    if value == 0:
        return "-0" if str(value).startswith("-") else "0"
    shortest = np.format_float_scientific(np.float32(value), unique=True) if single else repr(value)
    sign, digits, exponent = Decimal(shortest).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    e = exponent + len(text) - 1  # the exponent of d.ddd
    if _EXPONENT_LOW < e < _EXPONENT_HIGH:
        if e >= len(text) - 1:
            body = text + "0" * (e - len(text) + 1)
        elif e >= 0:
            body = text[: e + 1] + "." + text[e + 1 :]
        else:
            body = "0." + "0" * (-e - 1) + text
    else:
        body = text[0] + ("." + text[1:] if len(text) > 1 else "") + f"e{'+' if e >= 0 else '-'}{abs(e)}"
    return ("-" if sign else "") + body


class _Renderer:
    """Renders Variant values under one run's options."""

    def __init__(self, opts: ConvertOptions) -> None:
        self.opts = opts
        self.primitives: dict[int, Callable[[bytes, int], str]] = {
            0: lambda b, at: "null",
            1: lambda b, at: "true",
            2: lambda b, at: "false",
            3: lambda b, at: str(_unpack("<b", b, at)),
            4: lambda b, at: str(_unpack("<h", b, at)),
            5: lambda b, at: str(_unpack("<i", b, at)),
            6: lambda b, at: self._int64(_unpack("<q", b, at)),
            7: lambda b, at: self._float(_unpack("<d", b, at), single=False),
            8: lambda b, at: self._decimal(b, at, 4),
            9: lambda b, at: self._decimal(b, at, 8),
            10: lambda b, at: self._decimal(b, at, 16),
            11: lambda b, at: '"' + contract.iso_date(_unpack("<i", b, at)) + '"',
            12: lambda b, at: '"' + contract.iso_timestamp(_unpack("<q", b, at), "us", utc=True) + '"',
            13: lambda b, at: '"' + contract.iso_timestamp(_unpack("<q", b, at), "us", utc=False) + '"',
            14: lambda b, at: self._float(_unpack("<f", b, at), single=True),
            15: lambda b, at: '"' + base64.b64encode(self._sized(b, at)).decode("ascii") + '"',
            16: lambda b, at: contract.quote_text(_utf8(self._sized(b, at))),
            17: lambda b, at: self._time(_unpack("<q", b, at)),
            18: lambda b, at: '"' + contract.iso_timestamp(_unpack("<q", b, at), "ns", utc=True) + '"',
            19: lambda b, at: '"' + contract.iso_timestamp(_unpack("<q", b, at), "ns", utc=False) + '"',
            20: lambda b, at: '"' + str(uuid.UUID(bytes=self._fixed(b, at, 16))) + '"',
        }
        self.dictionaries: dict[bytes, list[str]] = {}

    # primitives

    def _int64(self, value: int) -> str:
        text = str(value)
        if self.opts.bigint_as_string and abs(value) > contract.MAX_SAFE_INTEGER:
            return '"' + text + '"'
        return text

    def _float(self, value: float, *, single: bool) -> str:
        if value != value or value in (float("inf"), float("-inf")):
            if not self.opts.nan_as_string:
                return "null"
            return '"NaN"' if value != value else ('"Infinity"' if value > 0 else '"-Infinity"')
        return float_text(value, single=single)

    def _decimal(self, buf: bytes, at: int, width: int) -> str:
        scale = _uint(buf, at, 1)
        if scale > 38:
            raise _Malformed(f"decimal scale {scale}")
        unscaled = int.from_bytes(self._fixed(buf, at + 1, width), "little", signed=True)
        digits = tuple(int(d) for d in str(abs(unscaled)))
        # The decimal's own digits, never a float: str(Decimal) lays them out as Arrow's
        # decimal -> string cast does for ordinary columns (an exponent below 1e-6).
        text = str(Decimal((unscaled < 0, digits, -scale)))
        return '"' + text + '"' if self.opts.decimal_as_string else text

    def _time(self, micros: int) -> str:
        if not 0 <= micros <= 86_400_000_000:
            raise _Malformed(f"TIME value {micros} (us) is outside 00:00:00-24:00:00")
        seconds, fraction = divmod(micros, 1_000_000)
        return f'"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.{fraction:06d}"'

    @staticmethod
    def _fixed(buf: bytes, at: int, size: int) -> bytes:
        if at + size > len(buf):
            raise _Malformed("truncated")
        return buf[at : at + size]

    def _sized(self, buf: bytes, at: int) -> bytes:
        return self._fixed(buf, at + 4, _uint(buf, at, 4))

    # values

    def dictionary(self, metadata: bytes) -> list[str]:
        keys = self.dictionaries.get(metadata)
        if keys is None:
            if len(self.dictionaries) > 1024:  # bounded: metadata may differ in every row
                self.dictionaries.clear()
            keys = self.dictionaries[metadata] = _dictionary(metadata)
        return keys

    def value(self, keys: list[str], buf: bytes, at: int = 0, depth: int = 0) -> str:
        """The JSON text of the variant value starting at ``buf[at]``."""
        if depth > 64:
            raise _Malformed("nested more than 64 levels deep")
        header = _uint(buf, at, 1)
        basic, info = header & 0x03, header >> 2
        if basic == 0:
            render = self.primitives.get(info)
            if render is None:
                raise _Malformed(f"unknown primitive type {info}")
            return render(buf, at + 1)
        if basic == 1:
            return contract.quote_text(_utf8(self._fixed(buf, at + 1, info)))
        if basic == 2:
            members = self.object_fields(keys, buf, at, depth)
            return "{" + ",".join(contract.quote_text(k) + ":" + v for k, v in members) + "}"
        offset_size, count_size = (info & 0x03) + 1, 4 if info & 0x04 else 1
        count = _uint(buf, at + 1, count_size)
        offsets_at = at + 1 + count_size
        data_at = offsets_at + (count + 1) * offset_size
        items = [
            self.value(keys, buf, data_at + _uint(buf, offsets_at + k * offset_size, offset_size), depth + 1)
            for k in range(count)
        ]
        return "[" + ",".join(items) + "]"

    def object_fields(self, keys: list[str], buf: bytes, at: int = 0, depth: int = 0) -> list[tuple[str, str]]:
        """The (name, JSON text) members of the object starting at ``buf[at]``, in stored order."""
        header = _uint(buf, at, 1)
        if header & 0x03 != 2:
            raise _Malformed("not an object")
        info = header >> 2
        offset_size, id_size, count_size = (info & 0x03) + 1, ((info >> 2) & 0x03) + 1, 4 if info & 0x10 else 1
        count = _uint(buf, at + 1, count_size)
        ids_at = at + 1 + count_size
        offsets_at = ids_at + count * id_size
        data_at = offsets_at + (count + 1) * offset_size
        members = []
        for k in range(count):
            field_id = _uint(buf, ids_at + k * id_size, id_size)
            if field_id >= len(keys):
                raise _Malformed(f"field id {field_id} outside the metadata's {len(keys)} names")
            offset = _uint(buf, offsets_at + k * offset_size, offset_size)
            members.append((keys[field_id], self.value(keys, buf, data_at + offset, depth + 1)))
        return members

    # shredding

    def merge(self, keys: list[str], value: bytes, shredded: dict[str, str | None]) -> str:
        """A partially shredded object: its ``shredded`` fields (None when missing) and the
        fields left in ``value``, sorted by name as the encoding sorts them."""
        if _uint(value, 0, 1) & 0x03 != 2:
            raise _Malformed("a non-object value with shredded fields")
        members = {name: text for name, text in shredded.items() if text is not None}
        for name, text in self.object_fields(keys, value):
            # A name both shredded and in the value is not allowed by the spec, which lets
            # a reader refuse it or read the shredded field: the shredded field is kept.
            if name not in shredded:
                members[name] = text
        ordered = sorted(members.items(), key=lambda member: member[0].encode("utf-8"))
        return "{" + ",".join(contract.quote_text(k) + ":" + v for k, v in ordered) + "}"


# --- shredded columns -----------------------------------------------------------------


def _shredding_problem(t: pa.DataType, path: str) -> str | None:
    """Why the ``typed_value`` type ``t`` is not one VariantShredding.md allows, or None."""
    family = family_of(t)
    if family is Family.STRUCT:
        for i in range(t.num_fields):
            problem = _group_problem(t.field(i).type, f"{path}.{t.field(i).name}")
            if problem:
                return problem
        return None
    if family is Family.LIST and (pa.types.is_list(t) or pa.types.is_large_list(t)):
        return _group_problem(t.value_type, path + "[]")
    allowed = (
        pa.types.is_boolean(t)
        or pa.types.is_signed_integer(t)
        or pa.types.is_float32(t)
        or pa.types.is_float64(t)
        or pa.types.is_decimal(t)
        or pa.types.is_date32(t)
        or (pa.types.is_time64(t) and t.unit == "us")
        or (pa.types.is_timestamp(t) and t.unit in ("us", "ns"))
        or (family in (Family.STRING, Family.BINARY) and not pa.types.is_fixed_size_binary(t))
        or contract.is_uuid_type(t)
    )
    return None if allowed else f"{path} has type {t}, which is not a shredded variant type"


def _group_problem(t: pa.DataType, path: str) -> str | None:
    if not pa.types.is_struct(t) or not {t.field(i).name for i in range(t.num_fields)} <= {"value", "typed_value"}:
        return f"{path} is not a group of value and typed_value"
    if t.get_field_index("value") >= 0 and family_of(t.field("value").type) is not Family.BINARY:
        return f"{path}.value is not binary"
    if t.get_field_index("typed_value") >= 0:
        return _shredding_problem(t.field("typed_value").type, path + ".typed_value")
    return None


class _Assembler:
    """Puts shredded variants back together, column by column: typed leaves are rendered by
    the contract's vectorised encoder, objects and arrays joined by Arrow kernels, and only
    the binary ``value`` cells (and partially shredded objects) go through :class:`_Renderer`.
    Each array handled carries ``rows``: the top-level row of each of its elements, which
    names the row of a refused value and finds its metadata."""

    def __init__(self, storage: pa.StructArray, opts: ConvertOptions, column: str) -> None:
        self.opts, self.column = opts, column
        self.renderer = _Renderer(opts)
        self.storage = storage
        self._metadata: list[bytes | None] | None = None

    @property
    def metadata(self) -> list[bytes | None]:
        """The metadata of each top-level row, as Python bytes (read once, when first needed)."""
        if self._metadata is None:
            self._metadata = self.storage.field("metadata").to_pylist()
        return self._metadata

    def refuse(self, problem: str, row: int) -> BadValueError:
        return InvalidValueError.at(f"is not a valid variant ({problem})", column=self.column, row=row)

    def _keys(self, row: int) -> list[str]:
        metadata = self.metadata[row]
        if metadata is None:
            raise _Malformed("no metadata")
        return self.renderer.dictionary(metadata)

    def decoded(self, value: pa.Array, rows: np.ndarray) -> pa.Array:
        """The JSON text of each binary ``value`` (null where it is null): by the native
        encoder when it runs and takes them all (it writes what this module writes), else here."""
        if value.null_count == len(value):
            return pa.nulls(len(value), pa.string())
        if native.selected() == native.NATIVE:
            metadata = self.storage.field("metadata").take(numpy_views.array(rows))
            pairs = pa.StructArray.from_arrays([metadata, value], names=["metadata", "value"])
            fast = native.encode_values(pa.ExtensionArray.from_storage(VariantType(pairs.type), pairs), self.opts)
            if fast is not None:
                return contract.mask_nulls(value, fast)
        texts: list[str | None] = []
        for i, raw in enumerate(value.to_pylist()):
            if raw is None:
                texts.append(None)
                continue
            try:
                texts.append(self.renderer.value(self._keys(int(rows[i])), raw))
            except _Malformed as exc:
                raise self.refuse(str(exc), int(rows[i])) from None
        return pa.array(texts, pa.string())

    def group(self, group: pa.StructArray, rows: np.ndarray) -> pa.Array:
        """The JSON text of each (value, typed_value) pair of ``group``; null where it is missing."""
        children = dict(zip([f.name for f in group.type], group.flatten(), strict=True))  # parent nulls kept
        value, typed = children.get("value"), children.get("typed_value")
        has_value = value is not None and value.null_count < len(value)
        if typed is None or typed.null_count == len(typed):
            return self.decoded(value, rows) if has_value else pa.nulls(len(group), pa.string())
        if pa.types.is_struct(typed.type):
            return self.shredded_object(typed, value if has_value else None, rows)
        if has_value:
            assert value is not None
            both = numpy_views.values(pc.and_(pc.is_valid(typed), pc.is_valid(value)))
            if both.any():
                raise self.refuse("conflicting value and typed_value", int(rows[int(np.argmax(both))]))
        is_list = pa.types.is_list(typed.type) or pa.types.is_large_list(typed.type)
        text = self.shredded_array(typed, rows) if is_list else contract.encode_array(typed, self.opts)
        return pc.coalesce(text, self.decoded(value, rows)) if has_value else text

    def shredded_array(self, typed: pa.Array, rows: np.ndarray) -> pa.Array:
        elements = pc.list_flatten(typed)
        parents = numpy_views.values(pc.list_parent_indices(typed)).astype(np.int64)
        # An array element cannot be missing; the spec reads a missing one as a variant null.
        texts = pc.fill_null(self.group(elements, rows[parents]), "null")
        lengths = numpy_views.values(pc.fill_null(pc.list_value_length(typed), 0)).astype(np.int64)
        offsets = numpy_views.array(np.concatenate([np.zeros(1, np.int64), np.cumsum(lengths)]))
        joined = pc.binary_join(pa.LargeListArray.from_arrays(offsets, texts), ",")
        return contract.mask_nulls(typed, pc.binary_join_element_wise("[", joined, "]", ""))

    def shredded_object(self, typed: pa.StructArray, value: pa.Array | None, rows: np.ndarray) -> pa.Array:
        names = sorted((f.name for f in typed.type), key=lambda name: name.encode("utf-8"))
        fields = dict(zip([f.name for f in typed.type], typed.flatten(), strict=True))
        texts = {name: self.group(fields[name], rows) for name in names}
        # A missing field is absent: the members are joined as --drop-nulls joins them.
        objects = contract.encode_object(
            names, [texts[n] for n in names], ConvertOptions(drop_nulls=True), length=len(typed)
        )
        objects = contract.mask_nulls(typed, objects)
        if value is None:
            return objects
        decoded = self.decoded(pc.if_else(pc.is_valid(typed), pa.scalar(None, value.type), value), rows)
        merged = objects
        both = numpy_views.values(pc.and_(pc.is_valid(typed), pc.is_valid(value)))
        if both.any():
            merged = self._merged(merged, typed, value, texts, rows, both)
        return pc.coalesce(merged, decoded)

    def _merged(
        self,
        objects: pa.Array,
        typed: pa.Array,
        value: pa.Array,
        texts: dict[str, pa.Array],
        rows: np.ndarray,
        both: np.ndarray,
    ) -> pa.Array:
        """``objects`` with the partially shredded ones (``both``) merged with their value."""
        where = np.flatnonzero(both)
        taken = numpy_views.array(where.astype(np.int64))
        field_texts = {name: text.take(taken).to_pylist() for name, text in texts.items()}
        values = value.take(taken).to_pylist()
        merged: list[str] = []
        for k, i in enumerate(where.tolist()):
            try:
                shredded = {name: field_texts[name][k] for name in texts}
                merged.append(self.renderer.merge(self._keys(int(rows[i])), values[k], shredded))
            except _Malformed as exc:
                raise self.refuse(str(exc), int(rows[i])) from None
        return pc.replace_with_mask(objects, numpy_views.array(both), pa.array(merged, pa.string()))


def _first_valid(arr: pa.Array) -> int:
    return 0 if arr.null_count == 0 else int(np.argmax(numpy_views.values(pc.is_valid(arr))))


def to_json(arr: pa.Array, opts: ConvertOptions, column: str) -> pa.Array:
    """The JSON text of each variant of ``arr`` (a :class:`VariantType` array or its
    storage), as a :class:`JsonTextType` array, null where the variant is SQL NULL.

    A malformed or spec-invalid variant raises :class:`InvalidValueError` (a typed leaf's
    invalid UTF-8, :class:`~etl_lib.errors.InvalidUtf8Error`) naming ``column`` and the row.
    """
    storage = arr.storage if isinstance(arr, pa.ExtensionArray) else arr
    if storage.null_count == len(storage):
        return pa.ExtensionArray.from_storage(JsonTextType(), pa.nulls(len(storage), pa.string()))
    if not _has_variant_shape(storage.type):
        raise InvalidValueError.at("is not a valid variant (no metadata)", column=column, row=_first_valid(storage))
    t = storage.type
    problem = _group_problem(pa.struct([f for f in t if f.name != "metadata"]), "")
    if problem:
        raise InvalidValueError.at(
            f"is not a valid variant ({problem.lstrip('.')})", column=column, row=_first_valid(storage)
        )
    bad = contract.find_bad_value(storage, column)
    if bad is not None:
        raise bad
    assembler = _Assembler(storage, opts, column)
    texts = assembler.group(storage, np.arange(len(storage), dtype=np.int64))
    # A missing variant (value and typed_value both null) reads as a variant null.
    texts = contract.mask_nulls(storage, pc.fill_null(texts, "null"))
    return pa.ExtensionArray.from_storage(JsonTextType(), texts)


def find_bad_variant(arr: pa.Array, opts: ConvertOptions, column: str) -> BadValueError | None:
    """The first variant of ``arr`` that :func:`to_json` refuses, or None."""
    try:
        to_json(arr, opts, column)
    except BadValueError as exc:
        return exc
    return None


def render_binary(metadata: bytes, value: bytes, opts: ConvertOptions) -> str:
    """The JSON text of one unshredded variant (its metadata and value bytes)."""
    renderer = _Renderer(opts)
    try:
        return renderer.value(renderer.dictionary(metadata), value)
    except _Malformed as exc:
        raise InvalidValueError(f"is not a valid variant ({exc})") from None
