"""TIME columns adjusted to UTC: a negative value wraps around midnight.

Some writers store a TIME ``isAdjustedToUTC`` as the local time minus the zone's offset
without wrapping it into the day (Redshift's UNLOAD writes ``-13899000`` ms for 20:08:21
in a zone ahead of UTC). DuckDB and Arrow read such a value modulo one day; the contract
does too, for every TIME leaf so annotated at any depth (in structs, lists and maps, found
by :mod:`etl_lib.contract.leaves`), before either encoder sees them. A TIME not
adjusted to UTC, and any TIME beyond 24:00:00, stays refused (docs/json-contract.md).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pyarrow as pa

from etl_lib._runtime import numpy_views
from etl_lib._runtime.lazy import lazy_module
from etl_lib.contract.leaves import AnnotatedLeaves, annotated_leaves, with_leaf_arrays

if TYPE_CHECKING:
    import numpy as np
    import pyarrow.compute as pc
else:
    np = lazy_module("numpy")
    pc = lazy_module("pyarrow.compute")

# A TIME leaf adjusted to UTC, as pyarrow prints it after the field id, e.g.
# "t (Time(isAdjustedToUTC=true, timeUnit=milliseconds))".
_UTC_TIME = re.compile(r".* \(Time\(isAdjustedToUTC=true, timeUnit=\w+\)\)", re.DOTALL)
_PER_DAY = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}


def utc_time_columns(parquet_schema: str) -> AnnotatedLeaves:
    """The TIME leaves, at any depth, that the Parquet schema (pyarrow's text of it) adjusts to UTC."""
    return annotated_leaves(parquet_schema, _UTC_TIME)


def wrapped(arr: pa.Array) -> pa.Array:
    """``arr`` (a TIME array) with its negative values taken modulo one day."""
    raw = arr.view(pa.int32() if arr.type.bit_width == 32 else pa.int64())
    negative = pc.less(raw, 0)
    if not pc.any(negative).as_py():
        return arr
    values = numpy_views.values(pc.fill_null(raw, 0)).astype(np.int64)
    day = pa.array(np.mod(values, _PER_DAY[arr.type.unit]), pa.int64()).cast(raw.type)
    return pc.if_else(negative, day, raw).view(arr.type)


def wrap_negative_times(batch: pa.RecordBatch, leaves: AnnotatedLeaves) -> pa.RecordBatch:
    """``batch`` with the TIME ``leaves`` (:func:`utc_time_columns`) wrapped (:func:`wrapped`)."""
    indices = leaves.of(batch.schema)
    if not indices:
        return batch

    def wrap(k: int, arr: pa.Array) -> pa.Array | None:
        if k not in indices or not pa.types.is_time(arr.type):
            return None
        day = wrapped(arr)
        return None if day is arr else day  # none negative: the containers are not rebuilt

    return with_leaf_arrays(batch, wrap)
