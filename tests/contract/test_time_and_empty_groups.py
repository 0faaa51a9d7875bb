"""Two files real tools write that the contract once refused (docs/json-contract.md):

- a TIME adjusted to UTC holding a negative value wraps around midnight, as DuckDB and Arrow
  read it (Redshift's UNLOAD writes them);
- a group with no fields inside another group is ``{}`` where it is present and ``null``
  where its parent is null, at any depth.

pyarrow writes neither (it marks TIME as not adjusted to UTC, and refuses empty structs),
so the files are written by pyarrow and their footers rewritten (tests/parquet_footer.py).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_lib.contract.reference import encode_lines
from etl_lib.errors import InvalidValueError
from etl_lib.options import ConvertOptions
from tests import hostile
from tests.conftest import Converter
from tests.parquet_footer import FILE_SCHEMA, SCHEMA_NAME, field, read_footer, write_footer

_LOGICAL_TYPE, _TIME_ADJUSTED_TO_UTC = 10, 1


def _adjusted_to_utc(path: Path, column: bytes) -> Path:
    """Mark the TIME column ``column`` of ``path`` isAdjustedToUTC=true in its footer."""
    body, meta = read_footer(path)
    for element in field(meta, FILE_SCHEMA)[2][1]:
        if field(element, SCHEMA_NAME)[2] == column:
            time_type = field(element, _LOGICAL_TYPE)[2][0][2]  # the union's one member: TimeType
            field(time_type, _TIME_ADJUSTED_TO_UTC)[1:] = [1, True]
    write_footer(path, body, meta)
    assert "isAdjustedToUTC=true" in str(pq.ParquetFile(path).schema)
    return path


def _times(path: Path, raw: list[int | None], unit: str, *, utc: bool) -> Path:
    arrow_type = pa.time32(unit) if unit in ("s", "ms") else pa.time64(unit)
    storage = pa.int32() if unit in ("s", "ms") else pa.int64()
    pq.write_table(pa.table({"t": pa.array(raw, storage).view(arrow_type)}), path, store_schema=False)
    return _adjusted_to_utc(path, b"t") if utc else path


def test_a_negative_utc_time_wraps_around_midnight_as_duckdb_and_arrow_read_it(
    tmp_path: Path, run_convert: Converter
) -> None:
    src = _times(tmp_path / "unload.parquet", [-13_899_000, None, 0, -1, 86_400_000, -86_400_001], "ms", utc=True)
    records, _ = run_convert(src)
    assert [r["t"] for r in records] == ["20:08:21.000", None, "00:00:00.000", "23:59:59.999", "24:00:00.000",
                                         "23:59:59.999"]  # fmt: skip
    # Arrow's own reading of the same values (its Python conversion wraps them too).
    arrow = pq.read_table(src).column("t").to_pylist()
    assert arrow[0] == dt.time(20, 8, 21) and arrow[3] == dt.time(23, 59, 59, 999000)


@pytest.mark.parametrize("unit", ["us", "ns"])
def test_negative_utc_times_wrap_at_every_unit(tmp_path: Path, run_convert: Converter, unit: str) -> None:
    per_second = {"us": 10**6, "ns": 10**9}[unit]
    src = _times(tmp_path / "t.parquet", [-13_899 * per_second - 1], unit, utc=True)
    records, _ = run_convert(src)
    assert records[0]["t"] == "20:08:20." + "9" * (6 if unit == "us" else 9)


def test_a_negative_time_not_adjusted_to_utc_is_still_refused(tmp_path: Path, run_convert: Converter) -> None:
    src = _times(tmp_path / "local.parquet", [0, -13_899_000], "ms", utc=False)
    with pytest.raises(InvalidValueError, match="column t, row 1: TIME value -13899000 \\(ms\\) is outside"):
        run_convert(src)


def test_a_utc_time_beyond_the_day_is_still_refused(tmp_path: Path, run_convert: Converter) -> None:
    src = _times(tmp_path / "late.parquet", [86_400_001], "ms", utc=True)
    with pytest.raises(InvalidValueError, match="column t, row 0: TIME value 86400001"):
        run_convert(src)


# --- empty groups inside groups ---------------------------------------------------------


def _leafless_groups(path: Path) -> Path:
    """``s`` holds an empty group ``e`` and a group ``d`` holding an empty group ``f``: no
    leaf below ``s`` at all (what pyarrow's dataset reader reads as a null column)."""
    holder = pa.struct([("dummy", pa.int8())])
    inner = pa.struct([("e", holder), ("d", pa.struct([("f", holder)]))])
    rows = [{"e": {"dummy": 1}, "d": {"f": {"dummy": 1}}}, None]
    pq.write_table(pa.table({"a": [1, 2], "s": pa.array(rows, inner), "b": ["x", "y"]}), path, store_schema=False)
    hostile._drop_leaves(path, {b"e", b"f"}, b"dummy")
    assert str(pq.ParquetFile(path).schema_arrow.field("s").type) == "struct<e: struct<>, d: struct<f: struct<>>>"
    return path


def test_groups_holding_only_empty_groups_are_empty_objects_at_every_depth(
    tmp_path: Path, run_convert: Converter
) -> None:
    src = _leafless_groups(tmp_path / "empty.parquet")
    records, report = run_convert(src)
    # No leaf, so no stored null: present in every row, as a top-level empty group is.
    assert records == [
        {"a": 1, "s": {"e": {}, "d": {"f": {}}}, "b": "x"},
        {"a": 2, "s": {"e": {}, "d": {"f": {}}}, "b": "y"},
    ]
    assert report.json_schema["properties"]["s"]["properties"]["d"]["properties"]["f"]["properties"] == {}
    records, _ = run_convert(src, ConvertOptions(drop_nulls=True))
    assert records[1] == {"a": 2, "s": {"e": {}, "d": {"f": {}}}, "b": "y"}


@pytest.mark.usefixtures("encoder")
def test_a_null_empty_group_is_null_and_a_present_one_is_an_empty_object_at_any_depth() -> None:
    empty = pa.struct([])
    inner = pa.struct([("x", pa.int32()), ("e", empty), ("d", pa.struct([("f", empty)]))])
    rows: list[Any] = [
        {"x": 1, "e": {}, "d": {"f": {}}},
        {"x": 2, "e": None, "d": {"f": None}},
        {"x": 3, "e": {}, "d": None},
        None,
    ]
    table = pa.table({"s": pa.array(rows, inner)})
    assert encode_lines(table, ConvertOptions()).to_pylist() == [
        '{"s":{"x":1,"e":{},"d":{"f":{}}}}\n',
        '{"s":{"x":2,"e":null,"d":{"f":null}}}\n',
        '{"s":{"x":3,"e":{},"d":null}}\n',
        '{"s":null}\n',
    ]
    assert encode_lines(table, ConvertOptions(drop_nulls=True)).to_pylist()[1] == '{"s":{"x":2,"d":{}}}\n'
