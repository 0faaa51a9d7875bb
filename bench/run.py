"""``make bench``: time ``etl convert`` against DuckDB, polars and plain Spark.

Generates the benchmark tables (bench/datagen.py, cached in build/bench/), then runs every
contender once per round, in a rotated order, each in its own process (start-up included),
and measures wall seconds, user+sys CPU seconds of the process tree, and peak RSS of the
process tree. Writes the medians, ratios to DuckDB and the performance targets to
docs/benchmarks.md (or --doc) and the raw runs to a JSON file next to the data.

    python bench/run.py            # the full run: 5M and 500k rows, 3 rounds (~10+ minutes)
    python bench/run.py --quick    # smoke run: 200k and 50k rows, 1 round
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import datagen
import logical_shapes
import report
import scale
import shapes
from measure import MB, measure

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PEERS = Path(__file__).resolve().parent / "peers.py"
PROFILE = Path(__file__).resolve().parent / "cpu_profile.py"
PUBLISH = Path(__file__).resolve().parent / "publish.py"
PUBLISH_PIECES, PUBLISH_LATENCY_MS, PUBLISH_TARGET_S = 20_000, 20, 30
"""The publish benchmark (bench/publish.py): this many pieces, this latency a call, this limit."""
# The other table shapes (bench/shapes.py), sized from the largest mixed table, and run by
# the local engine and DuckDB only: rows = mixed rows / divisor.
SHAPE_DIVISORS = {"binary": 5, "wide": 100, "nested": 10, **dict.fromkeys(logical_shapes.SHAPES, 10)}
DEFAULT_ROUNDS = 3
"""Rounds per contender of a full run (``--rounds`` changes it)."""
SHAPE_CONTENDERS = ("local", "duckdb")
SHAPE_TITLES = {
    "binary": "binary and UUID columns",
    "wide": f"a wide table ({shapes.WIDE_COLUMNS} columns)",
    "nested": "a deeply nested table",
    **logical_shapes.TITLES,
}
ENCODE_TARGET_MB_S = 400
PROFILE_RUNS = 3  # profile runs per table: the one with the median encode CPU is shown
BASELINE = "duckdb"


def _etl(engine: str) -> Callable[[str, str], list[str]]:
    return lambda src, dest: [str(BIN / "etl"), "convert", src, dest, "--engine", engine]


def _peer(name: str) -> Callable[[str, str], list[str]]:
    return lambda src, dest: [sys.executable, str(PEERS), name, src, dest]


@dataclass(frozen=True)
class Contender:
    name: str
    label: str
    command: Callable[[str, str], list[str]]
    output_is_dir: bool = False


CONTENDERS = {
    c.name: c
    for c in [
        Contender("local", "`etl convert --engine local`", _etl("local")),
        Contender("spark-engine", "`etl convert --engine spark`", _etl("spark")),
        Contender("duckdb", "DuckDB `COPY … (FORMAT JSON)`", _peer("duckdb")),
        Contender("polars", "polars `sink_ndjson`", _peer("polars")),
        Contender("spark-plain", "plain Spark `write.json`", _peer("spark"), output_is_dir=True),
    ]
}


@dataclass
class Run:
    contender: str
    dataset: str
    round: int
    exit_code: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    output_mb: float
    log: str


@dataclass
class Summary:
    contender: str
    dataset: str
    ok: bool
    runs: list[Run] = field(default_factory=list)

    def median(self, attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in self.runs)


# --------------------------------------------------------------------------- measuring


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it."""
    return str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.exists() else 0


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    # The atomic writer of etl stages next to the destination; clear any leftovers.
    for leftover in path.parent.glob(f".{path.name}*"):
        shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()


def run_one(contender: Contender, dataset: str, src: Path, rnd: int, args: argparse.Namespace) -> Run:
    out_dir = args.data_dir / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    dest = out_dir / f"{contender.name}-{dataset}.{'d' if contender.output_is_dir else 'jsonl'}"
    _remove(dest)
    log = args.data_dir / "logs" / f"{dataset}-{contender.name}-r{rnd}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if args.etl_src:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(args.etl_src), env.get("PYTHONPATH")]))
    # No run pays for another's writes: the peers leave their output in the page cache, and
    # its write-back would land on whichever run comes next (hardest on the local engine,
    # which writes straight to the disk and syncs its output).
    os.sync()
    code, wall, cpu, peak = measure(contender.command(str(src), str(dest)), log, env, args.timeout)
    output = _size(dest) / MB
    _remove(dest)
    run = Run(contender.name, dataset, rnd, code, wall, cpu, peak, output, _shown(log))
    status = "ok" if code == 0 else f"FAILED (exit {code}, {run.log})"
    print(
        f"  [{dataset} r{rnd}] {contender.name:<13} wall {wall:7.2f} s  cpu {cpu:7.2f} s  "
        f"rss {peak:7.0f} MB  out {output:7.0f} MB  {status}",
        flush=True,
    )
    return run


def interleaved(contenders: list[Contender], rounds: int) -> list[tuple[int, Contender]]:
    """Every contender once per round, the order rotated by one each round."""
    order = []
    for rnd in range(rounds):
        shift = rnd % len(contenders)
        order += [(rnd + 1, c) for c in contenders[shift:] + contenders[:shift]]
    return order


# --------------------------------------------------------------------------- the report


def label(rows: int) -> str:
    for unit, size in (("M", 1_000_000), ("k", 1000)):
        if rows >= size and rows % (size // 10) == 0:
            value = rows / size
            return f"{value:g}{unit}"
    return str(rows)


def _first_line(cmd: list[str]) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (done.stdout + done.stderr).strip().splitlines()
    return text[0] if text else "unknown"


def machine() -> dict[str, str]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if ln.startswith("model name")), "")
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    mem_kb = next((int(ln.split()[1]) for ln in meminfo.splitlines() if ln.startswith("MemTotal")), 0)
    os_name = platform.platform()
    if Path("/etc/os-release").exists():
        for ln in Path("/etc/os-release").read_text().splitlines():
            if ln.startswith("PRETTY_NAME="):
                os_name = f"{ln.split('=', 1)[1].strip('"')}, Linux {platform.release()}"
    versions = {}
    for pkg in ("pyspark", "pyarrow", "duckdb", "polars", "numpy", "psutil"):
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    return {
        "CPU": f"{model or platform.processor() or 'unknown'} ({os.cpu_count()} logical cores, "
        f"{len(os.sched_getaffinity(0))} usable)",
        "RAM": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "OS": os_name,
        "Python": platform.python_version(),
        "Java": _first_line(["java", "-version"]),
        **versions,
    }


def repository_state() -> str:
    """HEAD, and whether etl_lib/ (what `etl convert` runs, an editable install) has local changes."""
    commit = _first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = _first_line(["git", "-C", str(ROOT), "status", "--porcelain", "--", "etl_lib"])
    return commit + (" with uncommitted changes in etl_lib/" if dirty != "unknown" else "")


def _fmt(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}"


def _ratio(value: float, base: float | None) -> str:
    return f"{value / base:.2f}×" if base else "–"


def results_table(summaries: list[Summary], dataset: str, input_mb: float, timeout: float) -> list[str]:
    rows = [s for s in summaries if s.dataset == dataset]
    base = next((s for s in rows if s.contender == BASELINE and s.ok), None)
    lines = [
        "| contender | wall s | × DuckDB | CPU s | × DuckDB | peak RSS MB | × DuckDB | MB/s (Parquet in) "
        "| JSON out MB | wall s of each round |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for s in rows:
        name = CONTENDERS[s.contender].label
        walls = ", ".join(_fmt(r.wall_s) for r in s.runs)
        if not s.ok:
            failed = next(r for r in s.runs if r.exit_code != 0)
            why = f"killed after {timeout:g} s" if failed.exit_code == -9 else f"exit {failed.exit_code}"
            lines.append(f"| {name} | FAILED | | | | | | | | {why}, see `{failed.log}` |")
            continue
        wall, cpu, rss = s.median("wall_s"), s.median("cpu_s"), s.median("peak_rss_mb")
        lines.append(
            f"| {name} | {_fmt(wall)} | {_ratio(wall, base.median('wall_s') if base else None)} "
            f"| {_fmt(cpu)} | {_ratio(cpu, base.median('cpu_s') if base else None)} "
            f"| {rss:.0f} | {_ratio(rss, base.median('peak_rss_mb') if base else None)} "
            f"| {input_mb / wall:.1f} | {s.median('output_mb'):.0f} | {walls} |"
        )
    return lines


@dataclass
class Target:
    name: str
    measured: str
    verdict: str


def _get(summaries: list[Summary], contender: str, dataset: str | None) -> Summary | None:
    return next((s for s in summaries if s.contender == contender and s.dataset == dataset and s.ok), None)


def _check(name: str, value: float | None, limit: float, unit: str) -> Target:
    if value is None:
        return Target(name, "not measured (contender missing or failed)", "n/a")
    shown = report.toward_failing(value, 2, at_least=False)
    return Target(name, f"{shown:.2f}{unit} (limit {limit:g}{unit})", "PASS" if value <= limit else "FAIL")


def targets(
    summaries: list[Summary],
    big: str,
    small: str | None,
    rowgroups: dict[str, Summary],
    shape_names: list[str] | None = None,
    profiles: list[dict[str, Any]] | None = None,
    publish: dict[str, Any] | None = None,
) -> list[Target]:
    shape_names = shape_names or []
    profiles = profiles or []
    out = []

    def ratio(contender: str, base: str, dataset: str | None) -> float | None:
        a, b = _get(summaries, contender, dataset), _get(summaries, base, dataset)
        return a.median("wall_s") / b.median("wall_s") if a and b else None

    local_big = _get(summaries, "local", big)
    out.append(_check(f"local engine, {big} rows: wall ≤ 0.6× DuckDB", ratio("local", "duckdb", big), 0.6, "×"))
    out.append(
        _check(
            f"local engine, {big} rows: peak RSS ≤ 1 GB (1024 MB)",
            local_big.median("peak_rss_mb") if local_big else None,
            1024,
            " MB",
        )
    )
    if rowgroups:
        few, many = rowgroups.get("40"), rowgroups.get("400")
        growth = many.median("peak_rss_mb") / few.median("peak_rss_mb") if few and many and few.ok and many.ok else None
        out.append(_check(f"local engine, {big} rows: peak RSS with 400 row groups ≤ 1.10× with 40", growth, 1.10, "×"))
    out.append(
        _check(f"local engine, {big} rows: wall ≤ 0.9× polars `sink_ndjson`", ratio("local", "polars", big), 0.9, "×")
    )
    if small:
        out.append(_check(f"local engine, {small} rows: wall ≤ 0.5× DuckDB", ratio("local", "duckdb", small), 0.5, "×"))
    for shape in ("binary", "wide", *logical_shapes.SHAPES):
        dataset = next((name for name in shape_names if name.startswith(shape)), None)
        if dataset:
            out.append(
                _check(f"local engine, {dataset} rows: wall ≤ 0.8× DuckDB", ratio("local", "duckdb", dataset), 0.8, "×")
            )
    for dataset, limit in [(big, 0.8), (small, 1.25)]:
        if dataset:
            out.append(
                _check(
                    f"spark engine, {dataset} rows: wall ≤ {limit:g}× plain Spark `write.json`",
                    ratio("spark-engine", "spark-plain", dataset),
                    limit,
                    "×",
                )
            )
    mixed = next((p for p in profiles if p["dataset"] == big and p["encoder"] == "native"), None)
    rate = mixed["json_bytes"] / MB / mixed["encode_cpu_s"] if mixed and mixed["encode_cpu_s"] else None
    out.append(
        Target(
            f"encode step alone, {big} rows: ≥ {ENCODE_TARGET_MB_S} MB/s of JSON per core",
            "not measured"
            if rate is None
            else f"{report.toward_failing(rate, 0, at_least=True):.0f} MB/s (limit ≥ {ENCODE_TARGET_MB_S} MB/s)",
            "n/a" if rate is None else ("PASS" if rate >= ENCODE_TARGET_MB_S else "FAIL"),
        )
    )
    out += logical_shapes.encode_targets(profiles, shape_names, Target)
    out.append(
        _check(
            f"S3 publish of {(publish or {}).get('pieces', PUBLISH_PIECES):,} pieces at {PUBLISH_LATENCY_MS} ms a call "
            f"≤ {PUBLISH_TARGET_S} s",
            publish["wall_s"] if publish and "wall_s" in publish else None,
            PUBLISH_TARGET_S,
            " s",
        )
    )
    out.append(Target("local stack: 25 MB upload → SUCCEEDED ≤ 3 s", "not measured by `make bench`", "n/a"))
    return out


# Measurements the code's design rests on: kept on every generated page (see the file).
DESIGN_MEASUREMENTS = Path(__file__).with_name("design_measurements.md")

STATIC_NOTES = """\
- **Wall** runs from starting the process to its exit, so interpreter, JVM and import
  start-up are included (the targets say "process start included"). **CPU** is user+sys of the
  process tree. **Peak RSS** is the larger of the sum of RSS over the process tree sampled
  every 50 ms (Python + JVM for the Spark contenders) and the largest per-process
  high-water mark (`VmHWM`) seen at those samples. The sampling itself uses a little CPU.
- Each contender ran as its own process, every round in a rotated order; the table shows the
  median of the rounds. Outputs went to `build/bench/out/` and were deleted after every run,
  so the page cache holds the Parquet input (every contender reads the same file) but no
  contender profits from another's output. Every run starts after a `sync`, so none waits
  for the write-back of another's output. `etl convert` syncs its output before it
  publishes it (the file is on the disk when the command returns); DuckDB and polars leave
  theirs in the page cache.
- Only `etl convert` follows [the JSON contract](json-contract.md) and produces one file.
  The peers write what their libraries write by default: DuckDB writes bare `NaN`/`Infinity`
  (invalid JSON) and timestamps in its own text form; polars writes decimals as strings;
  plain Spark drops null fields, cuts timestamps to milliseconds and writes a directory of
  part files (no merge into one file). Their output sizes differ accordingly.
  On the `variant` and `geometry` shapes DuckDB writes a VARIANT stored as Spark 4.0 does
  as its struct of two blobs (escaped bytes, not the JSON value) and GeoParquet geometry as
  WKT, not GeoJSON (its spatial extension, which has `ST_AsGeoJSON`, cannot be installed
  offline).
- Plain Spark uses `etl_lib.spark.session.local_spark`, the configuration of
  `etl convert --engine spark` (`local[*]`, which is `local[2]` here).
- MB is 2^20 bytes throughout. `etl convert` runs from the working tree (an editable install):
  if the repository line above names two states, etl_lib/ changed while the benchmark ran.
  etl_lib/ is compiled to bytecode before the first run, as pip compiles an installed
  package (the peers' are), so no run pays for compiling it.
"""


def _reproduce(args: argparse.Namespace) -> str:
    """The command that makes a page like this one."""
    return "make bench" if args.rounds == DEFAULT_ROUNDS else f'make bench BENCH_ARGS="--rounds {args.rounds}"'


def render(
    args: argparse.Namespace,
    datasets: list[tuple[str, Path]],
    summaries: list[Summary],
    rowgroups: dict[str, Summary],
    rowgroup_files: dict[str, Path],
    info: dict[str, str],
    started: dt.datetime,
    loads: tuple[tuple[float, ...], tuple[float, ...]],
    elapsed: float,
    shape_sets: list[tuple[str, str, Path]] | None = None,
    profiles: list[dict[str, Any]] | None = None,
    startup: list[tuple[str, float]] | None = None,
    publish: dict[str, Any] | None = None,
) -> str:
    shape_sets = shape_sets or []
    profiles = profiles or []
    big = datasets[0][0]
    small = datasets[1][0] if len(datasets) > 1 else None
    mode = "quick smoke run" if args.quick else ("full run" if args.rows == [5_000_000, 500_000] else "custom run")
    lines = [
        "# Benchmarks",
        "",
        "Parquet → JSON Lines on one machine: `etl convert` with each engine against the",
        "fastest tools that do the same job without the contract. Generated by",
        "`make bench` (`bench/run.py`); a rerun replaces this page, including any findings added by hand.",
        "",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC ({mode}, {args.rounds_done} of {args.rounds} round(s) per contender, "
        f"median shown; {elapsed / 60:.1f} minutes in all)",
        f"- Load average (1, 5, 15 min) at the start: {', '.join(f'{x:.2f}' for x in loads[0])}; "
        f"at the end: {', '.join(f'{x:.2f}' for x in loads[1])}",
        "",
        "## Targets",
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
    ]
    shape_names = [name for _, name, _ in shape_sets]
    lines += [
        f"| {t.name} | {t.measured} | **{t.verdict}** |"
        for t in targets(summaries, big, small, rowgroups, shape_names, profiles, publish)
    ]
    if (big, small) != ("5M", "500k"):
        lines += ["", f"The targets are for 5M and 500k rows; this run used {big} and {small or '–'}."]
    for name, path in datasets:
        input_mb = path.stat().st_size / MB
        lines += [
            "",
            f"## {name} rows",
            "",
            f"`{_shown(path)}`: {input_mb:.0f} MB Parquet, "
            f"{_row_groups(path)} row groups. Ratios are to DuckDB's median on the same data.",
            "",
            *results_table(summaries, name, input_mb, args.timeout),
        ]
    for shape, name, path in shape_sets:
        input_mb = path.stat().st_size / MB
        lines += [
            "",
            f"## {name} rows: {SHAPE_TITLES[shape]}",
            "",
            f"`{_shown(path)}` (`bench/shapes.py`): {input_mb:.0f} MB Parquet, {_row_groups(path)} row groups; "
            f"columns {_columns(path)}.",
            "",
            *results_table(summaries, name, input_mb, args.timeout),
        ]
    if profiles:
        lines += ["", *profile_table(profiles)]
    if startup:
        lines += ["", *startup_table(startup, summaries, small)]
    if publish:
        lines += ["", *publish_table(publish)]
    if rowgroups:
        lines += [
            "",
            "## Does the local engine's memory grow with the number of row groups?",
            "",
            f"The {big} rows rewritten with 40 and with 400 row groups (same rows, same order), "
            "converted with `etl convert --engine local`, interleaved:",
            "",
            "| row groups | rows per group | Parquet MB | wall s | peak RSS MB | peak RSS of each run |",
            "|---:|---:|---:|---:|---:|---|",
        ]
        for groups, summary in rowgroups.items():
            path = rowgroup_files[groups]
            rows = int(datagen.pq.ParquetFile(path).metadata.num_rows)
            per = -(-rows // int(groups))
            if summary.ok:
                each = ", ".join(f"{r.peak_rss_mb:.0f}" for r in summary.runs)
                lines.append(
                    f"| {groups} | {per:,} | {path.stat().st_size / MB:.0f} | {summary.median('wall_s'):.2f} "
                    f"| {summary.median('peak_rss_mb'):.0f} | {each} |"
                )
            else:
                code = summary.runs[-1].exit_code
                why = f"killed after {args.timeout:g} s" if code == -9 else f"exit {code}"
                lines.append(f"| {groups} | {per:,} | {path.stat().st_size / MB:.0f} | FAILED ({why}) | | |")
    lines += [
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in info.items()),
        "",
        "## Data",
        "",
        "`bench/datagen.py`, generator version "
        f"{datagen.GENERATOR_VERSION}, seed {datagen.SEED}: columns "
        + ", ".join(f"`{f.name}` {f.type}" for f in datagen.SCHEMA)
        + f". {datagen.COMPRESSION} compression, {datagen.ROW_GROUP_SIZE:,}-row row groups, "
        "DELTA_BINARY_PACKED for the sequential-ish integer columns. Floats include NaN and ±∞, "
        "about 10% of the `big_i64` values are beyond 2^53, strings mix ASCII with quotes, "
        "backslashes, newlines, control characters, non-Latin scripts and emoji; most columns have nulls.",
        "",
        "## How to reproduce",
        "",
        "```",
        f"{_reproduce(args):<36}# this page: 5M and 500k rows, {args.rounds} rounds",
        "make bench BENCH_ARGS=--quick       # smoke run: 200k and 50k rows, 1 round (build/bench/)",
        "make bench-scale                    # only the Spark engine's scale section, rewritten in place",
        "make bench-big                      # only the 6 GiB file through etl up, rewritten in place",
        ".venv/bin/python bench/run.py --help",
        "```",
        "",
        "The data is generated once into `build/bench/` (about 0.4 GB) and reused while the",
        "generator version is unchanged; every run needs 10 GB free for the outputs (one at a",
        "time, deleted after each run). Per-run logs are in `build/bench/logs/`, raw numbers in",
        f"`{_shown(args.results)}`.",
        "",
        "## Notes",
        "",
        STATIC_NOTES.rstrip(),
    ]
    lines += [f"- {note}" for note in args.note]
    lines += ["", DESIGN_MEASUREMENTS.read_text(encoding="utf-8").rstrip()]
    return "\n".join(lines) + "\n"


def _columns(path: Path) -> str:
    schema = datagen.pq.ParquetFile(path).schema_arrow
    if len(schema) > 12:
        kinds = sorted({str(f.type) for f in schema})
        return f"{len(schema)} columns of {', '.join(kinds)}"
    return ", ".join(f"`{f.name}` {f.type}" for f in schema)


def profile_table(profiles: list[dict[str, Any]]) -> list[str]:
    lines = [
        "## Where the CPU goes: read / encode / write",
        "",
        "`bench/cpu_profile.py`: one thread runs the local engine's steps on each table - decode the",
        "Parquet (`read_slice`), encode the JSON (`contract.encode_lines`), write the bytes to the",
        "engine's own output file (`etl_lib/output/direct_file.py`, its final sync included) - and charges",
        "each step its thread CPU time (`time.thread_time`). Each row is the run with the median",
        f"encode CPU of {PROFILE_RUNS}. The native encoder is the default; the reference (Arrow-kernel)",
        "encoder is shown on some tables for comparison.",
        "",
        "| table | encoder | rows | JSON MB | read CPU s | encode CPU s | write CPU s | encode MB/s of JSON per core "
        "| read : encode : write |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for p in profiles:
        if "error" in p:
            lines.append(f"| {p['dataset']} | {p['encoder']} | FAILED: {p['error']} | | | | | | |")
            continue
        total = p["read_cpu_s"] + p["encode_cpu_s"] + p["write_cpu_s"] or 1.0
        share = " : ".join(f"{100 * p[f'{k}_cpu_s'] / total:.0f}%" for k in ("read", "encode", "write"))
        rate = p["json_bytes"] / MB / p["encode_cpu_s"] if p["encode_cpu_s"] else 0.0
        lines.append(
            f"| {p['dataset']} | {p['encoder']} | {p['rows']:,} | {p['json_bytes'] / MB:.0f} | {p['read_cpu_s']:.2f} "
            f"| {p['encode_cpu_s']:.2f} | {p['write_cpu_s']:.2f} | {rate:.0f} | {share} |"
        )
    return lines


def run_profile(dataset: str, src: Path, encoder: str, args: argparse.Namespace) -> dict[str, Any]:
    out_dir = args.data_dir / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "ETL_ENCODER": encoder}
    if args.etl_src:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(args.etl_src), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, str(PROFILE), str(src), str(out_dir / f"profile-{encoder}.jsonl")],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=args.timeout,
        check=False,
    )
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        result: dict[str, Any] = {"error": tail[:200]}
    else:
        result = json.loads(done.stdout.strip().splitlines()[-1])
    result.update(dataset=dataset, encoder=result.get("encoder", encoder))
    print(f"  [profile] {dataset:<12} {encoder:<9} {json.dumps(result)}", flush=True)
    return result


# What `etl convert` does before its first row (etl_lib.cli._convert): pyarrow without numpy,
# every import with the garbage collector paused.
_AS_ETL_CONVERT = (
    "from etl_lib._runtime.lazy import collector_paused, import_pyarrow_without_numpy\n"
    "with collector_paused():\n"
    "    import_pyarrow_without_numpy()\n"
    "    "
)
ETL_IMPORTS = "`etl convert`'s imports (`etl_lib.cli`, `etl_lib.conversion`, pyarrow without numpy, collector paused)"
STARTUP_STEPS = (
    ("the interpreter alone (`python -c pass`)", "pass"),
    ("`import numpy`", "import numpy"),
    ("`import pyarrow.parquet` (which imports numpy when it can)", "import pyarrow.parquet"),
    (
        "`import pyarrow.parquet` without numpy, collector paused, as `etl convert` does",
        _AS_ETL_CONVERT + "import pyarrow.parquet",
    ),
    (ETL_IMPORTS, _AS_ETL_CONVERT + "import etl_lib.cli, etl_lib.conversion"),
    ("`import duckdb`", "import duckdb"),
)
STARTUP_ROUNDS = 7


def measure_startup(args: argparse.Namespace) -> list[tuple[str, float]]:
    """Median wall seconds of each start-up step, each in a fresh process, interleaved."""
    env = dict(os.environ)
    if args.etl_src:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(args.etl_src), env.get("PYTHONPATH")]))
    seconds: dict[str, list[float]] = {name: [] for name, _ in STARTUP_STEPS}
    for _ in range(STARTUP_ROUNDS):
        for name, code in STARTUP_STEPS:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True)
            seconds[name].append(time.perf_counter() - start)
    result = [(name, statistics.median(values)) for name, values in seconds.items()]
    print("start-up: " + ", ".join(f"{name} {value:.3f} s" for name, value in result), flush=True)
    return result


def startup_table(startup: list[tuple[str, float]], summaries: list[Summary], small: str | None) -> list[str]:
    lines = [
        "## Start-up: what every run pays before its first row",
        "",
        f"Each step in a fresh process, {STARTUP_ROUNDS} interleaved rounds, median wall seconds:",
        "",
        "| step | wall s |",
        "|---|---:|",
        *(f"| {name} | {value:.3f} |" for name, value in startup),
    ]
    local = _get(summaries, "local", small) if small else None
    imports = dict(startup).get(ETL_IMPORTS)
    if local is not None and local.ok and imports is not None:
        wall = local.median("wall_s")
        lines += [
            "",
            f"Of the local engine's {wall:.2f} s on {small} rows, its imports take {imports:.2f} s "
            f"({100 * imports / wall:.0f}%): the rest is reading, encoding and writing.",
        ]
    return lines


def _publish_run(args: argparse.Namespace, server: str) -> dict[str, Any]:
    env = dict(os.environ)
    if args.etl_src:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(args.etl_src), env.get("PYTHONPATH")]))
    command = [
        sys.executable,
        str(PUBLISH),
        "--pieces",
        str(args.publish_pieces),
        "--latency-ms",
        str(PUBLISH_LATENCY_MS),
        "--server",
        server,
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=args.timeout, check=False)
    if done.returncode != 0:
        return {"server": server, "error": ((done.stderr.strip().splitlines() or ["no output"])[-1])[:200]}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"publish: {json.dumps(result)}", flush=True)
    return result


def measure_publish(args: argparse.Namespace) -> dict[str, Any]:
    """bench/publish.py in a process of its own, against the lean S3 stub (the figure held to
    the target) and then against moto's server (``"moto"``, for comparison): each its JSON
    line, or the reason it failed."""
    result = _publish_run(args, "stub")
    result["moto"] = _publish_run(args, "moto")
    return result


def _publish_row(publish: dict[str, Any]) -> str:
    server = "`bench/s3_stub.py`" if publish["server"] == "stub" else "moto's server (`bench/slow_s3.py`)"
    if "error" in publish:
        return f"| {server} | FAILED: {publish['error']} | | | | | | | | |"
    calls = ", ".join(f"{name} {count:,}" for name, count in sorted(publish["calls"].items()))
    return (
        f"| {server} | {publish['pieces']:,} | {publish['latency_ms']:g} ms | {publish['threads']} "
        f"| {publish['wall_s']:.1f} | {publish['publisher_cpu_s']:.1f} | {publish['server_cpu_s']:.1f} "
        f"| {publish['parts']:,} | {'yes' if publish['identical'] else 'NO'} | {calls} |"
    )


def publish_table(publish: dict[str, Any]) -> list[str]:
    return [
        "## Publishing many pieces to S3",
        "",
        f"`bench/publish.py`: the Spark engine's last step, {publish.get('pieces', PUBLISH_PIECES):,} staged pieces "
        "published as one object (`etl_lib/output/s3_publish.py`, its pool of calls), with "
        f"{PUBLISH_LATENCY_MS} ms added to every call by the server. Pieces of 1-2 KiB and the minimum part "
        "lowered to 1 KiB to match: every piece is copied and past 10,000 parts neighbours are merged, as with "
        "pieces of 5 MiB or more.",
        "",
        "Against `bench/s3_stub.py`, a lean S3 stand-in that keeps connections open as S3 does and "
        "answers the publish's calls as moto does (`tests/bench/test_s3_stub.py` runs the same calls, "
        "good and bad, against both); the target is held to this row. Against moto's server for "
        "comparison: it spends about 2 ms of CPU on each call in Python, one call at a time, and "
        "opens a connection for each, so its CPU seconds bound that row's wall time, not the publish's.",
        "",
        "| server | pieces | latency | threads | wall s | publisher CPU s | server CPU s | parts | byte-identical "
        "| calls |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
        _publish_row(publish),
        *([_publish_row(publish["moto"])] if "moto" in publish else []),
    ]


def _row_groups(path: Path) -> int:
    return int(datagen.pq.ParquetFile(path).metadata.num_row_groups)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run: --rows 200000,50000 --rounds 1")
    p.add_argument("--rows", help="comma-separated table sizes, largest first (default 5000000,500000)")
    p.add_argument("--rounds", type=int, help=f"rounds per contender (default {DEFAULT_ROUNDS}; 1 with --quick)")
    p.add_argument(
        "--contenders",
        default=",".join(CONTENDERS),
        help=f"comma-separated subset of {', '.join(CONTENDERS)} (default: all)",
    )
    p.add_argument("--no-rowgroups", action="store_true", help="skip the 40 vs 400 row groups memory check")
    p.add_argument("--no-shapes", action="store_true", help="skip the binary/UUID, wide and nested tables")
    p.add_argument("--no-profile", action="store_true", help="skip the read/encode/write CPU profile")
    p.add_argument("--no-publish", action="store_true", help="skip the S3 publish of many pieces (bench/publish.py)")
    p.add_argument(
        "--no-scale",
        action="store_true",
        help="skip the Spark engine's scale section (bench/scale.py; `make bench-scale` runs it alone)",
    )
    p.add_argument(
        "--publish-pieces",
        type=int,
        default=PUBLISH_PIECES,
        help=f"pieces of the S3 publish (default {PUBLISH_PIECES:,}, the target's)",
    )
    p.add_argument("--data-dir", type=Path, default=ROOT / "build" / "bench")
    p.add_argument("--doc", type=Path, help="markdown output (default docs/benchmarks.md; quick: in --data-dir)")
    p.add_argument("--results", type=Path, help="raw results JSON (default: in --data-dir)")
    p.add_argument("--min-free-gb", type=float, default=10.0, help="refuse to run with less free disk (default 10)")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds before a run is killed (default 1800)")
    p.add_argument(
        "--budget-minutes",
        type=float,
        help="start another round only if it should end within this many minutes of the start "
        "(rounds are never cut short; at least one runs)",
    )
    p.add_argument("--etl-src", type=Path, help="put this checkout first on PYTHONPATH for every contender")
    p.add_argument("--note", action="append", default=[], help="a line for the Notes section (repeatable)")
    args = p.parse_args(argv)
    args.rows = [int(r) for r in (args.rows or ("200000,50000" if args.quick else "5000000,500000")).split(",")]
    args.rounds = args.rounds or (1 if args.quick else DEFAULT_ROUNDS)
    args.data_dir = args.data_dir.resolve()
    suffix = "-quick" if args.quick else ""
    args.doc = args.doc or (args.data_dir / "benchmarks-quick.md" if args.quick else ROOT / "docs/benchmarks.md")
    args.doc = args.doc.resolve()
    args.results = (args.results or args.data_dir / f"results{suffix}.json").resolve()
    unknown = set(args.contenders.split(",")) - set(CONTENDERS)
    if unknown:
        p.error(f"unknown contender(s): {', '.join(sorted(unknown))}")
    return args


def shape_tables(args: argparse.Namespace) -> list[tuple[str, str, Path]]:
    """(shape, dataset name, path) of each other table shape, generated unless cached."""
    out = []
    for shape, divisor in SHAPE_DIVISORS.items():
        rows = max(1, args.rows[0] // divisor)
        path = args.data_dir / f"{shape}_{label(rows)}.parquet"
        t0 = time.perf_counter()
        written = shapes.generate(shape, path, rows)
        how = f"generated in {time.perf_counter() - t0:.1f} s" if written else "cached"
        print(f"data: {path} ({rows:,} rows, {path.stat().st_size / MB:.0f} MB, {how})", flush=True)
        out.append((shape, f"{shape} {label(rows)}", path))
    return out


def profile_all(
    datasets: list[tuple[str, Path]], shape_sets: list[tuple[str, str, Path]], args: argparse.Namespace
) -> list[dict[str, Any]]:
    print("profile: read / encode / write CPU of the local engine's steps, one thread", flush=True)
    profiles = [
        median_profile(name, path, "native", args) for name, path in [*datasets, *((n, p) for _, n, p in shape_sets)]
    ]
    # The reference encoder for comparison, where it takes seconds rather than minutes.
    for name, path in [*datasets[1:], *((n, p) for s, n, p in shape_sets if s == "binary")]:
        profiles.append(median_profile(name, path, "reference", args))
    return profiles


def median_profile(dataset: str, src: Path, encoder: str, args: argparse.Namespace) -> dict[str, Any]:
    """The profile run with the median encode CPU of :data:`PROFILE_RUNS` (one run's CPU
    seconds vary by 10-20% here), whole, so that its read : encode : write split holds."""
    runs = [run_profile(dataset, src, encoder, args) for _ in range(PROFILE_RUNS)]
    done = sorted((r for r in runs if "error" not in r), key=lambda r: r["encode_cpu_s"])
    if len(done) < len(runs):
        return next(r for r in runs if "error" in r)
    chosen = dict(done[len(done) // 2])
    chosen["encode_cpu_s_runs"] = [r["encode_cpu_s"] for r in runs]
    return chosen


def compile_sources(args: argparse.Namespace) -> None:
    """Compile etl_lib to bytecode, as pip does when it installs a package.

    An editable install runs from the sources. Where PYTHONDONTWRITEBYTECODE is set (CI
    machines, containers) the interpreter never caches their bytecode, so every run of
    `etl convert` would compile etl_lib again (about 0.07 s, a tenth of a 500k-row run) while
    the peers' packages, installed by pip, come compiled: each contender is timed as installed.
    """
    source = args.etl_src if args.etl_src else ROOT
    compileall.compile_dir(source / "etl_lib", quiet=1)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    compile_sources(args)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    free_gb = shutil.disk_usage(args.data_dir).free / 1e9
    if free_gb < args.min_free_gb:
        print(
            f"bench: only {free_gb:.1f} GB free on the disk of {args.data_dir}; the benchmark needs "
            f"{args.min_free_gb:g} GB (outputs up to ~2 GB each plus the data). Free some space, or pass "
            "--min-free-gb.",
            file=sys.stderr,
        )
        return 1
    started, clock = dt.datetime.now(dt.UTC), time.perf_counter()
    load_start = os.getloadavg()
    repo_start = repository_state()
    contenders = [CONTENDERS[name] for name in args.contenders.split(",")]

    datasets = []
    for rows in args.rows:
        name = label(rows)
        path = args.data_dir / f"mixed_{name}.parquet"
        t0 = time.perf_counter()
        written = datagen.generate(path, rows)
        how = f"generated in {time.perf_counter() - t0:.1f} s" if written else "cached"
        print(f"data: {path} ({rows:,} rows, {path.stat().st_size / MB:.0f} MB, {how})", flush=True)
        datasets.append((name, path))

    shape_contenders = [c for c in contenders if c.name in SHAPE_CONTENDERS]
    shape_sets = shape_tables(args) if not args.no_shapes and shape_contenders else []
    shape_schedule = interleaved(shape_contenders, args.rounds) if shape_sets else []

    schedule = interleaved(contenders, args.rounds)
    runs: list[Run] = []
    args.rounds_done = 0
    round_seconds = 0.0
    for rnd in range(1, args.rounds + 1):
        spent = time.perf_counter() - clock
        if args.budget_minutes and rnd > 1 and spent + round_seconds > args.budget_minutes * 60:
            print(f"budget: {spent / 60:.1f} min spent, a round takes ~{round_seconds / 60:.1f}; stopping", flush=True)
            break
        round_start = time.perf_counter()
        for name, path in datasets:
            order = [c for r, c in schedule if r == rnd]
            print(f"round {rnd}/{args.rounds}, {name} rows: {', '.join(c.name for c in order)}", flush=True)
            runs += [run_one(c, name, path, rnd, args) for c in order]
        for _, name, path in shape_sets:
            order = [c for r, c in shape_schedule if r == rnd]
            print(f"round {rnd}/{args.rounds}, {name} rows: {', '.join(c.name for c in order)}", flush=True)
            runs += [run_one(c, name, path, rnd, args) for c in order]
        round_seconds = time.perf_counter() - round_start
        args.rounds_done = rnd
    summaries: list[Summary] = []
    for name, _ in datasets:
        for c in contenders:
            mine = [r for r in runs if r.contender == c.name and r.dataset == name]
            summaries.append(Summary(c.name, name, all(r.exit_code == 0 for r in mine), mine))
    for _, name, _ in shape_sets:
        for c in shape_contenders:
            mine = [r for r in runs if r.contender == c.name and r.dataset == name]
            summaries.append(Summary(c.name, name, all(r.exit_code == 0 for r in mine), mine))

    profiles = [] if args.no_profile else profile_all(datasets, shape_sets, args)
    startup = measure_startup(args)
    publish = None if args.no_publish else measure_publish(args)
    scale_lines = None
    if not args.no_scale and "spark-engine" in args.contenders.split(","):
        big_name, big_path = datasets[0]
        print(f"scale: the Spark engine on {big_name} rows, local[1] and local[2], and a 1-row file", flush=True)
        scale_start = os.getloadavg()[0]
        rounds = args.rounds_done if args.quick else max(args.rounds_done, scale.DEFAULT_ROUNDS)
        scale_runs = scale.measure_scale(big_path, rounds, args.data_dir, args.timeout, args.etl_src)
        loads = (scale_start, os.getloadavg()[0])
        when = f"{started:%Y-%m-%d %H:%M} UTC"
        scale_lines = scale.section(scale_runs, big_path, args.rows[0], publish, PUBLISH_TARGET_S, when, loads)

    rowgroups: dict[str, Summary] = {}
    rowgroup_files: dict[str, Path] = {}
    if not args.no_rowgroups and "local" in args.contenders.split(","):
        big_name, big_path = datasets[0]
        for groups in ("40", "400"):
            rowgroup_files[groups] = args.data_dir / f"mixed_{big_name}_rg{groups}.parquet"
            datagen.regroup(big_path, rowgroup_files[groups], int(groups))
        print(f"row groups: {big_name} rows as 40 and 400 row groups, local engine", flush=True)
        # With a time budget one run each: peak RSS varies far less between runs than wall time.
        reps = 1 if args.budget_minutes else min(args.rounds_done, 2)
        runs = [
            run_one(CONTENDERS["local"], f"{big_name}-rg{groups}", rowgroup_files[groups], rnd, args)
            for rnd in range(1, reps + 1)
            for groups in (("40", "400") if rnd % 2 else ("400", "40"))
        ]
        for groups in ("40", "400"):
            mine = [r for r in runs if r.dataset == f"{big_name}-rg{groups}"]
            rowgroups[groups] = Summary("local", f"{big_name}-rg{groups}", all(r.exit_code == 0 for r in mine), mine)

    elapsed = time.perf_counter() - clock
    info = machine()
    repo_end = repository_state()
    info["repository"] = repo_start if repo_end == repo_start else f"{repo_start} at the start, {repo_end} at the end"
    doc = render(
        args,
        datasets,
        summaries,
        rowgroups,
        rowgroup_files,
        info,
        started,
        (load_start, os.getloadavg()),
        elapsed,
        shape_sets,
        profiles,
        startup,
        publish,
    )
    # The sections measured by benchmarks of their own are kept from the page this one replaces.
    old = args.doc.read_text(encoding="utf-8") if args.doc.exists() else ""
    doc = report.carry_over(doc, old, {report.SCALE: scale_lines, report.BIG: None})
    args.doc.parent.mkdir(parents=True, exist_ok=True)
    args.doc.write_text(doc, encoding="utf-8")
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(
        json.dumps(
            {
                "started": started.isoformat(),
                "machine": info,
                "runs": [asdict(r) for s in [*summaries, *rowgroups.values()] for r in s.runs],
                "profiles": profiles,
                "startup": dict(startup),
                "publish": publish,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {args.doc} and {args.results} ({elapsed / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
