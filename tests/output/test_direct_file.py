"""The output file written around the page cache: exact bytes whatever the chunk sizes, an
exact length, nothing half-written published, and the buffered fallback where a filesystem
refuses O_DIRECT (the kernel's EINVAL is injected: every filesystem here accepts it)."""

from __future__ import annotations

import errno
import gzip
import mmap
import os
import random
from pathlib import Path

import pyarrow as pa
import pytest

from etl_lib.options import Compression, ConvertOptions, OutputFormat
from etl_lib.output import sink
from etl_lib.output.direct_file import ALIGNMENT, DirectFile
from etl_lib.output.writer import JsonFramer

BUFFER = 4 * ALIGNMENT  # small, so that a few chunks cross several buffer boundaries


def _chunks(seed: int) -> list[bytes]:
    rng = random.Random(seed)
    sizes = [0, 1, ALIGNMENT - 1, ALIGNMENT, ALIGNMENT + 1, BUFFER - 3, BUFFER, 3 * BUFFER + 7]
    sizes += [rng.randrange(0, 3 * BUFFER) for _ in range(40)]
    return [rng.randbytes(n) for n in sizes]


def _write_all(path: Path, chunks: list[bytes]) -> DirectFile:
    """``chunks`` written to a new DirectFile at ``path`` (closed)."""
    with DirectFile(str(path), buffer_bytes=BUFFER) as out:
        for chunk in chunks:
            assert out.write(chunk) == len(chunk)
    return out


def _accepts_direct_writes(folder: Path) -> bool:
    probe = folder / "probe"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o600)
    except OSError:
        return False
    try:
        with mmap.mmap(-1, ALIGNMENT) as block:
            os.write(fd, block)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
        probe.unlink()


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "buffered"])
def test_a_file_holds_exactly_the_concatenated_chunks_whatever_their_sizes(tmp_path: Path, direct: bool) -> None:
    if direct and not _accepts_direct_writes(tmp_path):
        pytest.skip("the filesystem of the temporary folder refuses O_DIRECT (the fallback tests below cover it)")
    chunks = _chunks(7)
    path = tmp_path / "out.bin"
    with DirectFile(str(path), direct=direct, buffer_bytes=BUFFER) as out:
        for chunk in chunks:
            assert out.write(chunk) == len(chunk)
        assert out.direct is direct  # the writes really bypassed the page cache
    assert path.read_bytes() == b"".join(chunks)


@pytest.mark.parametrize("size", [0, 1, ALIGNMENT - 1, ALIGNMENT, BUFFER, BUFFER + 1])
def test_the_padding_of_the_last_block_is_cut_off(tmp_path: Path, size: int) -> None:
    path = tmp_path / "out.bin"
    data = os.urandom(size)
    with DirectFile(str(path), buffer_bytes=BUFFER) as out:
        out.write(data)
    assert path.stat().st_size == size
    assert path.read_bytes() == data


def test_arrow_buffers_and_memoryviews_are_written_without_conversion(tmp_path: Path) -> None:
    path = tmp_path / "out.bin"
    with DirectFile(str(path), buffer_bytes=BUFFER) as out:
        out.write(pa.py_buffer(b"arrow "))
        out.write(memoryview(b"view ").cast("B"))
        out.write(bytearray(b"bytes"))
    assert path.read_bytes() == b"arrow view bytes"


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "out.bin"
    path.write_bytes(b"keep")
    with pytest.raises(FileExistsError):
        DirectFile(str(path))
    assert path.read_bytes() == b"keep"


def test_a_filesystem_refusing_direct_opens_gets_buffered_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open

    def refusing_open(path: str, flags: int, mode: int = 0o777) -> int:
        if flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", refusing_open)
    chunks = _chunks(11)
    path = tmp_path / "out.bin"
    assert not _write_all(path, chunks).direct
    assert path.read_bytes() == b"".join(chunks)


def test_a_filesystem_refusing_direct_writes_midway_loses_no_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not _accepts_direct_writes(tmp_path):
        pytest.skip("the filesystem of the temporary folder refuses O_DIRECT from the start")
    real_write = os.write
    calls = {"direct": 0}

    def refusing_after_two(fd: int, data: memoryview) -> int:
        import fcntl

        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT:
            calls["direct"] += 1
            if calls["direct"] > 2:
                raise OSError(errno.EINVAL, "Invalid argument")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", refusing_after_two)
    chunks = _chunks(13)
    path = tmp_path / "out.bin"
    assert not _write_all(path, chunks).direct
    assert calls["direct"] == 3  # two direct writes landed, the third fell back
    assert path.read_bytes() == b"".join(chunks)


def _fail_midway(dest: Path) -> None:
    with sink.atomic_output(str(dest)) as out:
        out.write(b"x" * (3 * ALIGNMENT + 5))
        raise RuntimeError("encoder failed")


def test_a_failed_block_publishes_nothing_and_leaves_no_temporary(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="encoder failed"):
        _fail_midway(tmp_path / "out.jsonl")
    assert list(tmp_path.iterdir()) == []


def test_a_finished_block_is_renamed_over_the_destination(tmp_path: Path) -> None:
    dest = tmp_path / "out.jsonl"
    dest.write_bytes(b"old")
    with sink.atomic_output(str(dest)) as out:
        out.write(b'{"a":1}\n')
    assert dest.read_bytes() == b'{"a":1}\n'
    assert list(tmp_path.iterdir()) == [dest]


def test_gzip_output_does_not_depend_on_the_name_of_its_sink(tmp_path: Path) -> None:
    # A gzip header carries the name of a named sink (a Spark piece, a temporary file) unless
    # told otherwise: the same records would give different bytes.
    opts = ConvertOptions(format=OutputFormat.JSON, compression=Compression.GZIP)
    outputs = []
    for seq in (1, 2):
        piece = sink.piece_uri(str(tmp_path / f"staging-{seq}"), seq)
        with sink.open_piece(piece) as out:
            framer = JsonFramer(out, opts, first=True, last=True)
            framer.write(pa.py_buffer(b'{"a":1},\n'), 1)
            framer.close()
        outputs.append(Path(piece).read_bytes())
    assert outputs[0] == outputs[1]
    assert gzip.decompress(outputs[0]) == b'[\n{"a":1}\n]\n'


def test_a_full_disk_fails_the_conversion_with_its_reason_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

    from etl_lib.conversion import convert
    from etl_lib.errors import OutputError

    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"text": ["x" * 1000] * 20_000}), src)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    real_write = os.write
    written = {"calls": 0}

    def filling_up(fd: int, data: memoryview) -> int:
        written["calls"] += 1
        if written["calls"] > 1:  # the disk fills after the first 8 MiB
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", filling_up)
    with pytest.raises(OutputError) as error:
        convert(str(src), str(out_dir / "out.jsonl"), engine="local")
    assert error.value.code == "OUTPUT_FAILED"
    assert error.value.message == f"cannot write {out_dir / 'out.jsonl'}: No space left on device"
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "buffered"])
def test_a_file_appended_from_its_descriptor_lands_between_the_writes_around_it(tmp_path: Path, direct: bool) -> None:
    source = tmp_path / "piece"
    body = random.Random(3).randbytes(3 * ALIGNMENT + 17)
    source.write_bytes(body)
    path = tmp_path / "out"
    # A tiny buffer, so the appended file fills it several times from unaligned positions.
    with DirectFile(str(path), direct=direct, buffer_bytes=ALIGNMENT) as out, open(source, "rb") as src:
        out.write(b"head:")
        assert out.write_from(src.fileno(), len(body)) == len(body)
        out.write(b":tail")
    assert path.read_bytes() == b"head:" + body + b":tail"


def test_appending_more_bytes_than_a_file_holds_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "piece"
    source.write_bytes(b"short")
    with DirectFile(str(tmp_path / "out")) as out, open(source, "rb") as src, pytest.raises(EOFError, match="5 of 9"):
        out.write_from(src.fileno(), 9)
