"""`etl convert` as a user runs it: output files, reports, errors and what is left behind."""

from __future__ import annotations

import argparse
import gzip
import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_lib.cli import build_parser, main
from etl_lib.demo import contract_table
from etl_lib.options import ConvertOptions
from tests.contract_oracle import expected_records, parse_json


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    path = tmp_path / "demo.parquet"
    pq.write_table(contract_table(), path)
    return path


def _etl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "etl_lib.cli", *args], capture_output=True, text=True, timeout=300)


def test_convert_writes_one_jsonl_file_and_a_report(demo: Path, tmp_path: Path) -> None:
    dest, report = tmp_path / "out.jsonl", tmp_path / "report.json"
    assert main(["convert", "--engine", "local", str(demo), str(dest), "--report", str(report)]) == 0
    lines = dest.read_text(encoding="utf-8").splitlines()
    assert [parse_json(line) for line in lines] == expected_records(contract_table(), ConvertOptions())
    data = json.loads(report.read_text())
    assert data["rows_in"] == data["rows_out"] == 3
    assert data["output_bytes"] == dest.stat().st_size
    assert data["json_schema"]["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.parquet", "out.jsonl", "report.json"]


@pytest.mark.spark  # a Spark process of its own
def test_convert_with_spark_leaves_no_success_or_crc_debris(demo: Path, tmp_path: Path) -> None:
    result = _etl(
        "convert",
        "--engine",
        "spark",
        str(demo),
        str(tmp_path / "out.json.gz"),
        "--format",
        "json",
        "--compression",
        "gzip",
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.parquet", "out.json.gz"]
    records = json.loads(gzip.decompress((tmp_path / "out.json.gz").read_bytes()), parse_float=str)
    assert len(records) == 3


def test_directory_of_parts_converts_in_part_name_order(tmp_path: Path) -> None:
    parts = tmp_path / "parts"
    parts.mkdir()
    for i in range(3):
        pq.write_table(pa.table({"n": [i * 10 + j for j in range(10)]}), parts / f"part-{i:05d}.parquet")
    (parts / "_SUCCESS").write_bytes(b"")
    dest = tmp_path / "out.jsonl"
    assert main(["convert", "--engine", "local", str(parts), str(dest)]) == 0
    assert [json.loads(line)["n"] for line in dest.read_text().splitlines()] == list(range(30))


def test_parts_that_type_a_column_differently_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parts = tmp_path / "parts"
    parts.mkdir()
    pq.write_table(pa.table({"n": [1]}), parts / "a.parquet")
    pq.write_table(pa.table({"n": ["x"]}), parts / "b.parquet")
    assert main(["convert", "--engine", "local", str(parts), str(tmp_path / "out.jsonl")]) == 1
    assert "column n is int64 in a.parquet but string in b.parquet (SCHEMA_CONFLICT)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "is empty (0 bytes)"),
        (b"name,age\nbob,3\n", "is not a Parquet file"),
        (b"PAR1" + b"\x00" * 100 + b"PAR1", "is corrupt or truncated"),
    ],
)
def test_bad_input_exits_1_with_one_line_naming_the_file(content: bytes, problem: str, tmp_path: Path) -> None:
    src = tmp_path / "upload.parquet"
    src.write_bytes(content)
    result = _etl("convert", "--engine", "local", str(src), str(tmp_path / "out.jsonl"))
    assert result.returncode == 1
    assert result.stderr.startswith("etl convert: error: upload.parquet ")
    assert problem in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.spark  # a Spark process of its own
def test_truncated_file_fails_with_spark_too_and_keeps_an_existing_destination(demo: Path, tmp_path: Path) -> None:
    src = tmp_path / "truncated.parquet"
    src.write_bytes(demo.read_bytes()[:-30])
    dest = tmp_path / "out.jsonl"
    dest.write_text("previous\n")
    result = _etl("convert", "--engine", "spark", str(src), str(dest))
    assert result.returncode == 1
    assert "etl convert: error: truncated.parquet" in result.stderr
    assert "Traceback" not in result.stderr and "at org.apache" not in result.stderr
    assert dest.read_text() == "previous\n"  # atomic: a failed run never touches DEST
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.parquet", "out.jsonl", "truncated.parquet"]


def test_missing_input_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert", "--engine", "local", str(tmp_path / "nope.parquet"), str(tmp_path / "o.jsonl")]) == 1
    assert capsys.readouterr().err == "etl convert: error: nope.parquet does not exist (INPUT_NOT_FOUND)\n"


def test_unwritable_destination_is_a_clear_error(
    demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["convert", "--engine", "local", str(demo), str(tmp_path / "no" / "such" / "o.jsonl")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("etl convert: error: cannot write") and "does not exist" in err


def test_empty_table_gives_an_empty_jsonl_file_and_an_empty_json_array(tmp_path: Path) -> None:
    src = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"a": pa.array([], pa.int32())}), src)
    assert main(["convert", "--engine", "local", str(src), str(tmp_path / "o.jsonl")]) == 0
    assert (tmp_path / "o.jsonl").read_bytes() == b""
    assert main(["convert", "--engine", "local", str(src), str(tmp_path / "o.json"), "--format", "json"]) == 0
    assert json.loads((tmp_path / "o.json").read_text()) == []


def test_json_array_over_many_row_groups_is_one_valid_array(tmp_path: Path) -> None:
    src = tmp_path / "many.parquet"
    pq.write_table(pa.table({"n": list(range(1000))}), src, row_group_size=7)
    assert main(["convert", "--engine", "local", str(src), str(tmp_path / "o.json"), "--format", "json"]) == 0
    assert json.loads((tmp_path / "o.json").read_text()) == [{"n": n} for n in range(1000)]


def test_auto_engine_runs_small_inputs_locally_and_large_ones_on_spark(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from etl_lib.options import Engine, choose_engine

    assert choose_engine("auto", 10, local_max_bytes=100) is Engine.LOCAL
    assert choose_engine("auto", 101, local_max_bytes=100) is Engine.SPARK
    # The library reads no environment: one default threshold, shared with the job service.
    monkeypatch.setenv("ETL_LOCAL_MAX_BYTES", "5")
    assert choose_engine("auto", 6) is Engine.LOCAL
    assert choose_engine("auto", 64 * 1024**2 + 1) is Engine.SPARK
    assert choose_engine("local", 10**12) is Engine.LOCAL
    report = tmp_path / "report.json"
    monkeypatch.delenv("ETL_LOCAL_MAX_BYTES")
    assert main(["convert", str(demo), str(tmp_path / "o.jsonl"), "--report", str(report)]) == 0
    assert json.loads(report.read_text())["engine"] == "local"


def test_a_command_builds_only_its_own_parser_and_help_lists_them_all() -> None:
    def names(parser: argparse.ArgumentParser) -> list[str]:
        (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        return list(commands.choices)

    everything = ["convert", "notebook", "session-config", "sessions", "up", "validate"]
    assert names(build_parser(["convert", "in.parquet", "out.jsonl"])) == ["convert"]
    assert names(build_parser(["sessions", "--port", "9"])) == ["sessions"]
    assert names(build_parser([])) == names(build_parser(["--help"])) == names(build_parser(["bogus"])) == everything
    args = build_parser(["convert", "a", "b"]).parse_args(["convert", "a", "b", "--engine", "local"])
    assert (args.command, args.src, args.dest, args.engine) == ("convert", "a", "b", "local")


def test_the_developer_stack_adds_its_commands_and_without_it_etl_has_convert_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in ("up", "validate", "sessions", "session-config", "notebook"):
        with pytest.raises(SystemExit) as exited:
            main([command, "--help"])
        assert exited.value.code == 0
        assert capsys.readouterr().out.startswith(f"usage: etl {command} ")
    # A bare install (the library's distribution only) has no entry point of the group.
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **_: [])
    (commands,) = (a for a in build_parser(["--help"])._actions if isinstance(a, argparse._SubParsersAction))
    assert list(commands.choices) == ["convert"]
    with pytest.raises(SystemExit) as exited:
        main(["up"])
    assert exited.value.code == 2  # argparse: invalid choice
