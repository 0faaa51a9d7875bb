"""The local engine's encoding threads: whatever the plan's shape (one row group or many), the
bytes are those of one thread encoding in order, and a refused value names its true row."""

from __future__ import annotations

import threading
import types
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_lib import conversion
from etl_lib.conversion import convert
from etl_lib.errors import InvalidInputError, InvalidUtf8Error
from etl_lib.input import planning
from etl_lib.input.planning import open_input
from etl_lib.options import ConvertOptions, OutputFormat
from etl_lib.output import writer
from tests import hostile

ROWS = 20_000


def _table(rows: int = ROWS) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "name": pa.array([f'row {i} \u2028 "q"' if i % 7 else None for i in range(rows)]),
            "x": pa.array([i / 3 for i in range(rows)], pa.float64()),
        }
    )


def _encoded(src: Path, workers: int, opts: ConvertOptions) -> bytes:
    plan = open_input(str(src)).plan(target_bytes=1)
    return b"".join(chunk.to_pybytes() for chunk, _ in writer.encode_in_order(plan, opts, workers=workers))


@pytest.mark.parametrize("row_groups", [1, 3], ids=["one-row-group", "fewer-groups-than-threads"])
@pytest.mark.parametrize("fmt", [OutputFormat.JSONL, OutputFormat.JSON])
def test_a_file_with_fewer_row_groups_than_threads_is_encoded_on_every_thread_in_order(
    tmp_path: Path, row_groups: int, fmt: OutputFormat
) -> None:
    src = tmp_path / "in.parquet"
    pq.write_table(_table(), src, row_group_size=-(-ROWS // row_groups))
    opts = ConvertOptions(format=fmt)
    alone = _encoded(src, 1, opts)
    assert _encoded(src, 4, opts) == alone  # 4 threads: each batch is cut into row ranges
    assert alone.count(b"\n") == ROWS


def test_batches_are_cut_into_row_ranges_of_consecutive_rows() -> None:
    batch = pa.record_batch({"v": pa.array(range(5000))})
    parts = writer._row_ranges(batch, 3, first_row=100)
    assert [first for _, first in parts] == [100, 100 + 1666, 100 + 3333]
    assert pa.Table.from_batches([p for p, _ in parts]).column("v").to_pylist() == list(range(5000))
    # Small batches are not cut: a part has at least MIN_PART_ROWS rows.
    assert len(writer._row_ranges(batch.slice(0, writer.MIN_PART_ROWS), 8, first_row=0)) == 1


def test_a_refused_value_in_a_later_row_range_names_its_row_in_the_file(tmp_path: Path) -> None:
    bad_row = ROWS - 5  # in the last row range of the last batch of the one row group
    src = hostile.invalid_utf8(tmp_path / "names.parquet", bad_row=bad_row, rows=ROWS)
    plan = open_input(str(src)).plan(target_bytes=1)
    assert len(plan) == 1
    with pytest.raises(InvalidUtf8Error) as error:
        list(writer.encode_in_order(plan, ConvertOptions(), workers=2))
    assert error.value.message == f"names.parquet: column name, row {bad_row}: is not valid UTF-8"


def _rows_before_error(plan: list[planning.Slice], workers: int) -> tuple[int, Exception]:
    """The rows handed to the writer before ``encode_in_order`` raised, and what it raised."""
    written = 0
    try:
        for _, rows in writer.encode_in_order(plan, ConvertOptions(), workers=workers):
            written += rows
    except Exception as exc:  # the caller checks which
        return written, exc
    raise AssertionError("encode_in_order raised nothing")


@pytest.mark.parametrize("workers", [2, 4])
def test_a_refused_value_in_a_later_slice_is_raised_at_its_place_after_every_row_before_it(
    tmp_path: Path, workers: int
) -> None:
    # Later slices are decoded and encoded while earlier ones are written: their error waits.
    group = 8_000
    bad_row = 2 * group + 6_500  # the third slice, in its last row range
    src = hostile.invalid_utf8(tmp_path / "names.parquet", bad_row=bad_row, rows=4 * group, row_group_size=group)
    plan = open_input(str(src)).plan(target_bytes=1)
    assert len(plan) == 4
    written, error = _rows_before_error(plan, workers)
    assert isinstance(error, InvalidUtf8Error)
    assert error.message == f"names.parquet: column name, row {bad_row}: is not valid UTF-8"
    assert 2 * group <= written <= bad_row  # the slices before it whole, then its own rows before it


def test_an_unreadable_row_group_is_raised_at_its_place_after_every_row_before_it(tmp_path: Path) -> None:
    group = 8_000
    src = tmp_path / "damaged.parquet"
    pq.write_table(_table(4 * group), src, row_group_size=group, compression="snappy")
    third = pq.ParquetFile(src).metadata.row_group(2).column(1)  # its strings
    data = bytearray(src.read_bytes())
    middle = third.data_page_offset + third.total_compressed_size // 2
    data[middle : middle + 64] = b"\xff" * 64
    src.write_bytes(bytes(data))
    plan = open_input(str(src)).plan(target_bytes=1)
    written, error = _rows_before_error(plan, workers=2)
    assert isinstance(error, InvalidInputError), error
    assert error.message.startswith("damaged.parquet is corrupt")
    assert written == 2 * group


def test_a_writer_that_stops_early_leaves_no_encoding_thread_behind(tmp_path: Path) -> None:
    src = tmp_path / "in.parquet"
    pq.write_table(_table(), src, row_group_size=ROWS // 8)
    plan = open_input(str(src)).plan(target_bytes=1)
    chunks = writer.encode_in_order(plan, ConvertOptions(), workers=2)
    assert isinstance(chunks, types.GeneratorType)
    next(chunks)
    chunks.close()  # what a failed write does: the generator is closed
    assert not [t for t in threading.enumerate() if t.name.startswith("etl-encode")]


def test_a_fault_of_the_scheduler_itself_reaches_the_writer_instead_of_hanging_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "in.parquet"
    pq.write_table(_table(), src, row_group_size=ROWS // 4)
    plan = open_input(str(src)).plan(target_bytes=1)

    def broken(self: writer._Scheduler) -> None:
        raise RuntimeError("scheduler bug")

    monkeypatch.setattr(writer._Scheduler, "_take", broken)
    with pytest.raises(RuntimeError, match="scheduler bug"):
        list(writer.encode_in_order(plan, ConvertOptions(), workers=2))
    assert not [t for t in threading.enumerate() if t.name.startswith("etl-encode")]


def test_small_row_groups_are_read_together_not_each_opening_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each open of a file parses its whole footer again: once per row group, a file of many
    # small row groups cost time growing with the square of their number.
    src = tmp_path / "many.parquet"
    pq.write_table(_table(), src, row_group_size=100)  # 200 row groups
    opened: list[str] = []
    real_open = planning._open

    def counting(uri: str, **kwargs: object) -> pq.ParquetFile:
        opened.append(uri)
        return real_open(uri, **kwargs)

    monkeypatch.setattr(planning, "_open", counting)
    monkeypatch.setattr(conversion, "LOCAL_WORKERS", 2)
    report = convert(str(src), str(tmp_path / "out.jsonl"), engine="local")
    assert report.rows_out == ROWS
    assert (tmp_path / "out.jsonl").read_bytes().count(b"\n") == ROWS
    assert 1 + 2 * 2 <= len(opened) <= 1 + 2 * 2 + 2  # the footer read, then about two slices a thread
