"""A local output assembled while the Spark job runs (etl_lib.output.assembly): pieces copied
in order as they complete, the rest at the end, sizes checked, nothing left on failure."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest

from etl_lib.errors import OutputError
from etl_lib.output import sink
from etl_lib.output.assembly import assembling, run_while


def _write(staging: str, seq: int, data: bytes) -> None:
    with sink.open_piece(sink.piece_uri(staging, seq)) as out:
        out.write(data)


def test_pieces_completed_in_any_order_are_assembled_in_order_and_removed(tmp_path: Path) -> None:
    staging = str(tmp_path / ".out.jsonl.parts")
    datas = [random.Random(seq).randbytes(random.Random(seq).randrange(0, 300_000)) for seq in range(12)]
    pieces = [sink.piece_uri(staging, seq) for seq in range(12)]
    order = list(range(12))
    random.Random(7).shuffle(order)
    ticks: list[int] = []

    def job() -> list[int]:
        for seq in order:  # the writers finish in an order no assembly may follow
            _write(staging, seq, datas[seq])
            time.sleep(0.01)
        return [len(data) for data in datas]

    dest = tmp_path / "out.jsonl"
    with assembling(pieces, str(dest), prefix=b"[") as assembly:

        def tick() -> None:
            assembly.collect()
            ticks.append(sum(Path(p).exists() for p in pieces))

        sizes = run_while(job, tick, every=0.005)
        size = assembly.finish(sizes)
    assert dest.read_bytes() == b"[" + b"".join(datas)
    assert size == dest.stat().st_size
    assert [p for p in pieces if Path(p).exists()] == [], "every piece removed once copied"
    assert len(ticks) > 1, "the assembly looked for pieces while the job ran"


def test_a_piece_that_changed_size_after_it_was_copied_publishes_nothing(tmp_path: Path) -> None:
    staging = str(tmp_path / ".out.jsonl.parts")
    pieces = [sink.piece_uri(staging, seq) for seq in range(2)]
    dest = tmp_path / "out.jsonl"
    dest.write_bytes(b"the previous output\n")
    failure = pytest.raises(OutputError, match=r"staged piece piece-000000 held 5 bytes, its writer wrote 6")
    with failure, assembling(pieces, str(dest)) as assembly:
        _write(staging, 0, b"12345")
        assembly.collect()  # copied as it was...
        _write(staging, 1, b"abc")
        assembly.finish([6, 3])  # ...but its writer reported another size
    assert dest.read_bytes() == b"the previous output\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.jsonl.tmp")] == []


def test_a_failed_job_leaves_no_output_and_no_temporary_file(tmp_path: Path) -> None:
    staging = str(tmp_path / ".out.jsonl.parts")
    dest = tmp_path / "out.jsonl"

    def job() -> list[int]:
        _write(staging, 0, b"first piece\n")
        raise RuntimeError("an executor was lost")

    pieces = [sink.piece_uri(staging, 0), sink.piece_uri(staging, 1)]
    with pytest.raises(RuntimeError, match="an executor was lost"), assembling(pieces, str(dest)) as assembly:
        run_while(job, assembly.collect)
    assert not dest.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.jsonl.tmp")] == []


def test_a_local_piece_exists_under_its_name_only_once_complete(tmp_path: Path) -> None:
    uri = sink.piece_uri(str(tmp_path / "staging"), 3)
    seen: list[bool] = []
    with sink.open_piece(uri) as out:
        out.write(b"half")
        seen.append(Path(uri).exists())
        out.write(b" and the rest")
    assert seen == [False]
    assert Path(uri).read_bytes() == b"half and the rest"
    failure = pytest.raises(OSError, match="disk full")
    with failure, sink.open_piece(sink.piece_uri(str(tmp_path / "staging"), 4)) as out:
        out.write(b"partial")
        raise OSError("disk full")
    assert sorted(p.name for p in (tmp_path / "staging").iterdir()) == ["piece-000003"]


def test_run_while_calls_its_tick_until_the_job_ends_on_the_callers_thread() -> None:
    release = threading.Event()
    threads: set[str] = set()

    def tick() -> None:
        threads.add(threading.current_thread().name)
        release.set()

    def job() -> str:
        assert release.wait(5), "the tick ran while the job did"
        return "done"

    assert run_while(job, tick, every=0.01) == "done"
    assert threads == {threading.current_thread().name}
