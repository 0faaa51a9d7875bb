"""A second, independent reading of the JSON contract, one value at a time.

:mod:`etl_lib.contract.reference` renders whole columns with Arrow kernels and numpy; this module
maps one Arrow *scalar* at a time to the Python value its JSON text must parse to
(numbers parsed as ``int``/``Decimal`` by :func:`parse_json`, so nothing is rounded),
with the standard library's datetime/base64/uuid and none of the encoder's code. The
validation notebook compares a sample of output records with these values, and the test
suite (tests/contract_oracle.py) compares every record of the conformance corpus and of
the property tests: the two agree only if both read docs/json-contract.md the same way.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import uuid
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa

from etl_lib.contract.geo import GEOMETRY_EXTENSION
from etl_lib.contract.geo import to_text as geometry_text
from etl_lib.options import ConvertOptions

MAX_SAFE_INTEGER = 2**53 - 1
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def parse_json(text: str) -> Any:
    """JSON text -> Python, with numbers as ``int`` / ``Decimal`` (exact)."""
    return json.loads(text, parse_float=Decimal, parse_int=int)


class FloatValue:
    """Equal to a parsed JSON number that reads back as exactly this float at its width."""

    def __init__(self, value: float, width: int) -> None:
        self.value, self.width = value, width

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, int | Decimal):
            return False
        if self.width == 16:
            return bool(np.float16(str(other)) == np.float16(self.value))
        if self.width == 32:
            return bool(np.float32(str(other)) == np.float32(self.value))
        return float(str(other)) == self.value

    def __hash__(self) -> int:
        return hash((self.value, self.width))

    def __repr__(self) -> str:
        return f"FloatValue({self.value!r}, {self.width})"


_EPOCH = dt.datetime(1970, 1, 1)


def _expanded(text: str) -> str:
    """numpy's text of a year outside 0-9999 in ISO 8601 expanded form (sign, 5+ digits)."""
    negative = text.startswith("-")
    year, rest = text.lstrip("-").split("-", 1)
    return f"{'-' if negative else '+'}{int(year):05d}-{rest}"


def _date_text(days: int) -> str:
    try:
        return (_EPOCH.date() + dt.timedelta(days=days)).isoformat()
    except OverflowError:  # beyond datetime's years 1-9999: numpy's calendar
        return _expanded(str(np.datetime64(days, "D")))


def _iso(count: int, unit: str, *, utc: bool) -> str:
    seconds, fraction = divmod(count, _PER_SECOND[unit])
    try:
        text = (_EPOCH + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0")
    except OverflowError:
        text = str(np.datetime64(seconds, "s"))
        if not text.startswith("0"):
            text = _expanded(text)
    if unit != "s":
        text += "." + str(fraction).rjust(len(str(_PER_SECOND[unit])) - 1, "0")
    return text + ("Z" if utc else "")


def _key_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _map_key(key: pa.Scalar, opts: ConvertOptions) -> str:
    """A map key as the contract writes it: a string's text, else the value's JSON text
    (a geometry's is the contract's own compact text, not json.dumps's spacing)."""
    t = key.type
    if isinstance(t, pa.BaseExtensionType) and t.extension_name == GEOMETRY_EXTENSION:
        text = geometry_text(pa.array([key.value.as_py()], pa.binary()), opts, "")[0].as_py()
        return str(json.loads(text)) if text.startswith('"') else text
    return _key_text(expected(key, opts))


def expected(scalar: pa.Scalar, opts: ConvertOptions) -> Any:  # noqa: C901, PLR0912
    """The parsed JSON value the contract requires for ``scalar``."""
    t = scalar.type
    if not scalar.is_valid:
        return None
    if isinstance(t, pa.BaseExtensionType):
        if t.extension_name == "arrow.uuid":
            return str(uuid.UUID(bytes=scalar.value.as_py()))
        if t.extension_name == GEOMETRY_EXTENSION:
            # No WKB reader ships with the library but its own: the reference parser checks
            # the native encoder's geometry here, as the contract tests check it against shapely.
            return parse_json(geometry_text(pa.array([scalar.value.as_py()], pa.binary()), opts, "")[0].as_py())
        return expected(scalar.value, opts)
    if pa.types.is_dictionary(t):
        return expected(scalar.value, opts)
    if pa.types.is_null(t):
        return None
    if pa.types.is_boolean(t):
        return scalar.as_py()
    if pa.types.is_integer(t):
        v = scalar.as_py()
        if opts.bigint_as_string and t.bit_width == 64 and abs(v) > MAX_SAFE_INTEGER:
            return str(v)
        return v
    if pa.types.is_floating(t):
        f = float(scalar.as_py())
        if math.isfinite(f):
            return FloatValue(f, t.bit_width)
        if not opts.nan_as_string:
            return None
        return "NaN" if math.isnan(f) else ("Infinity" if f > 0 else "-Infinity")
    if pa.types.is_decimal(t):
        d = scalar.as_py()
        return str(d) if opts.decimal_as_string else d
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return scalar.as_py()
    if (
        pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_fixed_size_binary(t)
        or pa.types.is_binary_view(t)
    ):
        return base64.b64encode(scalar.as_py()).decode("ascii")
    if pa.types.is_date32(t):
        return _date_text(scalar.value)
    if pa.types.is_date64(t):
        return _date_text(scalar.value // 86_400_000)
    if pa.types.is_timestamp(t):
        return _iso(scalar.value, t.unit, utc=t.tz is not None)
    if pa.types.is_time(t):
        if scalar.value == 86_400 * _PER_SECOND[t.unit]:  # ISO 8601's end of day
            return "24" + _iso(0, t.unit, utc=False)[13:]
        return _iso(scalar.value, t.unit, utc=False)[11:]
    if pa.types.is_duration(t):
        return scalar.value
    if pa.types.is_map(t):
        return {_map_key(e["key"], opts): expected(e["value"], opts) for e in scalar.values or []}
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return [expected(item, opts) for item in scalar.values]
    if pa.types.is_struct(t):
        return expected_object([(t.field(i).name, scalar[i]) for i in range(t.num_fields)], opts)
    raise ValueError(f"no round-trip rule for Arrow type {t}")


def expected_object(members: list[tuple[str, pa.Scalar]], opts: ConvertOptions) -> dict[str, Any]:
    return {name: expected(value, opts) for name, value in members if not (opts.drop_nulls and not value.is_valid)}


def expected_records(table: pa.Table | pa.RecordBatch, opts: ConvertOptions) -> list[dict[str, Any]]:
    """The parsed records the contract requires for every row of ``table``."""
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    columns = [c.combine_chunks() for c in table.columns]
    names = table.schema.names
    return [
        expected_object([(n, col[i]) for n, col in zip(names, columns, strict=True)], opts)
        for i in range(table.num_rows)
    ]


def expected_record(batch: pa.RecordBatch, row: int, opts: ConvertOptions) -> dict[str, Any]:
    """The parsed record the contract requires for row ``row`` of ``batch``."""
    return expected_object([(name, batch.column(i)[row]) for i, name in enumerate(batch.schema.names)], opts)


def _shown(value: Any) -> str:
    """A value as a reason shows it: numbers as their JSON text, the rest as ``repr``."""
    if isinstance(value, FloatValue):
        return repr(value.value)
    if isinstance(value, Decimal):
        return str(value)
    return repr(value)


def differences(actual: Any, wanted: Any, path: str = "$") -> list[str]:
    """Where a parsed record differs from the expected one (JSONPath-like locations)."""
    if isinstance(wanted, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {actual!r}"]
        out = [f"{path}: unexpected member {k!r}" for k in actual if k not in wanted]
        for key, value in wanted.items():
            if key not in actual:
                out.append(f"{path}: missing member {key!r}")
            else:
                out += differences(actual[key], value, f"{path}.{key}")
        return out
    if isinstance(wanted, list):
        if not isinstance(actual, list) or len(actual) != len(wanted):
            return [f"{path}: expected {len(wanted)} items, got {actual!r}"]
        return [
            d for i, (a, w) in enumerate(zip(actual, wanted, strict=True)) for d in differences(a, w, f"{path}[{i}]")
        ]
    if isinstance(wanted, bool) or isinstance(actual, bool):
        same = type(actual) is type(wanted) and actual == wanted
        return [] if same else [f"{path}: {_shown(actual)} != {_shown(wanted)}"]
    return [] if wanted == actual else [f"{path}: {_shown(actual)} != {_shown(wanted)}"]
