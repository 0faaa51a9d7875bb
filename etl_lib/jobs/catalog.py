"""Outputs registered as tables: the Hive types of a run's JSON Schema, and the catalogs.

A SUCCEEDED JSON Lines job (gzip too) becomes one external table over its own output folder
(``outputs/<job>/<attempt>/data/``, which holds only that file), read by the OpenX JSON SerDe,
so Athena (or any Hive-compatible engine) can query the result. The columns come from the run
report's JSON Schema (:func:`etl_lib.report.json_schema`) by the mapping table of
``docs/catalog.md``; :func:`table_input` is the Glue ``TableInput`` of a table.

:class:`GlueOutputCatalog` registers in the AWS Glue Data Catalog (a boto3 ``glue`` client);
:class:`SqliteOutputCatalog` is the local stack's catalog: the same ``TableInput`` documents
in a SQLite file of the data directory, so ``etl up`` keeps (and drops) exactly the tables
the deployed stack would, and a test can read them back.

Written by hand, not with a library: no maintained package maps a JSON Schema to Hive types
(the JSON Schema here is our own, from the contract, and only its few shapes occur).
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from etl_lib.contract.annotations import DECIMAL_ANNOTATION
from etl_lib.jobs.ports import Column, ListedTable, OutputCatalog, OutputTable

OPENX_SERDE = "org.openx.data.jsonserde.JsonSerDe"
TEXT_INPUT_FORMAT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
HIVE_MAX_DECIMAL_PRECISION = 38
GLUE_MAX_TYPE_LENGTH = 131_072
"""Glue's longest column type string; a longer nested type is registered as ``string``."""
TABLE_PREFIX = "job_"
# What GlueOutputCatalog calls: a run registers (and on failure drops) its attempt's table;
# deleting a job drops its tables. The stack and a run's session policy grant exactly these.
REGISTER_ACTIONS = ("glue:CreateTable", "glue:DeleteTable", "glue:GetTable")
DROP_ACTIONS = ("glue:DeleteTable",)
# The reconciler's sweep (etl_lib.jobs.reconcile.sweep_tables) lists tables and drops those
# whose job is gone or expired.
SWEEP_ACTIONS = ("glue:GetTables", "glue:DeleteTable")
GLUE_PAGE_SIZE = 100
"""GetTables' largest page."""
# A job's table name: the prefix, the job id (32 hex digits, models.new_job_id) and the attempt.
_JOB_TABLE = re.compile(rf"^{TABLE_PREFIX}([0-9a-f]{{32}})_[0-9a-z]+$")

# A Hive column or struct field name that needs no quoting or mapping.
_PLAIN_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_UNSAFE = re.compile(r"[^a-z0-9_]")


def table_name(job_id: str, attempt: str) -> str:
    """A job attempt's table: each attempt registers its own, so a duplicate run that lost
    its claim can only ever drop its own table, never the one of the run that published."""
    return f"{TABLE_PREFIX}{job_id}_{attempt}".lower()


def job_of_table(name: str) -> str | None:
    """The job id a table of :func:`table_name` belongs to; None for any other table (one a
    person added to the database is never the sweep's to drop)."""
    match = _JOB_TABLE.fullmatch(name)
    return match.group(1) if match else None


def job_tables_pattern(first: str = "") -> str:
    """The regular expression of the jobs' tables (whose job id starts with ``first``)."""
    return f"{TABLE_PREFIX}{first}.*"


def _without_null(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """The schema of a nullable value's non-null values (report.py adds null one of two ways)."""
    kind = schema.get("type")
    if isinstance(kind, list) and "null" in kind and len(kind) > 1:
        rest = [t for t in kind if t != "null"]
        return {**schema, "type": rest[0] if len(rest) == 1 else rest}
    options = schema.get("anyOf")
    if isinstance(options, list):
        present = [o for o in options if o != {"type": "null"}]
        if len(present) == 1 and len(present) < len(options):
            return present[0]
    return schema


def _integer_type(schema: Mapping[str, Any]) -> str:
    """The narrowest Hive integer holding the schema's bounds (bigint without bounds: a
    duration's count)."""
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is None or high is None:
        return "bigint"
    for hive, bits in (("tinyint", 8), ("smallint", 16), ("int", 32), ("bigint", 64)):
        if -(2 ** (bits - 1)) <= low and high <= 2 ** (bits - 1) - 1:
            return hive
    return "decimal(20,0)"  # UINT64: beyond bigint, exact as a decimal


def _decimal_type(schema: Mapping[str, Any]) -> str:
    annotation = schema.get(DECIMAL_ANNOTATION)
    if not isinstance(annotation, Mapping):
        return "double"  # a float
    precision, scale = int(annotation["precision"]), int(annotation["scale"])
    if scale < 0:  # Hive has no negative scale: the same values as whole numbers
        precision, scale = precision - scale, 0
    if precision > HIVE_MAX_DECIMAL_PRECISION:
        return "string"  # Hive's decimal stops at 38 digits; the text is exact
    return f"decimal({precision},{scale})"


def _object_type(schema: Mapping[str, Any]) -> str:
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        if not properties or not all(_PLAIN_NAME.fullmatch(name) for name in properties):
            # struct<> is not Hive, and a nested key Hive cannot name exactly (capitals,
            # dots, spaces...) would read as null: the value's JSON text is faithful.
            return "string"
        return "struct<" + ",".join(f"{name}:{hive_type(sub)}" for name, sub in properties.items()) + ">"
    values = schema.get("additionalProperties")
    if isinstance(values, Mapping):
        return f"map<string,{hive_type(values)}>"
    return "string"


def hive_type(schema: Mapping[str, Any]) -> str:
    """The Hive type of one value of JSON Schema ``schema`` (a schema of etl_lib.report):
    the mapping table of docs/catalog.md."""
    schema = _without_null(schema)
    kind = schema.get("type")
    if kind == "boolean":
        return "boolean"
    if kind == "integer":
        return _integer_type(schema)
    if kind == "number":
        return _decimal_type(schema)
    if kind == "array":
        return f"array<{hive_type(schema.get('items', {}))}>"
    if kind == "object":
        return _object_type(schema)
    # Strings (dates, times and timestamps as the contract writes them, base64, UUIDs, and
    # the --*-as-string options' values), a VARIANT (any JSON), null, and any mix: text.
    return "string"


def hive_columns(json_schema: Mapping[str, Any]) -> tuple[Column, ...]:
    """The columns of a record schema: lowercase Hive names (other characters replaced by
    ``_``, a duplicate suffixed), each reading its JSON key (the SerDe's ``mapping.``)."""
    columns: list[Column] = []
    taken: set[str] = set()
    for key, schema in json_schema.get("properties", {}).items():
        base = _UNSAFE.sub("_", key.lower())
        base = base if base and not base[0].isdigit() else f"_{base}"
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        taken.add(name)
        kind = hive_type(schema)
        columns.append(Column(name=name, type=kind if len(kind) <= GLUE_MAX_TYPE_LENGTH else "string", key=key))
    return tuple(columns)


def table_input(table: OutputTable) -> dict[str, Any]:
    """The Glue ``TableInput`` of ``table``: an external table, text files read by the OpenX
    JSON SerDe with case-sensitive keys (the contract keeps ``ID`` and ``id`` apart)."""
    serde: dict[str, str] = {"serialization.format": "1", "case.insensitive": "FALSE"}
    serde.update({f"mapping.{c.name}": c.key for c in table.columns if c.name != c.key})
    return {
        "Name": table.name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "EXTERNAL": "TRUE",
            "classification": "json",
            "compressionType": "gzip" if table.compressed else "none",
            "typeOfData": "file",
        },
        "StorageDescriptor": {
            "Columns": [{"Name": c.name, "Type": c.type} for c in table.columns],
            "Location": table.location,
            "InputFormat": TEXT_INPUT_FORMAT,
            "OutputFormat": TEXT_OUTPUT_FORMAT,
            "Compressed": table.compressed,
            "SerdeInfo": {"SerializationLibrary": OPENX_SERDE, "Parameters": serde},
        },
    }


class GlueOutputCatalog(OutputCatalog):
    """Tables in one database of the AWS Glue Data Catalog (boto3 ``glue`` client)."""

    def __init__(self, client: Any, database: str) -> None:
        self.client = client
        self.database = database

    def register(self, table: OutputTable) -> None:
        document = table_input(table)
        try:
            self.client.create_table(DatabaseName=self.database, TableInput=document)
        except self.client.exceptions.AlreadyExistsException:
            # Only this attempt writes this name, so a table already there is this output's,
            # registered by a retried call; anything else under the name is not ours to replace.
            held = self.describe(table.name)
            if held is None or held["StorageDescriptor"]["Location"] != table.location:
                raise

    def drop(self, name: str) -> bool:
        try:
            self.client.delete_table(DatabaseName=self.database, Name=name)
        except self.client.exceptions.EntityNotFoundException:
            return False
        return True

    def describe(self, name: str) -> dict[str, Any] | None:
        try:
            table: dict[str, Any] = self.client.get_table(DatabaseName=self.database, Name=name)["Table"]
        except self.client.exceptions.EntityNotFoundException:
            return None
        return table

    def listed(self, pattern: str, *, limit: int) -> list[ListedTable]:
        pages = self.client.get_paginator("get_tables").paginate(
            DatabaseName=self.database,
            Expression=pattern,
            PaginationConfig={"MaxItems": limit, "PageSize": min(limit, GLUE_PAGE_SIZE)},
        )
        listed = [
            ListedTable(name=table["Name"], created_at=_epoch(table.get("CreateTime")))
            for page in pages
            for table in page["TableList"]
        ]
        return listed[:limit]


def _epoch(moment: Any) -> float:
    return float(moment.timestamp()) if moment is not None else 0.0


class SqliteOutputCatalog(OutputCatalog):
    """The local stack's catalog: each table's Glue ``TableInput`` in a SQLite file.

    Not a no-op: ``etl up`` has no Glue, but a job's table must still exist while the job
    does and go with it, so the web app names a table that is really kept, and the service's
    catalog rules run (and are tested) the same way on both back ends.
    """

    def __init__(self, path: str | Path, database: str = "etl_outputs") -> None:
        self.path = Path(path)
        self.database = database
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS tables (name TEXT PRIMARY KEY, table_input TEXT NOT NULL)")
            # When each table was registered, as Glue's CreateTime (a file made before it
            # existed gets the column, its tables counting as the oldest).
            columns = {row[1] for row in db.execute("PRAGMA table_info(tables)")}
            if "created_at" not in columns:
                try:
                    db.execute("ALTER TABLE tables ADD COLUMN created_at REAL NOT NULL DEFAULT 0")
                except sqlite3.OperationalError as exc:  # another process added it meanwhile
                    if "duplicate column" not in str(exc):
                        raise

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.create_function("regexp_full", 2, _full_match, deterministic=True)
        return db

    def register(self, table: OutputTable) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO tables (name, table_input, created_at) VALUES (?, ?, ?)",
                (table.name, json.dumps(table_input(table)), time.time()),
            )

    def drop(self, name: str) -> bool:
        with self._connect() as db:
            return db.execute("DELETE FROM tables WHERE name = ?", (name,)).rowcount > 0

    def describe(self, name: str) -> dict[str, Any] | None:
        with self._connect() as db:
            row = db.execute("SELECT table_input FROM tables WHERE name = ?", (name,)).fetchone()
        return None if row is None else {"DatabaseName": self.database, **json.loads(row[0])}

    def listed(self, pattern: str, *, limit: int) -> list[ListedTable]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT name, created_at FROM tables WHERE regexp_full(?, name) ORDER BY name LIMIT ?", (pattern, limit)
            ).fetchall()
        return [ListedTable(name=name, created_at=created) for name, created in rows]


def _full_match(pattern: str, name: str) -> bool:
    return re.fullmatch(pattern, name) is not None


def catalog_from_spec(spec: str) -> OutputCatalog:
    """``glue:DATABASE`` (boto3's ``glue`` client, honouring AWS_ENDPOINT_URL) or
    ``sqlite:PATH`` (the local stack's catalog file)."""
    kind, _, where = spec.partition(":")
    if kind == "glue" and where:
        import boto3

        return GlueOutputCatalog(boto3.client("glue"), where)
    if kind == "sqlite" and where:
        return SqliteOutputCatalog(where)
    raise ValueError(f"unknown output catalog {spec!r} (glue:DATABASE or sqlite:PATH)")
