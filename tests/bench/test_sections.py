"""The benchmark sections that run on their own (``make bench-scale``, ``make bench-big``): their
figures, their place on docs/benchmarks.md, and the big file's generator. No timing assertions."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench() -> Iterator[dict[str, ModuleType]]:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import big
        import report
        import scale

        yield {"big": big, "report": report, "scale": scale}
    finally:
        sys.path.remove(str(ROOT / "bench"))


def test_a_section_is_rewritten_in_place_and_kept_by_a_full_page(bench: dict[str, ModuleType], tmp_path: Path) -> None:
    report = bench["report"]
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## Targets\n\nt\n\n## Machine\n\nm\n", encoding="utf-8")
    report.replace_section(doc, report.BIG, ["## Big", "first"])
    report.replace_section(doc, report.BIG, ["## Big", "second"])
    text = doc.read_text(encoding="utf-8")
    assert text.count("## Big") == 1 and "second" in text and "first" not in text
    assert text.index("## Big") < text.index("## Machine"), "a new section goes before the machine"
    # A full page measures the scale section but not the big one: the big one is carried over.
    page = "# Benchmarks\n\n## Targets\n\nnew\n\n## Machine\n\nm\n"
    merged = report.carry_over(page, text, {report.SCALE: ["## Scale", "s"], report.BIG: None})
    assert "second" in merged and "## Scale" in merged and "new" in merged
    # A section no page had stays absent.
    assert report.carry_over(page, "", {report.BIG: None}) == page


def test_scale_figures_follow_their_formulas(bench: dict[str, ModuleType]) -> None:
    scale = bench["scale"]

    def run(case: str, wall: float, cpu: float, code: int = 0) -> object:
        return scale.ScaleRun(case, 1, code, wall, cpu, 100.0, "log")

    runs = [run("fixed", 5.0, 8.0), run("spark-1", 15.0, 14.0), run("spark-2", 11.0, 15.0), run("local", 3.0, 4.5)]
    got = scale.figures(runs)
    assert got["fixed_s"] == 5.0
    assert got["efficiency"] == pytest.approx((15 - 5) / (2 * (11 - 5)))
    assert got["per_core_wall"] == pytest.approx(4.5 / (15 - 5))
    assert got["per_core_cpu"] == pytest.approx(4.5 / (14 - 8))
    table = "\n".join(scale.scale_targets(runs, {"pieces": 20_000, "latency_ms": 20, "wall_s": 12.0}, 30))
    assert "| 0.83 | ≥ 0.85 | **FAIL** |" in table  # the efficiency
    assert "| 5.00 s | ≤ 6 s | **PASS** |" in table
    assert "| 12.0 s | ≤ 30 s | **PASS** |" in table
    # A failed case leaves its figures unmeasured, never computed from the others.
    failed = scale.figures([*runs[:1], run("spark-1", 1.0, 1.0, code=1), *runs[2:]])
    assert failed["efficiency"] is None and failed["per_core_cpu"] is None


def test_scale_figures_pair_the_runs_of_each_round(bench: dict[str, ModuleType]) -> None:
    # A slow round and a fast one: each round's own runs give an efficiency of 1.0, where
    # medians taken case by case would pair the slow round's T2 with the fast round's T0.
    scale = bench["scale"]
    runs = []
    for rnd, (t0, t1, t2) in enumerate([(5.0, 9.0, 7.0), (6.0, 10.0, 8.0), (5.5, 9.5, 7.5)], start=1):
        for case, wall in (("fixed", t0), ("spark-1", t1), ("spark-2", t2), ("local", 2.0)):
            runs.append(scale.ScaleRun(case, rnd, 0, wall, wall, 100.0, "log"))
    assert [f["efficiency"] for f in scale.per_round(runs).values()] == [1.0, 1.0, 1.0]
    assert scale.figures(runs)["efficiency"] == 1.0
    runs[1] = scale.ScaleRun("spark-1", 1, 1, 9.0, 9.0, 100.0, "log")  # a failed run fails the figure
    assert scale.figures(runs)["efficiency"] is None


def test_the_big_file_is_generated_row_group_by_row_group_the_same_each_time(
    bench: dict[str, ModuleType], tmp_path: Path
) -> None:
    big = bench["big"]
    rows = big.ROW_GROUP_ROWS + 10
    first, second = tmp_path / "a.parquet", tmp_path / "b.parquet"
    assert big.generate(first, rows) and big.generate(second, rows)
    assert not big.generate(first, rows), "cached: same version and rows"
    assert first.read_bytes() == second.read_bytes()
    meta = pq.ParquetFile(first).metadata
    assert (meta.num_rows, meta.num_row_groups) == (rows, 2)
    blob = pq.read_table(first, columns=["blob"]).column("blob")
    assert {len(v) for v in blob.to_pylist()[:100]} == {big.BLOB_BYTES}
    # Random bytes: the file is about as large as its values.
    assert first.stat().st_size > rows * big.BLOB_BYTES


def test_staging_leftovers_are_found_and_an_empty_uploads_folder_is_not_one(
    bench: dict[str, ModuleType], tmp_path: Path
) -> None:
    big = bench["big"]
    uploads = tmp_path / "objects" / "inputs" / ".multipart-uploads"
    uploads.mkdir(parents=True)
    (tmp_path / "objects" / "outputs").mkdir(parents=True)
    assert big.leftovers(tmp_path) == []
    (uploads / "job").mkdir()
    (tmp_path / "objects" / "outputs" / ".out.jsonl.parts-abc").mkdir()
    assert sorted(big.leftovers(tmp_path)) == [
        "objects/inputs/.multipart-uploads",
        "objects/outputs/.out.jsonl.parts-abc",
    ]


def test_a_figure_shown_agrees_with_its_verdict(bench: dict[str, ModuleType]) -> None:
    # 0.8499 against "≥ 0.85" showed as a failing 0.85; it shows as 0.84 now, and an upper
    # bound's figure rounds up the same way.
    scale, report = bench["scale"], bench["report"]
    assert report.toward_failing(0.8499, 2, at_least=True) == 0.84
    assert report.toward_failing(0.86, 2, at_least=True) == 0.86  # exact figures stay
    assert report.toward_failing(0.5003, 2, at_least=False) == 0.51
    assert report.toward_failing(29.96, 1, at_least=False) == 30.0
    row = scale._row("efficiency", 0.8499, 2, 0.85, "", at_least=True)
    assert "| 0.84 | ≥ 0.85 | **FAIL** |" in row
    row = scale._row("publish", 30.04, 1, 30, " s", at_least=False)
    assert "| 30.1 s | ≤ 30 s | **FAIL** |" in row
