"""A Spark-written hive-partitioned dataset (``_SUCCESS`` and ``.crc`` files beside its parts)
converted from a local folder, an ``s3://`` prefix and a ``glue://`` catalog table on moto's
server, by both engines: the same bytes each time, the records DuckDB's hive reading gives.

DuckDB reads the local folder (its S3 support is an extension it would download): the S3
and catalog copies hold the very same files.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
import duckdb
import pyarrow as pa
import pytest

from etl_lib.cli import main
from etl_lib.conversion import convert
from etl_lib.input.planning import read_slice
from etl_lib.notebook.explore import describe
from tests.contract_oracle import parse_json

CATS = ("fred", "jim", "sheila")
PARQUET_TABLE: dict[str, Any] = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
}


@pytest.fixture(scope="module")
def layout(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2000 rows written by Spark, partitioned by ``cat`` (a string) and ``catnum`` (an int)."""
    root = tmp_path_factory.mktemp("layout") / "sales"
    rows = [(i, f"item {i}", i * 0.25 if i % 7 else None, CATS[i % 3], i % 4 + 1) for i in range(2000)]
    frame = spark.createDataFrame(rows, "id long, item string, amount double, cat string, catnum int")
    frame.repartition(2).write.partitionBy("cat", "catnum").parquet(str(root))
    names = {p.name for p in root.rglob("*")}
    assert "_SUCCESS" in names and any(n.startswith(".") and n.endswith(".crc") for n in names)
    return root


def _duckdb(root: Path, where: str = "") -> list[dict[str, Any]]:
    """DuckDB's hive reading, rows in file path order and each file's row order."""
    relation = duckdb.sql(
        f"SELECT * EXCLUDE (filename, file_row_number) FROM read_parquet('{root}/**/*.parquet', "
        f"hive_partitioning = true, filename = true, file_row_number = true) {where} "
        "ORDER BY filename, file_row_number"
    )
    assert relation is not None
    return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


def _records(path: Path) -> list[dict[str, Any]]:
    return [parse_json(line) for line in path.read_text().splitlines()]


def _etl_spark(src: str, dest: Path, *extra: str) -> None:
    """``etl convert --engine spark`` in a process of its own: its Spark executors read S3
    from the environment it starts with (this process's Spark started before moto's)."""
    result = subprocess.run(
        [sys.executable, "-m", "etl_lib.cli", "convert", "--engine", "spark", src, str(dest), *extra],
        capture_output=True,
        text=True,
        timeout=600,
        env=os.environ.copy(),
    )
    assert result.returncode == 0, result.stderr


def test_a_spark_written_folder_converts_to_duckdbs_hive_records_with_both_engines(
    layout: Path, spark: Any, tmp_path: Path
) -> None:
    local, on_spark = tmp_path / "local.jsonl", tmp_path / "spark.jsonl"
    report = convert(str(layout), str(local), engine="local")
    convert(str(layout), str(on_spark), engine="spark", spark=spark)
    assert local.read_bytes() == on_spark.read_bytes()
    expected = _duckdb(layout)
    assert len(expected) == report.rows_out == 2000
    assert _records(local) == expected
    assert list(_records(local)[0]) == ["id", "item", "amount", "cat", "catnum"]
    assert report.arrow_schema.splitlines()[-2:] == ["cat: string", "catnum: int32"]


@pytest.fixture
def on_s3(layout: Path, aws_env: str) -> str:
    """The layout's every file (``_SUCCESS`` and ``.crc`` included) under a prefix of a new bucket."""
    bucket = f"lake-{uuid.uuid4().hex[:10]}"
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket)
    for path in sorted(layout.rglob("*")):
        if path.is_file():
            s3.upload_file(str(path), bucket, f"sales/{path.relative_to(layout).as_posix()}")
    return bucket


def test_an_s3_prefix_converts_like_the_local_folder_with_both_engines(
    layout: Path, on_s3: str, tmp_path: Path
) -> None:
    local, on_spark = tmp_path / "local.jsonl", tmp_path / "spark.jsonl"
    convert(f"s3://{on_s3}/sales/", str(local), engine="local")
    _etl_spark(f"s3://{on_s3}/sales", on_spark)
    assert local.read_bytes() == on_spark.read_bytes()
    assert _records(local) == _duckdb(layout)


def _catalog(bucket: str, layout: Path) -> tuple[str, str]:
    """A database and a partitioned Parquet table over the layout's S3 copy, one catalog
    partition per ``cat=…/catnum=…`` folder."""
    glue: Any = boto3.client("glue")  # the table's input as plain dicts, not the stubs' TypedDicts
    database = f"lake_{uuid.uuid4().hex[:8]}"
    glue.create_database(DatabaseInput={"Name": database})
    location = f"s3://{bucket}/sales/"
    glue.create_table(
        DatabaseName=database,
        TableInput={
            "Name": "sales",
            "TableType": "EXTERNAL_TABLE",
            "StorageDescriptor": {
                "Columns": [
                    {"Name": "id", "Type": "bigint"},
                    {"Name": "item", "Type": "string"},
                    {"Name": "amount", "Type": "double"},
                ],
                "Location": location,
                **PARQUET_TABLE,
            },
            "PartitionKeys": [{"Name": "cat", "Type": "string"}, {"Name": "catnum", "Type": "int"}],
        },
    )
    for folder in sorted(p for p in layout.glob("cat=*/catnum=*") if p.is_dir()):
        cat, catnum = folder.parent.name.split("=")[1], folder.name.split("=")[1]
        glue.create_partition(
            DatabaseName=database,
            TableName="sales",
            PartitionInput={
                "Values": [cat, catnum],
                "StorageDescriptor": {"Location": f"{location}cat={cat}/catnum={catnum}/", **PARQUET_TABLE},
            },
        )
    return database, "sales"


def test_a_catalog_table_converts_like_the_folder_and_a_partition_filter_reads_only_its_partitions(
    layout: Path, on_s3: str, tmp_path: Path
) -> None:
    database, table = _catalog(on_s3, layout)
    local, on_spark = tmp_path / "local.jsonl", tmp_path / "spark.jsonl"
    report = convert(f"glue://{database}/{table}", str(local), engine="local")
    _etl_spark(f"glue://{database}/{table}", on_spark)
    assert local.read_bytes() == on_spark.read_bytes()
    assert _records(local) == _duckdb(layout)
    assert report.arrow_schema.splitlines()[-2:] == ["cat: string", "catnum: int32"]

    fred = tmp_path / "fred.jsonl"
    args = ["convert", "--engine", "local", f"glue://{database}/{table}", str(fred)]
    assert main([*args, "--partition-filter", "cat = 'fred'"]) == 0
    assert _records(fred) == _duckdb(layout, "WHERE cat = 'fred'")
    # The notebooks' helper reads the same table.
    jim = describe(f"glue://{database}/{table}", partition_filter="cat = 'jim' AND catnum > 1")
    assert jim.rows == len(_duckdb(layout, "WHERE cat = 'jim' AND catnum > 1")) > 0
    assert pa.Table.from_batches(b for s in jim.plan() for b in read_slice(s)).column("catnum").to_pylist()[0] > 1


@pytest.mark.parametrize("missing", ["table", "database"])
def test_a_missing_catalog_table_or_database_is_one_line_input_not_found(
    missing: str, aws_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = f"lake_{uuid.uuid4().hex[:8]}"
    boto3.client("glue").create_database(DatabaseInput={"Name": database})
    src = f"glue://{database}/nope" if missing == "table" else "glue://no_such_database/sales"
    assert main(["convert", "--engine", "local", src, str(tmp_path / "out.jsonl")]) == 1
    assert capsys.readouterr().err == (
        f"etl convert: error: {src} does not exist in the Glue Data Catalog (INPUT_NOT_FOUND)\n"
    )
    assert not (tmp_path / "out.jsonl").exists()
