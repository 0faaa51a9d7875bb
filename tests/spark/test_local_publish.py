"""Staged pieces published to a local destination: concatenated into one file, atomically,
each checked against the size its writer reported."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from etl_lib.errors import OutputError
from etl_lib.output import sink


def _pieces(tmp_path: Path, sizes: list[int]) -> list[str]:
    staging = tmp_path / ".out.parts-test"
    staging.mkdir()
    paths = []
    for seq, size in enumerate(sizes):
        path = staging / f"piece-{seq:06d}"
        path.write_bytes(random.Random(seq).randbytes(size))
        paths.append(str(path))
    return paths


def test_published_pieces_make_the_same_bytes_as_their_concatenation(tmp_path: Path) -> None:
    # Empty pieces, tiny ones and ones larger than a copy chunk, in an order no thread keeps.
    sizes = [0, 1, 9 * 1024 * 1024 + 7, 0, 4096, 3, 2 * 1024 * 1024, 0]
    pieces = _pieces(tmp_path, sizes)
    dest = tmp_path / "out.json"
    size = sink.publish(pieces, str(dest), sizes=sizes, prefix=b"[\n")
    expected = b"[\n" + b"".join(Path(p).read_bytes() for p in pieces)
    assert size == len(expected) == dest.stat().st_size
    assert dest.read_bytes() == expected
    # The same bytes as the serial publish, which has no sizes to go by.
    serial = tmp_path / "serial.json"
    sink.publish(pieces, str(serial), prefix=b"[\n")
    assert serial.read_bytes() == expected


def test_a_piece_of_another_size_than_its_writer_counted_publishes_nothing(tmp_path: Path) -> None:
    sizes = [100, 200, 300]
    pieces = _pieces(tmp_path, sizes)
    dest = tmp_path / "out.jsonl"
    dest.write_bytes(b"the previous output\n")
    with pytest.raises(OutputError, match=r"staged piece piece-000001 holds 200 bytes, its writer wrote 201"):
        sink.publish(pieces, str(dest), sizes=[100, 201, 300])
    assert dest.read_bytes() == b"the previous output\n", "the destination is untouched"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.jsonl")] == []
