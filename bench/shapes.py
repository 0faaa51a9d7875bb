"""The benchmark's other table shapes (``make bench``): what the mixed table lacks.

- ``binary``: raw bytes and UUIDs - base64 and canonical UUID text, written value by value;
- ``wide``: 500 columns (int64, double, string, bool, nullable int32 in turn) - per-column costs;
- ``nested``: structs of lists of structs of maps of lists, 6 levels deep.

Deterministic like datagen.py: a base block is generated from a fixed seed and repeated.

    python bench/shapes.py wide build/bench/wide_100k.parquet --rows 100000
"""

from __future__ import annotations

import argparse
import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path

import logical_shapes
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SHAPES_VERSION = 1
SEED = 20261201
ROW_GROUP_SIZE = 128 * 1024
WIDE_COLUMNS = 500
BLOCK_ROWS = 32768
_WORDS = np.array(["alpha", "bravo", "charlie", "delta", 'q"uote', "naïve", "line\nbreak", "日本", "😀", ""], object)


def binary_block(rng: np.random.Generator, n: int) -> pa.Table:
    lengths = rng.integers(0, 64, n)
    blobs = [rng.bytes(int(k)) for k in lengths]
    return pa.table(
        {
            "id": pa.array(np.arange(n, dtype=np.int64)),
            "uuid": pa.array([uuid.UUID(bytes=rng.bytes(16), version=4).bytes for _ in range(n)], pa.uuid()),
            "blob": pa.array(blobs, pa.binary(), mask=rng.random(n) < 0.1),
            "digest": pa.array([rng.bytes(32) for _ in range(n)], pa.binary(32)),
            "opt_uuid": pa.array(
                [uuid.UUID(int=int(rng.integers(0, 2**62)) << 64 | i).bytes for i in range(n)],
                pa.uuid(),
                mask=rng.random(n) < 0.3,
            ),
        }
    )


def wide_block(rng: np.random.Generator, n: int) -> pa.Table:
    columns: dict[str, pa.Array] = {}
    for i in range(WIDE_COLUMNS):
        kind = i % 5
        if kind == 0:
            arr = pa.array(rng.integers(-(10**12), 10**12, n))
        elif kind == 1:
            arr = pa.array(np.round(rng.normal(0, 1000, n), 3))
        elif kind == 2:
            arr = pa.array(_WORDS[rng.integers(0, len(_WORDS), n)], pa.string())
        elif kind == 3:
            arr = pa.array(rng.random(n) < 0.5)
        else:
            arr = pa.array(rng.integers(-1000, 1000, n, dtype=np.int32), mask=rng.random(n) < 0.2)
        columns[f"c{i:03d}_{['i64', 'f64', 'str', 'bool', 'i32'][kind]}"] = arr
    return pa.table(columns)


NESTED_TYPE = pa.struct(
    [
        ("name", pa.string()),
        (
            "orders",
            pa.list_(
                pa.struct(
                    [
                        ("sku", pa.string()),
                        ("qty", pa.int32()),
                        ("attrs", pa.map_(pa.string(), pa.list_(pa.struct([("k", pa.int64()), ("v", pa.float64())])))),
                    ]
                )
            ),
        ),
        ("matrix", pa.list_(pa.list_(pa.list_(pa.int16())))),
    ]
)


def nested_block(rng: np.random.Generator, n: int) -> pa.Table:
    def order() -> dict[str, object]:
        attrs = [
            (f"{_WORDS[int(rng.integers(0, 5))]}{k}", [{"k": int(rng.integers(0, 10**9)), "v": float(rng.random())}])
            for k in range(int(rng.integers(0, 3)))
        ]
        return {"sku": f"SKU-{int(rng.integers(0, 10**6)):06d}", "qty": int(rng.integers(1, 9)), "attrs": attrs}

    docs: list[dict[str, object] | None] = []
    for _ in range(n):
        if rng.random() < 0.05:
            docs.append(None)
            continue
        docs.append(
            {
                "name": str(_WORDS[int(rng.integers(0, len(_WORDS)))]),
                "orders": [order() for _ in range(int(rng.integers(0, 4)))],
                "matrix": [[[int(rng.integers(-99, 99)) for _ in range(2)] for _ in range(2)] for _ in range(2)],
            }
        )
    return pa.table({"id": pa.array(np.arange(n, dtype=np.int64)), "doc": pa.array(docs, NESTED_TYPE)})


SHAPES: dict[str, Callable[[np.random.Generator, int], pa.Table]] = {
    "binary": binary_block,
    "wide": wide_block,
    "nested": nested_block,
    **logical_shapes.SHAPES,  # variant, geometry
}


def _meta_path(path: Path) -> Path:
    return path.with_name(path.name + ".meta.json")


def generate(shape: str, path: Path, rows: int) -> bool:
    """Write ``rows`` rows of ``shape`` to ``path`` unless already there; True if written."""
    meta = {"shapes_version": SHAPES_VERSION, "seed": SEED, "shape": shape, "rows": rows}
    if path.is_file() and _meta_path(path).is_file() and json.loads(_meta_path(path).read_text()) == meta:
        return False
    block = SHAPES[shape](np.random.default_rng([SEED, len(shape)]), min(rows, BLOCK_ROWS))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    group = pa.concat_tables([block] * max(1, -(-min(rows, ROW_GROUP_SIZE) // block.num_rows)))
    with pq.ParquetWriter(tmp, block.schema, compression="zstd") as writer:
        done = 0
        while done < rows:
            part = group.slice(0, min(ROW_GROUP_SIZE, rows - done))
            # The repeated blocks get unique ids (every shape starts with an int64 column).
            part = part.set_column(0, part.schema.field(0), pa.array(np.arange(done, done + part.num_rows)))
            writer.write_table(part, row_group_size=ROW_GROUP_SIZE)
            done += part.num_rows
    os.replace(tmp, path)
    _meta_path(path).write_text(json.dumps(meta) + "\n")
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("shape", choices=sorted(SHAPES))
    parser.add_argument("dest", type=Path)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    written = generate(args.shape, args.dest, args.rows)
    print(f"{args.dest}: {'written' if written else 'cached'}, {args.dest.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
