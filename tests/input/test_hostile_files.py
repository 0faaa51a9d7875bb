"""Files other writers produce, and files built to hurt: each converts faithfully or ends
with its stable code and a one-line message, through both engines, leaving nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl_lib.conversion import Engine, convert
from etl_lib.errors import ConversionError
from etl_lib.options import ConvertOptions, Limits
from etl_lib.report import RunReport
from tests import hostile
from tests.conftest import Converter

MiB = 1024**2


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    return out


def _fails(
    src: Path,
    out_dir: Path,
    engine: Engine,
    request: pytest.FixtureRequest,
    limits: Limits | None = None,
    options: ConvertOptions | None = None,
) -> ConversionError:
    spark = request.getfixturevalue("spark") if engine is Engine.SPARK else None
    with pytest.raises(ConversionError) as error:
        convert(str(src), str(out_dir / "out.jsonl"), options, engine=engine, spark=spark, limits=limits)
    assert "\n" not in error.value.message
    assert src.name in error.value.message
    assert list(out_dir.iterdir()) == []  # no output, no temporary file, no staged piece
    return error.value


def test_invalid_utf8_is_refused_naming_file_column_and_row(
    tmp_path: Path, out_dir: Path, engine: Engine, request: pytest.FixtureRequest
) -> None:
    src = hostile.invalid_utf8(tmp_path / "names.parquet", bad_row=3, rows=6)
    error = _fails(src, out_dir, engine, request)
    assert error.code == "INVALID_UTF8"
    assert error.message == "names.parquet: column name, row 3: is not valid UTF-8"


def test_the_row_of_a_refused_value_counts_from_the_start_of_its_file(
    tmp_path: Path, out_dir: Path, engine: Engine, request: pytest.FixtureRequest
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = tmp_path / "late.parquet"
    raw = [0] * 250 + [86_400_001]  # one bad TIME in the third row group
    pq.write_table(pa.table({"t": pa.array(raw, pa.int32()).cast(pa.time32("ms"))}), src, row_group_size=100)
    error = _fails(src, out_dir, engine, request)
    assert error.code == "INVALID_VALUE"
    assert error.message.startswith("late.parquet: column t, row 250: TIME value 86400001 (ms)")


def test_a_time_outside_the_day_is_refused_and_24_hours_is_the_end_of_day(
    tmp_path: Path, out_dir: Path, run_convert: Converter, engine: Engine, request: pytest.FixtureRequest
) -> None:
    records, _ = run_convert(hostile.times(tmp_path / "day.parquet", [0, 86_400_000_000], "us"))
    assert records == [{"t": "00:00:00.000000"}, {"t": "24:00:00.000000"}]
    error = _fails(hostile.times(tmp_path / "neg.parquet", [0, -1_000_000], "us"), out_dir, engine, request)
    assert error.code == "INVALID_VALUE"
    assert "column t, row 1" in error.message and "-1000000" in error.message


def test_an_empty_group_is_an_empty_object(tmp_path: Path, run_convert: Converter) -> None:
    src = hostile.empty_group(tmp_path / "empty.parquet")
    records, report = run_convert(src)
    assert records == [{"a": 1, "e": {}, "b": "x"}, {"a": None, "e": {}, "b": "y"}]
    assert report.json_schema["properties"]["e"]["properties"] == {}
    records, _ = run_convert(src, ConvertOptions(drop_nulls=True))
    assert records == [{"a": 1, "e": {}, "b": "x"}, {"e": {}, "b": "y"}]


def test_an_empty_group_inside_a_group_is_refused_as_unsupported(
    tmp_path: Path, out_dir: Path, engine: Engine, request: pytest.FixtureRequest
) -> None:
    error = _fails(hostile.nested_empty_group(tmp_path / "inner.parquet"), out_dir, engine, request)
    assert error.code == "UNSUPPORTED_TYPE"


def test_a_schema_nested_deeper_than_the_limit_is_refused_before_any_work(
    tmp_path: Path, out_dir: Path, engine: Engine, request: pytest.FixtureRequest
) -> None:
    error = _fails(hostile.deeply_nested(tmp_path / "deep.parquet", 2_000), out_dir, engine, request)
    assert error.code == "UNSUPPORTED_TYPE"
    assert "2000 levels" in error.message


def test_a_schema_nested_within_the_limit_converts(tmp_path: Path, run_convert: Converter) -> None:
    records, _ = run_convert(hostile.deeply_nested(tmp_path / "deep.parquet", 60))
    first: object = records[0]["deep"]
    for _ in range(59):
        assert isinstance(first, dict)
        first = first["f"]
    assert first == {"f": 1}


def test_a_decompression_bomb_ends_with_input_too_large(
    tmp_path: Path, out_dir: Path, engine: Engine, request: pytest.FixtureRequest
) -> None:
    src = hostile.decompression_bomb(tmp_path / "bomb.parquet")
    assert src.stat().st_size < 4096  # ...that decodes to 10 GB
    error = _fails(src, out_dir, engine, request, Limits(max_input_bytes=64 * MiB))
    assert error.code == "INPUT_TOO_LARGE"


def test_a_decompression_bomb_ends_with_output_too_large_when_input_is_unlimited(
    tmp_path: Path, out_dir: Path, engine: Engine, request: pytest.FixtureRequest
) -> None:
    src = hostile.decompression_bomb(tmp_path / "bomb.parquet")
    limits = Limits(max_input_bytes=None, max_output_bytes=64 * MiB, max_expansion=None)
    assert _fails(src, out_dir, engine, request, limits).code == "OUTPUT_TOO_LARGE"


def test_a_job_past_its_run_time_ends_with_timed_out(
    tmp_path: Path, out_dir: Path, engine: Engine, request: pytest.FixtureRequest
) -> None:
    src = hostile.decompression_bomb(tmp_path / "bomb.parquet")
    limits = Limits(max_input_bytes=None, max_output_bytes=None, max_run_seconds=1e-9)
    assert _fails(src, out_dir, engine, request, limits).code == "TIMED_OUT"


def test_a_footer_that_lies_about_sizes_ends_with_input_too_large(
    tmp_path: Path, out_dir: Path, engine: Engine, request: pytest.FixtureRequest
) -> None:
    src = hostile.lying_footer(tmp_path / "liar.parquet")
    error = _fails(src, out_dir, engine, request, Limits(max_input_bytes=32 * MiB))
    assert error.code == "INPUT_TOO_LARGE"


def test_a_footer_that_lies_about_sizes_converts_within_generous_limits(tmp_path: Path, run_convert: Converter) -> None:
    src = hostile.lying_footer(tmp_path / "liar.parquet", rows=200, value_bytes=10_000)
    records, report = run_convert(src)
    assert isinstance(report, RunReport) and report.rows_out == 200
    assert [r["v"][:8] for r in records] == [f"{i:08d}" for i in range(200)]
