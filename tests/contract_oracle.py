"""An independent, deliberately simple reading of docs/json-contract.md, for the tests.

etl_lib.contract renders JSON text with vectorised Arrow kernels; this oracle maps each
Arrow *scalar* to the Python value that the JSON text must parse to, one value at a time,
with the standard library's datetime/base64/uuid. The two agree only if both read the
contract the same way.

Parse outputs with :func:`parse_json` (numbers as int/Decimal, so nothing is rounded).
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

from etl_lib.options import ConvertOptions

MAX_SAFE = 2**53 - 1
_EPOCH = dt.datetime(1970, 1, 1)
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def parse_json(text: str) -> Any:
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

    def __repr__(self) -> str:
        return f"FloatValue({self.value!r}, {self.width})"


def _iso(count: int, unit: str, *, utc: bool) -> str:
    seconds, fraction = divmod(count, _PER_SECOND[unit])
    try:
        text = (_EPOCH + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0")
    except OverflowError:  # beyond datetime's years 1-9999: numpy's calendar, ISO expanded years
        text = str(np.datetime64(seconds, "s"))
        year, rest = text.lstrip("-").split("-", 1)
        text = f"{'-' if text.startswith('-') else '+'}{int(year):05d}-{rest}" if not text.startswith("0") else text
    if unit != "s":
        text += "." + str(fraction).rjust(len(str(_PER_SECOND[unit])) - 1, "0")
    return text + ("Z" if utc else "")


def _key_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def expected(scalar: pa.Scalar, opts: ConvertOptions) -> Any:
    """The parsed JSON value the contract requires for ``scalar``."""
    t = scalar.type
    if not scalar.is_valid:
        return None
    if isinstance(t, pa.BaseExtensionType):
        if t.extension_name == "arrow.uuid":
            return str(uuid.UUID(bytes=scalar.value.as_py()))
        return expected(scalar.value, opts)
    if pa.types.is_dictionary(t):
        return expected(scalar.value, opts)
    if pa.types.is_boolean(t):
        return scalar.as_py()
    if pa.types.is_integer(t):
        v = scalar.as_py()
        if opts.bigint_as_string and t.bit_width == 64 and abs(v) > MAX_SAFE:
            return str(v)
        return v
    if pa.types.is_floating(t):
        v = float(scalar.as_py())
        if math.isfinite(v):
            return FloatValue(v, t.bit_width)
        if not opts.nan_as_string:
            return None
        return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    if pa.types.is_decimal(t):
        v = scalar.as_py()
        return str(v) if opts.decimal_as_string else v
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
        return (dt.date(1970, 1, 1) + dt.timedelta(days=scalar.value)).isoformat()
    if pa.types.is_date64(t):
        return (dt.date(1970, 1, 1) + dt.timedelta(days=scalar.value // 86_400_000)).isoformat()
    if pa.types.is_timestamp(t):
        return _iso(scalar.value, t.unit, utc=t.tz is not None)
    if pa.types.is_time(t):
        return _iso(scalar.value, t.unit, utc=False)[11:]
    if pa.types.is_duration(t):
        return scalar.value
    if pa.types.is_map(t):
        out = {}
        for entry in scalar.values or []:
            out[_key_text(expected(entry["key"], opts))] = expected(entry["value"], opts)
        return out
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return [expected(item, opts) for item in scalar.values]
    if pa.types.is_struct(t):
        return _object([(t.field(i).name, scalar[i]) for i in range(t.num_fields)], opts)
    if pa.types.is_null(t):
        return None
    raise AssertionError(f"oracle has no rule for {t}")


def _object(members: list[tuple[str, pa.Scalar]], opts: ConvertOptions) -> dict[str, Any]:
    out = {}
    for name, value in members:
        if opts.drop_nulls and not value.is_valid:
            continue
        out[name] = expected(value, opts)
    return out


def expected_records(table: pa.Table | pa.RecordBatch, opts: ConvertOptions) -> list[dict[str, Any]]:
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    columns = [c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c for c in table.columns]
    names = table.schema.names
    return [_object([(n, col[i]) for n, col in zip(names, columns, strict=True)], opts) for i in range(table.num_rows)]
