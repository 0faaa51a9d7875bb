"""Outputs registered as catalog tables: the Hive columns of a run's JSON Schema held to the
DDL Athena would be given, the Glue adapter on moto's server, and the job service registering
a SUCCEEDED JSON Lines job's table and dropping it with the job (deleted or expired), on the
AWS back end (moto: S3, DynamoDB, Glue) and the local one (the SQLite catalog)."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_lib.conversion import convert
from etl_lib.demo import contract_table
from etl_lib.jobs.catalog import (
    OPENX_SERDE,
    GlueOutputCatalog,
    SqliteOutputCatalog,
    hive_columns,
    table_input,
    table_name,
)
from etl_lib.jobs.models import JobStatus, input_key, output_folder, output_key
from etl_lib.jobs.ports import OutputTable
from etl_lib.jobs.service import JobService
from etl_lib.options import ConvertOptions
from etl_lib.report import RunReport
from tests.jobs.support import AwsResources, api_event, call, s3_event, sqlite_service, write_parquet

# Every type family of the contract (etl_lib.contract.type_families), nullable or not, and
# the names Hive cannot take as they are: the demo file, and what it lacks.
EXPECTED_DDL = """
CREATE EXTERNAL TABLE `etl_outputs`.`job_example` (
  `id` int,
  `id_2` string,
  `int8` tinyint,
  `uint64` decimal(20,0),
  `int64` bigint,
  `float32` double,
  `float64` double,
  `decimal` decimal(38,9),
  `text` string,
  `binary` string,
  `uuid` string,
  `date` string,
  `ts_utc_ms` string,
  `ts_local_us` string,
  `ts_utc_ns` string,
  `time_ms` string,
  `time_ns` string,
  `list` array<bigint>,
  `struct` struct<x:double,label:string>,
  `map` map<string,string>,
  `nested` array<struct<x:double,label:string>>,
  `dotted_name_with_space` string,
  `flag` boolean,
  `nothing` string,
  `uint8` smallint,
  `uint16` int,
  `uint32` bigint,
  `int16` smallint,
  `money` decimal(10,2),
  `wide_decimal` string,
  `category` string,
  `elapsed` bigint,
  `upper_struct` string,
  `_2nd` string,
  `deep` map<string,array<struct<a:array<int>,b:map<string,boolean>>>>
)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES (
  'case.insensitive'='FALSE',
  'mapping.id_2'='ID',
  'mapping.dotted_name_with_space'='dotted.name with space',
  'mapping.upper_struct'='Upper Struct',
  'mapping._2nd'='2nd'
)
LOCATION '{location}'
TBLPROPERTIES ('classification'='json', 'compressionType'='gzip')
"""


def every_family() -> pa.Table:
    """The demo table (every contract rule) and the families and names it does not cover."""
    inner = pa.struct([("a", pa.list_(pa.int32())), ("b", pa.map_(pa.string(), pa.bool_()))])
    deep = pa.map_(pa.string(), pa.list_(inner))
    extra = {
        "flag": pa.array([True, None, False], pa.bool_()),
        "nothing": pa.array([None, None, None], pa.null()),
        "uint8": pa.array([0, None, 255], pa.uint8()),
        "uint16": pa.array([0, None, 65535], pa.uint16()),
        "uint32": pa.array([0, None, 2**32 - 1], pa.uint32()),
        "int16": pa.array([-1, None, 1], pa.int16()),
        "money": pa.array([Decimal("1.50"), None, Decimal("-99999999.99")], pa.decimal128(10, 2)),
        "wide_decimal": pa.array([Decimal("1.25"), None, Decimal(10**47)], pa.decimal256(50, 2)),
        "category": pa.array(["a", None, "b"], pa.string()).dictionary_encode(),
        "elapsed": pa.array([1500, None, 0], pa.duration("ms")),
        "Upper Struct": pa.array([{"Name": "x"}, None, {"Name": None}], pa.struct([("Name", pa.string())])),
        "2nd": pa.array(["a", "b", "c"], pa.string()),
        "deep": pa.array([[("k", [{"a": [1], "b": [("t", True)]}])], None, []], deep),
    }
    table = contract_table()
    for name, column in extra.items():
        table = table.append_column(name, column)
    return table


def ddl_columns(ddl: str) -> list[tuple[str, str]]:
    """The (name, type) pairs of a CREATE EXTERNAL TABLE statement's column list."""
    body = ddl[ddl.index("(\n") + 2 : ddl.index("\n)\nROW FORMAT")]
    return [
        (match.group(1), match.group(2))
        for line in body.splitlines()
        if (match := re.fullmatch(r"\s*`([^`]+)` (.+?),?", line))
    ]


def ddl_serde_properties(ddl: str) -> dict[str, str]:
    block = ddl[ddl.index("WITH SERDEPROPERTIES (") : ddl.index("\n)\nLOCATION")]
    return dict(re.findall(r"'([^']+)'='([^']*)'", block))


@pytest.fixture
def report(tmp_path: Path) -> RunReport:
    """The run report of a gzip JSON Lines conversion of a file of every type family."""
    src = tmp_path / "every.parquet"
    pq.write_table(every_family(), src)
    options = ConvertOptions.from_dict({"compression": "gzip"})
    return convert(str(src), str(tmp_path / "out.jsonl.gz"), options, engine="local")


def test_the_columns_of_a_file_of_every_type_family_are_those_of_the_expected_ddl(report: RunReport) -> None:
    location = "s3://out/outputs/j/a/data/"
    table = OutputTable(
        name="job_example", location=location, columns=hive_columns(report.json_schema), compressed=True
    )
    document = table_input(table)
    ddl = EXPECTED_DDL.replace("{location}", location)
    storage = document["StorageDescriptor"]
    assert [(c["Name"], c["Type"]) for c in storage["Columns"]] == ddl_columns(ddl)
    assert storage["SerdeInfo"]["SerializationLibrary"] == OPENX_SERDE
    serde = {k: v for k, v in storage["SerdeInfo"]["Parameters"].items() if k != "serialization.format"}
    assert serde == ddl_serde_properties(ddl)
    assert storage["Location"] == location
    assert document["TableType"] == "EXTERNAL_TABLE"
    assert {k: document["Parameters"][k] for k in ("classification", "compressionType")} == {
        "classification": "json",
        "compressionType": "gzip",
    }


@pytest.mark.parametrize(
    ("options", "column", "hive"),
    [
        ({"bigint_as_string": True}, "int64", "string"),
        ({"decimal_as_string": True}, "money", "string"),
        ({"nan_as_string": True}, "float64", "string"),
        ({"drop_nulls": True}, "money", "decimal(10,2)"),
    ],
)
def test_a_value_the_options_may_write_as_a_string_is_a_string_column(
    options: dict[str, Any], column: str, hive: str
) -> None:
    from etl_lib.report import json_schema

    schema = json_schema(every_family().schema, ConvertOptions.from_dict(options))
    columns = {c.name: c.type for c in hive_columns(schema)}
    assert columns[column] == hive


@pytest.fixture
def glue_database(aws_env: str) -> str:
    name = f"outputs_{uuid.uuid4().hex[:10]}"
    boto3.client("glue").create_database(DatabaseInput={"Name": name})
    return name


def test_the_glue_catalog_holds_the_table_input_and_drops_it_once(glue_database: str, report: RunReport) -> None:
    catalog = GlueOutputCatalog(boto3.client("glue"), glue_database)
    table = OutputTable(
        name=table_name("0" * 32, "a1"), location="s3://out/x/data/", columns=hive_columns(report.json_schema),
        compressed=True,
    )  # fmt: skip
    catalog.register(table)
    catalog.register(table)  # a retried registration replaces, never fails
    held = catalog.describe(table.name)
    assert held is not None
    expected = table_input(table)
    assert held["StorageDescriptor"]["Columns"] == expected["StorageDescriptor"]["Columns"]
    assert held["StorageDescriptor"]["SerdeInfo"] == expected["StorageDescriptor"]["SerdeInfo"]
    assert held["StorageDescriptor"]["Location"] == "s3://out/x/data/"
    assert held["DatabaseName"] == glue_database
    assert catalog.drop(table.name) is True
    assert catalog.describe(table.name) is None
    assert catalog.drop(table.name) is False


def _status(job_id: str) -> tuple[int, Any]:
    from lambdas.status.handler import handler as status_handler

    return call(status_handler, api_event("GET", f"/jobs/{job_id}"))


def _convert_on_aws(resources: AwsResources, tmp_path: Path, options: dict[str, Any]) -> dict[str, Any]:
    """Upload a file through the API, deliver S3's event, run the Glue script as Glue would."""
    import requests

    from etl_lib.jobs.local import argv_of, load_glue_script
    from lambdas.events.handler import handler as events_handler
    from lambdas.upload.handler import handler as upload_handler
    from tests.jobs.support import FakeLambdaContext

    data = write_parquet(tmp_path / "sales.parquet", rows=20).read_bytes()
    body = {"filename": "sales.parquet", "size": len(data), "options": options}
    status, created = call(upload_handler, api_event("POST", "/jobs", body=body))
    assert status == 201, created
    upload = created["upload"]
    requests.post(upload["url"], data=upload["fields"], files={"file": ("s.parquet", data)}, timeout=30)
    events_handler(s3_event(upload["fields"]["key"], len(data), resources.input_bucket), FakeLambdaContext())
    (run,) = boto3.client("glue").get_job_runs(JobName=resources.glue_job)["JobRuns"]
    argv = ["parquet_to_json.py", *argv_of({"--JOB_NAME": resources.glue_job, **run["Arguments"]})]
    assert load_glue_script().main(argv) == 0
    status, payload = _status(created["job"]["job_id"])
    assert status == 200
    return dict(payload["job"])


@pytest.fixture
def aws_catalog_env(aws_lambda_env: AwsResources, glue_database: str, monkeypatch: pytest.MonkeyPatch) -> str:
    from etl_lib.jobs.settings import service

    monkeypatch.setenv("CATALOG_DATABASE", glue_database)
    service.cache_clear()
    return glue_database


def test_a_succeeded_json_lines_job_on_aws_is_a_table_over_its_own_output_folder_until_deleted(
    aws_lambda_env: AwsResources, aws_catalog_env: str, tmp_path: Path
) -> None:
    from lambdas.status.handler import handler as status_handler

    job = _convert_on_aws(aws_lambda_env, tmp_path, {"compression": "gzip"})
    assert job["status"] == JobStatus.SUCCEEDED
    name = job["catalog_table"]
    glue = boto3.client("glue")
    table = glue.get_table(DatabaseName=aws_catalog_env, Name=name)["Table"]
    location = table["StorageDescriptor"]["Location"]
    assert location.startswith(f"s3://{aws_lambda_env.output_bucket}/outputs/{job['job_id']}/")
    assert location.endswith("/data/")
    # The folder holds the output file and nothing else: a query reads only records.
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
    assert [k.removeprefix(prefix) for k in keys] == ["output.jsonl.gz"]
    assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]] == [
        ("id", "bigint"),
        ("name", "string"),
        ("price", "double"),
    ]
    _, report = call(status_handler, api_event("GET", f"/jobs/{job['job_id']}/report"))
    assert report["report"]["catalog_table"] == name

    status, _ = call(status_handler, api_event("DELETE", f"/jobs/{job['job_id']}"))
    assert status == 204
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_table(DatabaseName=aws_catalog_env, Name=name)


def test_a_json_array_job_is_not_registered(aws_lambda_env: AwsResources, aws_catalog_env: str, tmp_path: Path) -> None:
    job = _convert_on_aws(aws_lambda_env, tmp_path, {"format": "json"})
    assert job["status"] == JobStatus.SUCCEEDED
    assert job.get("catalog_table") is None
    assert boto3.client("glue").get_tables(DatabaseName=aws_catalog_env)["TableList"] == []


def test_an_expired_job_s_table_goes_with_it_on_the_local_stack(local_env: Path, tmp_path: Path) -> None:
    from etl_lib.jobs.settings import service
    from tests.jobs.support import local_upload

    jobs = service()
    src = write_parquet(tmp_path / "sales.parquet")
    job, upload = jobs.create_job("user-a", filename="sales.parquet", size=src.stat().st_size, options=ConvertOptions())
    assert not isinstance(upload, tuple)
    key = local_upload(upload.fields, src.read_bytes())  # type: ignore[union-attr]
    jobs.on_object_created(key)
    done = jobs.jobs.get(job.job_id)
    assert done is not None
    assert done.status is JobStatus.SUCCEEDED
    assert done.catalog_table == table_name(job.job_id, done.attempt or "")
    catalog = SqliteOutputCatalog(local_env / "catalog.db")
    held = catalog.describe(done.catalog_table)
    assert held is not None
    folder = held["StorageDescriptor"]["Location"]
    assert folder == jobs.outputs.uri(output_folder(job.job_id, done.attempt).rstrip("/")) + "/"
    assert [p.name for p in Path(folder).iterdir()] == [Path(output_key(job.job_id, job.options)).name]
    # The download still finds the output in its folder.
    assert jobs.download("user-a", job.job_id).filename == "sales.jsonl"

    assert jobs.sweep_expired(now=(done.expires_at or 0) + 1) == 1
    assert catalog.describe(done.catalog_table) is None


def _queued_job(jobs: JobService, tmp_path: Path) -> str:
    """A job whose upload has arrived (its run recorded, not started)."""
    src = write_parquet(tmp_path / "sales.parquet")
    job, _ = jobs.create_job("user-a", filename="sales.parquet", size=src.stat().st_size, options=ConvertOptions())
    jobs.inputs.put_bytes(input_key(job.job_id), src.read_bytes())
    jobs.on_object_created(input_key(job.job_id))
    return job.job_id


def test_a_catalog_that_refuses_costs_the_table_not_the_job(tmp_path: Path) -> None:
    class Refusing(SqliteOutputCatalog):
        def register(self, table: OutputTable) -> None:
            raise RuntimeError("throttled")

    jobs = sqlite_service(tmp_path / "data")
    jobs.catalog = Refusing(tmp_path / "catalog.db")
    done = jobs.run(_queued_job(jobs, tmp_path), attempt="a1")
    assert done is not None
    assert done.status is JobStatus.SUCCEEDED
    assert done.catalog_table is None
    assert jobs.download("user-a", done.job_id).filename == "sales.jsonl"


def test_a_run_that_lost_its_claim_drops_its_own_table_and_a_duplicate_registers_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from etl_lib import conversion

    jobs = sqlite_service(tmp_path / "data")
    catalog = SqliteOutputCatalog(tmp_path / "catalog.db")
    jobs.catalog = catalog
    job_id = _queued_job(jobs, tmp_path)
    real = conversion.convert

    def taken_over(*args: Any, **kwargs: Any) -> Any:
        report = real(*args, **kwargs)
        held = jobs.jobs.get(job_id)
        assert held is not None
        assert held.lease_expires_at is not None
        # Another attempt takes the job over once this one's lease has lapsed.
        assert jobs.jobs.claim(job_id, attempt="b2", lease_until=held.lease_expires_at + 999,
                               now=held.lease_expires_at + 1) is not None  # fmt: skip
        return report

    monkeypatch.setattr(conversion, "convert", taken_over)
    lost = jobs.run(job_id, attempt="a1")
    assert lost is not None
    assert lost.attempt == "b2"
    assert catalog.describe(table_name(job_id, "a1")) is None

    monkeypatch.setattr(conversion, "convert", real)
    jobs.jobs.transition(job_id, JobStatus.FAILED, {"error": None}, attempt="b2")
    assert jobs.run(job_id, attempt="c3") is not None  # the job has ended: nothing runs
    assert catalog.describe(table_name(job_id, "c3")) is None
