"""Arrow type families: the one classification every type walker dispatches on.

The encoder (:func:`etl_lib.contract.reference.encode_array`), the JSON Schema of the run report
(:func:`etl_lib.report.value_schema`) and the input checks all need to know "what kind of
value is this": they look it up here, as ``pyarrow.types`` groups types, and keep one
handler per :class:`Family` in a table. A type no family covers raises
:class:`~etl_lib.errors.UnsupportedTypeError` in every walker alike.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

import pyarrow as pa
import pyarrow.types as pat

from etl_lib.errors import UnsupportedTypeError


class Family(StrEnum):
    EXTENSION = "extension"
    DICTIONARY = "dictionary"
    NULL = "null"
    BOOLEAN = "boolean"
    INTEGER = "integer"
    FLOAT = "float"
    DECIMAL = "decimal"
    STRING = "string"
    BINARY = "binary"
    DATE = "date"
    TIMESTAMP = "timestamp"
    TIME = "time"
    DURATION = "duration"
    MAP = "map"  # before LIST: a map is also a list of entries
    LIST = "list"
    STRUCT = "struct"


def _is_extension(t: pa.DataType) -> bool:
    return isinstance(t, pa.BaseExtensionType)


def _is_string(t: pa.DataType) -> bool:
    return bool(pat.is_string(t) or pat.is_large_string(t) or pat.is_string_view(t))


def _is_binary(t: pa.DataType) -> bool:
    return bool(pat.is_binary(t) or pat.is_large_binary(t) or pat.is_binary_view(t) or pat.is_fixed_size_binary(t))


def _is_list(t: pa.DataType) -> bool:
    return bool(
        pat.is_list(t)
        or pat.is_large_list(t)
        or pat.is_fixed_size_list(t)
        or pat.is_list_view(t)
        or pat.is_large_list_view(t)
    )


_TESTS: tuple[tuple[Family, Callable[[pa.DataType], bool]], ...] = (
    (Family.EXTENSION, _is_extension),
    (Family.DICTIONARY, pat.is_dictionary),
    (Family.NULL, pat.is_null),
    (Family.BOOLEAN, pat.is_boolean),
    (Family.INTEGER, pat.is_integer),
    (Family.FLOAT, pat.is_floating),
    (Family.DECIMAL, pat.is_decimal),
    (Family.STRING, _is_string),
    (Family.BINARY, _is_binary),
    (Family.DATE, pat.is_date),
    (Family.TIMESTAMP, pat.is_timestamp),
    (Family.TIME, pat.is_time),
    (Family.DURATION, pat.is_duration),
    (Family.MAP, pat.is_map),
    (Family.LIST, _is_list),
    (Family.STRUCT, pat.is_struct),
)

NESTED = frozenset({Family.MAP, Family.LIST, Family.STRUCT})


def family_of(t: pa.DataType) -> Family:
    """The family of ``t``; :class:`UnsupportedTypeError` if the contract has none."""
    for family, test in _TESTS:
        if test(t):
            return family
    raise UnsupportedTypeError(f"the JSON contract has no rule for Arrow type {t}")


def children(t: pa.DataType) -> list[pa.Field]:
    """The child fields of a type, as the contract walks them (storage of an extension,
    values of a dictionary, entries' key and value of a map)."""
    family = family_of(t)
    if family is Family.EXTENSION:
        return [pa.field("storage", t.storage_type)]
    if family is Family.DICTIONARY:
        return [pa.field("values", t.value_type)]
    if family is Family.MAP:
        return [t.key_field, t.item_field]
    if family is Family.LIST:
        return [t.value_field]
    if family is Family.STRUCT:
        return [t.field(i) for i in range(t.num_fields)]
    return []


def nesting_depth(t: pa.DataType) -> int:
    """Levels of struct/list/map in ``t`` (0 for a scalar type). Iterative: it must not
    itself recurse on a hostile schema."""
    deepest = 0
    stack = [(t, 0)]
    while stack:
        current, depth = stack.pop()
        level = depth + (family_of(current) in NESTED)
        deepest = max(deepest, level)
        stack.extend((child.type, level) for child in children(current))
    return deepest


_SCALAR_FIXED = frozenset({Family.INTEGER, Family.FLOAT, Family.DATE, Family.TIMESTAMP, Family.TIME, Family.DURATION})


def fixed_width(t: pa.DataType) -> int | None:
    """Decoded bytes of every value of ``t``, its validity bit counted as a byte; None when
    values differ in size (strings, binaries, lists, maps, dictionaries and what holds them).

    A reader can size batches of such columns from their type alone. Recursion is bounded
    by the nesting limit the input checks apply first.
    """
    family = family_of(t)
    if family is Family.NULL or family is Family.BOOLEAN:
        return 1  # a bit or none, and a validity bit
    if family in _SCALAR_FIXED:
        return 1 + t.bit_width // 8
    if family is Family.DECIMAL or (family is Family.BINARY and pat.is_fixed_size_binary(t)):
        return 1 + int(t.byte_width)
    if family is Family.EXTENSION or family is Family.STRUCT or (family is Family.LIST and pat.is_fixed_size_list(t)):
        widths = [fixed_width(child.type) for child in children(t)]
        if None in widths:
            return None
        per_value = t.list_size if family is Family.LIST else 1
        return (family is not Family.EXTENSION) + per_value * sum(w for w in widths if w is not None)
    return None
