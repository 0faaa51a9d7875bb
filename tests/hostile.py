"""Hostile and non-conforming Parquet files, made the way other writers make them.

pyarrow validates what it writes, so each file is written with pyarrow and then changed
as a non-validating writer would have written it: bytes of an uncompressed data page, or
the Thrift footer (tests/parquet_footer.py).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tests.parquet_footer import (
    BINARY,
    CHUNK_META,
    FILE_ROW_GROUPS,
    FILE_SCHEMA,
    I32,
    META_TOTAL_UNCOMPRESSED,
    RG_COLUMNS,
    RG_TOTAL_BYTE_SIZE,
    SCHEMA_NAME,
    SCHEMA_NUM_CHILDREN,
    field,
    read_footer,
    write_footer,
)

FILE_COLUMN_ORDERS = 7

BOMB_VALUE_BYTES = 100_000
BOMB_ROWS = 100_000


def invalid_utf8(path: Path, bad_row: int = 2, rows: int = 5, row_group_size: int | None = None) -> Path:
    """A string column whose row ``bad_row`` holds bytes that are not UTF-8, as
    non-validating writers produce: the page bytes of a valid file, changed in place."""
    values = [f"value-{i:04d}" for i in range(rows)]
    values[bad_row] = "MARKER-BAD"
    pq.write_table(
        pa.table({"id": list(range(rows)), "name": values}),
        path,
        row_group_size=row_group_size,
        compression="NONE",
        use_dictionary=False,
        write_statistics=False,
    )
    data = path.read_bytes()
    assert data.count(b"MARKER-BAD") == 1
    path.write_bytes(data.replace(b"MARKER-BAD", b"MARK\xff\xfe-BAD"))
    return path


def _drop_leaves(path: Path, groups: set[bytes], dummy: bytes) -> None:
    """Make each group named in ``groups`` empty by removing its only child ``dummy``
    from the schema, and that leaf's column chunks from every row group."""
    body, meta = read_footer(path)
    pf = pq.ParquetFile(path)
    leaves = [pf.metadata.row_group(0).column(i).path_in_schema for i in range(pf.metadata.num_columns)]
    keep = [i for i, leaf in enumerate(leaves) if leaf.split(".")[-1] != dummy.decode()]
    schema = field(meta, FILE_SCHEMA)[2][1]
    for i in range(len(schema) - 1, 0, -1):
        if field(schema[i - 1], SCHEMA_NAME)[2] in groups and field(schema[i], SCHEMA_NAME)[2] == dummy:
            field(schema[i - 1], SCHEMA_NUM_CHILDREN)[2] = 0
            del schema[i]
    for group in field(meta, FILE_ROW_GROUPS)[2][1]:
        chunks = field(group, RG_COLUMNS)[2][1]
        chunks[:] = [chunks[i] for i in keep]
    orders = field(meta, FILE_COLUMN_ORDERS)[2][1]
    orders[:] = [orders[i] for i in keep]
    write_footer(path, body, meta)


def empty_group(path: Path) -> Path:
    """A top-level struct with no fields (an empty group) between two columns."""
    holder = pa.struct([("dummy", pa.int8())])
    table = pa.table(
        {"a": pa.array([1, None], pa.int32()), "e": pa.array([{"dummy": 1}, None], holder), "b": ["x", "y"]}
    )
    pq.write_table(table, path, store_schema=False)
    _drop_leaves(path, {b"e"}, b"dummy")
    return path


def nested_empty_group(path: Path) -> Path:
    """An empty group inside another group (Arrow's reader cannot read it)."""
    inner = pa.struct([("x", pa.int32()), ("e", pa.struct([("dummy", pa.int8())]))])
    pq.write_table(pa.table({"s": pa.array([{"x": 1, "e": {"dummy": 1}}], inner)}), path, store_schema=False)
    _drop_leaves(path, {b"e"}, b"dummy")
    return path


def times(path: Path, raw: list[int], unit: str = "us") -> Path:
    """A TIME column holding exactly ``raw`` (Arrow writes any int64, as some tools do)."""
    arrow_type = pa.time32(unit) if unit in ("s", "ms") else pa.time64(unit)
    storage = pa.int32() if unit in ("s", "ms") else pa.int64()
    pq.write_table(pa.table({"t": pa.array(raw, storage).cast(arrow_type)}), path)
    return path


def decompression_bomb(path: Path) -> Path:
    """A few KB on disk that decode to 10 GB: one 100 KB dictionary value, 100,000 times."""
    value = "A" * BOMB_VALUE_BYTES
    column = pa.DictionaryArray.from_arrays(pa.array([0] * BOMB_ROWS, pa.int32()), pa.array([value]))
    pq.write_table(pa.table({"v": column}), path, compression="zstd", compression_level=19)
    return path


def lying_footer(path: Path, rows: int = 3_000, value_bytes: int = 50_000) -> Path:
    """Large values (150 MB decoded by default, well compressed) behind a footer that
    declares every row group and column chunk to be 1 byte. Written 500 rows at a time,
    one row group each, so making it does not take the memory it decodes to."""
    with pq.ParquetWriter(path, pa.schema([("v", pa.string())]), compression="zstd", use_dictionary=False) as out:
        for start in range(0, rows, 500):
            values = [f"{i:08d}" + "x" * value_bytes for i in range(start, min(rows, start + 500))]
            out.write_table(pa.table({"v": values}), row_group_size=500)
    body, meta = read_footer(path)
    for group in field(meta, FILE_ROW_GROUPS)[2][1]:
        field(group, RG_TOTAL_BYTE_SIZE)[2] = 1
        for chunk in field(group, RG_COLUMNS)[2][1]:
            field(field(chunk, CHUNK_META)[2], META_TOTAL_UNCOMPRESSED)[2] = 1
    write_footer(path, body, meta)
    declared = pq.ParquetFile(path).metadata.row_group(0)
    assert declared.total_byte_size == 1 and declared.column(0).total_uncompressed_size == 1
    return path


def deeply_nested(path: Path, depth: int) -> Path:
    """A struct nested ``depth`` levels deep (Arrow's reader walks it; Python recursion would not)."""
    arr: pa.Array = pa.array([1, None], pa.int8())
    for _ in range(depth):
        arr = pa.StructArray.from_arrays([arr], ["f"])
    # Without the stored Arrow schema: its flatbuffer is refused past ~64 levels.
    pq.write_table(pa.table({"deep": arr}), path, store_schema=False)
    return path


def footer_bomb(path: Path, depth: int = 20_000) -> Path:
    """A file of ~160 KB whose footer nests ``depth`` groups, each holding the next, around
    its one column: pyarrow's recursive schema builder overflows the C stack on it (SIGSEGV
    at 20,000) before any Arrow-level check could run."""
    pq.write_table(pa.table({"a": pa.array([1], pa.int32())}), path)
    body, meta = read_footer(path)
    root, leaf = field(meta, FILE_SCHEMA)[2][1]
    groups = [[[SCHEMA_NAME, BINARY, b"g"], [SCHEMA_NUM_CHILDREN, I32, 1]] for _ in range(depth)]
    field(meta, FILE_SCHEMA)[2][1] = [root, *groups, leaf]
    write_footer(path, body, meta)
    return path
