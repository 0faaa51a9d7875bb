"""The unchanged glue_pyspark kernel on `etl sessions` behaves like Glue where notebooks
notice: plain spark.read / df.write on s3:// (the endpoint's moto), the Spark UI, %matplot,
a failing cell's output and traceback, and glueContext's Data Catalog reads."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import nbformat
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_devstack.sessions.server import Endpoint
from etl_lib.notebook.runner import NotebookFailed, run_notebook
from tests.devstack.sessions.conftest import REGION
from tests.devstack.sessions.test_glue_kernel_notebooks import _notebook, _session_of, _texts

if TYPE_CHECKING:
    from types_boto3_glue.type_defs import ColumnTypeDef, StorageDescriptorTypeDef

pytestmark = [pytest.mark.xdist_group("glue-sessions"), pytest.mark.timeout(900)]


def _bucket(endpoint: Endpoint, tmp_path: Path) -> tuple[Any, str]:
    s3 = boto3.client("s3", endpoint_url=endpoint.url, region_name=REGION)
    bucket = f"lake-{tmp_path.name.lower().replace('_', '-')}"[:63]
    s3.create_bucket(Bucket=bucket)
    return s3, bucket


def _session_notebook(tmp_path: Path, *cells: str) -> Path:
    """A Glue notebook of ``cells`` after the cell that applies the session config."""
    return _notebook(tmp_path, "%load_ext etl_lib.notebook.session_config", *cells)


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def test_plain_spark_reads_and_writes_s3_and_serves_its_ui_on_a_session(
    glue_kernel: str, glue_endpoint: Endpoint, tmp_path: Path
) -> None:
    s3, bucket = _bucket(glue_endpoint, tmp_path)
    out = f"s3://{bucket}/out/evens"
    for part, numbers in enumerate((range(30), range(30, 50))):
        s3.put_object(Bucket=bucket, Key=f"in/part-{part}.parquet", Body=_parquet(pa.table({"n": list(numbers)})))
    cells = [
        f'df = spark.read.parquet("s3://{bucket}/in/")',
        'print("rows", df.count(), "sum", df.agg({"n": "sum"}).first()[0])',
        f'df.filter("n % 2 = 0").withColumn("even", df.n % 4 == 0).write.partitionBy("even").parquet("{out}")',
        f'back = spark.read.parquet("{out}")\nprint("back", back.count(), sorted(back.columns))',
        f'try:\n    df.write.parquet("{out}")\nexcept Exception as exc:\n    print("refused:", exc)',
        f'df.limit(3).write.mode("overwrite").json("{out}")\nprint("now", spark.read.json("{out}").count())',
        "import urllib.request\nui = spark.sparkContext.uiWebUrl\n"
        "print('ui', urllib.request.urlopen(ui + '/jobs/').status, ui)",
    ]
    source = _session_notebook(tmp_path, *cells)
    executed = run_notebook(source, tmp_path / "out.ipynb", kernel=glue_kernel)

    text = "\n".join(_texts(executed))
    assert "rows 50 sum 1225" in text
    assert "back 25 ['even', 'n']" in text
    assert "refused: [PATH_ALREADY_EXISTS]" in text
    assert "now 3" in text
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix="out/evens/")["Contents"]]
    assert keys and all(key.endswith((".json", "_SUCCESS")) for key in keys), keys
    ui = re.search(r"ui 200 (http://127\.0\.0\.1:\d+)", text)
    assert ui, text
    log = glue_endpoint.manager.work_dir / _session_of(executed) / "session.log"
    assert f"Spark UI: {ui.group(1)}" in log.read_text(encoding="utf-8")


def test_a_failing_cell_keeps_its_printed_output_and_shows_its_traceback(
    glue_kernel: str, glue_endpoint: Endpoint, tmp_path: Path
) -> None:
    code = "def ratio(a, b):\n    return a / b\n\nprint('computed so far: 41')\nratio(1, 0)"
    source = _session_notebook(tmp_path, code)
    with pytest.raises(NotebookFailed) as failed:
        run_notebook(source, tmp_path / "out.ipynb", kernel=glue_kernel)

    cell = nbformat.read(tmp_path / "out.ipynb", as_version=4).cells[failed.value.errors[0].cell]
    shown = "".join(o.get("text", "") for o in cell.outputs)
    assert (
        "ZeroDivisionError: division by zero\ncomputed so far: 41\nTraceback (most recent call last):\n"
        '  File "<stdin>", line 5, in <module>\n  File "<stdin>", line 2, in ratio\nZeroDivisionError: division by zero'
    ) in shown
    assert failed.value.errors[0].source_line == "def ratio(a, b):"
    assert failed.value.errors[0].message == "ZeroDivisionError: division by zero"


def test_matplot_shows_the_figure_as_a_png_on_a_session(
    glue_kernel: str, glue_endpoint: Endpoint, tmp_path: Path
) -> None:
    plot = "import matplotlib.pyplot as plt\nprint('plotting')\nplt.plot([1, 2, 3])\n%matplot plt"
    source = _session_notebook(tmp_path, plot)
    executed = run_notebook(source, tmp_path / "out.ipynb", kernel=glue_kernel)

    outputs = executed.cells[-1].outputs
    images = [o.data["image/png"] for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 1
    assert base64.b64decode(images[0]).startswith(b"\x89PNG\r\n\x1a\n")
    assert any("plotting" in o.get("text", "") for o in outputs)


def test_glue_context_reads_a_partitioned_catalog_table_on_a_session(
    glue_kernel: str, glue_endpoint: Endpoint, tmp_path: Path
) -> None:
    s3, bucket = _bucket(glue_endpoint, tmp_path)
    glue = boto3.client("glue", endpoint_url=glue_endpoint.url, region_name=REGION)
    database = f"lake_{tmp_path.name.lower()}"[:60]
    glue.create_database(DatabaseInput={"Name": database})

    def storage(location: str) -> StorageDescriptorTypeDef:
        return {
            "Columns": [{"Name": "amount", "Type": "bigint"}],
            "Location": location,
            "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
        }

    keys: list[ColumnTypeDef] = [{"Name": "cat", "Type": "string"}, {"Name": "catnum", "Type": "int"}]
    glue.create_table(
        DatabaseName=database,
        TableInput={"Name": "sales", "PartitionKeys": keys, "StorageDescriptor": storage(f"s3://{bucket}/sales/")},
    )
    for cat, catnum, amounts in (("fred", 1, [1, 2, 3]), ("joe", 2, [10, 20])):
        folder = f"sales/cat={cat}/catnum={catnum}/"
        s3.put_object(Bucket=bucket, Key=folder + "part-0.parquet", Body=_parquet(pa.table({"amount": amounts})))
        s3.put_object(Bucket=bucket, Key=folder + "_SUCCESS", Body=b"")
        glue.create_partition(
            DatabaseName=database,
            TableName="sales",
            PartitionInput={"Values": [cat, str(catnum)], "StorageDescriptor": storage(f"s3://{bucket}/{folder}")},
        )
    source = _session_notebook(
        tmp_path,
        f'dyf = glueContext.create_dynamic_frame.from_catalog(database="{database}", table_name="sales")\n'
        "df = dyf.toDF()\nprint('dtypes', df.dtypes)\n"
        "print('rows', dyf.count(), sorted(tuple(r) for r in df.collect()))",
        f'joe = glueContext.create_data_frame.from_catalog(database="{database}", table_name="sales", '
        "push_down_predicate=\"cat = 'joe'\")\nprint('joe', joe.count())",
    )
    executed = run_notebook(source, tmp_path / "out.ipynb", kernel=glue_kernel)

    text = "\n".join(_texts(executed))
    assert "dtypes [('amount', 'bigint'), ('cat', 'string'), ('catnum', 'int')]" in text
    assert "rows 5 [(1, 'fred', 1), (2, 'fred', 1), (3, 'fred', 1), (10, 'joe', 2), (20, 'joe', 2)]" in text
    assert "joe 2" in text
