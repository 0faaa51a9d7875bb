"""The scale section of ``make bench``: what the Spark engine costs per core, and how it scales.

On one multi-million-row file, in interleaved rounds, each run a process of its own (JVM
start included), measured like every contender (bench/measure.py: wall, CPU of the whole
process tree, peak RSS):

- ``fixed``: ``etl convert --engine spark`` of a 1-row file: what every run pays (T0);
- ``local[1]`` and ``local[2]``: the Spark engine on the file on one and on two cores (T1, T2);
- ``local``: the local engine on the same file, its CPU seconds the per-core yardstick.

From each round's runs: the scaling efficiency ``(T1 - T0) / (2 (T2 - T0))``, and the
per-core throughput against the local engine's, ``L_cpu / (T1 - T0)`` (the Spark engine's
variable wall time on one core) and, steadier on a shared machine, ``L_cpu / (C1 - C0)`` (its
variable CPU time, driver and executors); the section gives their medians over the rounds.
``make bench-scale`` runs this section alone (``python bench/scale.py``) and rewrites only its
part of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import datagen
import report
from measure import MB, ROOT, measure

from etl_lib.spark.session import MASTER_ENV

BIN = Path(sys.executable).parent
DEFAULT_ROWS = 5_000_000
DEFAULT_ROUNDS = 7
"""Rounds of the section (in ``make bench`` too, unless ``--quick``). A round's efficiency is a
ratio of differences of single runs: on this machine the rounds of one run ranged 0.69-1.07,
and the median of 3 moved by 0.1 from one run to the next."""
PER_CORE_TARGET = 0.6
"""Per-core throughput of the Spark engine, at least this fraction of the local engine's."""
EFFICIENCY_TARGET = 0.85
FIXED_TARGET_S = 6.0


@dataclass(frozen=True)
class Case:
    name: str
    label: str
    engine: str
    master: str | None  # None: the engine's default (local[*])
    one_row: bool = False


CASES = (
    Case("fixed", "Spark engine, 1-row file (T0)", "spark", None, one_row=True),
    Case("spark-1", "Spark engine, `local[1]` (T1)", "spark", "local[1]"),
    Case("spark-2", "Spark engine, `local[2]` (T2)", "spark", "local[2]"),
    Case("local", "local engine", "local", None),
)


@dataclass
class ScaleRun:
    case: str
    round: int
    exit_code: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    log: str


def _median(runs: list[ScaleRun], case: str, attr: str) -> float | None:
    values = [getattr(r, attr) for r in runs if r.case == case and r.exit_code == 0]
    failed = any(r.exit_code != 0 for r in runs if r.case == case)
    return None if failed or not values else statistics.median(values)


def _round_figures(mine: dict[str, ScaleRun]) -> dict[str, float | None]:
    """The figures of one round's runs (None where a case of the round failed)."""
    out: dict[str, float | None] = {"efficiency": None, "per_core_wall": None, "per_core_cpu": None}
    if any(mine.get(c) is None or mine[c].exit_code != 0 for c in ("fixed", "spark-1", "spark-2", "local")):
        return out
    t0, t1, t2 = (mine[c].wall_s for c in ("fixed", "spark-1", "spark-2"))
    c0, c1, local_cpu = (mine[c].cpu_s for c in ("fixed", "spark-1", "local"))
    if t2 > t0:
        out["efficiency"] = (t1 - t0) / (2 * (t2 - t0))
    if t1 > t0:
        out["per_core_wall"] = local_cpu / (t1 - t0)
    if c1 > c0:
        out["per_core_cpu"] = local_cpu / (c1 - c0)
    return out


def per_round(runs: list[ScaleRun]) -> dict[int, dict[str, float | None]]:
    """Each round's figures, from that round's own runs."""
    rounds: dict[int, dict[str, ScaleRun]] = {}
    for r in runs:
        rounds.setdefault(r.round, {})[r.case] = r
    return {n: _round_figures(mine) for n, mine in sorted(rounds.items())}


def figures(runs: list[ScaleRun]) -> dict[str, float | None]:
    """The section's figures: the fixed cost, the median T0; the others, the median over the
    rounds of each round's figure (None where a case failed in any round).

    Each round's figure is computed from its own runs, made within half a minute of each
    other, as farm-bench pairs its runs: this machine's speed drifts from round to round (the
    local engine's wall time ranged 1.89-2.32 s in one run), and medians taken case by case
    mixed a fast round's T1 with a slow round's T2 (0.76 where the rounds' own figures had a
    median of 0.88).
    """
    failed = any(r.exit_code != 0 for r in runs)
    out: dict[str, float | None] = {"fixed_s": _median(runs, "fixed", "wall_s")}
    rounds = per_round(runs).values()
    for name in ("efficiency", "per_core_wall", "per_core_cpu"):
        values = [v for f in rounds if (v := f[name]) is not None]
        out[name] = None if failed or not values else statistics.median(values)
    return out


def one_row_file(data_dir: Path) -> Path:
    path = data_dir / "mixed_1.parquet"
    datagen.generate(path, 1)
    return path


def run_case(case: Case, src: Path, rnd: int, data_dir: Path, timeout: float, etl_src: Path | None) -> ScaleRun:
    dest = data_dir / "out" / f"scale-{case.name}.jsonl"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.unlink(missing_ok=True)
    log = data_dir / "logs" / f"scale-{case.name}-r{rnd}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.pop(MASTER_ENV, None)
    if case.master:
        env[MASTER_ENV] = case.master
    if etl_src:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(etl_src), env.get("PYTHONPATH")]))
    os.sync()  # no run pays for the write-back of another's output
    argv = [str(BIN / "etl"), "convert", str(src), str(dest), "--engine", case.engine]
    code, wall, cpu, peak = measure(argv, log, env, timeout)
    dest.unlink(missing_ok=True)
    for leftover in dest.parent.glob(f".{dest.name}*"):
        shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
    status = "ok" if code == 0 else f"FAILED (exit {code}, {log})"
    print(
        f"  [scale r{rnd}] {case.name:<8} wall {wall:7.2f} s  cpu {cpu:7.2f} s  rss {peak:6.0f} MB  {status}",
        flush=True,
    )
    return ScaleRun(
        case.name, rnd, code, wall, cpu, peak, str(log.relative_to(ROOT) if log.is_relative_to(ROOT) else log)
    )


def measure_scale(
    src: Path, rounds: int, data_dir: Path, timeout: float, etl_src: Path | None = None
) -> list[ScaleRun]:
    """Every case once a round, the order rotated by one each round."""
    tiny = one_row_file(data_dir)
    runs = []
    for rnd in range(1, rounds + 1):
        shift = (rnd - 1) % len(CASES)
        for case in CASES[shift:] + CASES[:shift]:
            runs.append(run_case(case, tiny if case.one_row else src, rnd, data_dir, timeout, etl_src))
    return runs


def _verdict(value: float | None, target: float, *, at_least: bool) -> str:
    if value is None:
        return "n/a"
    return "PASS" if (value >= target if at_least else value <= target) else "FAIL"


def _row(name: str, value: float | None, decimals: int, target: float, unit: str, *, at_least: bool) -> str:
    """One row of the targets table: figure (``decimals`` shown, then ``unit``), measured, target, verdict."""
    shown = None if value is None else report.toward_failing(value, decimals, at_least=at_least)
    measured = "not measured (a case failed)" if shown is None else f"{shown:.{decimals}f}{unit}"
    bound = f"{'≥' if at_least else '≤'} {target:g}{unit}"
    return f"| {name} | {measured} | {bound} | **{_verdict(value, target, at_least=at_least)}** |"


def scale_targets(runs: list[ScaleRun], publish: dict[str, Any] | None, publish_target_s: float) -> list[str]:
    """The section's targets table: figure, measured, target, verdict."""
    got = figures(runs)
    lines = [
        "| figure | measured | target | verdict |",
        "|---|---:|---:|---|",
        _row(
            "per-core throughput, CPU: local engine's CPU s / Spark `local[1]`'s variable CPU s (C1 − C0)",
            got["per_core_cpu"],
            2,
            PER_CORE_TARGET,
            "×",
            at_least=True,
        ),
        _row(
            "per-core throughput, wall: local engine's CPU s / Spark `local[1]`'s variable wall s (T1 − T0)",
            got["per_core_wall"],
            2,
            PER_CORE_TARGET,
            "×",
            at_least=True,
        ),
        _row(
            "scaling efficiency (T1 − T0) / (2 (T2 − T0))",
            got["efficiency"],
            2,
            EFFICIENCY_TARGET,
            "",
            at_least=True,
        ),
        _row("fixed cost: a 1-row file, wall (T0)", got["fixed_s"], 2, FIXED_TARGET_S, " s", at_least=False),
    ]
    if publish is not None:
        name = (
            f"S3 publish of {publish.get('pieces', 0):,} pieces at {publish.get('latency_ms', 0):g} ms a call "
            "(`bench/publish.py`)"
        )
        if "wall_s" in publish:
            lines.append(_row(name, publish["wall_s"], 1, publish_target_s, " s", at_least=False))
        else:
            lines.append(f"| {name} | FAILED: {publish.get('error')} | ≤ {publish_target_s:g} s | **FAIL** |")
    return lines


def section(
    runs: list[ScaleRun],
    src: Path,
    rows: int,
    publish: dict[str, Any] | None,
    publish_target_s: float,
    when: str,
    loads: tuple[float, float],
) -> list[str]:
    """The scale section of the page; ``loads``: the 1-minute load average at its start and end."""
    lines = [
        "## The Spark engine: fixed cost, per-core cost and scaling",
        "",
        f"Measured {when} by `make bench` or alone by `make bench-scale` (`bench/scale.py`): "
        f"`etl convert` of `{src.name}` ({rows:,} rows, {src.stat().st_size / MB:.0f} MB) with the Spark engine on "
        "`local[1]` and `local[2]` (`ETL_SPARK_MASTER`), of a 1-row file with the Spark engine "
        "(its default master), and of the same file with the local engine; each run a process of its own, "
        f"{max((r.round for r in runs), default=0)} interleaved rounds. Each figure is the median over the rounds "
        "of the figure each round's own runs give (the cases' medians are in the second table). CPU is user+sys "
        "of the whole process tree (the driver, Spark's JVM, its Python workers).",
        "",
        f"The machine's load average (1 minute) was {loads[0]:.1f} at the start and {loads[1]:.1f} at the end, on "
        f"{os.cpu_count()} cores. Above the core count a run waits for a core: its wall time then measures the "
        "machine's queue more than the code, and its CPU time holds better (the CPU targets are the ones to read).",
        "",
        *scale_targets(runs, publish, publish_target_s),
        "",
        "| case | wall s | CPU s | peak RSS MB | wall s of each round | CPU s of each round |",
        "|---|---:|---:|---:|---|---|",
    ]
    for case in CASES:
        mine = [r for r in runs if r.case == case.name]
        wall, cpu, rss = (_median(runs, case.name, a) for a in ("wall_s", "cpu_s", "peak_rss_mb"))
        walls = ", ".join(f"{r.wall_s:.2f}" for r in mine)
        cpus = ", ".join(f"{r.cpu_s:.2f}" for r in mine)
        if wall is None or cpu is None or rss is None:
            failed = next((r for r in mine if r.exit_code != 0), None)
            lines.append(f"| {case.label} | FAILED | | | {walls} | see `{failed.log if failed else '?'}` |")
        else:
            lines.append(f"| {case.label} | {wall:.2f} | {cpu:.2f} | {rss:.0f} | {walls} | {cpus} |")
    rounds = per_round(runs)
    lines += [
        "",
        "| figure of each round | " + " | ".join(f"round {n}" for n in rounds) + " |",
        "|---|" + "---:|" * len(rounds),
    ]
    for name, label, fmt in (
        ("efficiency", "scaling efficiency", "{:.2f}"),
        ("per_core_cpu", "per-core throughput, CPU", "{:.2f}×"),
        ("per_core_wall", "per-core throughput, wall", "{:.2f}×"),
    ):
        cells = ("n/a" if f[name] is None else fmt.format(f[name]) for f in rounds.values())
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    got = figures(runs)
    if got["per_core_cpu"] is not None:
        local_cpu = _median(runs, "local", "cpu_s") or 0.0
        lines += [
            "",
            f"Per core, the Spark engine converts {rows / (local_cpu / got['per_core_cpu']) / 1e6:.2f}M rows a CPU "
            f"second of its variable part, the local engine {rows / local_cpu / 1e6:.2f}M "
            "(docs/scaling.md builds its model on these figures).",
        ]
    return lines


def main(argv: list[str] | None = None) -> int:
    import datetime as dt

    from run import PUBLISH_TARGET_S, label, measure_publish

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=DEFAULT_ROWS, help=f"rows of the file (default {DEFAULT_ROWS:,})")
    p.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS)
    p.add_argument("--data-dir", type=Path, default=ROOT / "build" / "bench")
    p.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    p.add_argument("--timeout", type=float, default=1800.0)
    p.add_argument("--no-publish", action="store_true", help="skip the S3 publish of many pieces")
    p.add_argument("--publish-pieces", type=int, default=20_000)
    p.add_argument("--etl-src", type=Path, help="put this checkout first on PYTHONPATH for every run")
    args = p.parse_args(argv)
    args.data_dir = args.data_dir.resolve()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    src = args.data_dir / f"mixed_{label(args.rows)}.parquet"
    datagen.generate(src, args.rows)
    when = f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
    load_start = os.getloadavg()[0]
    runs = measure_scale(src, args.rounds, args.data_dir, args.timeout, args.etl_src)
    publish = None if args.no_publish else measure_publish(args)
    loads = (load_start, os.getloadavg()[0])
    print(json.dumps(figures(runs)), flush=True)
    (args.data_dir / "results-scale.json").write_text(
        json.dumps(
            {"runs": [asdict(r) for r in runs], "figures": figures(runs), "publish": publish, "loads": loads}, indent=2
        )
        + "\n"
    )
    lines = section(runs, src, args.rows, publish, PUBLISH_TARGET_S, when, loads)
    report.replace_section(args.doc, report.SCALE, lines)
    print(f"wrote {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
