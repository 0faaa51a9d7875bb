"""The `make bench` harness (bench/run.py) in a tiny run: it generates data, runs the
contenders and writes the markdown table. No timing assertions: CI machines are noisy."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
NUMBER = r"\d+(?:\.\d+)?"


def _bench_run_module() -> ModuleType:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import run
    finally:
        sys.path.remove(str(ROOT / "bench"))
    return run


def test_tiny_run_writes_a_table_with_numbers(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--rows",
            "2000",
            "--rounds",
            "1",
            "--contenders",
            "local,duckdb",
            "--no-rowgroups",
            "--publish-pieces",
            "300",
            "--min-free-gb",
            "0",
            "--data-dir",
            str(tmp_path / "data"),
            "--doc",
            str(doc),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    text = doc.read_text(encoding="utf-8")
    assert "## 2k rows" in text
    assert "## Machine" in text
    for contender in ("`etl convert --engine local`", "DuckDB `COPY … (FORMAT JSON)`"):
        row = next(line for line in text.splitlines() if line.startswith(f"| {contender} |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        # wall, ratio, CPU, ratio, RSS, ratio, MB/s, output MB: all numbers, none FAILED.
        assert all(re.fullmatch(rf"{NUMBER}×?", c) for c in cells[1:9]), row
    assert re.search(r"\| DuckDB `COPY … \(FORMAT JSON\)` \| [\d.]+ \| 1\.00× \|", text)
    assert re.search(rf"\| local engine, 2k rows: wall ≤ 0\.6× DuckDB \| {NUMBER}× .*\| \*\*(PASS|FAIL)\*\* \|", text)
    assert re.search(
        rf"\| S3 publish of 300 pieces at 20 ms a call ≤ 30 s \| {NUMBER} s .*\| \*\*(PASS|FAIL)\*\* \|", text
    )
    assert re.search(r"\| 300 \| 20 ms \| 32 \| .* \| yes \| .*UploadPartCopy 300", text)
    # Start-up is measured on its own: what a small file pays before its first row.
    imports = re.escape(_bench_run_module().ETL_IMPORTS)
    assert re.search(rf"\| {imports} \| {NUMBER} \|", text)
    # The generated data is cached: a second generation is skipped.
    data = tmp_path / "data" / "mixed_2k.parquet"
    assert data.is_file()
    assert (tmp_path / "data" / "out").is_dir()
    assert not any((tmp_path / "data" / "out").iterdir()), "outputs are deleted after each run"


def test_rotated_rounds_and_labels() -> None:
    run = _bench_run_module()
    contenders = [run.CONTENDERS[n] for n in ("local", "duckdb", "polars")]
    order = [(r, c.name) for r, c in run.interleaved(contenders, 3)]
    assert order == [
        (1, "local"), (1, "duckdb"), (1, "polars"),
        (2, "duckdb"), (2, "polars"), (2, "local"),
        (3, "polars"), (3, "local"), (3, "duckdb"),
    ]  # fmt: skip
    assert [run.label(n) for n in (5_000_000, 500_000, 200_000, 2000, 1234)] == ["5M", "500k", "200k", "2k", "1234"]
