"""The local Spark session's executors as the conversion runs them: their Python workers start
from etl_lib's daemon (pyspark compiled from site-packages, the conversion's modules loaded
before the fork), the JVM compiles with C1 only, and the output stays byte for byte the local
engine's."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_lib import convert
from etl_lib.demo import contract_table
from etl_lib.options import Compression, ConvertOptions, OutputFormat
from etl_lib.spark.daemon import installed_pyspark_zips
from etl_lib.spark.session import LEAN_JVM_OPTIONS

pytestmark = pytest.mark.spark


def _worker_state(_: object) -> dict[str, Any]:
    import os
    import sys

    import pyspark

    return {
        "pyspark": pyspark.__file__,
        "zips": [p for p in sys.path if p.endswith(".zip")],
        "preloaded": all(m in sys.modules for m in ("pyarrow", "etl_lib.output.writer", "etl_lib.input.planning")),
        "pool": os.environ.get("ARROW_DEFAULT_MEMORY_POOL"),
        "main": getattr(getattr(sys.modules.get("__main__"), "__spec__", None), "name", None),
    }


def test_executor_workers_run_pyspark_compiled_with_the_conversion_already_imported(spark: Any) -> None:
    (state,) = spark.sparkContext.parallelize([0], 1).map(_worker_state).collect()
    assert state["main"] == "etl_lib.spark.daemon"
    # pyspark from its installed, compiled files: not from the zip Spark put on PYTHONPATH.
    assert ".zip" not in state["pyspark"]
    assert not any(Path(z).name == "pyspark.zip" or Path(z).name.startswith("py4j-") for z in state["zips"])
    assert state["preloaded"]
    assert state["pool"] == "jemalloc"


def test_the_driver_jvm_compiles_with_c1_only_and_one_collector_thread(spark: Any) -> None:
    arguments = list(spark._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments())
    assert set(LEAN_JVM_OPTIONS.split()) <= set(arguments)


def test_only_the_zips_of_a_pip_installed_pyspark_leave_the_path() -> None:
    site = "/venv/lib/python3.13/site-packages"
    lib = f"{site}/pyspark/python/lib"
    path = [f"{lib}/pyspark.zip", f"{lib}/py4j-0.10.9.9-src.zip", site, "/opt/app/deps.zip"]
    assert installed_pyspark_zips(path) == [f"{lib}/pyspark.zip", f"{lib}/py4j-0.10.9.9-src.zip"]
    # A Spark distribution (SPARK_HOME=/opt/spark): its zips are the only pyspark there is.
    dist = ["/opt/spark/python/lib/pyspark.zip", "/opt/spark/python/lib/py4j-0.10.9.9-src.zip", site]
    assert installed_pyspark_zips(dist) == []
    # The installed package's directory not on the path: nothing else to import pyspark from.
    assert installed_pyspark_zips([f"{lib}/pyspark.zip", "/elsewhere"]) == []


@pytest.mark.parametrize(
    "options",
    [
        ConvertOptions(),
        ConvertOptions(format=OutputFormat.JSON, compression=Compression.GZIP, drop_nulls=True),
    ],
    ids=["jsonl", "json-gzip-drop-nulls"],
)
def test_spark_engine_output_is_byte_identical_to_the_local_engine(
    spark: Any, tmp_path: Path, options: ConvertOptions
) -> None:
    # Every contract rule, repeated over several row groups: several slices, several pieces.
    table = pa.concat_tables([contract_table()] * 400)
    src = tmp_path / "contract.parquet"
    pq.write_table(table, src, row_group_size=max(1, table.num_rows // 6))
    local, remote = tmp_path / "local.out", tmp_path / "spark.out"
    convert(str(src), str(local), options, engine="local")
    report = convert(str(src), str(remote), options, engine="spark", spark=spark)
    assert report.rows_out == table.num_rows
    if options.compression is Compression.GZIP:
        # A gzip member a piece (the local engine writes one): the same bytes once decompressed.
        assert gzip.decompress(remote.read_bytes()) == gzip.decompress(local.read_bytes())
    else:
        assert remote.read_bytes() == local.read_bytes()
    assert not list(tmp_path.glob(".*")), "no staging left beside the output"
