"""A small Parquet file exercising every rule of the JSON contract.

``python -m etl_lib.demo PATH`` writes it; ``make convert-demo`` converts it, the tests
and notebooks use :func:`contract_table` as their edge-case fixture.
"""

from __future__ import annotations

import datetime as dt
import sys
import uuid
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq

UTC = dt.UTC


def contract_table() -> pa.Table:
    """Three rows per column: a typical value, a null, and an edge case."""
    point = pa.struct([("x", pa.float64()), ("label", pa.string())])
    columns = {
        "id": pa.array([1, 2, 3], pa.int32()),
        "ID": pa.array(["upper", "case", "twin"], pa.string()),  # 'ID' and 'id' are two columns
        "int8": pa.array([-128, None, 127], pa.int8()),
        "uint64": pa.array([0, None, 2**64 - 1], pa.uint64()),
        "int64": pa.array([2**53 - 1, None, -(2**63)], pa.int64()),
        "float32": pa.array([0.1, None, float("nan")], pa.float32()),
        "float64": pa.array([1e-300, float("inf"), -0.0], pa.float64()),
        "decimal": pa.array(
            [Decimal("12345678901234567890.123456789"), None, Decimal("-0.000000001")], pa.decimal128(38, 9)
        ),
        "text": pa.array(['quote " backslash \\ tab \t', None, "nul \x00 line sep \u2028 emoji 😀"], pa.string()),
        "binary": pa.array([b"\x00\xffPAR1", None, b""], pa.binary()),
        "uuid": pa.array([uuid.UUID("12345678-1234-5678-9abc-def012345678").bytes, None, bytes(16)], pa.uuid()),
        "date": pa.array([dt.date(2024, 2, 29), None, dt.date(1, 1, 1)], pa.date32()),
        "ts_utc_ms": pa.array(
            [dt.datetime(2024, 1, 1, 12, tzinfo=UTC), None, dt.datetime(1582, 10, 4, tzinfo=UTC)],
            pa.timestamp("ms", "UTC"),
        ),
        "ts_local_us": pa.array(
            [dt.datetime(2024, 1, 1, 12, 0, 0, 123456), None, dt.datetime(9999, 12, 31, 23, 59, 59)], pa.timestamp("us")
        ),
        "ts_utc_ns": pa.array([1_700_000_000_123_456_789, None, -1], pa.timestamp("ns", "UTC")),
        "time_ms": pa.array([dt.time(23, 59, 59, 999000), None, dt.time(0, 0)], pa.time32("ms")),
        "time_ns": pa.array([1, None, 86_399_999_999_999], pa.time64("ns")),
        "list": pa.array([[1, None, 3], None, []], pa.list_(pa.int64())),
        "struct": pa.array([{"x": 1.5, "label": "a"}, None, {"x": None, "label": None}], point),
        "map": pa.array([[(1, "one"), (2, None)], None, []], pa.map_(pa.int32(), pa.string())),
        "nested": pa.array([[{"x": 0.5, "label": "p"}], [None], None], pa.list_(point)),
        "dotted.name with space": pa.array(["a", "b", "c"], pa.string()),
    }
    return pa.table(columns)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m etl_lib.demo PATH", file=sys.stderr)
        return 2
    pq.write_table(contract_table(), argv[0])
    print(f"wrote {argv[0]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
