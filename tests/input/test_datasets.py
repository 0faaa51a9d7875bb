"""Datasets as inputs: a folder read recursively, hidden names skipped, ``key=value`` folders as
columns typed as Spark types them, files in path order, the files' columns united."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_lib.cli import main
from etl_lib.conversion import convert
from etl_lib.errors import InputTooLargeError, SchemaConflictError
from etl_lib.input.dataset import infer_partitions
from etl_lib.input.planning import open_input
from etl_lib.options import Compression, ConvertOptions, Limits, OutputFormat
from tests.conftest import Converter

NAN = pytest.approx(float("nan"), nan_ok=True)


def _write(path: Path, table: pa.Table) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_folder_is_read_recursively_skipping_names_that_start_with_an_underscore_or_a_dot(tmp_path: Path) -> None:
    root = tmp_path / "sales"
    _write(root / "a" / "part-0.parquet", pa.table({"n": [1]}))
    _write(root / "a" / "b" / "part-1.parquet", pa.table({"n": [2]}))
    _write(root / "_temporary" / "part-9.parquet", pa.table({"n": [9]}))
    _write(root / ".hidden" / "part-8.parquet", pa.table({"n": [8]}))
    (root / "_SUCCESS").write_bytes(b"")
    (root / "a" / ".part-0.parquet.crc").write_bytes(b"not parquet")
    (root / "_metadata").write_bytes(b"not parquet either")
    parquet = open_input(str(root))
    assert [Path(f.uri).relative_to(root).as_posix() for f in parquet.files] == [
        "a/b/part-1.parquet",
        "a/part-0.parquet",
    ]
    assert convert(str(root), str(tmp_path / "out.jsonl"), engine="local").rows_out == 2


def test_files_come_in_partition_path_order_then_by_name(tmp_path: Path) -> None:
    root = tmp_path / "events"
    for day, name, n in [("2024-02", "b.parquet", 4), ("2024-01", "b.parquet", 2), ("2024-01", "a.parquet", 1)]:
        _write(root / f"month={day}" / name, pa.table({"n": [n]}))
    convert(str(root), str(tmp_path / "out.jsonl"), engine="local")
    assert [r["n"] for r in _lines(tmp_path / "out.jsonl")] == [1, 2, 4]


def test_hive_folders_become_columns_after_the_files_own(tmp_path: Path) -> None:
    root = tmp_path / "sales"
    _write(root / "cat=fred" / "catnum=1" / "part-0.parquet", pa.table({"amount": [1.5, 2.5]}))
    _write(root / "cat=jim" / "catnum=2" / "part-0.parquet", pa.table({"amount": [3.0]}))
    _write(root / "cat=__HIVE_DEFAULT_PARTITION__" / "catnum=3" / "part-0.parquet", pa.table({"amount": [4.0]}))
    report = convert(str(root), str(tmp_path / "out.jsonl"), engine="local")
    assert _lines(tmp_path / "out.jsonl") == [
        {"amount": 4.0, "cat": None, "catnum": 3},
        {"amount": 1.5, "cat": "fred", "catnum": 1},
        {"amount": 2.5, "cat": "fred", "catnum": 1},
        {"amount": 3.0, "cat": "jim", "catnum": 2},
    ]
    # The run report's schemas hold the partition columns, typed.
    assert report.arrow_schema.splitlines()[-2:] == ["cat: string", "catnum: int32"]
    assert "catnum" in json.dumps(report.json_schema)
    assert [part.file for part in report.parts][:2] == [
        "cat=__HIVE_DEFAULT_PARTITION__/catnum=3/part-0.parquet",
        "cat=fred/catnum=1/part-0.parquet",
    ]


PARTITION_CASES: list[tuple[list[str], pa.DataType, list[Any]]] = [
    (["1", "-2", "007"], pa.int32(), [1, -2, 7]),
    (["1", "2147483648"], pa.int64(), [1, 2147483648]),
    (["1", "99999999999999999999"], pa.decimal128(20, 0), [decimal.Decimal(1), decimal.Decimal(10**20 - 1)]),
    (["1.5", "2"], pa.float64(), [1.5, 2.0]),
    (["2147483648", "1.5"], pa.string(), ["2147483648", "1.5"]),
    (["2024-01-01", "2024-12-31"], pa.date32(), [dt.date(2024, 1, 1), dt.date(2024, 12, 31)]),
    (
        ["2024-01-01 10:00:00", "2024-01-01%2010%3A00%3A00.5"],
        pa.timestamp("us", tz="UTC"),
        [dt.datetime(2024, 1, 1, 10, tzinfo=dt.UTC), dt.datetime(2024, 1, 1, 10, 0, 0, 500000, tzinfo=dt.UTC)],
    ),
    (["abc", "01"], pa.string(), ["abc", "01"]),
    (["abc", "1.50"], pa.string(), ["abc", "1.50"]),
    (["1e3", "2"], pa.decimal128(10, 0), [decimal.Decimal(1000), decimal.Decimal(2)]),
    (
        ["2024-01-01", "2024-01-01%2010%3A00%3A00"],
        pa.timestamp("us", tz="UTC"),
        [dt.datetime(2024, 1, 1, tzinfo=dt.UTC), dt.datetime(2024, 1, 1, 10, tzinfo=dt.UTC)],
    ),
    (["NaN", "Infinity", " 5", "1.5d"], pa.float64(), [NAN, float("inf"), 5.0, 1.5]),
    (["1", "2024-01-01"], pa.string(), ["1", "2024-01-01"]),
    (["2024-1-1", "2024-13-45", "2024-01-01T10:0"], pa.string(), ["2024-1-1", "2024-13-45", "2024-01-01T10:0"]),
    (["__HIVE_DEFAULT_PARTITION__", "3"], pa.int32(), [None, 3]),
    (["__HIVE_DEFAULT_PARTITION__"], pa.null(), [None]),
    (["a%2Fb", "c"], pa.string(), ["a/b", "c"]),
]
"""Folder values, the type Spark gives their column, and each value as that type holds it."""


@pytest.mark.parametrize(("values", "arrow_type", "typed"), PARTITION_CASES)
def test_partition_values_are_typed_as_spark_types_them(
    values: list[str], arrow_type: pa.DataType, typed: list[Any]
) -> None:
    schema, rows = infer_partitions(["k"], [[v] for v in values])
    assert schema.field("k").type == arrow_type
    assert [row[0] for row in rows] == typed


SPARK_TYPES = {
    "int": pa.int32(),
    "bigint": pa.int64(),
    "double": pa.float64(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "string": pa.string(),
    "void": pa.null(),
}


def _from_spark(value: Any) -> Any:
    """A value Spark collected (a naive datetime in the session's zone, UTC) as ours are."""
    return value.replace(tzinfo=dt.UTC) if isinstance(value, dt.datetime) else value


def test_spark_reads_each_partition_folder_as_the_dataset_types_it(spark: Any, tmp_path: Path) -> None:
    for case, (values, arrow_type, typed) in enumerate(PARTITION_CASES):
        root = tmp_path / f"case{case}"
        for i, value in enumerate(values):
            _write(root / f"k={value}" / "p.parquet", pa.table({"x": [i]}))
        frame = spark.read.parquet(str(root))
        spark_type = frame.schema["k"].dataType.simpleString()
        expected = pa.decimal128(*map(int, spark_type[8:-1].split(","))) if spark_type.startswith("decimal") else None
        assert (expected or SPARK_TYPES[spark_type]) == arrow_type, values
        assert [_from_spark(row["k"]) for row in frame.orderBy("x").collect()] == typed, values
        assert open_input(str(root)).schema.field("k").type == arrow_type


def test_files_with_different_columns_are_united_with_nulls_where_a_file_lacks_one(
    tmp_path: Path, run_convert: Converter
) -> None:
    root = tmp_path / "parts"
    _write(root / "a.parquet", pa.table({"id": [1], "x": ["first"]}))
    _write(root / "b.parquet", pa.table({"id": [2], "y": [2.5]}))
    records, report = run_convert(root)
    assert records == [{"id": 1, "x": "first", "y": None}, {"id": 2, "x": None, "y": 2.5}]
    assert report.arrow_schema.splitlines() == ["id: int64", "x: string", "y: double"]


def test_a_column_typed_differently_by_two_files_is_refused_in_one_line_naming_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "parts"
    _write(root / "day=1" / "a.parquet", pa.table({"n": [1]}))
    _write(root / "day=2" / "a.parquet", pa.table({"n": ["x"]}))
    assert main(["convert", "--engine", "local", str(root), str(tmp_path / "out.jsonl")]) == 1
    assert capsys.readouterr().err == (
        "etl convert: error: column n is int64 in day=1/a.parquet but string in day=2/a.parquet (SCHEMA_CONFLICT)\n"
    )
    assert not (tmp_path / "out.jsonl").exists()


def test_files_under_different_partition_folders_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "parts"
    _write(root / "day=1" / "a.parquet", pa.table({"n": [1]}))
    _write(root / "b.parquet", pa.table({"n": [2]}))
    with pytest.raises(SchemaConflictError, match=r"day=1/a.parquet is partitioned by \(day\) but b.parquet"):
        open_input(str(root))


def test_a_partition_column_that_a_file_also_holds_is_refused(tmp_path: Path) -> None:
    _write(tmp_path / "parts" / "day=1" / "a.parquet", pa.table({"day": [1]}))
    with pytest.raises(SchemaConflictError, match=r"partition column day is also a column of day=1/a.parquet"):
        open_input(str(tmp_path / "parts"))


def test_the_footer_limits_apply_to_each_file_of_a_dataset(tmp_path: Path) -> None:
    root = tmp_path / "parts"
    _write(root / "a=1" / "narrow.parquet", pa.table({"c0": [0]}))
    _write(root / "a=2" / "wide.parquet", pa.table({f"c{i}": [i] for i in range(5)}))
    with pytest.raises(InputTooLargeError, match=r"wide.parquet has 5 columns; the limit is 3"):
        open_input(str(root), Limits(max_columns=3))


def test_a_dataset_converts_with_every_option_and_keeps_its_partition_columns(
    tmp_path: Path, run_convert: Converter
) -> None:
    root = tmp_path / "sales"
    _write(root / "year=2024" / "p.parquet", pa.table({"v": pa.array([1, None], pa.int64())}))
    _write(root / "year=2025" / "p.parquet", pa.table({"v": pa.array([3], pa.int64())}))
    records, _ = run_convert(
        root, ConvertOptions(format=OutputFormat.JSON, compression=Compression.GZIP, drop_nulls=True)
    )
    assert records == [{"v": 1, "year": 2024}, {"year": 2024}, {"v": 3, "year": 2025}]


def test_partition_values_of_every_inferred_type_are_written_as_the_same_columns_in_a_file_would_be(
    tmp_path: Path, run_convert: Converter
) -> None:
    folders = (
        "d=2024-01-31/t=2024-01-31%2010%3A00%3A00.25/big=99999999999999999999/x=1.5/s=a%2Fb"
        "/z=__HIVE_DEFAULT_PARTITION__"
    )
    _write(tmp_path / "sales" / folders / "p.parquet", pa.table({"n": [1, 2]}))
    records, _ = run_convert(tmp_path / "sales")
    # The same values as a file's own columns, of the types the folders were given.
    typed = pa.table(
        {
            "n": [1, 2],
            "d": pa.array([dt.date(2024, 1, 31)] * 2, pa.date32()),
            "t": pa.array([dt.datetime(2024, 1, 31, 10, 0, 0, 250000, tzinfo=dt.UTC)] * 2, pa.timestamp("us", "UTC")),
            "big": pa.array([decimal.Decimal(10**20 - 1)] * 2, pa.decimal128(20, 0)),
            "x": pa.array([1.5] * 2, pa.float64()),
            "s": pa.array(["a/b"] * 2, pa.string()),
            "z": pa.nulls(2, pa.null()),
        }
    )
    pq.write_table(typed, tmp_path / "typed.parquet")
    expected, _ = run_convert(tmp_path / "typed.parquet", dest=tmp_path / "typed.jsonl")
    assert records == expected
    assert open_input(str(tmp_path / "sales")).schema.equals(typed.schema)
