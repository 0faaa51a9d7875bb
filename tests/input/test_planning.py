"""How an input is cut into slices: whole row groups, in order, in whole waves of the workers."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_lib.input.planning import open_input


def _file(path: Path, groups: int, rows_per_group: int = 100) -> str:
    pq.write_table(pa.table({"x": list(range(groups * rows_per_group))}), path, row_group_size=rows_per_group)
    return str(path)


@pytest.mark.parametrize(("groups", "workers"), [(39, 2), (39, 4), (10, 3), (7, 8)])
def test_slices_come_in_whole_waves_and_differ_by_at_most_one_row_group(
    tmp_path: Path, groups: int, workers: int
) -> None:
    plan = open_input(_file(tmp_path / "t.parquet", groups)).plan(min_slices=2 * workers, workers=workers)
    sizes = [s.rows for s in plan]
    assert sum(sizes) == groups * 100
    if groups >= 2 * workers:
        assert len(plan) % workers == 0
    else:  # fewer row groups than slices wanted: one slice per row group
        assert sizes == [100] * groups
    assert max(sizes) - min(sizes) <= 100
    # In order, every row group once, first_row where the slice starts.
    assert [rg for s in plan for rg in s.row_groups] == list(range(groups))
    assert [s.first_row for s in plan] == [sum(sizes[:i]) for i in range(len(plan))]
    assert [s.is_last for s in plan] == [False] * (len(plan) - 1) + [True]


def test_a_slice_never_spans_two_files(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    folder.mkdir()
    _file(folder / "a.parquet", 3)
    _file(folder / "b.parquet", 2)
    plan = open_input(str(folder)).plan(target_bytes=1 << 40, workers=1)
    assert [(Path(s.uri).name, s.row_groups) for s in plan] == [("a.parquet", (0, 1, 2)), ("b.parquet", (0, 1))]


def test_a_target_of_one_byte_gives_each_row_group_its_slice(tmp_path: Path) -> None:
    plan = open_input(_file(tmp_path / "t.parquet", 5)).plan(target_bytes=1)
    assert [s.row_groups for s in plan] == [(0,), (1,), (2,), (3,), (4,)]
