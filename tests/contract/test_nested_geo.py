"""GEOMETRY / GEOGRAPHY leaves and UTC TIME leaves nested in structs, lists and maps.

Files are written by pyarrow 25 itself: its Parquet writer annotates a binary column whose
Arrow type is the ``geoarrow.wkb`` extension GEOMETRY (or GEOGRAPHY, with spherical edges),
at any depth, map keys included. Each value is checked against shapely's reading of the
same WKB (GEOS, an independent parser), through every engine.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely

from etl_lib.contract import native
from etl_lib.contract.leaves import leaf_count, parquet_leaves, schema_leaf_count
from etl_lib.contract.reference import encode_lines
from etl_lib.contract.time_of_day import utc_time_columns
from etl_lib.conversion import convert
from etl_lib.errors import InvalidValueError
from etl_lib.input.planning import open_input, read_slice
from etl_lib.options import ConvertOptions, GeometryFormat
from etl_lib.report import json_schema
from tests.conftest import Converter
from tests.contract.shapely_oracle import as_floats, shapely_geojson
from tests.parquet_footer import FILE_SCHEMA, SCHEMA_NAME, field, read_footer, write_footer

WKT = ConvertOptions(geometry=GeometryFormat.WKT)
WKB = ConvertOptions(geometry=GeometryFormat.WKB)

# Every geometry kind, with Z, M, empties and a collection holding a collection.
KINDS = [
    "POINT (30 10)",
    "POINT Z (1 2 3)",
    "POINT EMPTY",
    "LINESTRING (30 10, 10 30, 40 40)",
    "LINESTRING M (0 0 5, 1 1 6)",
    "POLYGON ((35 10, 45 45, 15 40, 10 20, 35 10), (20 30, 35 35, 30 20, 20 30))",
    "POLYGON EMPTY",
    "MULTIPOINT ((10 40), (40 30))",
    "MULTILINESTRING ((10 10, 20 20), (40 40, 30 30, 40 20))",
    "MULTIPOLYGON (((30 20, 45 40, 10 40, 30 20)), ((15 5, 40 10, 10 20, 5 10, 15 5)))",
    "GEOMETRYCOLLECTION (POINT (40 10), LINESTRING (10 10, 20 20), GEOMETRYCOLLECTION (POINT (1 2)))",
    "GEOMETRYCOLLECTION EMPTY",
]
WKBS = [shapely.to_wkb(shapely.from_wkt(w), flavor="iso") for w in KINDS]


class _GeoArrowWkb(pa.ExtensionType):
    """pyarrow writes a column of this type as GEOMETRY, or GEOGRAPHY with spherical edges,
    with ``crs`` (a string) as its CRS. Never registered: reading the files back must not
    depend on it."""

    def __init__(self, edges: str | None = None, crs: str | None = None) -> None:
        self.edges, self.crs = edges, crs
        super().__init__(pa.binary(), "geoarrow.wkb")

    def __arrow_ext_serialize__(self) -> bytes:
        params = {"edges": self.edges, "crs": self.crs}
        return json.dumps({k: v for k, v in params.items() if v}).encode()

    @classmethod
    def __arrow_ext_deserialize__(cls, storage_type: pa.DataType, serialized: bytes) -> _GeoArrowWkb:
        params = json.loads(serialized)
        return cls(params.get("edges"), params.get("crs"))


def _geo(values: Sequence[bytes | None], edges: str | None = None, crs: str | None = None) -> pa.Array:
    return pa.ExtensionArray.from_storage(_GeoArrowWkb(edges, crs), pa.array(values, pa.binary()))


def _nested_table(wkbs: list[bytes], edges: str | None = None) -> pa.Table:
    """One row per value of ``wkbs`` holding it in ``s`` (a struct), ``l`` (a list, after a
    null element), ``mk`` (a map's key), ``mv`` (a map's value, beside a null one) and
    ``deep`` (a list of structs of maps of lists); then a row of null containers."""
    n = len(wkbs)
    geometries = _geo(wkbs, edges)
    nulls = _geo([None] * n, edges)
    absent = pa.array([False] * n + [True])
    pairs = _geo([w for wkb in wkbs for w in (None, wkb)], edges)  # a null then the value, per row
    two = pa.array([*range(0, 2 * n + 1, 2), 2 * n], pa.int32())
    one = pa.array([*range(n + 1), n], pa.int32())
    inner = pa.ListArray.from_arrays(pa.array(range(n + 1), pa.int32()), geometries)
    deep_map = pa.MapArray.from_arrays(pa.array(range(n + 1), pa.int32()), pa.array(["k"] * n), inner)
    deep = pa.StructArray.from_arrays([deep_map], names=["m"])
    return pa.table(
        {
            "id": pa.array(range(n + 1), pa.int32()),
            "s": pa.StructArray.from_arrays(
                [pa.concat_arrays([geometries, geometries[:1]]), pa.concat_arrays([nulls, nulls[:1]])],
                names=["g", "missing"],
                mask=absent,
            ),
            "l": pa.ListArray.from_arrays(two, pairs, mask=absent),
            "mk": pa.MapArray.from_arrays(one, geometries, pa.array(range(n), pa.int32())),
            "mv": pa.MapArray.from_arrays(
                two, pa.array([k for _ in range(n) for k in ("null", "v")]), pairs, mask=absent
            ),
            "deep": pa.ListArray.from_arrays(one, deep, mask=absent),
        }
    )


def _nested_file(path: Path, wkbs: list[bytes], edges: str | None = None, *, store_schema: bool = False) -> Path:
    """:func:`_nested_table` written by pyarrow, which annotates the geometry leaves (and,
    with ``store_schema``, also stores the Arrow schema, naming ``geoarrow.wkb`` per field)."""
    pq.write_table(_nested_table(wkbs, edges), path, store_schema=store_schema)
    printed = str(pq.ParquetFile(path).schema)
    assert printed.count("(Geography(" if edges else "(Geometry(") == 6  # s.g, s.missing, l, mk, mv, deep
    return path


def test_every_geometry_kind_nested_in_every_container_is_geojson_equal_to_shapelys_reading(
    tmp_path: Path, run_convert: Converter
) -> None:
    records, report = run_convert(_nested_file(tmp_path / "nested.parquet", WKBS))
    assert report.rows_out == len(WKBS) + 1
    for record, wkb in zip(records, WKBS, strict=False):
        expected = shapely_geojson(wkb)
        assert as_floats(record["s"]) == {"g": expected, "missing": None}
        assert as_floats(record["l"]) == [None, expected]
        assert as_floats(record["mv"]) == {"null": None, "v": expected}
        assert as_floats(record["deep"]) == [{"m": {"k": [expected]}}]
        ((key, value),) = record["mk"].items()  # a map key is a string: the geometry's JSON text
        assert (as_floats(json.loads(key)), value) == (expected, record["id"])
    assert records[-1] == {"id": len(WKBS), "s": None, "l": None, "mk": {}, "mv": None, "deep": None}


def test_a_file_storing_its_arrow_schema_reads_as_one_that_does_not(tmp_path: Path, run_convert: Converter) -> None:
    # pyarrow's default: the stored schema names geoarrow.wkb in each geometry field's metadata.
    stored = _nested_file(tmp_path / "stored.parquet", WKBS, store_schema=True)
    assert b"ARROW:schema" in (pq.ParquetFile(stored).metadata.metadata or {})
    records, _ = run_convert(stored)
    assert records == run_convert(_nested_file(tmp_path / "plain.parquet", WKBS))[0]
    assert records[0]["l"][1] == {"type": "Point", "coordinates": [30, 10]}


def test_nested_geometries_follow_the_wkt_and_wkb_options(tmp_path: Path, run_convert: Converter) -> None:
    src = _nested_file(tmp_path / "nested.parquet", WKBS)
    records, _ = run_convert(src, WKT)
    for record, wkb in zip(records, WKBS, strict=False):
        # The same geometry, dimensions (M included) and coordinates as shapely reads from the WKB.
        assert shapely.equals_identical(shapely.from_wkt(record["s"]["g"]), shapely.from_wkb(wkb))
        assert record["l"][1] == record["mv"]["v"] == record["deep"][0]["m"]["k"][0] == record["s"]["g"]
        assert list(record["mk"]) == [record["s"]["g"]]
    records, _ = run_convert(src, WKB)
    for record, wkb in zip(records, WKBS, strict=False):
        assert base64.b64decode(record["s"]["g"]) == base64.b64decode(record["l"][1]) == wkb
        assert base64.b64decode(record["deep"][0]["m"]["k"][0]) == wkb


def test_null_nested_geometries_are_null_and_dropped_from_structs_by_drop_nulls(
    tmp_path: Path, run_convert: Converter
) -> None:
    records, _ = run_convert(_nested_file(tmp_path / "nested.parquet", WKBS[:1]), ConvertOptions(drop_nulls=True))
    # --drop-nulls omits null struct fields; list elements and map values keep their nulls.
    assert records[0]["s"] == {"g": {"type": "Point", "coordinates": [30, 10]}}
    assert records[0]["l"][0] is None and records[0]["mv"]["null"] is None
    assert "s" not in records[1]


def test_the_report_schema_carries_the_crs_and_edges_on_each_nested_property(tmp_path: Path) -> None:
    schema = open_input(str(_nested_file(tmp_path / "g.parquet", WKBS[:1], edges="spherical"))).schema
    properties = json_schema(schema, ConvertOptions())["properties"]
    described = [
        properties["s"]["properties"]["g"],
        properties["l"]["items"],
        properties["mv"]["additionalProperties"],
        properties["deep"]["items"]["properties"]["m"]["additionalProperties"]["items"],
    ]
    for nested in described:
        assert (nested["x-logicalType"], nested["x-crs"], nested["x-edges"]) == ("GEOGRAPHY", "OGC:CRS84", "spherical")
        assert nested["properties"]["type"]["enum"][0] == "Point"
    planar = json_schema(open_input(str(_nested_file(tmp_path / "p.parquet", WKBS[:1]))).schema, WKT)
    nested = planar["properties"]["l"]["items"]
    assert (nested["type"], nested["x-logicalType"], "x-edges" in nested) == (["string", "null"], "GEOMETRY", False)


def test_both_engines_and_both_encoders_write_the_same_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = _nested_file(tmp_path / "nested.parquet", WKBS)
    for options in (ConvertOptions(), WKT, WKB, ConvertOptions(drop_nulls=True)):
        outputs = []
        for engine, encoder in [("local", native.NATIVE), ("local", native.REFERENCE), ("spark", native.NATIVE)]:
            monkeypatch.setenv(native.ENCODER_ENV, encoder)
            dest = tmp_path / f"{engine}-{encoder}-{options.geometry.value}-{options.drop_nulls}.jsonl"
            convert(str(src), str(dest), options, engine=engine)
            outputs.append(dest.read_bytes())
        assert outputs[0] == outputs[1] == outputs[2], options


def test_the_native_encoder_writes_nested_geometries_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (batch,) = [
        b for piece in open_input(str(_nested_file(tmp_path / "n.parquet", WKBS))).plan() for b in read_slice(piece)
    ]
    monkeypatch.setenv(native.ENCODER_ENV, native.NATIVE)
    for options in (ConvertOptions(), WKT, WKB):
        fast = native.encode_lines(batch, options, "\n")
        assert fast is not None  # not handed to the reference path
        monkeypatch.setenv(native.ENCODER_ENV, native.REFERENCE)
        assert fast.to_pylist() == encode_lines(batch, options).to_pylist()
        monkeypatch.setenv(native.ENCODER_ENV, native.NATIVE)


@pytest.mark.parametrize(
    ("column", "path"),
    [("s", "s.g"), ("l", "l[]"), ("mk", "mk.key"), ("mv", "mv.value"), ("deep", "deep[].m.value[]")],
)
def test_invalid_nested_wkb_is_refused_naming_its_path_and_row(
    column: str, path: str, tmp_path: Path, run_convert: Converter
) -> None:
    table = _nested_table(WKBS[:3])
    truncated = _nested_table([WKBS[0], WKBS[1], WKBS[0][:-1]])  # row 2 cut short
    src = tmp_path / "bad.parquet"  # only ``column`` holds the truncated value
    i = table.schema.get_field_index(column)
    pq.write_table(table.set_column(i, column, truncated.column(column)), src, store_schema=False)
    dest = tmp_path / "out.jsonl"
    with pytest.raises(InvalidValueError) as refused:
        run_convert(src, dest=dest)
    assert refused.value.message == f"bad.parquet: column {path}, row 2: is not valid WKB (truncated)"
    assert not dest.exists()


@pytest.mark.parametrize("options", [ConvertOptions(), WKT, WKB], ids=lambda o: o.geometry.value)
def test_the_notebooks_validation_passes_nested_geometries_map_keys_included(
    options: ConvertOptions, tmp_path: Path
) -> None:
    from etl_lib.notebook.validation import validate_output

    src = _nested_file(tmp_path / "nested.parquet", WKBS)
    dest, report_path = tmp_path / "out.jsonl", tmp_path / "report.json"
    report_path.write_text(convert(str(src), str(dest), options, engine="local").to_json())
    assert validate_output(str(src), str(dest), str(report_path), sample_size=1000)["errors"] == []


def test_geoparquet_metadata_names_top_level_columns_only(tmp_path: Path) -> None:
    # GeoParquet declares columns by name; a dotted name is a top-level column's name, never a path.
    # Nor is a group it names: its first leaf is not the column.
    geo = {"version": "1.1.0", "primary_column": "s", "columns": {"s.g": {"encoding": "WKB"}, "s": {"encoding": "WKB"}}}
    table = pa.table({"s": pa.array([{"g": WKBS[0]}], pa.struct([("g", pa.binary())]))})
    src = tmp_path / "geoparquet.parquet"
    pq.write_table(table.replace_schema_metadata({"geo": json.dumps(geo)}), src)
    dest = tmp_path / "out.jsonl"
    convert(str(src), str(dest), ConvertOptions(), engine="local")
    assert json.loads(dest.read_text()) == {"s": {"g": base64.b64encode(WKBS[0]).decode()}}


# --- the leaves of a printed schema ------------------------------------------------------


def test_printed_leaves_match_arrow_leaves_in_order_for_every_container(tmp_path: Path) -> None:
    src = _nested_file(tmp_path / "n.parquet", WKBS[:1])
    pf = pq.ParquetFile(src)
    leaves = parquet_leaves(str(pf.schema))
    assert len(leaves) == schema_leaf_count(pf.schema_arrow) == pf.metadata.num_columns == 10
    names = ["id", "g", "missing", "element", "key", "value", "key", "value", "key", "element"]
    assert [text.split(" ")[0] for text in leaves] == names
    assert leaf_count(pa.struct([])) == 0 and leaf_count(pa.map_(pa.string(), pa.struct([("a", pa.int8())]))) == 2


def test_a_crs_written_over_several_lines_and_a_name_holding_a_line_break_are_read(tmp_path: Path) -> None:
    crs = json.dumps(
        {"type": "GeographicCRS", "name": "WGS 84\n(lat/lon)", "id": {"authority": "EPSG", "code": 4326}}, indent=2
    )
    table = pa.table(
        {"to\np": _geo([WKBS[0]], crs=crs), "s": pa.StructArray.from_arrays([_geo([WKBS[0]], crs=crs)], names=["g;"])}
    )
    src = tmp_path / "lines.parquet"
    pq.write_table(table, src, store_schema=False)
    assert "(Geometry(crs={\n" in str(pq.ParquetFile(src).schema)
    dest = tmp_path / "out.jsonl"
    report = convert(str(src), str(dest), ConvertOptions(), engine="local")
    point = {"type": "Point", "coordinates": [30, 10]}
    assert json.loads(dest.read_text()) == {"to\np": point, "s": {"g;": point}}
    nested = report.json_schema["properties"]["s"]["properties"]["g;"]
    assert nested["x-crs"] == json.loads(crs)


def test_a_name_holding_a_line_that_looks_like_a_node_matches_no_leaf(tmp_path: Path) -> None:
    # The printed schema then has one more leaf than the file: nothing is matched by position,
    # so no column is typed as another's.
    trick = "x (Geometry(crs=));\n  optional binary field_id=-1 y"
    table = pa.table({trick: pa.array([WKBS[0]]), "g": _geo([WKBS[0]])})
    src = tmp_path / "trick.parquet"
    pq.write_table(table, src, store_schema=False)
    dest = tmp_path / "out.jsonl"
    convert(str(src), str(dest), ConvertOptions(), engine="local")
    record = json.loads(dest.read_text())
    assert record == {trick: base64.b64encode(WKBS[0]).decode(), "g": base64.b64encode(WKBS[0]).decode()}


# --- UTC TIME at any depth -------------------------------------------------------------


def _utc_times(path: Path, raw: list[int | None], *, utc: bool = True) -> Path:
    """TIME(ms) values in a struct field ``t``, a list and a map's values, marked
    isAdjustedToUTC in the footer (pyarrow writes TIME not adjusted)."""
    times = pa.array(raw, pa.int32()).view(pa.time32("ms"))
    n = len(raw)
    offsets = pa.array(range(n + 1), pa.int32())
    table = pa.table(
        {
            "s": pa.StructArray.from_arrays([times], names=["t"]),
            "l": pa.ListArray.from_arrays(offsets, times),
            "m": pa.MapArray.from_arrays(offsets, pa.array(["k"] * n), times),
        }
    )
    pq.write_table(table, path, store_schema=False)
    if utc:
        body, meta = read_footer(path)
        for element in field(meta, FILE_SCHEMA)[2][1]:
            if field(element, SCHEMA_NAME)[2] in (b"t", b"element", b"value"):
                time_type = field(element, 10)[2][0][2]  # the logical type union's one member: TimeType
                field(time_type, 1)[1:] = [1, True]  # isAdjustedToUTC
        write_footer(path, body, meta)
        assert len(utc_time_columns(str(pq.ParquetFile(path).schema)).indices) == 3
    return path


def test_a_negative_utc_time_wraps_around_midnight_at_any_depth(tmp_path: Path, run_convert: Converter) -> None:
    records, _ = run_convert(_utc_times(tmp_path / "unload.parquet", [-13_899_000, None, -1, 3_000]))
    expected = ["20:08:21.000", None, "23:59:59.999", "00:00:03.000"]
    assert [r["s"]["t"] for r in records] == expected
    assert [r["l"] for r in records] == [[t] for t in expected]
    assert [r["m"] for r in records] == [{"k": t} for t in expected]


def test_a_negative_nested_time_not_adjusted_to_utc_is_still_refused(tmp_path: Path, run_convert: Converter) -> None:
    src = _utc_times(tmp_path / "local.parquet", [0, -13_899_000], utc=False)
    with pytest.raises(InvalidValueError, match=r"column s\.t, row 1: TIME value -13899000 \(ms\) is outside"):
        run_convert(src)


def test_a_local_conversion_of_geometries_at_any_depth_never_loads_the_compute_functions(tmp_path: Path) -> None:
    from tests.runtime.test_lazy_imports import _executed_after

    src = _nested_file(tmp_path / "nested.parquet", WKBS)
    dest = tmp_path / "out.jsonl"
    code = f"from etl_lib.conversion import convert; convert({str(src)!r}, {str(dest)!r}, engine='local')"
    # Typing the leaves as geometries is a view of their buffers: a cast would import
    # pyarrow.compute, 0.1 s and 17 MiB a local conversion otherwise never pays.
    assert "pyarrow.compute" not in _executed_after(code)
    assert dest.read_text().count("\n") == len(WKBS) + 1
