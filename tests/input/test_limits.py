"""Bounded work: the limits' defaults, their flags, and memory bounded by what is actually
decoded (measured in a separate process), whatever the footer says."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import ClassVar

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_lib import conversion
from etl_lib.cli import main
from etl_lib.contract.type_families import fixed_width
from etl_lib.input.batches import DEFAULT_BATCH_ROWS, MAX_REOPENS, PROBE_ROWS
from etl_lib.input.planning import open_input, read_slice
from etl_lib.options import (
    BATCH_BYTES,
    CONVERTER_MEMORY_BYTES,
    CONVERTER_TIMEOUT_SECONDS,
    ConvertOptions,
    Limits,
)
from etl_lib.output import writer
from tests import hostile

MiB = 1024**2


def test_the_default_limits_are_sized_for_the_converter_lambda_as_deployed() -> None:
    from infra.config import InfraConfig

    deployed = InfraConfig()
    assert deployed.converter_memory_mb * MiB == CONVERTER_MEMORY_BYTES
    assert deployed.converter_timeout_seconds == CONVERTER_TIMEOUT_SECONDS
    limits = Limits()
    assert limits.max_run_seconds is not None and limits.max_run_seconds < CONVERTER_TIMEOUT_SECONDS
    assert limits.max_input_bytes is not None and limits.max_output_bytes is not None


def test_a_spark_run_is_bounded_by_the_glue_jobs_timeout_not_by_the_lambdas_limits() -> None:
    from etl_lib.jobs.settings import service_for_run
    from etl_lib.options import SPARK_TIMEOUT_SECONDS
    from infra.config import InfraConfig

    assert InfraConfig().glue_timeout_minutes * 60 == SPARK_TIMEOUT_SECONDS
    spark = Limits.for_spark()
    assert spark.max_run_seconds is not None and spark.max_run_seconds < SPARK_TIMEOUT_SECONDS
    lambda_input = Limits().max_input_bytes
    assert spark.max_input_bytes is not None and lambda_input is not None
    assert spark.max_input_bytes > 50 * lambda_input
    stores = {"jobs_store": "sqlite::memory:", "input_store": "/nonexistent/in", "output_store": "/nonexistent/out"}
    assert service_for_run({**stores, "max_run_seconds": "1500"}).spark_limits.max_run_seconds == 1500
    with pytest.raises(ValueError, match="max_run_seconds"):
        service_for_run({**stores, "max_run_seconds": "soon"})


def test_limits_are_lifted_only_when_asked() -> None:
    assert Limits().max_input_bytes is not None
    assert Limits.unlimited().max_input_bytes is None
    with pytest.raises(ValueError, match="greater than 0"):
        Limits(max_input_bytes=0)


def test_batches_are_sized_by_their_decoded_bytes_not_by_the_footer(tmp_path: Path) -> None:
    src = hostile.lying_footer(tmp_path / "liar.parquet", rows=400, value_bytes=50_000)
    (piece,) = open_input(str(src)).plan(target_bytes=1)
    sizes, rows = [], 0
    for batch in read_slice(piece, batch_bytes=1 * MiB):
        sizes.append(batch.nbytes)
        rows += batch.num_rows
    assert rows == 400
    assert max(sizes) <= 2 * MiB  # a 16-row probe (0.8 MB), then batches of ~1 MiB
    assert len(sizes) > 10


def test_a_batch_that_comes_out_larger_than_the_last_one_said_is_resliced(tmp_path: Path) -> None:
    src = tmp_path / "fattening.parquet"
    values = ["small"] * 100 + ["z" * 100_000] * 300  # thin rows first, then 30 MB of fat ones
    pq.write_table(pa.table({"v": values}), src, compression="zstd")
    (piece,) = open_input(str(src)).plan(target_bytes=1)
    batches = list(read_slice(piece, batch_bytes=1 * MiB))
    assert sum(b.num_rows for b in batches) == 400
    assert pa.Table.from_batches(batches).column("v").to_pylist() == values
    assert max(b.nbytes for b in batches) <= 2 * MiB + 100_000


def test_rows_whose_sizes_keep_changing_reopen_a_row_group_only_a_few_times(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "waves.parquet"
    values = (["t"] * 3000 + ["w" * 50_000] * 40) * 6  # thin and fat rows in turn, one row group
    pq.write_table(pa.table({"v": values}), src, compression="zstd")
    opened = []
    iter_batches = pq.ParquetFile.iter_batches

    def counting(self: pq.ParquetFile, *args: object, **kwargs: object) -> object:
        opened.append(kwargs.get("batch_size"))
        return iter_batches(self, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", counting)
    (piece,) = open_input(str(src)).plan(target_bytes=1)
    batches = list(read_slice(piece, batch_bytes=256 * 1024))
    assert pa.Table.from_batches(batches).column("v").to_pylist() == values
    assert len(opened) <= 1 + MAX_REOPENS
    assert max(b.nbytes for b in batches) <= 2 * 256 * 1024 + 50_000


def _recording_iter_batches(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    """Every ParquetFile.iter_batches call's keyword arguments, in order."""
    calls: list[dict[str, object]] = []
    iter_batches = pq.ParquetFile.iter_batches

    def recording(self: pq.ParquetFile, *args: object, **kwargs: object) -> object:
        calls.append(kwargs)
        return iter_batches(self, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", recording)
    return calls


def test_only_the_variable_width_columns_are_probed_before_a_row_group_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "mixed.parquet"
    table = pa.table(
        {
            "id": pa.array(range(5000), pa.int64()),
            "text": ["v" * 200] * 5000,
            "point": pa.array([{"x": 1.0, "y": 2}] * 5000),
            "tags": [[1, 2, 3]] * 5000,
        }
    )
    pq.write_table(table, src, row_group_size=2500)
    calls = _recording_iter_batches(monkeypatch)
    (piece,) = open_input(str(src)).plan(target_bytes=1 << 40)
    batches = list(read_slice(piece, batch_bytes=64 * 1024))
    assert pa.Table.from_batches(batches).equals(table)
    probes = [c for c in calls if c["batch_size"] == PROBE_ROWS]
    assert [c["columns"] for c in probes] == [["text", "tags"]] * 2  # one per row group
    # The first batch is sized from the probe and the fixed widths: no row group is reopened.
    assert len(calls) == 4
    assert max(b.nbytes for b in batches) <= 2 * 64 * 1024


class _CountingFile:
    """A binary file that counts the bytes read from it (handed to Arrow as a PythonFile)."""

    def __init__(self, path: str, counts: list[int]) -> None:
        self._file = open(path, "rb")  # noqa: SIM115  # closed by Arrow through close()
        self._counts = counts
        counts.append(0)
        self._index = len(counts) - 1
        self.closed = False

    def read(self, n: int = -1) -> bytes:
        data = self._file.read(n)
        self._counts[self._index] += len(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def close(self) -> None:
        self.closed = True
        self._file.close()


def test_the_probe_reads_only_the_first_pages_of_its_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from etl_lib.input import planning

    src = tmp_path / "text.parquet"
    rows = 200_000
    table = pa.table({"id": pa.array(range(rows), pa.int64()), "text": [f"{i:08d}" * 8 for i in range(rows)]})
    pq.write_table(table, src, compression="none", data_page_size=64 * 1024)
    counts: list[int] = []

    class CountingFileSystem:
        def open_input_file(self, path: str) -> pa.PythonFile:
            return pa.PythonFile(_CountingFile(path, counts), mode="r")

    (piece,) = open_input(str(src)).plan(target_bytes=1 << 40)
    monkeypatch.setattr(planning.fs, "resolve", lambda uri: (CountingFileSystem(), uri))
    batches = list(read_slice(piece))
    assert pa.Table.from_batches(batches).equals(table)
    group = pq.ParquetFile(src).metadata.row_group(0)
    chunks = sum(group.column(i).total_compressed_size for i in range(group.num_columns))
    text = group.column(1).total_compressed_size  # 14 MB of text
    # The slice's one reader reads every column chunk once, and the probe of the text column
    # before it only its dictionary page (1 MB) and first data page, not the whole chunk.
    assert len(counts) == 1
    assert chunks <= counts[0] < chunks + text // 10


def test_local_files_are_read_as_decoded_and_s3_objects_pre_buffered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.fs as pafs

    from etl_lib.input import planning

    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"a": [1, 2]}), src)
    opened: list[tuple[object, object]] = []
    real = pq.ParquetFile

    def recording(source: object, **kwargs: object) -> pq.ParquetFile:
        opened.append((kwargs.get("pre_buffer"), kwargs.get("buffer_size")))
        return real(source, **kwargs)

    monkeypatch.setattr(planning.pq, "ParquetFile", recording)
    planning._open(str(src))
    # An s3:// URI, its bytes served from the local file: the choice depends on the URI only.
    monkeypatch.setattr(planning.fs, "resolve", lambda uri: (pafs.LocalFileSystem(), str(src)))
    planning._open("s3://bucket/in.parquet")
    assert opened == [(False, planning.LOCAL_READ_BYTES), (True, None)]


def test_a_row_group_of_fixed_width_columns_is_sized_from_its_types_without_a_probe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "numbers.parquet"
    table = pa.table({"a": pa.array(range(20_000), pa.int64()), "b": pa.array([0.5] * 20_000), "c": [True] * 20_000})
    pq.write_table(table, src)
    calls = _recording_iter_batches(monkeypatch)
    (piece,) = open_input(str(src)).plan(target_bytes=1 << 40)
    batches = list(read_slice(piece, batch_bytes=19 * 1000))
    assert pa.Table.from_batches(batches).equals(table)
    assert [c["batch_size"] for c in calls] == [1000]  # 19 bytes a row: 9 + 9 + 1
    assert {b.num_rows for b in batches} == {1000}


@pytest.mark.parametrize(
    ("arrow_type", "width"),
    [
        (pa.int8(), 2),
        (pa.float64(), 9),
        (pa.timestamp("us", "UTC"), 9),
        (pa.decimal128(18, 4), 17),
        (pa.uuid(), 17),
        (pa.struct([("x", pa.float64()), ("y", pa.int32())]), 1 + 9 + 5),
        (pa.list_(pa.int16(), 3), 1 + 3 * 3),
        (pa.string(), None),
        (pa.list_(pa.int32()), None),
        (pa.struct([("label", pa.string())]), None),
        (pa.dictionary(pa.int32(), pa.string()), None),
        (pa.map_(pa.int32(), pa.int32()), None),
    ],
    ids=str,
)
def test_a_type_has_a_fixed_width_only_when_every_value_has_the_same_size(
    arrow_type: pa.DataType, width: int | None
) -> None:
    assert fixed_width(arrow_type) == width


class _RecordingScheduler(writer._Scheduler):
    """Records the most bytes ever waiting: encoded for the writer, decoded for the encoders."""

    peaks: ClassVar[list[int]] = [0, 0]

    def _encode(self, work: writer._SliceWork, part: writer._Part) -> None:
        super()._encode(work, part)
        with self._cond:
            peaks = _RecordingScheduler.peaks
            peaks[:] = [max(peaks[0], self._encoded), max(peaks[1], self._decoded)]

    def _decode(self, work: writer._SliceWork) -> None:
        super()._decode(work)
        with self._cond:
            peaks = _RecordingScheduler.peaks
            peaks[:] = [max(peaks[0], self._encoded), max(peaks[1], self._decoded)]


@pytest.mark.parametrize("workers", [2, 4])
def test_bytes_waiting_for_the_writer_and_for_the_encoders_are_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    src = tmp_path / "groups.parquet"
    rows = 8 * 4 * DEFAULT_BATCH_ROWS  # 8 row groups of 4 batches, ~0.9 MB each decoded
    pq.write_table(pa.table({"v": [f"{i:050d}" for i in range(rows)]}), src, row_group_size=rows // 8)
    plan = open_input(str(src)).plan(target_bytes=1)
    batch = max(b.nbytes for b in read_slice(plan[0]))
    monkeypatch.setattr(writer, "_Scheduler", _RecordingScheduler)
    _RecordingScheduler.peaks[:] = [0, 0]
    limit = 1024 * 1024
    chunks = []
    for chunk in writer.encode_in_order(plan, ConvertOptions(), workers=workers, in_flight_bytes=limit):
        chunks.append(chunk)
        time.sleep(0.002)  # a slow writer: the threads run ahead of it as far as they may
    assert sum(rows for _, rows in chunks) == rows
    largest = max(chunk.size for chunk, _ in chunks)
    encoded, decoded = _RecordingScheduler.peaks
    # Each bound is checked before a task starts: each thread may go one task past it. Without
    # the bounds the threads ran 4 to 10 times further ahead.
    assert 0 < encoded <= limit + workers * largest
    assert 0 < decoded <= limit // 4 + workers * batch


def _measured(*argv: str) -> tuple[int, str, int, int]:
    """Run ``etl`` in a fresh process; its exit status, stderr, peak RSS in MiB and the bytes
    it wrote (``wchar`` of /proc/self/io: every byte handed to a write, output files included).

    The peak is the new process's own high-water mark (VmHWM of its address space):
    ``getrusage``'s ``ru_maxrss`` survives exec on Linux, so a child would report this
    test process's RSS at fork time when that is higher.
    """
    script = textwrap.dedent(
        f"""
        import re, sys
        from etl_lib.cli import main
        status = main({list(argv)!r})
        with open("/proc/self/status") as status_file:
            peak = int(re.search(r"VmHWM:\\s+(\\d+) kB", status_file.read()).group(1)) // 1024
        with open("/proc/self/io") as io_file:
            written = int(re.search(r"wchar:\\s+(\\d+)", io_file.read()).group(1))
        print(peak, written)
        sys.exit(status)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    peak, written = result.stdout.strip().splitlines()[-1].split()
    return result.returncode, result.stderr, int(peak), int(written)


def _peak_rss_mib(*argv: str) -> tuple[int, str, int]:
    status, stderr, peak, _ = _measured(*argv)
    return status, stderr, peak


# A batch is ~BATCH_BYTES decoded and a few times that while encoded, per worker, plus the
# encoded bytes in flight: well under half the Lambda's memory. Before batches were sized
# by their real bytes, the bomb's first batch alone decoded to 1.6 GB.
MEMORY_BOUND_MIB = CONVERTER_MEMORY_BYTES // 2 // MiB


@pytest.mark.large  # decodes and writes half a gigabyte
def test_a_decompression_bomb_stops_at_its_limit_with_memory_bounded(tmp_path: Path) -> None:
    src = hostile.decompression_bomb(tmp_path / "bomb.parquet")
    dest = tmp_path / "out" / "bomb.jsonl"
    dest.parent.mkdir()
    status, stderr, peak = _peak_rss_mib(
        "convert", "--engine", "local", str(src), str(dest), "--max-input-bytes", "512M"
    )
    assert status == 1, stderr
    assert stderr.strip().endswith("(INPUT_TOO_LARGE)") and stderr.count("\n") == 1
    assert list(dest.parent.iterdir()) == []
    assert 512 * MiB > BATCH_BYTES  # the limit is several batches: memory is bounded by batches
    assert peak < MEMORY_BOUND_MIB, f"peak RSS {peak} MiB"


@pytest.mark.large  # decodes and writes a gigabyte
def test_a_small_bomb_costs_about_a_gigabyte_not_the_absolute_limits(tmp_path: Path) -> None:
    """With the default limits, a 4 KB file that decodes to 10 GB stops at the floor of the
    limits bounded by its size (1 GiB), not at the absolute ones (~5.9 GiB decoded, ~11.75 GiB
    of JSON): at most 2 GiB written and 1.5 GiB of memory."""
    src = hostile.decompression_bomb(tmp_path / "bomb.parquet")
    dest = tmp_path / "out" / "bomb.jsonl"
    dest.parent.mkdir()
    status, stderr, peak, written = _measured("convert", "--engine", "local", str(src), str(dest))
    assert status == 1, stderr
    assert stderr.count("\n") == 1 and stderr.strip().endswith("(INPUT_TOO_LARGE)"), stderr
    assert "more than 1.0 GiB, this job's limit on decoded input (100 times the input's" in stderr, stderr
    assert list(dest.parent.iterdir()) == []
    assert written <= 2 * 1024**3, f"{written} bytes written"
    assert peak <= 1536, f"peak RSS {peak} MiB"


@pytest.mark.large  # decodes a quarter of a gigabyte
def test_a_lying_footer_is_read_with_memory_bounded(tmp_path: Path) -> None:
    src = hostile.lying_footer(tmp_path / "liar.parquet", rows=6_000, value_bytes=100_000)  # 600 MB decoded
    dest = tmp_path / "out" / "liar.jsonl"
    dest.parent.mkdir()
    status, stderr, peak = _peak_rss_mib(
        "convert", "--engine", "local", str(src), str(dest), "--max-input-bytes", "256M"
    )
    assert status == 1 and stderr.strip().endswith("(INPUT_TOO_LARGE)"), stderr
    assert list(dest.parent.iterdir()) == []
    assert peak < MEMORY_BOUND_MIB, f"peak RSS {peak} MiB"


def test_limit_flags_accept_units_and_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Limits] = []

    def fake_convert(*args: object, limits: Limits, **kwargs: object) -> None:
        seen.append(limits)
        raise SystemExit(0)

    monkeypatch.setattr(conversion, "convert", fake_convert)
    with pytest.raises(SystemExit):
        main(
            ["convert", "a.parquet", str(tmp_path / "o.jsonl"), "--max-input-bytes", "2G", "--max-output-bytes", "none"]
        )
    with pytest.raises(SystemExit):
        main(["convert", "a.parquet", str(tmp_path / "o.jsonl"), "--max-run-seconds", "0"])
    assert seen[0].max_input_bytes == 2 * 1024**3 and seen[0].max_output_bytes is None
    assert seen[0].max_run_seconds == Limits().max_run_seconds
    assert seen[1].max_run_seconds is None and seen[1].max_input_bytes == Limits().max_input_bytes
    with pytest.raises(SystemExit) as usage:
        main(["convert", "a.parquet", "o.jsonl", "--max-input-bytes", "lots"])
    assert usage.value.code == 2
    assert "not a byte count" in capsys.readouterr().err
