"""GEOMETRY and GEOGRAPHY columns: WKB as RFC 7946 GeoJSON geometry objects, WKT or WKB.

Parquet stores a geometry as WKB (ISO well-known binary) in a BYTE_ARRAY annotated
``GEOMETRY(crs)`` or ``GEOGRAPHY(crs, algorithm)`` (Parquet's Geospatial.md); GeoParquet
declares WKB columns in its ``geo`` key-value metadata instead. pyarrow 25 reads both as a
plain binary column, so, as for VARIANT:

- :func:`geometry_columns` finds the geometry leaves, at any depth of structs, lists and
  maps, from the Parquet schema's text (the one place pyarrow shows the logical type;
  :mod:`etl_lib.contract.leaves` matches its leaves to Arrow's) and the top-level columns
  the ``geo`` metadata declares, once per file;
- the reader types them as :class:`GeometryType` wherever they are (:func:`with_geometry_types`,
  :func:`wrap_geometries`), whose parameters carry the CRS and the edges into the run
  report's JSON Schema, and both encoders reach them as they reach any nested leaf;
- :func:`to_text` renders them under ``--geometry`` (:class:`~etl_lib.options.GeometryFormat`).

No library parses WKB for pyarrow 25 without a geometry engine (shapely needs GEOS, which
the Glue job does not ship), and the parser must be bounded for hostile input, hence the
hand-written one below: the reference. The native encoder (``_native/encoder.c``) writes
GeoJSON, WKT and WKB from the same rules, checked against this module byte for byte.

Rules (docs/json-contract.md): types 1-7 (Point ... GeometryCollection), ISO (``1000 * dims +
type``) or EWKB flags; X and Y, Z when present; M is dropped from GeoJSON (it has no
measure) and kept in WKT; a Point whose coordinates are all NaN is WKB's POINT EMPTY; an
empty geometry is GeoJSON's empty form (``"coordinates":[]``, ``"geometries":[]``);
coordinates are shortest round-trip doubles, laid out as the contract's float columns, a
non-finite one as the contract's float rule says. Anything else - truncated, trailing
bytes, an unknown type, a collection nested deeper than :data:`MAX_DEPTH` - is refused.
"""

from __future__ import annotations

import base64
import json
import math
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from etl_lib.contract.leaves import leaf_count, leaf_types, parquet_leaves, schema_leaf_count, with_leaf_types
from etl_lib.contract.type_families import Family, family_of
from etl_lib.errors import BadValueError, InvalidValueError
from etl_lib.options import ConvertOptions, GeometryFormat

GEOMETRY_EXTENSION = "etl.geometry"

MAX_DEPTH = 32
"""Collections nested deeper than this are refused: the parser recurses once per level."""

DEFAULT_CRS = "OGC:CRS84"
"""The CRS of a column that names none (Parquet's Geospatial.md, GeoParquet)."""

_TYPE_NAMES = {
    1: "Point",
    2: "LineString",
    3: "Polygon",
    4: "MultiPoint",
    5: "MultiLineString",
    6: "MultiPolygon",
    7: "GeometryCollection",
}
_MULTI_CHILD = {4: 1, 5: 2, 6: 3}  # the only child type each Multi* may hold
_EWKB_Z, _EWKB_M, _EWKB_SRID = 0x80000000, 0x40000000, 0x20000000


@dataclass(frozen=True)
class GeoColumn:
    """A geometry leaf's declared meaning: ``leaf`` its index among the schema's leaves
    (:mod:`etl_lib.contract.leaves`), ``name`` its name, ``crs`` the CRS text or PROJJSON
    object (None: declared unknown), ``edges`` "planar" or, for GEOGRAPHY, the algorithm of
    its edges (e.g. "spherical")."""

    leaf: int
    name: str
    logical_type: str  # "GEOMETRY" or "GEOGRAPHY"
    crs: Any = DEFAULT_CRS
    edges: str = "planar"


class GeometryType(pa.ExtensionType):
    """A WKB geometry column; its parameters (the CRS and the edges) serialize as JSON."""

    def __init__(self, storage_type: pa.DataType, logical_type: str, crs: Any, edges: str) -> None:
        self.logical_type, self.crs, self.edges = logical_type, crs, edges
        super().__init__(storage_type, GEOMETRY_EXTENSION)

    def __arrow_ext_serialize__(self) -> bytes:
        return json.dumps({"type": self.logical_type, "crs": self.crs, "edges": self.edges}).encode()

    @classmethod
    def __arrow_ext_deserialize__(cls, storage_type: pa.DataType, serialized: bytes) -> GeometryType:
        meta = json.loads(serialized)
        return cls(storage_type, meta["type"], meta["crs"], meta["edges"])


def is_geometry_type(t: pa.DataType) -> bool:
    return isinstance(t, pa.BaseExtensionType) and t.extension_name == GEOMETRY_EXTENSION


# --- finding geometry columns ----------------------------------------------------------

# A binary leaf annotated Geometry or Geography, as pyarrow prints it after the field id,
# e.g. "geometry (Geography(crs=, algorithm=spherical))", at any depth.
_GEO_LEAF = re.compile(r"(.*?) \((Geometry|Geography)\(crs=(.*)\)\)", re.DOTALL)


def _crs_value(text: str, metadata: dict[bytes, bytes]) -> Any:
    """The CRS a Parquet annotation names: the default when empty, the PROJJSON object a
    ``projjson:KEY`` names in the file's metadata, a JSON object written inline, else the text."""
    if not text:
        return DEFAULT_CRS
    if text.startswith("projjson:") and text[9:].encode() in metadata:
        text = metadata[text[9:].encode()].decode("utf-8", "replace")
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, dict) else text


def _geoparquet_columns(schema: pa.Schema, metadata: dict[bytes, bytes]) -> list[GeoColumn]:
    """The top-level columns GeoParquet's ``geo`` metadata declares WKB: it names columns of
    the top level only (GeoParquet 1.1 has no path syntax for a nested one)."""
    try:
        declared = json.loads(metadata[b"geo"])["columns"]
        found = []
        for name, spec in declared.items():
            i = schema.get_field_index(name)
            # The column itself must be the WKB leaf: a group's first leaf is not it.
            if i >= 0 and _is_wkb_storage(schema.field(i).type) and str(spec.get("encoding", "")).upper() == "WKB":
                edges = spec.get("edges", "planar")
                kind = "GEOGRAPHY" if edges == "spherical" else "GEOMETRY"
                leaf = sum(leaf_count(field.type) for field in list(schema)[:i])
                found.append(GeoColumn(leaf, name, kind, spec.get("crs", DEFAULT_CRS), edges))
        return found
    except (KeyError, ValueError, AttributeError, TypeError):
        return []  # no (usable) GeoParquet metadata: the Parquet annotations alone decide


def _annotated_columns(parquet_schema: str, metadata: dict[bytes, bytes]) -> tuple[int, list[GeoColumn]]:
    """The leaves the printed Parquet schema annotates GEOMETRY or GEOGRAPHY, and its leaf count."""
    texts = parquet_leaves(parquet_schema)
    found = []
    for leaf, text in enumerate(texts):
        match = _GEO_LEAF.fullmatch(text)
        if match is None:
            continue
        name, kind, params = match.group(1), match.group(2).upper(), match.group(3)
        edges = "planar"
        if kind == "GEOGRAPHY" and ", algorithm=" in params:
            params, edges = params.rsplit(", algorithm=", 1)
        found.append(GeoColumn(leaf, name, kind, _crs_value(params, metadata), edges))
    return len(texts), found


def _is_wkb_storage(t: pa.DataType) -> bool:
    return family_of(t) is Family.BINARY and not pa.types.is_fixed_size_binary(t)


def geometry_columns(
    parquet_schema: str, schema: pa.Schema, metadata: dict[bytes, bytes] | None = None
) -> tuple[GeoColumn, ...]:
    """The binary leaves of ``schema``, at any depth of structs, lists and maps (keys
    included), that the Parquet schema (pyarrow's text of it) annotates as GEOMETRY or
    GEOGRAPHY, and the top-level binary columns that GeoParquet's ``geo`` metadata declares
    WKB. The Parquet annotation wins where both speak of a column. ``metadata`` is the file's
    key-value metadata (default: the schema's; pyarrow leaves keys out of the schema when
    the file also stores an Arrow schema), where ``geo`` and PROJJSON CRS keys live."""
    metadata = metadata if metadata is not None else (schema.metadata or {})
    found: dict[int, GeoColumn] = {column.leaf: column for column in _geoparquet_columns(schema, metadata)}
    count, annotated = _annotated_columns(parquet_schema, metadata)
    if count == schema_leaf_count(schema):  # else a text that did not split into its leaves: none matched
        found.update((column.leaf, column) for column in annotated)
    storage = leaf_types(schema)
    return tuple(column for leaf, column in sorted(found.items()) if leaf in storage and _is_wkb_storage(storage[leaf]))


def _geometry_at(columns: tuple[GeoColumn, ...]) -> Callable[[int, pa.DataType], pa.DataType | None]:
    by_leaf = {column.leaf: column for column in columns}

    def geometry_type(k: int, t: pa.DataType) -> pa.DataType | None:
        column = by_leaf.get(k)
        if column is None or not _is_wkb_storage(t):
            return None
        return GeometryType(t, column.logical_type, column.crs, column.edges)

    return geometry_type


def with_geometry_types(schema: pa.Schema, columns: tuple[GeoColumn, ...]) -> pa.Schema:
    """``schema`` with the leaves ``columns`` (:func:`geometry_columns`) typed as
    :class:`GeometryType`, at any depth."""
    return with_leaf_types(schema, _geometry_at(columns)) if columns else schema


def wrap_geometries(batch: pa.RecordBatch, columns: tuple[GeoColumn, ...]) -> pa.RecordBatch:
    """``batch`` with the leaves ``columns`` as :class:`GeometryType` arrays, at any depth:
    a zero-copy view of the same buffers (``Array.view``; a ``cast`` would do the same but
    imports ``pyarrow.compute``, 0.1 s and 17 MiB that a local conversion otherwise never pays).
    A geometry's storage is a plain binary leaf, which ``view`` takes at any depth; a VARIANT's
    is a struct, which it does not (:func:`~etl_lib.contract.variant.wrap_nested_variants` casts)."""
    if not columns:
        return batch
    typed = with_geometry_types(batch.schema, columns)
    for i, (old, new) in enumerate(zip(batch.schema, typed, strict=True)):
        if not new.type.equals(old.type):
            batch = batch.set_column(i, new, batch.column(i).view(new.type))
    return batch


# --- WKB --------------------------------------------------------------------------------


class _Malformed(Exception):
    """WKB this module refuses (the caller names the column and the row)."""


@dataclass
class _Geometry:
    """One parsed geometry: ``parts`` are coordinate tuples (Point: one, or none when
    empty), lists of them (LineString), lists of rings (Polygon) or child geometries."""

    code: int
    has_z: bool
    has_m: bool
    parts: list[Any]


class _Reader:
    """Reads one WKB value; every count is checked against the bytes left before use."""

    def __init__(self, buf: bytes) -> None:
        self.buf, self.at = buf, 0

    def _take(self, size: int) -> int:
        at = self.at
        if at + size > len(self.buf):
            raise _Malformed("truncated")
        self.at = at + size
        return at

    def _uint32(self, endian: str) -> int:
        return int(struct.unpack_from(endian + "I", self.buf, self._take(4))[0])

    def _count(self, endian: str, least_bytes: int) -> int:
        count = self._uint32(endian)
        if count * least_bytes > len(self.buf) - self.at:
            raise _Malformed(f"a count of {count} past the end of the value")
        return count

    def _coordinates(self, endian: str, dims: int, count: int) -> list[tuple[float, ...]]:
        at = self._take(8 * dims * count)
        flat = struct.unpack_from(f"{endian}{dims * count}d", self.buf, at)
        return [flat[k : k + dims] for k in range(0, len(flat), dims)]

    def geometry(self, depth: int = 0, expect: int | None = None) -> _Geometry:
        """The geometry at the read position (``expect``: the type a Multi* child must be)."""
        if depth > MAX_DEPTH:
            raise _Malformed(f"collections nested more than {MAX_DEPTH} levels deep")
        order = self.buf[self._take(1)]
        if order > 1:
            raise _Malformed(f"byte order {order}")
        endian = "<" if order == 1 else ">"
        raw = self._uint32(endian)
        if raw & _EWKB_SRID:
            self._take(4)
        code = raw & 0x0FFFFFFF
        base, dim = code % 1000, code // 1000
        if base not in _TYPE_NAMES or dim > 3:
            raise _Malformed(f"geometry type {code}")
        if expect is not None and base != expect:
            raise _Malformed(f"a {_TYPE_NAMES[base]} inside a Multi{_TYPE_NAMES[expect]}")
        has_z, has_m = bool(raw & _EWKB_Z) or dim in (1, 3), bool(raw & _EWKB_M) or dim in (2, 3)
        dims = 2 + has_z + has_m
        parts: list[Any]
        if base == 1:
            point = self._coordinates(endian, dims, 1)[0]
            parts = [] if all(math.isnan(v) for v in point) else [point]
        elif base == 2:
            parts = self._coordinates(endian, dims, self._count(endian, 8 * dims))
        elif base == 3:
            parts = [
                self._coordinates(endian, dims, self._count(endian, 8 * dims)) for _ in range(self._count(endian, 4))
            ]
        else:
            child = _MULTI_CHILD.get(base)
            parts = [self.geometry(depth + 1, child) for _ in range(self._count(endian, 5))]
        return _Geometry(base, has_z, has_m, parts)


def parse(buf: bytes) -> _Geometry:
    """The geometry of one whole WKB value; :class:`_Malformed` if it is not one."""
    reader = _Reader(buf)
    geometry = reader.geometry()
    if reader.at != len(buf):
        raise _Malformed(f"{len(buf) - reader.at} bytes after the geometry")
    return geometry


# --- rendering ---------------------------------------------------------------------------


class _Writer:
    """Writes parsed geometries as GeoJSON or WKT under one run's options."""

    def __init__(self, opts: ConvertOptions) -> None:
        from etl_lib.contract.variant import float_text  # the contract's float layout, defined once

        self.float_text = float_text
        self.opts = opts

    def number(self, value: float) -> str:
        if math.isfinite(value):
            return self.float_text(value, single=False)
        if not self.opts.nan_as_string:
            return "null"
        return '"NaN"' if math.isnan(value) else ('"Infinity"' if value > 0 else '"-Infinity"')

    # GeoJSON

    def position(self, point: tuple[float, ...], has_z: bool) -> str:
        return "[" + ",".join(self.number(v) for v in point[: 2 + has_z]) + "]"

    def coordinates(self, g: _Geometry) -> str:
        z = g.has_z
        if g.code == 1:
            return self.position(g.parts[0], z) if g.parts else "[]"
        if g.code == 2:
            return "[" + ",".join(self.position(p, z) for p in g.parts) + "]"
        if g.code == 3:
            return "[" + ",".join("[" + ",".join(self.position(p, z) for p in ring) + "]" for ring in g.parts) + "]"
        return "[" + ",".join(self.coordinates(child) for child in g.parts) + "]"

    def geojson(self, g: _Geometry) -> str:
        head = '{"type":"' + _TYPE_NAMES[g.code] + '",'
        if g.code == 7:
            return head + '"geometries":[' + ",".join(self.geojson(child) for child in g.parts) + "]}"
        return head + '"coordinates":' + self.coordinates(g) + "}"

    # WKT

    def _wkt_number(self, value: float) -> str:
        if math.isfinite(value):
            return self.float_text(value, single=False)
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")

    def _wkt_point(self, point: tuple[float, ...]) -> str:
        return " ".join(map(self._wkt_number, point))

    def _wkt_body(self, g: _Geometry) -> str:
        if not g.parts:
            return "EMPTY"
        if g.code == 1:
            return "(" + self._wkt_point(g.parts[0]) + ")"
        if g.code == 2:
            return "(" + ", ".join(map(self._wkt_point, g.parts)) + ")"
        if g.code == 3:
            return "(" + ", ".join("(" + ", ".join(map(self._wkt_point, ring)) + ")" for ring in g.parts) + ")"
        if g.code == 7:
            return "(" + ", ".join(map(self.wkt, g.parts)) + ")"
        return "(" + ", ".join(self._wkt_body(child) for child in g.parts) + ")"

    def wkt(self, g: _Geometry) -> str:
        dims = ("Z" if g.has_z else "") + ("M" if g.has_m else "")
        return _TYPE_NAMES[g.code].upper() + (" " + dims if dims else "") + " " + self._wkt_body(g)


def _render_all(arr: pa.Array, column: str, render_one: Callable[[bytes], str]) -> pa.Array:
    texts: list[str | None] = []
    for row, value in enumerate(arr.to_pylist()):
        if value is None:
            texts.append(None)
            continue
        try:
            texts.append(render_one(value))
        except _Malformed as exc:
            raise InvalidValueError.at(f"is not valid WKB ({exc})", column=column, row=row) from None
    return pa.array(texts, pa.string())


def to_text(arr: pa.Array, opts: ConvertOptions, column: str) -> pa.Array:
    """The JSON text of each geometry of ``arr`` (a :class:`GeometryType` array or its WKB
    storage) under ``opts.geometry``, null where the value is null. WKB this module does not
    read raises :class:`InvalidValueError` naming ``column`` and the row."""
    storage = arr.storage if isinstance(arr, pa.ExtensionArray) else arr
    writer = _Writer(opts)
    if opts.geometry is GeometryFormat.WKB:
        return _render_all(storage, column, lambda v: (parse(v), '"' + base64.b64encode(v).decode("ascii") + '"')[1])
    if opts.geometry is GeometryFormat.WKT:
        from etl_lib.contract.reference import quote_text  # imported when used: reference imports this module

        return _render_all(storage, column, lambda v: quote_text(writer.wkt(parse(v))))
    return _render_all(storage, column, lambda v: writer.geojson(parse(v)))


def find_bad_geometry(arr: pa.Array, column: str) -> BadValueError | None:
    """The first value of ``arr`` that is not WKB this module reads, as an error naming
    ``column`` and its row, or None (the check is the same whatever ``--geometry`` says)."""
    storage = arr.storage if isinstance(arr, pa.ExtensionArray) else arr
    for row, value in enumerate(storage.to_pylist()):
        if value is None:
            continue
        try:
            parse(value)
        except _Malformed as exc:
            return InvalidValueError.at(f"is not valid WKB ({exc})", column=column, row=row)
    return None


def json_schema(t: GeometryType, opts: ConvertOptions) -> dict[str, Any]:
    """The run report's JSON Schema of a geometry column: its output form, the CRS and, for
    GEOGRAPHY, the edges."""
    described: dict[str, Any] = {"x-logicalType": t.logical_type, "x-crs": t.crs}
    if t.logical_type == "GEOGRAPHY" or t.edges != "planar":
        described["x-edges"] = t.edges
    if opts.geometry is GeometryFormat.GEOJSON:
        kinds = list(_TYPE_NAMES.values())
        return {
            "type": "object",
            "description": "an RFC 7946 GeoJSON geometry object",
            "required": ["type"],
            "properties": {"type": {"enum": kinds}},
            **described,
        }
    if opts.geometry is GeometryFormat.WKT:
        return {"type": "string", "description": "well-known text (WKT)", **described}
    return {"type": "string", "contentEncoding": "base64", "description": "well-known binary (WKB)", **described}
