"""The benchmark's logical-type shapes (bench/logical_shapes.py) hold what they say: the
variant documents the hand-written Variant encoder wrote read back through the contract, and
the geometry column's WKB is what shapely reads."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pyarrow.parquet as pq
import shapely

from etl_lib.conversion import convert
from tests.bench.test_bench_harness import _bench_run_module
from tests.conftest import read_records


def _shapes() -> ModuleType:
    return _bench_run_module().shapes  # run.py imports bench/shapes.py


def test_the_variant_shape_converts_to_the_documents_it_encodes(tmp_path: Path) -> None:
    shapes = _shapes()
    src, dest = tmp_path / "variant.parquet", tmp_path / "out.jsonl"
    shapes.generate("variant", src, 500)
    report = convert(str(src), str(dest), engine="local")
    records = read_records(dest, report.options)
    assert report.json_schema["properties"]["payload"] == {"description": "any JSON value (a VARIANT)"}
    documents = [r["payload"] for r in records if r["payload"] is not None]
    assert len(documents) > 400
    assert all(set(doc) == {"user", "score", "active", "events", "note"} for doc in documents)


def test_the_geometry_shape_is_geojson_equal_to_shapelys_reading(tmp_path: Path) -> None:
    shapes = _shapes()
    src, dest = tmp_path / "geometry.parquet", tmp_path / "out.jsonl"
    shapes.generate("geometry", src, 300)
    report = convert(str(src), str(dest), engine="local")
    wkbs = pq.read_table(src, columns=["geom"]).column(0).to_pylist()
    lines = dest.read_text().splitlines()
    for line, wkb in zip(lines, wkbs, strict=True):
        written = json.loads(line)["geom"]
        assert written == (None if wkb is None else json.loads(shapely.to_geojson(shapely.from_wkb(wkb))))
    assert report.json_schema["properties"]["geom"]["x-crs"] == "OGC:CRS84"
