"""The footer is looked at before pyarrow parses it: a footer that would crash or swamp the
parser is a one-line refusal, and every file pyarrow reads is seen exactly as pyarrow sees it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_lib.conversion import Engine, convert
from etl_lib.errors import ConversionError
from etl_lib.input.footer import MAX_THRIFT_NESTING, TAIL_BYTES, FooterError, footer_length, footer_shape
from etl_lib.options import PARQUET_LEVELS_PER_NESTING, Limits
from tests import hostile
from tests.conftest import CORPUS, corpus_files, needs_corpus
from tests.parquet_footer import BINARY, I32, MAP, SET, STRUCT, encode_struct, read_footer


def _shape_of(path: Path) -> tuple[int, int, int]:
    data = path.read_bytes()
    shape = footer_shape(data[-TAIL_BYTES - footer_length(data[-TAIL_BYTES:], len(data)) : -TAIL_BYTES])
    return shape.schema_depth, shape.columns, shape.row_groups


def test_the_20000_level_footer_is_a_one_line_refusal_not_a_crash(tmp_path: Path) -> None:
    src = hostile.footer_bomb(tmp_path / "deep-footer.parquet")
    assert src.stat().st_size < 200_000
    dest = tmp_path / "out.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "etl_lib.cli", "convert", "--engine", "local", str(src), str(dest)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1, f"exit {done.returncode}: {done.stderr[-500:]}"  # -11 was SIGSEGV
    limit = PARQUET_LEVELS_PER_NESTING * Limits().max_nesting_depth
    assert done.stderr == (
        "etl convert: error: deep-footer.parquet: its schema is nested 20000 levels deep (Parquet groups); "
        f"the limit is {limit} (UNSUPPORTED_TYPE)\n"
    )
    assert not dest.exists()


def test_why_the_footer_is_read_first_pyarrow_itself_dies_on_that_file(tmp_path: Path) -> None:
    """The reason for the hand-written reader, kept honest: should pyarrow ever parse this
    footer safely, this test says the pre-check may go."""
    src = hostile.footer_bomb(tmp_path / "deep-footer.parquet")
    done = subprocess.run(
        [sys.executable, "-c", f"import pyarrow.parquet as pq; pq.ParquetFile({str(src)!r}).schema_arrow"],
        capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode < 0, "pyarrow parsed the 20,000-level footer: the pre-check is no longer needed"


def test_the_spark_engine_refuses_it_on_the_driver_too(tmp_path: Path) -> None:
    """Planning reads footers on the driver before any session is needed: no Spark starts."""
    src = hostile.footer_bomb(tmp_path / "deep-footer.parquet")
    with pytest.raises(ConversionError) as refused:
        convert(str(src), str(tmp_path / "out.jsonl"), engine=Engine.SPARK)
    assert refused.value.code == "UNSUPPORTED_TYPE"
    assert list(tmp_path.iterdir()) == [src]


def test_a_schema_at_the_parquet_depth_limit_converts(tmp_path: Path) -> None:
    """The pre-check's depth limit lets every schema within the Arrow-level limit through."""
    limits = Limits(max_nesting_depth=4)
    at_limit = hostile.footer_bomb(tmp_path / "at.parquet", depth=PARQUET_LEVELS_PER_NESTING * 4 - 1)
    with pytest.raises(ConversionError) as arrow_level:
        convert(str(at_limit), str(tmp_path / "at.jsonl"), limits=limits)
    assert "levels deep; the limit is 4" in arrow_level.value.message, "the Arrow-level check decides here"
    over = hostile.footer_bomb(tmp_path / "over.parquet", depth=PARQUET_LEVELS_PER_NESTING * 4 + 1)
    with pytest.raises(ConversionError) as pre_check:
        convert(str(over), str(tmp_path / "over.jsonl"), limits=limits)
    assert "(Parquet groups); the limit is 12" in pre_check.value.message


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        (Limits(max_columns=2), "wide.parquet has 3 columns; the limit is 2"),
        (Limits(max_row_groups=2), "wide.parquet has 3 row groups; the limit is 2"),
        (Limits(max_footer_bytes=100), "wide.parquet has a footer of"),
    ],
    ids=["columns", "row groups", "footer bytes"],
)
def test_footers_over_the_limits_end_with_input_too_large(tmp_path: Path, limits: Limits, message: str) -> None:
    src = tmp_path / "wide.parquet"
    pq.write_table(pa.table({"a": [1, 2, 3], "b": ["x", "y", "z"], "c": [1.0, 2.0, 3.0]}), src, row_group_size=1)
    with pytest.raises(ConversionError) as refused:
        convert(str(src), str(tmp_path / "out.jsonl"), limits=limits)
    assert refused.value.code == "INPUT_TOO_LARGE"
    assert message in refused.value.message


def test_fields_of_every_thrift_type_are_skipped_without_recursion(tmp_path: Path) -> None:
    """Unknown fields before the schema (ids 100-102, as a writer's extension would add): a set,
    nested structs and a map of structs are skipped; a structure nested past the bound is
    refused as corrupt."""
    src = tmp_path / "extended.parquet"
    pq.write_table(pa.table({"a": [1]}), src)
    _, meta = read_footer(src)
    nested: list[list[object]] = [[1, I32, 7]]
    for _ in range(10):
        nested = [[1, STRUCT, nested], [2, BINARY, b"x"]]
    unknown = encode_struct([[100, SET, [I32, [1, 2, 3]]], [101, STRUCT, nested]])[:-1]  # no STOP yet
    # Field 102, a map<binary, struct{1: i32}> of one entry, by hand (the test codec writes
    # no maps): header (delta 1, MAP), size 1, key and value types, "k", {1: 1}.
    unknown += bytes([(1 << 4) | MAP, 1, (BINARY << 4) | STRUCT]) + b"\x01k" + bytes([(1 << 4) | I32, 2, 0])
    known = encode_struct(meta)
    assert known[0] == (1 << 4) | I32, "FileMetaData starts with field 1, version"
    # Field 1 after 102 is a step back: the compact protocol then writes the id in full.
    footer = unknown + bytes([I32]) + bytes([2]) + known[1:]  # zigzag(1) == 2
    assert footer_shape(footer).columns == 1

    deep: list[list[object]] = [[1, I32, 1]]
    for _ in range(MAX_THRIFT_NESTING + 1):
        deep = [[1, STRUCT, deep]]
    with pytest.raises(FooterError, match="nests Thrift structures over"):
        footer_shape(encode_struct([[1, STRUCT, deep]]))


@needs_corpus()
@pytest.mark.parametrize("path", corpus_files("data", "bad_data"), ids=lambda p: str(p.relative_to(CORPUS)))
def test_every_corpus_file_pyarrow_reads_is_seen_as_pyarrow_sees_it(path: Path) -> None:
    try:
        metadata = pq.ParquetFile(path).metadata
    except Exception:  # pyarrow refuses it: the pre-check may refuse it too, or leave it to pyarrow
        return
    if path.read_bytes()[-4:] == b"PARE":  # an encrypted footer: refused, as before, with its reason
        with pytest.raises(FooterError, match="encrypted"):
            _shape_of(path)
        return
    _, columns, row_groups = _shape_of(path)
    assert (columns, row_groups) == (metadata.num_columns, metadata.num_row_groups)
