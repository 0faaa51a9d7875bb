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


@pytest.mark.parametrize(("groups", "workers"), [(39, 2), (39, 4), (80, 4), (10, 3), (7, 8)])
def test_slices_come_in_whole_waves_the_last_of_half_size(tmp_path: Path, groups: int, workers: int) -> None:
    plan = open_input(_file(tmp_path / "t.parquet", groups)).plan(min_slices=2 * workers, workers=workers)
    sizes = [s.rows for s in plan]
    assert sum(sizes) == groups * 100
    if groups >= 2 * workers:
        assert len(plan) % workers == 0
        full, last = sizes[:-workers], sizes[-workers:]
        # Even but for whole row groups, within each kind; the last wave's half the others'.
        assert max(full) - min(full) <= 100 and max(last) - min(last) <= 100
        assert min(full) / 2 - 100 <= min(last) and max(last) <= max(full) / 2 + 100
    else:  # fewer row groups than slices wanted: one slice per row group
        assert sizes == [100] * groups
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


def _finish_times(sizes: list[int], workers: int) -> list[int]:
    """When each worker ends if each takes the next slice in order as soon as it is free (as
    Spark's scheduler hands out a stage's tasks), a slice's time its size."""
    free = [0] * workers
    for size in sizes:
        free[free.index(min(free))] += size
    return free


@pytest.mark.parametrize(("groups", "workers"), [(39, 2), (38, 2), (38, 4), (41, 4), (10, 3)])
def test_where_slices_cannot_be_even_the_larger_come_first_and_the_workers_end_together(
    tmp_path: Path, groups: int, workers: int
) -> None:
    plan = open_input(_file(tmp_path / "t.parquet", groups)).plan(min_slices=4 * workers, workers=workers)
    sizes = [s.rows for s in plan]
    assert sizes == sorted(sizes, reverse=True)
    ends = _finish_times(sizes, workers)
    assert max(ends) - min(ends) <= 100  # a row group's time at most
    if groups >= 4 * workers:  # slices of several row groups: the last wave's are smaller
        assert sizes[-1] < sizes[0]


def test_a_short_last_row_group_goes_with_a_short_slice(tmp_path: Path) -> None:
    # The shape of the benchmark's 5M-row file: 38 full row groups and a short one.
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"x": list(range(38 * 1000 + 150))}), path, row_group_size=1000)
    sizes = [s.rows for s in open_input(str(path)).plan(min_slices=8, workers=2)]
    assert sizes == [6000] * 4 + [5000, 5000, 2000, 2150]
    ends = _finish_times(sizes, 2)
    assert max(ends) - min(ends) == 150
