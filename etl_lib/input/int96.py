"""INT96 timestamps (legacy Impala/Spark/Hive), read exactly.

Arrow reads an INT96 value either as int64 nanoseconds, which wraps around outside
1677-2262, or as whole seconds. :func:`int96_columns` finds the columns that hold INT96
(once per file, from its footer), :func:`with_int96_as_utc` gives them their type in the
input's schema, and :func:`merge_int96` recovers each value from the two reads: a
``timestamp[ns, UTC]`` when it fits, exact ISO text (:class:`IsoTimestampType`) otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from etl_lib._runtime import numpy_views
from etl_lib._runtime.lazy import lazy_module
from etl_lib.contract.reference import iso_timestamp
from etl_lib.contract.type_families import Family, children, family_of
from etl_lib.errors import UnsupportedTypeError

if TYPE_CHECKING:
    import numpy as np
    import pyarrow.compute as pc
else:  # loaded on first use: the native encoder's path never needs them
    np = lazy_module("numpy")
    pc = lazy_module("pyarrow.compute")

_NS_PER_SECOND = 1_000_000_000


def int96_columns(pf: pq.ParquetFile) -> tuple[str, ...]:
    """Top-level columns holding INT96 values, at any depth (legacy Impala/Spark/Hive
    timestamps).

    Called once per file by :func:`~etl_lib.input.planning.open_input`, and carried to the
    readers in each :class:`~etl_lib.input.planning.Slice`: building ``pf.schema`` costs (and,
    in pyarrow 25 and 26, keeps) megabytes on wide footers, so doing it per slice made memory
    grow with the row groups read.
    (Column-chunk metadata is no cheaper alternative: reading it from an encrypted file
    with a plaintext footer crashes pyarrow.)
    """
    names: list[str] = []
    for i in range(len(pf.schema)):
        column = pf.schema.column(i)
        top = column.path.split(".")[0]
        if column.physical_type == "INT96" and top not in names:
            names.append(top)
    return tuple(names)


def _int96_type(ns_type: pa.DataType, s_type: pa.DataType) -> pa.DataType:
    """The type of a column read twice (INT96 as ns, then as s), INT96 leaves as UTC."""
    if ns_type == s_type:
        return ns_type
    if pa.types.is_timestamp(ns_type):
        return pa.timestamp("ns", "UTC")
    ns_children, s_children = children(ns_type), children(s_type)
    fields = [a.with_type(_int96_type(a.type, b.type)) for a, b in zip(ns_children, s_children, strict=True)]
    if pa.types.is_struct(ns_type):
        return pa.struct(fields)
    if pa.types.is_map(ns_type):
        return pa.map_(fields[0], fields[1])
    return pa.large_list(fields[0]) if pa.types.is_large_list(ns_type) else pa.list_(fields[0])


def with_int96_as_utc(schema: pa.Schema, seconds_schema: pa.Schema, int96: tuple[str, ...]) -> pa.Schema:
    for name in int96:
        i = schema.get_field_index(name)
        merged = _int96_type(schema.field(i).type, seconds_schema.field(name).type)
        schema = schema.set(i, schema.field(i).with_type(merged))
    return schema


# INT96 is a Julian day (int32) and the nanoseconds of that day (int64). Arrow reads both as
# unsigned and its int64-nanosecond read wraps around; the exact instant T it denotes
# *as Arrow reads it* is recovered from two reads (below), then undone to the signed fields
# and to Spark's own overflow:
_DAY_NS = 86_400 * _NS_PER_SECOND
_JULIAN_EPOCH_DAY = 2_440_588  # Julian day of 1970-01-01
_NEGATIVE_DAYS_FROM = (2**31 - _JULIAN_EPOCH_DAY) * _DAY_NS  # T from a day field >= 2**31
_SPARK_MIN_NS = -(2**63) * 1000  # Spark's earliest instant (its microseconds are an int64)
_NEGATIVE_NANOS = 2**64 % 1000  # T mod 1000 when the nanos field is negative (Spark: whole micros)


def int96_instant(t: int) -> int:
    """Nanoseconds since the epoch of an INT96 value that Arrow reads as ``t``.

    - A day field >= 2**31 is a negative int32 (days before 4714 BC, written by Spark),
      which Arrow took as unsigned: 2**32 days too many.
    - Spark writes the nanoseconds of the day as a negative number for instants before
      Julian day 0 (its division truncates towards zero); Arrow took them as unsigned:
      2**64 ns too many. Spark's nanoseconds are whole microseconds, so a remainder of
      2**64 mod 1000 = 616 ns marks them; other writers keep nanoseconds in [0, 1 day).
    - Spark computes ``micros + 2440588 days`` in int64, which wraps for instants in its
      last 2440588 days (years ~287,600-294,247): a result earlier than Spark's earliest
      instant is that wrap, undone by adding 2**64 microseconds.

    Arrow reads every value whose day field is 0 as 0 (1970-01-01T00:00:00): instants
    within a day either side of 4714-11-24 BC cannot be recovered from its reads.
    """
    if t >= _NEGATIVE_DAYS_FROM:
        t -= 2**32 * _DAY_NS
        if t % 1000 == _NEGATIVE_NANOS:
            t -= 2**64
    if t < _SPARK_MIN_NS:
        t += 2**64 * 1000
    return t


def _int96_iso(seconds: pa.Array, wrapped_ns: pa.Array) -> pa.Array:
    """Exact ISO text of INT96 values from two lossy reads.

    Arrow reads INT96 either as int64 nanoseconds, which wraps around outside 1677-2262,
    or as whole seconds (floor). The nanoseconds of the second are recovered modulo 2**64
    from the wrapped read, which is exact because they lie in [0, 1e9).
    """
    valid = numpy_views.values(pc.is_valid(seconds))
    secs = numpy_views.values(pc.fill_null(pc.cast(seconds, pa.int64()), 0))
    ns = numpy_views.values(pc.fill_null(pc.cast(wrapped_ns, pa.int64()), 0))
    with np.errstate(over="ignore"):
        frac = (ns.astype(np.uint64) - (secs.astype(np.uint64) * np.uint64(_NS_PER_SECOND))).astype(np.int64)
    texts: list[str | None] = []
    for ok, s, f in zip(valid.tolist(), secs.tolist(), frac.tolist(), strict=True):
        texts.append(iso_timestamp(int96_instant(s * _NS_PER_SECOND + f), "ns", utc=True) if ok else None)
    return pa.array(texts, pa.string())


# Seconds Arrow reads for INT96 values whose instant fits int64 nanoseconds as it is read.
_FAST_SECONDS = (-9_223_372_035, 9_223_372_035)


def _int96_column(seconds: pa.Array, wrapped_ns: pa.Array) -> pa.Array:
    """INT96 as timestamp[ns, UTC] when it fits (virtually always), exact text otherwise."""
    secs = pc.cast(seconds, pa.int64())
    low, high = pc.min_max(secs).values()
    if low.as_py() is None or (low.as_py() >= _FAST_SECONDS[0] and high.as_py() <= _FAST_SECONDS[1]):
        return pc.cast(pc.cast(wrapped_ns, pa.int64()), pa.timestamp("ns", "UTC"))
    return pa.ExtensionArray.from_storage(IsoTimestampType(), _int96_iso(seconds, wrapped_ns))


def merge_int96(ns_arr: pa.Array, s_arr: pa.Array) -> pa.Array:
    """``ns_arr`` with each INT96 leaf (a timestamp read as ns here, as s in ``s_arr``)
    replaced by its exact value; nested columns are rebuilt around the new leaves."""
    if ns_arr.type == s_arr.type:
        return ns_arr
    family = family_of(ns_arr.type)
    if family is Family.TIMESTAMP:
        return _int96_column(s_arr, ns_arr)
    mask = pc.is_null(ns_arr) if ns_arr.null_count else None
    if family is Family.STRUCT:
        merged = [merge_int96(a, b) for a, b in zip(ns_arr.flatten(), s_arr.flatten(), strict=True)]
        fields = [ns_arr.type.field(i).with_type(m.type) for i, m in enumerate(merged)]
        return pa.StructArray.from_arrays(merged, fields=fields, mask=mask)
    if family is Family.MAP:
        keys, items = merge_int96(ns_arr.keys, s_arr.keys), merge_int96(ns_arr.items, s_arr.items)
        return pa.MapArray.from_arrays(ns_arr.offsets, keys, items, mask=mask)
    if family is Family.LIST and (pa.types.is_list(ns_arr.type) or pa.types.is_large_list(ns_arr.type)):
        values = merge_int96(ns_arr.values, s_arr.values)
        cls = pa.LargeListArray if pa.types.is_large_list(ns_arr.type) else pa.ListArray
        return cls.from_arrays(ns_arr.offsets, values, mask=mask)
    raise UnsupportedTypeError(f"INT96 timestamps inside Arrow type {ns_arr.type} are not supported")


class IsoTimestampType(pa.ExtensionType):
    """A timestamp already rendered as exact ISO 8601 text (INT96 beyond year 2262)."""

    def __init__(self) -> None:
        super().__init__(pa.string(), "etl.iso_timestamp")

    def __arrow_ext_serialize__(self) -> bytes:
        return b""

    @classmethod
    def __arrow_ext_deserialize__(cls, storage_type: pa.DataType, serialized: bytes) -> IsoTimestampType:
        return cls()
