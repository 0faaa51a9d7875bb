"""The run report of a conversion, and the JSON Schema of its output records.

The JSON Schema is derived from the Arrow schema under the same contract options as the
data, so a consumer (or the validation notebook) can check every record against it.

The report is a frozen dataclass; :meth:`RunReport.to_json` writes it and
:meth:`RunReport.from_json` reads it back, validated, both through pydantic
(:mod:`etl_lib._runtime.validated`), which a conversion itself never imports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import pyarrow as pa

from etl_lib._runtime.validated import NON_NEGATIVE, Validated
from etl_lib.contract.annotations import DECIMAL_ANNOTATION
from etl_lib.contract.geo import is_geometry_type
from etl_lib.contract.geo import json_schema as geometry_schema
from etl_lib.contract.reference import MAX_SAFE_INTEGER, is_iso_timestamp_type, is_uuid_type
from etl_lib.contract.type_families import Family, family_of
from etl_lib.contract.variant import is_json_text_type, is_variant_type
from etl_lib.jobs.sizing import RunCost
from etl_lib.options import ConvertOptions

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


@dataclass(frozen=True)
class InputPart(Validated):
    """One row group of the input: what a chart of the run shows per part."""

    file: str
    """The Parquet file the row group is in (a directory input has several)."""
    row_group: Annotated[int, NON_NEGATIVE]
    """Index of the row group in its file."""
    rows: Annotated[int, NON_NEGATIVE]
    bytes: Annotated[int, NON_NEGATIVE]
    """Uncompressed size of the row group: Parquet total_byte_size, its column chunks before compression."""


def input_parts(files: Iterable[tuple[str, Iterable[int], Iterable[int]]]) -> tuple[InputPart, ...]:
    """Parts from (file name, rows per row group, bytes per row group) of each input file."""
    return tuple(
        InputPart(file=name, row_group=index, rows=rows, bytes=size)
        for name, group_rows, group_bytes in files
        for index, (rows, size) in enumerate(zip(group_rows, group_bytes, strict=True))
    )


@dataclass(frozen=True)
class RunReport(Validated):
    """What one conversion did: written as JSON next to a job's output (``report.json``),
    by ``etl convert --report``, and returned by :func:`etl_lib.convert`."""

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
    # Reports written before parts were recorded have none.
    parts: tuple[InputPart, ...] = ()
    catalog_table: str | None = None
    """The job's output as a table of the outputs' catalog database (JSON Lines jobs of the
    job service; None elsewhere): see docs/catalog.md."""
    # Added to the stored report once the job's run has ended (JobService.record_cost);
    # none for a conversion outside the job service.
    cost: RunCost | None = None


def _nullable(schema: dict[str, Any], nullable: bool) -> dict[str, Any]:
    if not nullable or schema.keys() <= {"description"}:  # the latter already allows null
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


def _extension_schema(t: pa.DataType, opts: ConvertOptions) -> dict[str, Any]:
    if is_uuid_type(t):
        return {"type": "string", "format": "uuid"}
    if is_iso_timestamp_type(t):
        return {"type": "string", "format": "date-time"}
    if is_variant_type(t) or is_json_text_type(t):
        return {"description": "any JSON value (a VARIANT)"}  # no constraint: any JSON value
    if is_geometry_type(t):
        return geometry_schema(t, opts)
    return value_schema(t.storage_type, opts)


def _float_schema(t: pa.DataType, opts: ConvertOptions) -> dict[str, Any]:
    if opts.nan_as_string:
        return {"anyOf": [{"type": "number"}, {"enum": ["NaN", "Infinity", "-Infinity"]}]}
    return {"type": ["number", "null"]}  # NaN and infinities become null


def _decimal_schema(t: pa.DataType, opts: ConvertOptions) -> dict[str, Any]:
    # The precision and scale, as an annotation: a decimal's JSON number looks like a float's.
    annotation = {DECIMAL_ANNOTATION: {"precision": t.precision, "scale": t.scale}}
    if opts.decimal_as_string:
        return {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$", **annotation}
    return {"type": "number", **annotation}


def _timestamp_schema(t: pa.DataType, opts: ConvertOptions) -> dict[str, Any]:
    if t.tz:
        return {"type": "string", "format": "date-time"}
    return {"type": "string", "pattern": r"^[-+]?[0-9]{4,}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?$"}


SchemaRule = Callable[[pa.DataType, ConvertOptions], dict[str, Any]]

SCHEMAS: dict[Family, SchemaRule] = {
    Family.EXTENSION: _extension_schema,
    Family.DICTIONARY: lambda t, opts: value_schema(t.value_type, opts),
    Family.NULL: lambda t, opts: {"type": "null"},
    Family.BOOLEAN: lambda t, opts: {"type": "boolean"},
    Family.INTEGER: lambda t, opts: _integer_schema(t, opts),
    Family.FLOAT: _float_schema,
    Family.DECIMAL: _decimal_schema,
    Family.STRING: lambda t, opts: {"type": "string"},
    Family.BINARY: lambda t, opts: {"type": "string", "contentEncoding": "base64"},
    Family.DATE: lambda t, opts: {"type": "string", "format": "date"},
    Family.TIMESTAMP: _timestamp_schema,
    # 24:00:00 (ISO 8601's end of day) is the largest value.
    Family.TIME: lambda t, opts: {"type": "string", "pattern": r"^[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?$"},
    Family.DURATION: lambda t, opts: {"type": "integer", "description": f"duration in {t.unit}"},
    Family.MAP: lambda t, opts: {
        "type": "object",
        "additionalProperties": _field_schema(t.item_field, opts, in_struct=False),
    },
    Family.LIST: lambda t, opts: {"type": "array", "items": _field_schema(t.value_field, opts, in_struct=False)},
    Family.STRUCT: lambda t, opts: _object_schema([t.field(i) for i in range(t.num_fields)], opts),
}
"""One JSON Schema rule per type family (etl_lib.contract.type_families), as the encoder has."""


def value_schema(t: pa.DataType, opts: ConvertOptions) -> dict[str, Any]:
    """JSON Schema of one non-null value of Arrow type ``t`` under the contract.

    Raises :class:`~etl_lib.errors.UnsupportedTypeError` for a type the contract does not
    cover, as the encoder does.
    """
    return SCHEMAS[family_of(t)](t, opts)


def _field_schema(field: pa.Field, opts: ConvertOptions, *, in_struct: bool) -> dict[str, Any]:
    return _nullable(value_schema(field.type, opts), field.nullable and not (in_struct and opts.drop_nulls))


def _object_schema(fields: list[pa.Field], opts: ConvertOptions) -> dict[str, Any]:
    properties = {f.name: _field_schema(f, opts, in_struct=True) for f in fields}
    required = [f.name for f in fields if not (opts.drop_nulls and f.nullable)]
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def json_schema(schema: pa.Schema, opts: ConvertOptions) -> dict[str, Any]:
    """JSON Schema (2020-12) of one output record."""
    return {"$schema": JSON_SCHEMA_DIALECT, **_object_schema(list(schema), opts)}
