"""The run report of a conversion, and the JSON Schema of its output records.

The JSON Schema is derived from the Arrow schema under the same contract options as the
data, so a consumer (or the validation notebook) can check every record against it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from etl_lib.contract import MAX_SAFE_INTEGER, is_uuid_type
from etl_lib.options import ConvertOptions

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class RunReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    input: str
    output: str
    engine: str
    options: ConvertOptions
    rows_in: int
    rows_out: int
    input_bytes: int
    output_bytes: int
    duration_ms: int
    started_at: datetime
    finished_at: datetime
    parquet_schema: str
    arrow_schema: str
    json_schema: dict[str, Any]


def _nullable(schema: dict[str, Any], nullable: bool) -> dict[str, Any]:
    if not nullable:
        return schema
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        return {**schema, "type": [*types, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def _integer_schema(t: pa.DataType, opts: ConvertOptions) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer"}
    if opts.bigint_as_string and t.bit_width == 64:
        return {
            "anyOf": [
                {**schema, "minimum": -MAX_SAFE_INTEGER, "maximum": MAX_SAFE_INTEGER},
                {"type": "string", "pattern": "^-?[0-9]+$"},
            ]
        }
    if pa.types.is_unsigned_integer(t):
        schema.update(minimum=0, maximum=2**t.bit_width - 1)
    else:
        schema.update(minimum=-(2 ** (t.bit_width - 1)), maximum=2 ** (t.bit_width - 1) - 1)
    return schema


def value_schema(t: pa.DataType, opts: ConvertOptions) -> dict[str, Any]:  # noqa: C901, PLR0912
    """JSON Schema of one non-null value of Arrow type ``t`` under the contract."""
    if isinstance(t, pa.BaseExtensionType):
        if is_uuid_type(t):
            return {"type": "string", "format": "uuid"}
        if t.extension_name == "etl.iso_timestamp":
            return {"type": "string", "format": "date-time"}
        return value_schema(t.storage_type, opts)
    if pa.types.is_dictionary(t):
        return value_schema(t.value_type, opts)
    if pa.types.is_null(t):
        return {"type": "null"}
    if pa.types.is_boolean(t):
        return {"type": "boolean"}
    if pa.types.is_integer(t):
        return _integer_schema(t, opts)
    if pa.types.is_floating(t):
        if opts.nan_as_string:
            return {"anyOf": [{"type": "number"}, {"enum": ["NaN", "Infinity", "-Infinity"]}]}
        return {"type": ["number", "null"]}  # NaN and infinities become null
    if pa.types.is_decimal(t):
        if opts.decimal_as_string:
            return {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$"}
        return {"type": "number"}
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return {"type": "string"}
    if (
        pa.types.is_fixed_size_binary(t)
        or pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_binary_view(t)
    ):
        return {"type": "string", "contentEncoding": "base64"}
    if pa.types.is_date(t):
        return {"type": "string", "format": "date"}
    if pa.types.is_timestamp(t):
        return (
            {"type": "string", "format": "date-time"}
            if t.tz
            else {
                "type": "string",
                "pattern": r"^[-+]?[0-9]{4,}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?$",
            }
        )
    if pa.types.is_time(t):
        return {"type": "string", "pattern": r"^[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?$"}
    if pa.types.is_duration(t):
        return {"type": "integer", "description": f"duration in {t.unit}"}
    if pa.types.is_map(t):
        return {"type": "object", "additionalProperties": _field_schema(t.item_field, opts, in_struct=False)}
    if (
        pa.types.is_list(t)
        or pa.types.is_large_list(t)
        or pa.types.is_fixed_size_list(t)
        or pa.types.is_list_view(t)
        or pa.types.is_large_list_view(t)
    ):
        return {"type": "array", "items": _field_schema(t.value_field, opts, in_struct=False)}
    if pa.types.is_struct(t):
        return _object_schema([t.field(i) for i in range(t.num_fields)], opts)
    return {}


def _field_schema(field: pa.Field, opts: ConvertOptions, *, in_struct: bool) -> dict[str, Any]:
    return _nullable(value_schema(field.type, opts), field.nullable and not (in_struct and opts.drop_nulls))


def _object_schema(fields: list[pa.Field], opts: ConvertOptions) -> dict[str, Any]:
    properties = {f.name: _field_schema(f, opts, in_struct=True) for f in fields}
    required = [f.name for f in fields if not (opts.drop_nulls and f.nullable)]
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def json_schema(schema: pa.Schema, opts: ConvertOptions) -> dict[str, Any]:
    """JSON Schema (2020-12) of one output record."""
    return {"$schema": JSON_SCHEMA_DIALECT, **_object_schema(list(schema), opts)}
