"""Paths as the driver hands them on: a relative path is planned as an absolute one (an
executor works in a directory of its own), and a file missing where it is read is reported
missing, with the path looked at, never as a corrupt file.

The same on a real cluster, through both drivers: tests/spark/test_standalone_cluster.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from etl_lib.conversion import convert
from etl_lib.errors import InputNotFoundError, error_from_code
from etl_lib.input.planning import open_input, read_slice
from tests.jobs.support import write_parquet


def test_a_relative_path_is_planned_as_an_absolute_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "parts").mkdir()
    for name in ("a.parquet", "b.parquet"):
        write_parquet(tmp_path / "parts" / name)
    monkeypatch.chdir(tmp_path)
    parquet = open_input("parts")
    assert parquet.uri == str(tmp_path / "parts")
    assert [s.uri for s in parquet.plan()] == [str(tmp_path / "parts" / n) for n in ("a.parquet", "b.parquet")]
    # Read from elsewhere, as an executor would.
    monkeypatch.chdir(os.sep)
    assert sum(batch.num_rows for s in parquet.plan() for batch in read_slice(s)) == 10


def test_a_file_gone_after_planning_is_reported_missing_with_its_path(tmp_path: Path) -> None:
    src = write_parquet(tmp_path / "sales.parquet")
    (piece,) = open_input(str(src)).plan()
    src.unlink()
    with pytest.raises(InputNotFoundError) as error:
        list(read_slice(piece))
    assert error.value.code == "INPUT_NOT_FOUND"
    assert error.value.message == f"sales.parquet cannot be opened: {src} does not exist"


def test_a_missing_file_is_still_missing_after_crossing_a_process_boundary() -> None:
    error = error_from_code("INPUT_NOT_FOUND", "sales.parquet does not exist")
    assert isinstance(error, InputNotFoundError)
    assert error.message == "sales.parquet does not exist"


def test_a_relative_path_converts_and_is_reported_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_parquet(tmp_path / "sales.parquet")
    monkeypatch.chdir(tmp_path)
    report = convert("sales.parquet", "sales.jsonl", engine="local")
    assert (report.input, report.output, report.rows_out) == ("sales.parquet", "sales.jsonl", 5)
    assert len((tmp_path / "sales.jsonl").read_text().splitlines()) == 5
