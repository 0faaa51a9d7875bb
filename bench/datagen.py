"""Deterministic benchmark data for ``make bench``.

One mixed table: ints (int32, int64 with values beyond 2^53), floats with NaN and
infinities, nullable columns, unicode strings with JSON escapes (quotes, backslashes,
newlines, control characters, emoji), timestamps (us, UTC), dates, decimal128(18,4),
bools, a list<int32> and a struct. Every row group is generated from its own fixed seed,
so a file is byte-for-byte the same on every run of the same GENERATOR_VERSION.

    python bench/datagen.py build/bench/mixed_5m.parquet --rows 5000000
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

# Bump when the generated data changes: cached files with another version are rebuilt.
GENERATOR_VERSION = 1
SEED = 20260801
ROW_GROUP_SIZE = 128 * 1024
COMPRESSION = "zstd"
# Integer columns written as DELTA_BINARY_PACKED (as Spark and parquet-mr do for sorted keys);
# the others use dictionary encoding falling back to plain (pyarrow's default).
DELTA_COLUMNS = ("id", "i32", "opt_i64", "ts", "day")

# Words the string columns are built from: plain ASCII most of the time, and every
# character class the JSON writer has to escape or pass through.
_VOCAB = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
    "whiskey",
    "xray",
    "yankee",
    "zulu",
    "parquet",
    "json",
    "spark",
    "arrow",
    "duckdb",
    "polars",
    "glue",
    "lambda",
    "bucket",
    "record",
    "column",
    "value",
    'say "hi"',
    "back\\slash",
    "C:\\temp\\new",
    "two\nlines",
    "tab\there",
    "cr\r\nlf",
    "bell\x07",
    "nul\x00byte",
    "café",
    "Zürich",
    "日本語テキスト",
    "Ελληνικά",
    "emoji 😀",
    "🚀🔥✨",
    "line\u2028sep",
    "</script>",
    '{"json": [1, 2]}',
    "'single'",
]
_CATEGORIES = ["red", "green", "blue", "yellow", "black", "white", "naïve", "straße", 'q"uote', "slash/ed"]
_TS_START = np.datetime64("2000-01-01T00:00:00", "us").astype(np.int64)

SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("i32", pa.int32()),
        ("big_i64", pa.int64()),
        ("f64", pa.float64()),
        ("f32", pa.float32()),
        ("opt_i64", pa.int64()),
        ("name", pa.string()),
        ("category", pa.string()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("day", pa.date32()),
        ("amount", pa.decimal128(18, 4)),
        ("flag", pa.bool_()),
        ("tags", pa.list_(pa.int32())),
        (
            "point",
            pa.struct([("x", pa.float64()), ("y", pa.int32()), ("label", pa.string())]),
        ),
    ]
)


_WRITER_OPTIONS: dict[str, object] = {
    "compression": COMPRESSION,
    "use_dictionary": [c for c in SCHEMA.names if c not in DELTA_COLUMNS]
    + ["point.x", "point.y", "point.label", "tags.list.element"],
    "column_encoding": dict.fromkeys(DELTA_COLUMNS, "DELTA_BINARY_PACKED"),
}


def _mask(rng: np.random.Generator, n: int, fraction: float) -> np.ndarray:
    return rng.random(n) < fraction


def _strings(rng: np.random.Generator, n: int, words: int) -> pa.Array:
    vocab = pa.array(_VOCAB)
    parts = [pc.take(vocab, pa.array(rng.integers(0, len(_VOCAB), n))) for _ in range(words)]
    return pc.binary_join_element_wise(*parts, " ")


def _decimal(unscaled: np.ndarray, null: np.ndarray) -> pa.Array:
    """decimal128(18,4) straight from int64 unscaled values (two's complement, little endian)."""
    n = len(unscaled)
    words = np.empty(2 * n, dtype=np.int64)
    words[0::2] = unscaled
    words[1::2] = np.where(unscaled < 0, -1, 0)
    validity = pa.array(~null).buffers()[1]
    return pa.Array.from_buffers(pa.decimal128(18, 4), n, [validity, pa.py_buffer(words.tobytes())])


def make_batch(start: int, n: int, group: int) -> pa.Table:
    """Rows ``start .. start+n``; ``group`` seeds the generator."""
    rng = np.random.default_rng([SEED, group])
    f64 = np.round(rng.normal(0, 1e4, n), 2)
    f64[_mask(rng, n, 0.03)] = np.nan
    f64[_mask(rng, n, 0.002)] = np.inf
    f64[_mask(rng, n, 0.002)] = -np.inf
    big = rng.integers(-(2**62), 2**62, n, dtype=np.int64)
    small = ~_mask(rng, n, 0.1)
    big[small] = rng.integers(-1_000_000, 1_000_000, int(small.sum()))
    big[_mask(rng, n, 0.01)] = np.iinfo(np.int64).max
    # list<int32>: 0-6 elements, 5% null lists
    lengths = rng.integers(0, 7, n).astype(np.int32)
    list_null = _mask(rng, n, 0.05)
    lengths[list_null] = 0
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    values = pa.array(rng.integers(-100, 1000, int(offsets[-1]), dtype=np.int32))
    tags = pa.ListArray.from_arrays(pa.array(offsets), values, mask=pa.array(list_null))
    point_null = _mask(rng, n, 0.05)
    point = pa.StructArray.from_arrays(
        [
            pa.array(np.round(rng.random(n) * 360 - 180, 3)),
            pa.array(rng.integers(-5000, 5000, n, dtype=np.int32)),
            pa.array(
                np.array(_CATEGORIES, dtype=object)[rng.integers(0, len(_CATEGORIES), n)],
                pa.string(),
                mask=_mask(rng, n, 0.2),
            ),
        ],
        names=["x", "y", "label"],
        mask=pa.array(point_null),
    )
    columns = {
        "id": pa.array(np.arange(start, start + n, dtype=np.int64)),
        "i32": pa.array(rng.integers(-1_000_000, 1_000_000, n, dtype=np.int32)),
        "big_i64": pa.array(big),
        "f64": pa.array(f64),
        "f32": pa.array((rng.integers(-10_000, 10_000, n) / 8).astype(np.float32), mask=_mask(rng, n, 0.1)),
        "opt_i64": pa.array(rng.integers(0, 10**7, n, dtype=np.int64), mask=_mask(rng, n, 0.3)),
        "name": _strings(rng, n, 4),
        "category": pa.array(
            np.array(_CATEGORIES, dtype=object)[rng.integers(0, len(_CATEGORIES), n)],
            pa.string(),
            mask=_mask(rng, n, 0.15),
        ),
        "ts": pa.array(
            _TS_START + np.arange(start, start + n, dtype=np.int64) * 150_000_000 + rng.integers(0, 10**8, n),
            pa.timestamp("us", tz="UTC"),
        ),
        "day": pa.array(rng.integers(-3650, 20000, n, dtype=np.int32), pa.date32()),
        "amount": _decimal(rng.integers(-(10**9), 10**9, n, dtype=np.int64), _mask(rng, n, 0.1)),
        "flag": pa.array(rng.random(n) < 0.5, mask=_mask(rng, n, 0.1)),
        "tags": tags,
        "point": point,
    }
    return pa.Table.from_pydict(columns, schema=SCHEMA)


def _meta_path(path: Path) -> Path:
    return path.with_name(path.name + ".meta.json")


def _meta(rows: int, row_group_size: int) -> dict[str, object]:
    return {
        "generator_version": GENERATOR_VERSION,
        "seed": SEED,
        "rows": rows,
        "row_group_size": row_group_size,
        "compression": COMPRESSION,
    }


def is_cached(path: Path, rows: int, row_group_size: int = ROW_GROUP_SIZE) -> bool:
    meta = _meta_path(path)
    if not (path.is_file() and meta.is_file()):
        return False
    try:
        return json.loads(meta.read_text()) == _meta(rows, row_group_size)
    except ValueError:
        return False


def generate(path: Path, rows: int, row_group_size: int = ROW_GROUP_SIZE) -> bool:
    """Write the table to ``path`` unless the same version is already there; True if written."""
    if is_cached(path, rows, row_group_size):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with pq.ParquetWriter(tmp, SCHEMA, **_WRITER_OPTIONS) as writer:
        for group, start in enumerate(range(0, rows, row_group_size)):
            n = min(row_group_size, rows - start)
            writer.write_table(make_batch(start, n, group), row_group_size=row_group_size)
    os.replace(tmp, path)
    _meta_path(path).write_text(json.dumps(_meta(rows, row_group_size)) + "\n")
    return True


def regroup(src: Path, dest: Path, row_groups: int) -> bool:
    """The same rows as ``src`` rewritten into ``row_groups`` row groups (cached like generate)."""
    rows = pq.ParquetFile(src).metadata.num_rows
    size = -(-rows // row_groups)
    meta = {**json.loads(_meta_path(src).read_text()), "row_group_size": size, "regrouped_from": src.name}
    if dest.is_file() and _meta_path(dest).is_file() and json.loads(_meta_path(dest).read_text()) == meta:
        return False
    tmp = dest.with_name(dest.name + ".tmp")
    pq.write_table(pq.read_table(src), tmp, row_group_size=size, **_WRITER_OPTIONS)
    os.replace(tmp, dest)
    _meta_path(dest).write_text(json.dumps(meta) + "\n")
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--row-group-size", type=int, default=ROW_GROUP_SIZE)
    args = parser.parse_args()
    written = generate(args.dest, args.rows, args.row_group_size)
    print(f"{args.dest}: {'written' if written else 'cached'}, {args.dest.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
