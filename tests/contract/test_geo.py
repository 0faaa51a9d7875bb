"""GEOMETRY, GEOGRAPHY and GeoParquet WKB columns (etl_lib.contract.geo).

- every file of parquet-testing's ``data/geospatial``, through every engine, equals what
  shapely (GEOS's own WKB reader, an independent implementation) reads from the same WKB;
- ``--geometry wkt`` equals the WKT column those files carry beside the WKB;
- both encoders write the same bytes in every mode;
- GeoParquet ``geo`` metadata, CRS and edges in the run report's schema;
- WKB the contract refuses, with INVALID_VALUE naming the column and the row.
"""

from __future__ import annotations

import base64
import json
import random
import struct
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely

from etl_lib.contract import native
from etl_lib.contract.geo import MAX_DEPTH, GeometryType, to_text
from etl_lib.contract.reference import encode_lines
from etl_lib.conversion import convert
from etl_lib.errors import InvalidValueError
from etl_lib.input.planning import open_input
from etl_lib.options import ConvertOptions, GeometryFormat
from etl_lib.report import json_schema
from tests.conftest import CORPUS, Converter, corpus_files
from tests.contract.shapely_oracle import as_floats, shapely_geojson

# shapely warns when it reads the corpus's NaN coordinates, which are what those tests are about.
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered in from_wkb:RuntimeWarning")

GEOSPATIAL = corpus_files("data/geospatial")
WKT = ConvertOptions(geometry=GeometryFormat.WKT)
WKB = ConvertOptions(geometry=GeometryFormat.WKB)

needs_geospatial = pytest.mark.skipif(not GEOSPATIAL, reason=f"no geospatial corpus under {CORPUS}")


def _geometry_column(path: Path) -> str:
    names = pq.read_schema(path).names
    return "geography" if "geography" in names else "geometry"


def _drop_nan_rows(values: list[Any], wkbs: list[bytes | None]) -> list[tuple[Any, Any]]:
    # A coordinate that is NaN has no GeoJSON form; its rows are tested on their own below.
    return [
        (v, w)
        for v, w in zip(values, wkbs, strict=True)
        if w is None or "nan" not in shapely.to_wkt(shapely.from_wkb(w)).lower()
    ]


@needs_geospatial
@pytest.mark.parametrize("path", GEOSPATIAL, ids=lambda p: p.name)
def test_each_geospatial_file_is_geojson_equal_to_shapelys_reading_of_its_wkb(
    path: Path, run_convert: Converter
) -> None:
    column = _geometry_column(path)
    wkbs = pq.read_table(path, columns=[column]).column(0).to_pylist()
    records, report = run_convert(path)
    pairs = _drop_nan_rows([record[column] for record in records], wkbs)
    assert pairs
    for written, wkb in pairs:
        assert as_floats(written) == shapely_geojson(wkb)
    assert report.rows_out == len(wkbs)


@needs_geospatial
@pytest.mark.parametrize("path", [p for p in GEOSPATIAL if "wkt" in pq.read_schema(p).names], ids=lambda p: p.name)
def test_wkt_output_equals_the_wkt_column_written_beside_the_wkb(path: Path, run_convert: Converter) -> None:
    records, _ = run_convert(path, WKT)
    column = _geometry_column(path)
    for record in records:
        expected = record["wkt"]
        if expected is not None and "nan" in expected:
            expected = expected.replace("nan", "NaN")  # shapely's spelling; WKT readers take both
        assert record[column] == expected


@needs_geospatial
@pytest.mark.parametrize("path", GEOSPATIAL, ids=lambda p: p.name)
def test_wkb_output_is_the_stored_bytes_in_base64(path: Path, run_convert: Converter) -> None:
    column = _geometry_column(path)
    wkbs = pq.read_table(path, columns=[column]).column(0).to_pylist()
    records, _ = run_convert(path, WKB)
    assert [None if r[column] is None else base64.b64decode(r[column]) for r in records] == wkbs


@needs_geospatial
@pytest.mark.parametrize("options", [ConvertOptions(), WKT, WKB, ConvertOptions(nan_as_string=True, drop_nulls=True)])
def test_both_encoders_write_the_same_bytes_for_every_geospatial_file(
    options: ConvertOptions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for path in GEOSPATIAL:
        outputs = []
        for encoder in (native.NATIVE, native.REFERENCE):
            monkeypatch.setenv(native.ENCODER_ENV, encoder)
            dest = tmp_path / f"{path.stem}-{encoder}.jsonl"
            convert(str(path), str(dest), options, engine="local")
            outputs.append(dest.read_bytes())
        assert outputs[0] == outputs[1], path.name


@needs_geospatial
def test_a_nan_coordinate_follows_the_float_rule_and_a_nan_point_is_point_empty(run_convert: Converter) -> None:
    path = CORPUS / "data/geospatial/geospatial-with-nan.parquet"
    records, _ = run_convert(path)
    # M is dropped: GeoJSON positions have no measure.
    assert records[0]["geometry"] == {"type": "Point", "coordinates": [10, 20, 30]}
    assert records[2]["geometry"]["coordinates"] == [[90, 100, 110], [None, None, None], [130, 140, 150]]
    records, _ = run_convert(path, ConvertOptions(nan_as_string=True))
    assert records[2]["geometry"]["coordinates"][1] == ["NaN", "NaN", "NaN"]


# --- the run report, GeoParquet ---------------------------------------------------------


@needs_geospatial
def test_the_report_schema_carries_the_crs_and_the_edges() -> None:
    geography = open_input(str(CORPUS / "data/geospatial/crs-geography.parquet")).schema
    described = json_schema(geography, ConvertOptions())["properties"]["geography"]
    assert described["type"] == ["object", "null"]  # a nullable column
    assert (described["x-logicalType"], described["x-crs"], described["x-edges"]) == (
        "GEOGRAPHY",
        "OGC:CRS84",
        "spherical",
    )
    projjson = open_input(str(CORPUS / "data/geospatial/crs-projjson.parquet")).schema
    crs = json_schema(projjson, WKT)["properties"]["geometry"]["x-crs"]
    assert crs["id"] == {"authority": "EPSG", "code": 5070}
    srid = open_input(str(CORPUS / "data/geospatial/crs-srid.parquet")).schema
    described = json_schema(srid, WKB)["properties"]["geometry"]
    assert (described["x-crs"], described["contentEncoding"]) == ("srid:5070", "base64")
    assert "x-edges" not in described


def _geoparquet(path: Path, wkbs: list[bytes | None], crs: Any = None, edges: str | None = None) -> Path:
    spec: dict[str, Any] = {"encoding": "WKB", "geometry_types": []}
    if crs is not None:
        spec["crs"] = crs
    if edges is not None:
        spec["edges"] = edges
    geo = {"version": "1.1.0", "primary_column": "geom", "columns": {"geom": spec}}
    table = pa.table({"id": pa.array(range(len(wkbs)), pa.int32()), "geom": pa.array(wkbs, pa.binary())})
    pq.write_table(table.replace_schema_metadata({"geo": json.dumps(geo)}), path)
    return path


def test_a_geoparquet_wkb_column_is_geojson_and_its_crs_reaches_the_report(
    tmp_path: Path, run_convert: Converter
) -> None:
    wkbs = [shapely.to_wkb(shapely.from_wkt(w)) for w in ["POINT (1.5 -2)", "LINESTRING Z (0 0 1, 1e-7 1e20 2)"]]
    path = _geoparquet(tmp_path / "in.parquet", [*wkbs, None], crs={"id": {"authority": "EPSG", "code": 4326}})
    records, report = run_convert(path)
    assert [as_floats(r["geom"]) for r in records] == [shapely_geojson(w) for w in [*wkbs, None]]
    described = json_schema(open_input(str(path)).schema, ConvertOptions())["properties"]["geom"]
    assert described["x-crs"] == {"id": {"authority": "EPSG", "code": 4326}}
    assert report.rows_out == 3


def test_geoparquet_spherical_edges_make_a_geography(tmp_path: Path) -> None:
    path = _geoparquet(tmp_path / "in.parquet", [shapely.to_wkb(shapely.Point(0, 90))], edges="spherical")
    described = json_schema(open_input(str(path)).schema, ConvertOptions())["properties"]["geom"]
    assert (described["x-logicalType"], described["x-crs"], described["x-edges"]) == (
        "GEOGRAPHY",
        "OGC:CRS84",
        "spherical",
    )


# --- values built here --------------------------------------------------------------------


def _geometries(values: list[bytes | None]) -> pa.Array:
    storage = pa.array(values, pa.binary())
    return pa.ExtensionArray.from_storage(GeometryType(storage.type, "GEOMETRY", "OGC:CRS84", "planar"), storage)


def _lines(values: list[bytes | None], options: ConvertOptions | None = None) -> list[str]:
    table = pa.table({"g": _geometries(values)})
    return encode_lines(table, options or ConvertOptions()).to_pylist()


@pytest.mark.usefixtures("encoder")
def test_coordinates_are_shortest_round_trip_doubles_laid_out_as_float_columns() -> None:
    values = [0.1, 1e20, -1.5e-7, 123456789.0, -0.0, 5e-324]
    wkb = shapely.to_wkb(shapely.LineString([(v, v) for v in values]))
    floats = pa.table({"f": pa.array(values, pa.float64())})
    texts = [line[len('{"f":') : -2] for line in encode_lines(floats, ConvertOptions()).to_pylist()]
    expected = '{"type":"LineString","coordinates":[' + ",".join(f"[{t},{t}]" for t in texts) + "]}"
    assert _lines([wkb]) == ['{"g":' + expected + "}\n"]


@pytest.mark.usefixtures("encoder")
def test_big_endian_ewkb_with_an_srid_and_z_reads_as_iso_wkb_does() -> None:
    ewkb = shapely.to_wkb(shapely.set_srid(shapely.Point(1, 2, 3), 4326), byte_order=0, include_srid=True)
    assert ewkb[0] == 0 and ewkb[1] & 0x20  # big endian, SRID flag
    assert _lines([ewkb, None]) == ['{"g":{"type":"Point","coordinates":[1,2,3]}}\n', '{"g":null}\n']
    assert _lines([None], ConvertOptions(drop_nulls=True)) == ["{}\n"]


def _point(x: float, y: float) -> bytes:
    return struct.pack("<BIdd", 1, 1, x, y)


def _collection(children: list[bytes], code: int = 7) -> bytes:
    return struct.pack("<BII", 1, code, len(children)) + b"".join(children)


def _nested(depth: int) -> bytes:
    wkb = _point(1, 2)
    for _ in range(depth):
        wkb = _collection([wkb])
    return wkb


@pytest.mark.usefixtures("encoder")
@pytest.mark.parametrize(
    ("wkb", "problem"),
    [
        (_point(1, 2)[:-1], "truncated"),
        (_point(1, 2) + b"\x00", "1 bytes after the geometry"),
        (struct.pack("<BIdd", 1, 8, 1, 2), "geometry type 8"),
        (struct.pack("<BIdd", 2, 1, 1, 2), "byte order 2"),
        (struct.pack("<BII", 1, 2, 0xFFFFFFFF), "a count of 4294967295 past the end of the value"),
        (_collection([_collection([_point(1, 2)], 7)], 4), "a GeometryCollection inside a MultiPoint"),
        (_nested(MAX_DEPTH + 1), f"collections nested more than {MAX_DEPTH} levels deep"),
    ],
    ids=["truncated", "trailing", "curve", "byte-order", "count", "multi-child", "depth"],
)
def test_wkb_the_contract_cannot_read_is_refused_naming_the_column_and_row(wkb: bytes, problem: str) -> None:
    for options in (ConvertOptions(), WKT, WKB):
        with pytest.raises(InvalidValueError) as refused:
            _lines([_point(0, 0), None, wkb], options)
        assert refused.value.message == f"column g, row 2: is not valid WKB ({problem})"


@pytest.mark.usefixtures("encoder")
def test_collections_as_deep_as_the_limit_are_written() -> None:
    line = _lines([_nested(MAX_DEPTH)])[0]
    assert json.loads(line)["g"]["type"] == "GeometryCollection"
    assert line.count('"geometries"') == MAX_DEPTH


def test_a_refused_file_leaves_nothing_at_the_destination(tmp_path: Path) -> None:
    src = tmp_path / "in.parquet"
    _geoparquet(src, [_point(1, 2), _point(1, 2)[:-3]])
    dest = tmp_path / "out.jsonl"
    with pytest.raises(InvalidValueError) as refused:
        convert(str(src), str(dest), ConvertOptions(), engine="local")
    assert refused.value.message == "in.parquet: column geom, row 1: is not valid WKB (truncated)"
    assert not dest.exists()


def test_the_geometry_option_takes_only_its_three_forms() -> None:
    assert ConvertOptions(geometry="wkt").geometry is GeometryFormat.WKT  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"ConvertOptions\.geometry must be one of 'geojson', 'wkt', 'wkb'"):
        ConvertOptions(geometry="geo")  # type: ignore[arg-type]


def test_to_text_is_what_the_encoders_write_per_value() -> None:
    texts = to_text(_geometries([_point(1, 2), None]), WKT, "g").to_pylist()
    assert texts == ['"POINT (1 2)"', None]


@needs_geospatial
@pytest.mark.parametrize("options", [ConvertOptions(), WKT, WKB], ids=lambda o: o.geometry.value)
def test_the_notebooks_validation_passes_a_geometry_conversion(options: ConvertOptions, tmp_path: Path) -> None:
    from etl_lib.notebook.validation import validate_output

    src = CORPUS / "data/geospatial/geospatial.parquet"
    dest, report_path = tmp_path / "out.jsonl", tmp_path / "report.json"
    report = convert(str(src), str(dest), options, engine="local")
    report_path.write_text(report.to_json())
    summary = validate_output(str(src), str(dest), str(report_path), sample_size=1000)
    assert summary["errors"] == []


def _both_encoders(values: list[bytes], options: ConvertOptions) -> tuple[list[str | None], list[str | None]]:
    """Each encoder's text for ``values`` one by one (None where it refuses the value)."""
    native_texts: list[str | None] = []
    reference_texts: list[str | None] = []
    for value in values:
        arr = _geometries([value])
        fast = native.encode_values(arr, options)
        native_texts.append(None if fast is None else fast.to_pylist()[0])
        try:
            reference_texts.append(to_text(arr, options, "g").to_pylist()[0])
        except InvalidValueError:
            reference_texts.append(None)
    return native_texts, reference_texts


def test_every_truncation_and_corruption_is_refused_or_read_alike_by_both_encoders() -> None:
    # A collection of every type, big-endian Z children included: cut at every length, and
    # with bytes overwritten at random (seeded), the two parsers must agree value by value.
    children = [
        shapely.to_wkb(shapely.from_wkt(w), byte_order=order)
        for w, order in [
            ("POINT Z (1 2 3)", 0),
            ("LINESTRING (0 0, 1 1)", 1),
            ("POLYGON ((0 0, 1 0, 1 1, 0 0))", 0),
            ("MULTIPOINT (1 2, 3 4)", 1),
            ("MULTILINESTRING ((0 0, 1 1), (2 2, 3 3))", 1),
            ("MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)))", 0),
            ("POINT EMPTY", 1),
        ]
    ]
    whole = _collection([*children, _collection([_point(5, 6)])])
    values = [whole[:length] for length in range(len(whole) + 1)]
    rng = random.Random(20261206)
    for _ in range(400):
        corrupted = bytearray(whole)
        for _ in range(rng.randint(1, 4)):
            corrupted[rng.randrange(len(corrupted))] = rng.randrange(256)
        values.append(bytes(corrupted))
    for options in (ConvertOptions(), WKT, WKB):
        native_texts, reference_texts = _both_encoders(values, options)
        assert native_texts == reference_texts
        assert native_texts[len(whole)] is not None  # the whole value is read
        assert sum(t is None for t in native_texts) > len(whole)  # every cut is refused, and more


@pytest.mark.usefixtures("encoder")
def test_non_finite_coordinates_are_spelled_out_in_wkt_and_follow_the_float_rule_in_geojson() -> None:
    wkb = struct.pack("<BIIdddd", 1, 2, 2, float("inf"), float("-inf"), float("nan"), 1.0)
    assert _lines([wkb], WKT) == ['{"g":"LINESTRING (Infinity -Infinity, NaN 1)"}\n']
    assert _lines([wkb]) == ['{"g":{"type":"LineString","coordinates":[[null,null],[null,1]]}}\n']
