"""A slice's reader keeps nothing of its file's footer alive.

pyarrow keeps a file's whole footer alive once its ``ParquetFile.schema`` has been read (about
5 MB for 400 row groups, measured), so a reader that read it per slice grew a conversion's
memory with the file's row groups: 170 MiB a conversion of 5M rows in 400 row groups. The
Parquet schema is read once, when the input is planned, and handed to every slice.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_lib.input.planning import open_input, read_slice


def test_reading_every_slice_never_reads_the_files_parquet_schema_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "many.parquet"
    table = pa.table({"id": pa.array(range(4000), pa.int64()), "t": pa.array([f"r{i}" for i in range(4000)])})
    pq.write_table(table, path, row_group_size=10)  # 400 row groups
    plan = open_input(str(path)).plan(target_bytes=1, min_slices=8)
    assert len(plan) > 1 and all(piece.parquet_schema for piece in plan)

    def refused(self: pq.ParquetFile) -> None:
        raise AssertionError("a slice's reader read ParquetFile.schema")

    monkeypatch.setattr(pq.ParquetFile, "schema", property(refused))
    rows = sum(batch.num_rows for piece in plan for batch in read_slice(piece))
    assert rows == 4000
