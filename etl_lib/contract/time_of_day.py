"""TIME columns adjusted to UTC: a negative value wraps around midnight.

Some writers store a TIME ``isAdjustedToUTC`` as the local time minus the zone's offset
without wrapping it into the day (Redshift's UNLOAD writes ``-13899000`` ms for 20:08:21
in a zone ahead of UTC). DuckDB and Arrow read such a value modulo one day; the contract
does too, for top-level columns so annotated, before either encoder sees them. A TIME not
adjusted to UTC, and any TIME beyond 24:00:00, stays refused (docs/json-contract.md).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pyarrow as pa

from etl_lib._runtime import numpy_views
from etl_lib._runtime.lazy import lazy_module

if TYPE_CHECKING:
    import numpy as np
    import pyarrow.compute as pc
else:
    np = lazy_module("numpy")
    pc = lazy_module("pyarrow.compute")

# A top-level TIME leaf adjusted to UTC, as pyarrow prints a Parquet schema, e.g.
# "  optional int32 field_id=-1 t (Time(isAdjustedToUTC=true, timeUnit=milliseconds));".
_TOP_LEVEL_UTC_TIME = re.compile(
    r"^  (?:required|optional) int(?:32|64) field_id=-?\d+ (.*) \(Time\(isAdjustedToUTC=true, timeUnit=\w+\)\);$"
)
_PER_DAY = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}


def utc_time_columns(parquet_schema: str) -> tuple[str, ...]:
    """Top-level TIME columns the Parquet schema (pyarrow's text of it) adjusts to UTC."""
    return tuple(m.group(1) for m in map(_TOP_LEVEL_UTC_TIME.match, parquet_schema.splitlines()) if m)


def wrapped(arr: pa.Array) -> pa.Array:
    """``arr`` (a TIME array) with its negative values taken modulo one day."""
    raw = arr.view(pa.int32() if arr.type.bit_width == 32 else pa.int64())
    negative = pc.less(raw, 0)
    if not pc.any(negative).as_py():
        return arr
    values = numpy_views.values(pc.fill_null(raw, 0)).astype(np.int64)
    day = pa.array(np.mod(values, _PER_DAY[arr.type.unit]), pa.int64()).cast(raw.type)
    return pc.if_else(negative, day, raw).view(arr.type)


def wrap_negative_times(batch: pa.RecordBatch, names: tuple[str, ...]) -> pa.RecordBatch:
    """``batch`` with the TIME columns ``names`` wrapped (:func:`wrapped`)."""
    for name in names:
        i = batch.schema.get_field_index(name)
        if i >= 0 and pa.types.is_time(batch.column(i).type):
            batch = batch.set_column(i, batch.schema.field(i), wrapped(batch.column(i)))
    return batch
