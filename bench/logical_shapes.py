"""The benchmark's logical-type shapes (``make bench``), registered in bench/shapes.py:

- ``variant``: a VARIANT column of nested documents (objects, arrays, strings, numbers),
  unshredded, typed as variant by Spark's schema in the footer (as Spark 4.0 writes it);
- ``geometry``: a GeoParquet WKB column of points, lines and polygons (``geo`` metadata).

DuckDB, the baseline, reads the variant as a struct of two blobs and the geometry as a blob
(its spatial extension cannot be installed offline), so it writes their bytes, not their JSON
values: docs/benchmarks.md says so beside the figures. ``encode_rate`` measures the encode
step alone, per core, on these shapes (``python bench/logical_shapes.py PATH``).

``nested_geometry_block`` (not one of ``make bench``'s shapes) holds the geometry shape's
values as GEOMETRY leaves in a struct and a list, to compare the nested path with the
top-level one: ``python bench/logical_shapes.py PATH --write nested_geometry --rows N``
writes it, then measures it.

No library writes the Variant binary encoding from Python (pyarrow has no Variant type), so
``_Variant`` below encodes documents itself, in the layouts Parquet's VariantEncoding.md gives.
"""

from __future__ import annotations

import argparse
import json
import struct
import time
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import report

_WORDS = ["alpha", "bravo", "charlie", "delta", 'q"uote', "naïve", "line\nbreak", "日本", "😀", ""]
_SPARK_SCHEMA_KEY = b"org.apache.spark.sql.parquet.row.metadata"


class _Variant:
    """Encodes JSON-like documents as (metadata, value) with one shared field dictionary."""

    def __init__(self, names: list[str]) -> None:
        self.names = sorted(names, key=lambda n: n.encode())
        self.ids = {name: i for i, name in enumerate(self.names)}
        encoded = [n.encode() for n in self.names]
        offsets = np.concatenate([[0], np.cumsum([len(b) for b in encoded])]).astype("<u4")
        header = bytes([0x01 | 0x10 | 0xC0])  # version 1, sorted names, 4-byte offsets
        self.metadata = header + struct.pack("<I", len(encoded)) + offsets.tobytes() + b"".join(encoded)

    def value(self, doc: Any) -> bytes:
        if doc is None:
            return b"\x00"
        if doc is True or doc is False:
            return b"\x04" if doc else b"\x08"
        if isinstance(doc, int):
            return b"\x18" + struct.pack("<q", doc)  # int64
        if isinstance(doc, float):
            return b"\x1c" + struct.pack("<d", doc)  # double
        if isinstance(doc, str):
            raw = doc.encode()
            if len(raw) < 64:
                return bytes([(len(raw) << 2) | 1]) + raw  # short string
            return b"\x40" + struct.pack("<I", len(raw)) + raw
        if isinstance(doc, list):
            items = [self.value(v) for v in doc]
            offsets = np.concatenate([[0], np.cumsum([len(v) for v in items])]).astype("<u4")
            return b"\x1f" + struct.pack("<I", len(items)) + offsets.tobytes() + b"".join(items)  # large array
        fields = sorted(doc.items(), key=lambda kv: kv[0].encode())
        items = [self.value(v) for _, v in fields]
        ids = np.array([self.ids[k] for k, _ in fields], "<u4")
        offsets = np.concatenate([[0], np.cumsum([len(v) for v in items])]).astype("<u4")
        header = (0x1F << 2) | 2  # object: 4-byte ids and offsets, large
        return bytes([header]) + struct.pack("<I", len(items)) + ids.tobytes() + offsets.tobytes() + b"".join(items)


def variant_block(rng: np.random.Generator, n: int) -> pa.Table:
    encoder = _Variant(["user", "id", "name", "tags", "score", "active", "events", "t", "kind", "note"])

    def word() -> str:
        return _WORDS[int(rng.integers(0, len(_WORDS)))]

    def doc() -> dict[str, Any]:
        return {
            "user": {"id": int(rng.integers(0, 2**40)), "name": word(), "tags": [word() for _ in range(3)]},
            "score": float(np.round(rng.normal(0, 100), 4)),
            "active": bool(rng.random() < 0.5),
            "events": [{"t": int(rng.integers(0, 2**31)), "kind": word()} for _ in range(int(rng.integers(0, 4)))],
            "note": None if rng.random() < 0.7 else " ".join(word() for _ in range(20)),
        }

    values = [None if rng.random() < 0.05 else encoder.value(doc()) for _ in range(n)]
    storage = pa.StructArray.from_arrays(
        [pa.array([encoder.metadata] * n, pa.binary()), pa.array(values, pa.binary())],
        names=["metadata", "value"],
        mask=pa.array([v is None for v in values]),
    )
    spark_schema = {
        "type": "struct",
        "fields": [
            {"name": "id", "type": "long", "nullable": False, "metadata": {}},
            {"name": "payload", "type": "variant", "nullable": True, "metadata": {}},
        ],
    }
    table = pa.table({"id": pa.array(np.arange(n, dtype=np.int64)), "payload": storage})
    return table.replace_schema_metadata({_SPARK_SCHEMA_KEY: json.dumps(spark_schema).encode()})


def _ring(rng: np.random.Generator, points: int) -> np.ndarray:
    angles = np.sort(rng.random(points - 1)) * 2 * np.pi
    centre = rng.uniform(-170, 170, 2)
    ring = np.column_stack([centre[0] + np.cos(angles), centre[1] + np.sin(angles) * 0.5])
    return np.round(np.vstack([ring, ring[:1]]), 6)


def geometry_block(rng: np.random.Generator, n: int) -> pa.Table:
    wkbs: list[bytes | None] = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.05:
            wkbs.append(None)
        elif kind < 0.45:
            wkbs.append(struct.pack("<BIdd", 1, 1, *np.round(rng.uniform(-180, 180, 2), 6)))
        elif kind < 0.75:
            line = np.round(rng.uniform(-180, 180, (int(rng.integers(2, 20)), 2)), 6)
            wkbs.append(struct.pack("<BII", 1, 2, len(line)) + line.astype("<f8").tobytes())
        else:
            ring = _ring(rng, int(rng.integers(4, 30)))
            wkbs.append(struct.pack("<BIII", 1, 3, 1, len(ring)) + ring.astype("<f8").tobytes())
    geo = {
        "version": "1.1.0",
        "primary_column": "geom",
        "columns": {"geom": {"encoding": "WKB", "geometry_types": ["Point", "LineString", "Polygon"]}},
    }
    table = pa.table({"id": pa.array(np.arange(n, dtype=np.int64)), "geom": pa.array(wkbs, pa.binary())})
    return table.replace_schema_metadata({"geo": json.dumps(geo)})


class _GeoArrowWkb(pa.ExtensionType):
    """pyarrow's Parquet writer annotates a column of this extension type GEOMETRY."""

    def __init__(self) -> None:
        super().__init__(pa.binary(), "geoarrow.wkb")

    def __arrow_ext_serialize__(self) -> bytes:
        return b"{}"

    @classmethod
    def __arrow_ext_deserialize__(cls, storage_type: pa.DataType, serialized: bytes) -> _GeoArrowWkb:
        return cls()


def nested_geometry_block(rng: np.random.Generator, n: int) -> pa.Table:
    """The geometry shape's values as GEOMETRY leaves nested in a struct (``place.geom``)
    and a list (``route``, one element per row)."""
    flat = geometry_block(rng, n)
    wkbs = flat.column("geom").combine_chunks()
    leaves = pa.ExtensionArray.from_storage(_GeoArrowWkb(), wkbs)
    offsets = pa.array(np.arange(n + 1, dtype=np.int32))
    return pa.table(
        {
            "id": flat.column("id"),
            "place": pa.StructArray.from_arrays([leaves], names=["geom"]),
            "route": pa.ListArray.from_arrays(offsets, leaves),
        }
    )


SHAPES = {"variant": variant_block, "geometry": geometry_block}
TITLES = {
    "variant": "a VARIANT column of nested documents",
    "geometry": "a GeoParquet WKB column (points, lines, polygons)",
}
ENCODE_TARGET_MB_S = 200
"""The encode step on these shapes: at least this many MB of JSON per second per core."""


def encode_targets(profiles: list[dict[str, Any]], shape_names: list[str], target: Any) -> list[Any]:
    """The run's targets for the encode step on these shapes (``target``: run.py's Target),
    from the native encoder's profiles of their datasets."""
    out = []
    for shape in SHAPES:
        dataset = next((name for name in shape_names if name.startswith(shape)), None)
        profile = next((p for p in profiles if p["dataset"] == dataset and p["encoder"] == "native"), None)
        if dataset is None:
            continue
        cpu = profile.get("encode_cpu_s") if profile else None
        rate = profile["json_bytes"] / 2**20 / cpu if profile and cpu else None
        out.append(
            target(
                f"encode step alone, {dataset} rows: ≥ {ENCODE_TARGET_MB_S} MB/s of JSON per core",
                "not measured"
                if rate is None
                else f"{report.toward_failing(rate, 0, at_least=True):.0f} MB/s (limit ≥ {ENCODE_TARGET_MB_S} MB/s)",
                "n/a" if rate is None else ("PASS" if rate >= ENCODE_TARGET_MB_S else "FAIL"),
            )
        )
    return out


def encode_rate(path: str) -> dict[str, float]:
    """JSON MB written per CPU second by the encode step alone (``encode_lines`` on each
    batch as the reader yields it, in this thread), over the whole file."""
    from etl_lib.contract.reference import encode_lines
    from etl_lib.input.planning import open_input, read_slice
    from etl_lib.options import ConvertOptions

    plan = open_input(path).plan()
    batches = [batch for piece in plan for batch in read_slice(piece)]
    options = ConvertOptions()
    start = time.thread_time()
    written = sum(encode_lines(batch, options).nbytes for batch in batches)
    cpu = time.thread_time() - start
    return {"json_mb": written / 2**20, "encode_cpu_s": cpu, "mb_per_s": written / 2**20 / cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", help="the Parquet file to measure")
    parser.add_argument("--write", choices=[*SHAPES, "nested_geometry"], help="write this shape to PATH first")
    parser.add_argument("--rows", type=int, default=500_000, help="rows written by --write (default 500000)")
    args = parser.parse_args()
    if args.write:
        blocks = {**SHAPES, "nested_geometry": nested_geometry_block}
        table = blocks[args.write](np.random.default_rng(20261201), args.rows)
        pq.write_table(table, args.path, row_group_size=128 * 1024, compression="zstd")
    print(json.dumps(encode_rate(args.path)))


if __name__ == "__main__":
    main()
