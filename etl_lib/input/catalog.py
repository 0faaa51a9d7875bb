"""Glue Data Catalog tables as inputs: ``glue://DATABASE/TABLE``.

The table is read through the Glue API (``GetTable``, then every page of ``GetPartitions``,
optionally filtered by a partition expression), with boto3's ``glue`` client, which honours
``AWS_ENDPOINT_URL`` as every client here does. A partitioned table's files are those under
each partition's location; its partition columns come after the files' own, typed as the
catalog declares them (Hive types, mapped to Arrow by :func:`arrow_type`), each file with its
partition's values. An unpartitioned table is the dataset at its location.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from typing import Any

import pyarrow as pa

from etl_lib._runtime import fs
from etl_lib.errors import GlueErrorCode, InputNotFoundError, InvalidInputError, UnsupportedTypeError
from etl_lib.input.dataset import HIVE_DEFAULT_PARTITION, Dataset, DatasetFile, PartitionValue, list_files
from etl_lib.input.sources import split_table

_HIVE_TYPES: dict[str, pa.DataType] = {
    "tinyint": pa.int8(),
    "smallint": pa.int16(),
    "int": pa.int32(),
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "string": pa.string(),
    "date": pa.date32(),
    # Spark reads a catalog timestamp as an instant in its session's time zone: UTC on Glue.
    "timestamp": pa.timestamp("us", tz="UTC"),
}
_PARAMETERIZED = re.compile(r"(decimal|varchar|char)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?")


def arrow_type(hive_type: str) -> pa.DataType:
    """The Arrow type of a partition column the catalog declares as ``hive_type``."""
    name = hive_type.strip().lower()
    if name in _HIVE_TYPES:
        return _HIVE_TYPES[name]
    match = _PARAMETERIZED.fullmatch(name)
    if match and match.group(1) != "decimal":
        return pa.string()
    if match:
        # Hive's decimal without arguments is decimal(10, 0).
        return pa.decimal128(int(match.group(2) or 10), int(match.group(3) or 0))
    raise UnsupportedTypeError(f"partition columns of type {hive_type} are not supported")


def partition_value(raw: str, to: pa.DataType) -> PartitionValue:
    """A partition's value (the catalog holds them as text) as its column's type holds it."""
    if raw == HIVE_DEFAULT_PARTITION:
        return None
    try:
        if pa.types.is_integer(to):
            return int(raw)
        if pa.types.is_floating(to):
            return float(raw)
        if pa.types.is_decimal(to):
            return decimal.Decimal(raw)
        if pa.types.is_boolean(to):
            return {"true": True, "false": False}[raw.strip().lower()]
        if pa.types.is_date(to):
            return dt.date.fromisoformat(raw)
        if pa.types.is_timestamp(to):
            return dt.datetime.fromisoformat(raw).replace(tzinfo=dt.UTC)
    except (ValueError, KeyError, decimal.InvalidOperation):
        raise InvalidInputError(f"partition value {raw!r} is not a {to}") from None
    return raw


def _client(glue: Any) -> Any:
    if glue is not None:
        return glue
    import boto3

    return boto3.client("glue")


def _refused(uri: str, exc: Exception) -> Exception:
    """A Glue error as one line: a missing database or table is ``INPUT_NOT_FOUND``."""
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    if code == GlueErrorCode.ENTITY_NOT_FOUND:
        return InputNotFoundError(f"{uri} does not exist in the Glue Data Catalog")
    message = getattr(exc, "response", {}).get("Error", {}).get("Message", "") or str(exc)
    reason = f"{code or type(exc).__name__}: {message}"
    return InvalidInputError(f"{uri} cannot be read from the Glue Data Catalog ({reason})")


def _table(glue: Any, uri: str, database: str, table: str) -> dict[str, Any]:
    try:
        found: dict[str, Any] = glue.get_table(DatabaseName=database, Name=table)["Table"]
    except Exception as exc:  # botocore's ClientError, raised for every Glue error
        raise _refused(uri, exc) from None
    storage = found.get("StorageDescriptor") or {}
    formats = " ".join(
        str(x) for x in (storage.get("InputFormat"), (storage.get("SerdeInfo") or {}).get("SerializationLibrary")) if x
    )
    if formats and "parquet" not in formats.lower():
        raise InvalidInputError(f"{uri} is not a Parquet table ({formats})")
    return found


def _partitions(glue: Any, uri: str, database: str, table: str, expression: str | None) -> list[dict[str, Any]]:
    kwargs: dict[str, Any] = {"DatabaseName": database, "TableName": table}
    if expression:
        kwargs["Expression"] = expression
    try:
        pages = glue.get_paginator("get_partitions").paginate(**kwargs)
        return [partition for page in pages for partition in page["Partitions"]]
    except Exception as exc:  # botocore's ClientError: a bad expression among others
        raise _refused(uri, exc) from None


def _location(uri: str, storage: dict[str, Any]) -> str:
    location = str(storage.get("Location") or "")
    if not location:
        raise InvalidInputError(f"{uri} has no location in the Glue Data Catalog")
    # Glue and EMR write s3a:// or s3n:// as often as s3://: one store.
    return re.sub(r"^s3[an]?://", "s3://", location)


def catalog_dataset(uri: str, *, partition_filter: str | None = None, glue: Any = None) -> Dataset:
    """The files of the catalog table ``uri`` and its partition columns.

    ``partition_filter`` is a ``GetPartitions`` expression (``"year = '2024' AND region = 'eu'"``).
    Partitions are read in the order of their locations, each one's files by name.
    """
    database, table = split_table(uri)
    glue = _client(glue)
    found = _table(glue, uri, database, table)
    keys = found.get("PartitionKeys") or []
    schema = pa.schema([pa.field(k["Name"], arrow_type(k.get("Type", "string"))) for k in keys])
    locations: list[tuple[str, tuple[PartitionValue, ...]]]
    if not keys:
        if partition_filter:
            raise InvalidInputError(f"{uri} has no partitions to filter")
        locations = [(_location(uri, found.get("StorageDescriptor") or {}), ())]
    else:
        locations = [
            (
                _location(uri, p.get("StorageDescriptor") or {}),
                tuple(partition_value(raw, f.type) for raw, f in zip(p["Values"], schema, strict=True)),
            )
            for p in _partitions(glue, uri, database, table, partition_filter)
        ]
    files: list[DatasetFile] = []
    for location, values in sorted(locations, key=lambda item: item[0]):
        filesystem, path = fs.resolve(location)
        files.extend(DatasetFile(file_uri, size, values) for file_uri, size in list_files(filesystem, path, location))
    return Dataset(uri, tuple(files), schema)
