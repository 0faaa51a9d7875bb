"""Parquet leaves at any depth: the Parquet schema's annotations matched to Arrow leaves.

pyarrow 25 shows some Parquet logical types only in its printed Parquet schema (GEOMETRY,
GEOGRAPHY, a TIME's ``isAdjustedToUTC``), and reads those leaves as plain Arrow types. The
Parquet schema's leaves (its columns) and the Arrow schema's leaves come in the same
depth-first order - a struct's fields in order, a list's element, a map's key then value -
so the k-th leaf of one is the k-th leaf of the other, however deep, whatever the list or
map layout (3-level, legacy 2-level, ``element`` or ``item``) or the names. This module:

- :func:`parquet_leaves`: each leaf's printed text, in order, from the printed schema;
- :func:`leaf_count`: the leaves below an Arrow type, in the same order;
- :func:`with_leaf_types` and :func:`with_leaf_arrays`: a type or array with chosen leaves
  replaced, rebuilt through structs, lists and maps.

No library maps the printed schema back to its nodes (pyarrow's ``ParquetSchema`` columns
would, but reading them keeps the file's whole footer alive per read, so the reader gets
the text only), hence the small parser below. A schema whose text does not split into as
many leaves as Arrow has (a name or a CRS holding a line that looks like a node) is matched
to nothing: its annotated leaves are read as their plain types, never as another column's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

from etl_lib._runtime.lazy import lazy_module
from etl_lib.contract.type_families import Family, children, family_of

if TYPE_CHECKING:
    import pyarrow.compute as pc
else:
    pc = lazy_module("pyarrow.compute")

# The start of a node below the root as pyarrow prints it, e.g. "    optional binary
# field_id=-1 g (Geometry(crs=));": two spaces per level, the repetition, the physical type
# or "group", the field id. A node's text runs to the next node's start; a leaf's ends with
# ";", then the closing braces of the groups it ends.
_NODE = re.compile(r"^ +(?:required|optional|repeated) (\S+) field_id=-?\d+ ", re.MULTILINE)
_LEAF_END = re.compile(r";\n(?: *\}\n?)*\Z|;\Z")


def parquet_leaves(parquet_schema: str) -> tuple[str, ...]:
    """The text of each leaf (column) of a printed Parquet schema, depth-first: what follows
    the field id (the name and the annotation), without the final ``;``."""
    starts = list(_NODE.finditer(parquet_schema))
    texts = []
    for k, start in enumerate(starts):
        if start.group(1) == "group":
            continue
        end = starts[k + 1].start() if k + 1 < len(starts) else len(parquet_schema)
        chunk = parquet_schema[start.end() : end]
        tail = _LEAF_END.search(chunk)
        texts.append(chunk[: tail.start()] if tail else chunk)
    return tuple(texts)


@dataclass(frozen=True)
class AnnotatedLeaves:
    """The leaves of a printed Parquet schema that an annotation matched, by index, and how
    many leaves it has (matched against the Arrow schema's before use)."""

    count: int
    indices: frozenset[int]

    def __bool__(self) -> bool:
        return bool(self.indices)

    def of(self, schema: pa.Schema) -> frozenset[int]:
        """The matched indices, or none when ``schema`` has another number of leaves."""
        return self.indices if self.indices and schema_leaf_count(schema) == self.count else frozenset()


def annotated_leaves(parquet_schema: str, annotation: re.Pattern[str]) -> AnnotatedLeaves:
    """The leaves of the printed Parquet schema whose text ``annotation`` matches (``fullmatch``)."""
    texts = parquet_leaves(parquet_schema)
    return AnnotatedLeaves(len(texts), frozenset(k for k, text in enumerate(texts) if annotation.fullmatch(text)))


def leaf_count(t: pa.DataType) -> int:
    """Leaves below ``t`` as Parquet counts them: a struct with no fields (an empty group) has
    none; a scalar, a dictionary, an extension over a scalar, one. Iterative: a hostile
    schema must not make it recurse."""
    count, stack = 0, [t]
    while stack:
        current = stack.pop()
        kids = children(current)
        if kids:
            stack.extend(child.type for child in kids)
        elif family_of(current) is not Family.STRUCT:
            count += 1
    return count


def schema_leaf_count(schema: pa.Schema) -> int:
    """Leaves of every column of ``schema``."""
    return sum(leaf_count(field.type) for field in schema)


TypeAt = Callable[[int, pa.DataType], pa.DataType | None]
"""Given a leaf's index and type: its new type, or None to keep it."""

ArrayAt = Callable[[int, pa.Array], pa.Array | None]
"""Given a leaf's index and array: its new array (same length), or None to keep it."""


def _opaque(t: pa.DataType) -> bool:
    # Leaves are replaced through structs, lists and maps only: inside an extension (a
    # VARIANT's storage), a dictionary or another list layout, they are counted and kept.
    family = family_of(t)
    return family in (Family.EXTENSION, Family.DICTIONARY) or (
        family is Family.LIST and not (pa.types.is_list(t) or pa.types.is_large_list(t))
    )


def retyped(field: pa.Field, t: pa.DataType) -> pa.Field:
    """``field`` typed ``t``. A field newly typed as an extension drops the extension name
    and metadata its own metadata may hold (a ``geoarrow.wkb`` a file's stored Arrow schema
    names, say): once the batch crosses the C data interface, they would stand for the type."""
    if t.equals(field.type):
        return field
    if not isinstance(t, pa.BaseExtensionType) or not field.metadata:
        return field.with_type(t)
    kept = {k: v for k, v in field.metadata.items() if not k.startswith(b"ARROW:extension:")}
    return field.with_type(t).with_metadata(kept)


def _field_types(fields: list[pa.Field], first: int, at: TypeAt) -> tuple[list[pa.Field], int]:
    out, k = [], first
    for f in fields:
        t, k = _leaf_type(f.type, k, at)
        out.append(retyped(f, t))
    return out, k


def _leaf_type(t: pa.DataType, first: int, at: TypeAt) -> tuple[pa.DataType, int]:
    """``t`` with its leaves from index ``first`` replaced by ``at``, and the next leaf's index."""
    kids = children(t)
    if not kids:
        if family_of(t) is Family.STRUCT:
            return t, first
        return at(first, t) or t, first + 1
    if _opaque(t):
        return t, first + leaf_count(t)
    fields, after = _field_types(kids, first, at)
    if family_of(t) is Family.STRUCT:
        return pa.struct(fields), after
    if family_of(t) is Family.MAP:
        return pa.map_(fields[0], fields[1], t.keys_sorted), after
    return (pa.large_list(fields[0]) if pa.types.is_large_list(t) else pa.list_(fields[0])), after


def leaf_types(schema: pa.Schema) -> dict[int, pa.DataType]:
    """The type of each leaf of ``schema`` that :func:`with_leaf_types` may replace, by index."""
    found: dict[int, pa.DataType] = {}

    def record(k: int, t: pa.DataType) -> None:
        found[k] = t

    with_leaf_types(schema, record)
    return found


def with_leaf_types(schema: pa.Schema, at: TypeAt) -> pa.Schema:
    """``schema`` with each leaf's type replaced where ``at`` gives one (leaves numbered
    depth-first from 0 across the columns). Recursion is bounded by the nesting limit the
    input checks apply first."""
    fields, k = [], 0
    for field in schema:
        t, k = _leaf_type(field.type, k, at)
        fields.append(retyped(field, t))
    return pa.schema(fields, schema.metadata)


def _changed_array(arr: pa.Array, first: int, at: ArrayAt) -> tuple[pa.Array | None, int]:
    """``arr`` with its leaves from index ``first`` replaced by ``at`` (None: none was), and
    the next leaf's index."""
    t = arr.type
    kids = children(t)
    if not kids:
        if family_of(t) is Family.STRUCT:
            return None, first
        return at(first, arr), first + 1
    if _opaque(t):
        return None, first + leaf_count(t)
    family = family_of(t)
    if family is Family.STRUCT:
        return _changed_struct(arr, kids, first, at)
    mask = pc.is_null(arr) if arr.null_count else None
    if family is Family.MAP:
        keys, k = _changed_array(arr.keys, first, at)
        items, k = _changed_array(arr.items, k, at)
        if keys is None and items is None:
            return None, k
        keys, items = arr.keys if keys is None else keys, arr.items if items is None else items
        map_type = pa.map_(t.key_field.with_type(keys.type), t.item_field.with_type(items.type), t.keys_sorted)
        return pa.MapArray.from_arrays(arr.offsets, keys, items, type=map_type, mask=mask), k
    values, k = _changed_array(arr.values, first, at)  # the whole child: the offsets index it
    if values is None:
        return None, k
    value_field = t.value_field.with_type(values.type)
    list_type = pa.large_list(value_field) if pa.types.is_large_list(t) else pa.list_(value_field)
    return type(arr).from_arrays(arr.offsets, values, type=list_type, mask=mask), k


def _changed_struct(arr: pa.Array, kids: list[pa.Field], first: int, at: ArrayAt) -> tuple[pa.Array | None, int]:
    flat = arr.flatten()  # honours the struct's slice offset and its nulls
    values, k, changed = [], first, False
    for child in flat:
        value, k = _changed_array(child, k, at)
        changed = changed or value is not None
        values.append(child if value is None else value)
    if not changed:
        return None, k
    fields = [retyped(f, v.type) for f, v in zip(kids, values, strict=True)]
    mask = pc.is_null(arr) if arr.null_count else None
    return pa.StructArray.from_arrays(values, fields=fields, mask=mask), k


def with_leaf_arrays(batch: pa.RecordBatch, at: ArrayAt) -> pa.RecordBatch:
    """``batch`` with each leaf's array replaced where ``at`` gives one (leaves numbered
    depth-first from 0 across the columns). Recursion is bounded by the nesting limit the
    input checks apply first."""
    k = 0
    for i, field in enumerate(batch.schema):
        new, k = _changed_array(batch.column(i), k, at)
        if new is not None:
            batch = batch.set_column(i, field.with_type(new.type), new)
    return batch
