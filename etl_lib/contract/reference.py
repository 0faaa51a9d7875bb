"""The JSON contract, implemented once: Arrow values -> JSON text.

docs/json-contract.md states the rules; this module is their only implementation. Both
engines (Spark and local) call :func:`encode_lines` on Arrow record batches, so the rules
cannot drift between them.

Everything is vectorised with Arrow compute kernels: each column becomes an array of JSON
*fragments* (the JSON text of each value), and a record is the element-wise concatenation
of its fragments. A fragment is an Arrow null exactly where the Parquet value is null, so
``drop_nulls`` can omit the member while every other path writes ``null``. Rare values the
kernels cannot render (years outside 0001-9999, uncommon control characters, float16) go
through small per-value Python helpers on just those rows.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import pyarrow as pa

from etl_lib._runtime import numpy_views
from etl_lib._runtime.lazy import lazy_module
from etl_lib.contract import native
from etl_lib.contract.type_families import NESTED, Family, family_of
from etl_lib.errors import BadValueError, InvalidUtf8Error, InvalidValueError
from etl_lib.options import ConvertOptions

if TYPE_CHECKING:
    import numpy as np
    import pyarrow.compute as pc
else:  # loaded on first use: the native encoder's path never needs them
    np = lazy_module("numpy")
    pc = lazy_module("pyarrow.compute")

MAX_SAFE_INTEGER = 2**53 - 1
"""Largest integer every JSON parser (IEEE-754 doubles, JavaScript) reads exactly."""

_STRING = pa.string()
_NULL_TEXT = "null"

# Characters a JSON string must escape, plus U+2028/2029 which JSON allows raw but
# JavaScript source (JSONP, <script> embedding) does not: escaping them is always safe.
_NEEDS_ESCAPE = r"[\x00-\x1f\"\\\x{2028}\x{2029}]"
_SHORT_ESCAPES = [
    ("\\", "\\\\"),
    ('"', '\\"'),
    ("\n", "\\n"),
    ("\r", "\\r"),
    ("\t", "\\t"),
    ("\b", "\\b"),
    ("\f", "\\f"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
]
_RARE_CONTROL_BYTES = {*range(0x00, 0x08), 0x0B, *range(0x0E, 0x20)}

_UNITS_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_FRACTION_DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 9}
_DAYS_0001_01_01 = -719_162  # days from 1970-01-01 back to 0001-01-01
_DAYS_9999_12_31 = 2_932_896


def quote_text(text: str) -> str:
    """A Python str as a JSON string literal under the contract's escaping rules."""
    quoted = json.dumps(text, ensure_ascii=False)
    return quoted.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _join(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation; null if any array part is null."""
    return pc.binary_join_element_wise(*parts, "")


def _quote(text: pa.Array) -> pa.Array:
    return _join('"', text, '"')


def mask_nulls(source: pa.Array, text: pa.Array) -> pa.Array:
    """Make ``text`` null exactly where ``source`` is null (nested kernels lose validity)."""
    if source.null_count == 0:
        return text
    return pc.if_else(pc.is_valid(source), text, pa.scalar(None, _STRING))


def _per_value(values: pa.Array, render: Callable[[object], str]) -> pa.Array:
    """Render with Python for the rare types and rows the kernels cannot handle."""
    return pa.array([None if v is None else render(v) for v in values.to_pylist()], _STRING)


def _patch(text: pa.Array, mask: pa.Array, source: pa.Array, render: Callable[[object], str]) -> pa.Array:
    """Replace ``text`` where ``mask`` is true by ``render`` of the matching ``source`` rows."""
    mask = pc.fill_null(mask, False)
    if not pc.any(mask).as_py():
        return text
    return pc.replace_with_mask(text, mask, _per_value(source.filter(mask), render))


# --- scalars ---------------------------------------------------------------------------


def _encode_bool(arr: pa.Array) -> pa.Array:
    return pc.if_else(arr, "true", "false")


def _encode_integer(arr: pa.Array, opts: ConvertOptions) -> pa.Array:
    text = pc.cast(arr, _STRING)
    if opts.bigint_as_string and arr.type.bit_width == 64:
        unsafe = pc.greater(arr, pa.scalar(MAX_SAFE_INTEGER, arr.type))
        if pa.types.is_signed_integer(arr.type):
            unsafe = pc.or_(unsafe, pc.less(arr, pa.scalar(-MAX_SAFE_INTEGER, arr.type)))
        text = pc.if_else(unsafe, _quote(text), text)
    return text


def _float16_text(value: object) -> str:
    # numpy's float16 repr is the shortest text that round-trips as float16.
    return str(np.float16(value))  # type: ignore[arg-type]


def _encode_float(arr: pa.Array, opts: ConvertOptions) -> pa.Array:
    if pa.types.is_float16(arr.type):
        as32 = pc.cast(arr, pa.float32())
        text = _per_value(as32, _float16_text)
        arr = as32
    else:
        # Arrow's float->string cast prints the shortest text that round-trips at the
        # value's own width (float32 as float32), e.g. 0.1f -> "0.1", 1e20 -> "1e+20".
        text = pc.cast(arr, _STRING)
    finite = pc.is_finite(arr)
    if pc.all(pc.fill_null(finite, True)).as_py():
        return text
    if opts.nan_as_string:
        special = pc.if_else(pc.is_nan(arr), '"NaN"', pc.if_else(pc.greater(arr, 0), '"Infinity"', '"-Infinity"'))
    else:
        # NaN and infinities are not JSON: null keeps every output parseable.
        special = pa.scalar(_NULL_TEXT)
    return pc.if_else(finite, text, special)


def _encode_decimal(arr: pa.Array, opts: ConvertOptions) -> pa.Array:
    # Arrow renders decimals from their integer digits: exact, never through a float.
    text = pc.cast(arr, _STRING)
    return _quote(text) if opts.decimal_as_string else text


def _special_bytes(arr: pa.Array) -> set[int]:
    """Bytes of ``arr``'s text that JSON must escape (0xE2 may start U+2028/2029), found
    by one scan of the data buffer."""
    _, offsets_buf, data_buf = arr.buffers()
    if data_buf is None or len(arr) == 0:
        return set()
    bounds = np.frombuffer(offsets_buf, dtype=np.int32)[[arr.offset, arr.offset + len(arr)]]
    data = np.frombuffer(data_buf, dtype=np.uint8)[bounds[0] : bounds[1]]
    flagged = data[(data < 0x20) | (data == 0x22) | (data == 0x5C) | (data == 0xE2)]
    return {int(b) for b in np.unique(flagged)} if len(flagged) else set()


def _encode_string(arr: pa.Array) -> pa.Array:
    if not pa.types.is_string(arr.type):
        arr = pc.cast(arr, _STRING)  # large_string / string_view
    found = _special_bytes(arr)
    if not found:
        return _quote(arr)
    # One replace pass per escape actually present: each is a plain scan in Arrow.
    escaped = arr
    for raw, esc in _SHORT_ESCAPES:
        if raw.encode()[0] in found:
            escaped = pc.replace_substring(escaped, raw, esc)
    for byte in sorted(found & _RARE_CONTROL_BYTES):
        escaped = pc.replace_substring(escaped, chr(byte), f"\\u{byte:04x}")
    return _quote(escaped)


def _b64(value: object) -> str:
    return '"' + base64.b64encode(value).decode("ascii") + '"'  # type: ignore[arg-type]


def _encode_binary(arr: pa.Array) -> pa.Array:
    return _per_value(arr, _b64)


def _uuid_text(value: object) -> str:
    return '"' + str(uuid.UUID(bytes=value)) + '"'  # type: ignore[arg-type]


def _encode_uuid(storage: pa.Array) -> pa.Array:
    return _per_value(storage, _uuid_text)


def _civil_from_days(days: int) -> tuple[int, int, int]:
    """Proleptic Gregorian (year, month, day) of a day count from 1970-01-01, any year.

    Howard Hinnant's algorithm: exact for every int, unlike datetime (years 1-9999).
    """
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month, day


def _iso_year(year: int) -> str:
    # ISO 8601 expanded years: a sign and at least five digits outside 0000-9999.
    if 0 <= year <= 9999:
        return f"{year:04d}"
    return f"{'+' if year > 0 else '-'}{abs(year):05d}"


def iso_date(days: int) -> str:
    year, month, day = _civil_from_days(days)
    return f"{_iso_year(year)}-{month:02d}-{day:02d}"


def iso_timestamp(value: int, unit: str, *, utc: bool) -> str:
    """ISO 8601 text of an epoch count in ``unit`` at that unit's precision."""
    per_second = _UNITS_PER_SECOND[unit]
    seconds, fraction = divmod(value, per_second)
    days, secs = divmod(seconds, 86_400)
    text = f"{iso_date(days)}T{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"
    if digits := _FRACTION_DIGITS[unit]:
        text += f".{fraction:0{digits}d}"
    return text + ("Z" if utc else "")


# Temporal values are formatted with numpy integer arithmetic into fixed-width byte rows
# (about 20x faster than Arrow's strftime); years outside 0000-9999 are patched per value.


def _civil_from_days_np(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised :func:`_civil_from_days`."""
    z = days + 719_468
    era = np.floor_divide(z, 146_097)
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    return yoe + era * 400 + (month <= 2), month, day


class _Layout:
    """Builds fixed-width ASCII rows: literal characters and zero-padded numbers."""

    def __init__(self, rows: int, width: int) -> None:
        self.buf = np.empty((rows, width), dtype=np.uint8)
        self.col = 0

    def text(self, literal: str) -> None:
        for ch in literal.encode("ascii"):
            self.buf[:, self.col] = ch
            self.col += 1

    def number(self, values: np.ndarray, digits: int) -> None:
        values = values.copy()
        for k in range(digits - 1, -1, -1):
            self.buf[:, self.col + k] = values % 10 + 48
            values //= 10
        self.col += digits

    def array(self) -> pa.Array:
        rows, width = self.buf.shape
        offsets = np.arange(0, (rows + 1) * width, width, dtype=np.int32)
        return pa.StringArray.from_buffers(rows, pa.py_buffer(offsets), pa.py_buffer(self.buf))


def _date_layout(layout: _Layout, days: np.ndarray) -> np.ndarray:
    """Write YYYY-MM-DD; returns the mask of rows whose year needs the expanded form."""
    year, month, day = _civil_from_days_np(days)
    outside = (year < 0) | (year > 9999)
    layout.number(np.clip(year, 0, 9999), 4)
    layout.text("-")
    layout.number(month, 2)
    layout.text("-")
    layout.number(day, 2)
    return outside


def _clock_layout(layout: _Layout, nanos_or_units: np.ndarray, unit: str) -> None:
    """Write HH:MM:SS[.fraction] of a count of ``unit`` within one day."""
    per_second = _UNITS_PER_SECOND[unit]
    seconds, fraction = np.divmod(nanos_or_units, per_second)
    layout.number(seconds // 3600, 2)
    layout.text(":")
    layout.number(seconds // 60 % 60, 2)
    layout.text(":")
    layout.number(seconds % 60, 2)
    if digits := _FRACTION_DIGITS[unit]:
        layout.text(".")
        layout.number(fraction, digits)


def _int64_values(arr: pa.Array) -> np.ndarray:
    """The raw counts of a temporal array (nulls as 0), as int64."""
    raw = pa.int32() if arr.type.bit_width == 32 else pa.int64()
    return numpy_views.values(pc.fill_null(arr.view(raw), 0)).astype(np.int64, copy=False)


def _encode_date(arr: pa.Array) -> pa.Array:
    days = _int64_values(arr)
    if pa.types.is_date64(arr.type):
        days = np.floor_divide(days, 86_400_000)
    layout = _Layout(len(arr), 12)
    layout.text('"')
    outside = _date_layout(layout, days)
    layout.text('"')
    text = mask_nulls(arr, layout.array())
    if outside.any():
        mask = numpy_views.array(outside)
        mask = mask if arr.null_count == 0 else pc.and_(mask, pc.is_valid(arr))
        text = _patch(text, mask, numpy_views.array(days), lambda d: '"' + iso_date(d) + '"')  # type: ignore[arg-type]
    return text


def _encode_timestamp(arr: pa.Array) -> pa.Array:
    # The epoch count is the UTC instant whatever zone the column carries, so formatting
    # it needs no time-zone database and ignores the machine's zone.
    unit, utc = arr.type.unit, arr.type.tz is not None
    counts = _int64_values(arr)
    per_day = 86_400 * _UNITS_PER_SECOND[unit]
    days, within = np.divmod(counts, per_day)
    digits = _FRACTION_DIGITS[unit]
    layout = _Layout(len(arr), 21 + (digits + 1 if digits else 0) + utc)
    layout.text('"')
    outside = _date_layout(layout, days)
    layout.text("T")
    _clock_layout(layout, within, unit)
    layout.text('Z"' if utc else '"')
    text = mask_nulls(arr, layout.array())
    if outside.any():
        mask = numpy_views.array(outside)
        mask = mask if arr.null_count == 0 else pc.and_(mask, pc.is_valid(arr))
        text = _patch(text, mask, numpy_views.array(counts), lambda v: '"' + iso_timestamp(v, unit, utc=utc) + '"')  # type: ignore[arg-type]
    return text


def _encode_time(arr: pa.Array) -> pa.Array:
    # 0 <= t <= 24:00:00; exactly 24 h is ISO 8601's end of day, written "24:00:00".
    bad = _bad_time(arr)
    if bad is not None:
        raise InvalidValueError.at(bad[1], column="(time)", row=bad[0])
    unit = arr.type.unit
    digits = _FRACTION_DIGITS[unit]
    layout = _Layout(len(arr), 10 + (digits + 1 if digits else 0))
    layout.text('"')
    _clock_layout(layout, _int64_values(arr), unit)
    layout.text('"')
    return mask_nulls(arr, layout.array())


def _encode_duration(arr: pa.Array) -> pa.Array:
    return pc.cast(pc.cast(arr, pa.int64()), _STRING)  # a count of the column's unit


# --- nested ----------------------------------------------------------------------------


def _filled(fragments: pa.Array) -> pa.Array:
    return pc.fill_null(fragments, _NULL_TEXT) if fragments.null_count else fragments


def _rejoin(offsets: pa.Array, items: pa.Array, large: bool, open_: str, close: str) -> pa.Array:
    lists = (pa.LargeListArray if large else pa.ListArray).from_arrays(offsets, items)
    return _join(open_, pc.binary_join(lists, ","), close)


def _as_list(arr: pa.Array) -> pa.Array:
    """A fixed-size list or list view as a (large) list array with offsets.

    Built from the flattened values and the lengths rather than by a cast: pyarrow 25's
    list_view -> list cast returns a too-short offsets buffer for an all-null array.
    """
    t = arr.type
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_map(t):
        return arr
    lengths = numpy_views.values(pc.fill_null(pc.list_value_length(arr), 0)).astype(np.int64)
    offsets = numpy_views.array(np.concatenate([np.zeros(1, np.int64), np.cumsum(lengths)]))
    mask = pc.is_null(arr) if arr.null_count else None
    return pa.LargeListArray.from_arrays(offsets, pc.list_flatten(arr), pa.large_list(t.value_field), mask=mask)


def _encode_list(arr: pa.Array, opts: ConvertOptions) -> pa.Array:
    arr = _as_list(arr)
    items = _filled(encode_array(arr.values, opts))
    text = _rejoin(arr.offsets, items, pa.types.is_large_list(arr.type), "[", "]")
    return mask_nulls(arr, text)


def _map_key_text(keys: pa.Array, opts: ConvertOptions) -> pa.Array:
    """JSON object keys are strings: string-valued fragments stay, others are quoted."""
    fragments = _filled(encode_array(keys, opts))
    is_string = pc.starts_with(fragments, '"')
    if pc.all(is_string).as_py():
        return fragments
    return pc.if_else(is_string, fragments, _encode_string(fragments))


def _encode_map(arr: pa.MapArray, opts: ConvertOptions) -> pa.Array:
    entries = _join(_map_key_text(arr.keys, opts), ":", _filled(encode_array(arr.items, opts)))
    text = _rejoin(arr.offsets, entries, False, "{", "}")
    return mask_nulls(arr, text)


def encode_object(
    names: Sequence[str], fragments: Sequence[pa.Array], opts: ConvertOptions, *, length: int, suffix: str = ""
) -> pa.Array:
    """Objects with ``names`` as keys, in order; ``suffix`` is appended to each (e.g. "\\n")."""
    keys = [quote_text(name) + ":" for name in names]
    if not fragments:
        return pa.array(["{}" + suffix] * length, _STRING)
    if not opts.drop_nulls:
        parts: list[pa.Array | str] = ["{"]
        for i, (key, fragment) in enumerate(zip(keys, fragments, strict=True)):
            parts += [("," if i else "") + key, fragment]
        # Null fragments become the text null inside the same pass.
        return pc.binary_join_element_wise(
            *parts, "}" + suffix, "", null_handling="replace", null_replacement=_NULL_TEXT
        )
    # Each present member carries a leading comma; the first one is cut off afterwards.
    # (binary_join_element_wise's null_handling="skip" drops rows in pyarrow 25 and 26, so
    # it is not used.)
    members = [pc.fill_null(_join("," + key, fragment), "") for key, fragment in zip(keys, fragments, strict=True)]
    inner = _join(*members) if len(members) > 1 else members[0]
    return _join("{", pc.utf8_slice_codeunits(inner, 1), "}" + suffix)


def _encode_struct(arr: pa.StructArray, opts: ConvertOptions) -> pa.Array:
    names = [arr.type.field(i).name for i in range(arr.type.num_fields)]
    children = arr.flatten()  # honours the parent's slice offset
    text = encode_object(names, [encode_array(c, opts) for c in children], opts, length=len(arr))
    return mask_nulls(arr, text)


# --- dispatch --------------------------------------------------------------------------


def is_uuid_type(t: pa.DataType) -> bool:
    return isinstance(t, pa.BaseExtensionType) and t.extension_name == "arrow.uuid"


def is_iso_timestamp_type(t: pa.DataType) -> bool:
    """INT96 values already rendered as exact ISO text (see etl_lib.input.int96)."""
    return isinstance(t, pa.BaseExtensionType) and t.extension_name == "etl.iso_timestamp"


def _encode_extension(arr: pa.Array, opts: ConvertOptions) -> pa.Array:
    from etl_lib.contract import geo, variant  # they render with this module's rules: imported when used

    if is_uuid_type(arr.type):
        return _encode_uuid(arr.storage)
    if is_iso_timestamp_type(arr.type):
        return _quote(arr.storage)
    if variant.is_json_text_type(arr.type):
        return arr.storage  # already this contract's JSON text
    if variant.is_variant_type(arr.type):
        return variant.to_json(arr, opts, "(variant)").storage
    if geo.is_geometry_type(arr.type):
        return geo.to_text(arr, opts, "(geometry)")
    # Other extensions (JSON, geometry WKB, opaque...) are written as their storage.
    return encode_array(arr.storage, opts)


Encoder = Callable[[pa.Array, ConvertOptions], pa.Array]

ENCODERS: dict[Family, Encoder] = {
    Family.EXTENSION: _encode_extension,
    Family.DICTIONARY: lambda arr, opts: encode_array(arr.dictionary_decode(), opts),
    Family.NULL: lambda arr, opts: pa.nulls(len(arr), _STRING),
    Family.BOOLEAN: lambda arr, opts: _encode_bool(arr),
    Family.INTEGER: _encode_integer,
    Family.FLOAT: _encode_float,
    Family.DECIMAL: _encode_decimal,
    Family.STRING: lambda arr, opts: _encode_string(arr),
    Family.BINARY: lambda arr, opts: _encode_binary(arr),
    Family.DATE: lambda arr, opts: _encode_date(arr),
    Family.TIMESTAMP: lambda arr, opts: _encode_timestamp(arr),
    Family.TIME: lambda arr, opts: _encode_time(arr),
    Family.DURATION: lambda arr, opts: _encode_duration(arr),
    Family.MAP: _encode_map,
    Family.LIST: _encode_list,
    Family.STRUCT: _encode_struct,
}
"""One encoder per type family (etl_lib.contract.type_families)."""


def encode_array(arr: pa.Array | pa.ChunkedArray, opts: ConvertOptions) -> pa.Array:
    """JSON fragments of ``arr``: a string array, null exactly where ``arr`` is null."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return ENCODERS[family_of(arr.type)](arr, opts)


# --- values the contract refuses ------------------------------------------------------


def _first_invalid_utf8(arr: pa.Array) -> int | None:
    """Index of the first string of ``arr`` that is not UTF-8, or None.

    Arrow validates UTF-8 in one vectorised pass; only a failing array is bisected.
    """
    try:
        arr.validate(full=True)
        return None
    except pa.ArrowInvalid:
        pass
    low, high = 0, len(arr)  # invariant: the first bad string is in [low, high)
    while high - low > 1:
        middle = (low + high) // 2
        try:
            arr.slice(low, middle - low).validate(full=True)
            low = middle
        except pa.ArrowInvalid:
            high = middle
    return low


def _bad_time(arr: pa.Array) -> tuple[int, str] | None:
    limit = 86_400 * _UNITS_PER_SECOND[arr.type.unit]
    values = _int64_values(arr)
    bad = (values < 0) | (values > limit)
    if arr.null_count:
        bad &= numpy_views.values(pc.is_valid(arr))
    if not bad.any():
        return None
    row = int(np.argmax(bad))
    return row, f"TIME value {int(values[row])} ({arr.type.unit}) is outside 00:00:00-24:00:00"


def _child_rows(arr: pa.Array) -> tuple[np.ndarray, list[tuple[str, pa.Array]]]:
    """A list-like array's offsets (absolute in its child arrays) and its children."""
    offsets = numpy_views.values(arr.offsets)
    if isinstance(arr, pa.MapArray):
        return offsets, [("key", arr.keys), ("value", arr.items)]
    return offsets, [("[]", arr.values)]


def _find_nested(arr: pa.Array, path: str) -> tuple[BadValueError, int] | None:
    """The first refused value inside a struct, list or map, by the row of ``arr``."""
    found: list[tuple[BadValueError, int]] = []
    t = arr.type
    if pa.types.is_struct(t):
        for i, child in enumerate(arr.flatten()):
            hit = find_bad_value(child, f"{path}.{t.field(i).name}")
            if hit is not None:
                found.append((hit, hit.row))
        return min(found, key=lambda h: h[1]) if found else None
    offsets, kids = _child_rows(_as_list(arr))
    first, last = int(offsets[0]), int(offsets[-1])
    for name, child in kids:
        hit = find_bad_value(child.slice(first, last - first), path + ("" if name == "[]" else ".") + name)
        if hit is not None:
            row = int(np.searchsorted(offsets, first + hit.row, side="right")) - 1
            found.append((hit, row))
    return min(found, key=lambda h: h[1]) if found else None


def find_bad_value(arr: pa.Array, path: str) -> BadValueError | None:
    """The first value of ``arr`` the contract refuses (invalid UTF-8, a TIME outside 0-24 h,
    a malformed variant, WKB that is not a geometry),
    as an error naming the column ``path`` and its row in ``arr``; None if there is none."""
    from etl_lib.contract import geo, variant  # they render with this module's rules: imported when used

    family = family_of(arr.type)
    if family is Family.STRING:
        row = _first_invalid_utf8(arr)
        if row is None:
            return None
        return InvalidUtf8Error.at("is not valid UTF-8", column=path, row=row)
    if family is Family.TIME:
        bad = _bad_time(arr)
        return None if bad is None else InvalidValueError.at(bad[1], column=path, row=bad[0])
    if family is Family.EXTENSION and variant.is_variant_type(arr.type):
        return variant.find_bad_variant(arr, ConvertOptions(), path)
    if family is Family.EXTENSION and geo.is_geometry_type(arr.type):
        return geo.find_bad_geometry(arr, path)
    if family is Family.EXTENSION and not (is_uuid_type(arr.type) or is_iso_timestamp_type(arr.type)):
        return find_bad_value(arr.storage, path)
    if family is Family.DICTIONARY:
        hit = find_bad_value(arr.dictionary, path)
        if hit is None:
            return None
        row = pc.index(arr.indices, pa.scalar(hit.row, arr.indices.type)).as_py()
        return None if row < 0 else hit.at(hit.problem, column=path, row=row)
    if family in NESTED:
        nested = _find_nested(arr, path)
        return None if nested is None else nested[0].at(nested[0].problem, column=nested[0].column, row=nested[1])
    return None


def check_batch(batch: pa.RecordBatch | pa.Table) -> None:
    """Raise the first refused value of ``batch`` (see :func:`find_bad_value`)."""
    hits = []
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        hit = find_bad_value(arr, name)
        if hit is not None:
            hits.append(hit)
    if hits:
        raise min(hits, key=lambda h: h.row)


def encode_lines(batch: pa.RecordBatch | pa.Table, opts: ConvertOptions, *, terminator: str = "\n") -> pa.Array:
    """One JSON object per row of ``batch``, each followed by ``terminator``.

    The result's data buffer is the exact output bytes of the batch, so writers can hand
    it to the sink without another copy (a large string array past 2 GiB).
    """
    # The native encoder (etl_lib.contract.native) writes the same bytes in one pass, refusing what
    # check_batch refuses by handing the batch back; this module's Arrow kernels stay the
    # reference and the fallback where it cannot run.
    lines = native.encode_lines(batch, opts, terminator)
    if lines is not None:
        return lines
    check_batch(batch)
    fragments = [encode_array(column, opts) for column in batch.columns]
    return encode_object(batch.schema.names, fragments, opts, length=batch.num_rows, suffix=terminator)
