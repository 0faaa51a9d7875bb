"""``make bench-big``: a ~6 GiB incompressible Parquet file through ``etl up``, end to end.

1. Generates the file by streaming (one row group in memory at a time; random bytes from a
   fixed seed, so the same file on every run) into ``build/bench/`` unless it is cached.
2. Starts ``etl up --engine spark`` on a free loopback port with a data directory of its own.
3. Uploads the file through the multipart protocol the web app uses (docs/uploads.md): each
   part signed with its SHA-256, PUT to its URL, a few at a time, then completed.
4. Waits for the job, downloads the output and counts its lines against the rows written.
5. Samples the RSS of the server's whole process tree (workers, Spark's JVM and Python
   workers included) through the run, and checks that no upload part, staged piece or
   half-written file is left in the data directory.

Writes its figures into the "6 GiB end to end" section of docs/benchmarks.md (bench/report.py,
the same page ``make bench`` generates) and the raw figures next to the data, then removes
the data directory (the generated Parquet file is kept for the next run; ``--clean`` removes
it too). Exits 1 when a check fails.

    python bench/big.py [--gib 6] [--clean]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report

from etl_lib.jobs.local import MULTIPART_DIR

ROOT = Path(__file__).resolve().parents[1]
GIB = 1024**3
MIB = 1024**2
SEED = 20261206
GENERATOR_VERSION = 1
BLOB_BYTES = 1000
"""Random bytes a row carries (base64 in the JSON: 1,336 characters)."""
ROW_GROUP_ROWS = 128 * 1024
"""About 130 MB a row group: the generator holds one at a time."""
RSS_LIMIT = 2 * GIB
"""The target: the server's process tree stays under this, sampled through the run."""
UPLOADS_AT_ONCE = 4
"""Parts in flight, as the web app sends them."""
SAMPLE_SECONDS = 0.5
START_TIMEOUT = 180.0


def rows_for(size: int) -> int:
    """Rows of a file of about ``size`` bytes (id + random int64 + blob, uncompressed pages)."""
    return size // (8 + 8 + BLOB_BYTES + 4)


def _row_group(first: int, rows: int) -> pa.Table:
    # A generator per row group, seeded by its position: any row group is the same on every run.
    rng = np.random.default_rng([SEED, first])
    blobs = rng.integers(0, 256, size=rows * BLOB_BYTES, dtype=np.uint8)
    offsets = np.arange(0, (rows + 1) * BLOB_BYTES, BLOB_BYTES, dtype=np.int32)
    return pa.table(
        {
            "id": pa.array(np.arange(first, first + rows, dtype=np.int64)),
            "r": pa.array(rng.integers(-(2**63), 2**63 - 1, size=rows, dtype=np.int64)),
            "blob": pa.Array.from_buffers(pa.binary(), rows, [None, pa.py_buffer(offsets), pa.py_buffer(blobs)]),
        }
    )


def generate(path: Path, rows: int) -> bool:
    """Write ``rows`` rows to ``path`` one row group at a time, uncompressed (random bytes do
    not compress); False when a file of this version and size is already there."""
    stamp = path.with_suffix(".json")
    wanted = {"version": GENERATOR_VERSION, "seed": SEED, "rows": rows}
    if path.exists() and stamp.exists() and json.loads(stamp.read_text()) == wanted:
        return False
    tmp = path.with_name(f".{path.name}.tmp")
    schema = _row_group(0, 1).schema
    with pq.ParquetWriter(tmp, schema, compression="none", use_dictionary=False) as writer:
        for first in range(0, rows, ROW_GROUP_ROWS):
            writer.write_table(_row_group(first, min(ROW_GROUP_ROWS, rows - first)), row_group_size=ROW_GROUP_ROWS)
    tmp.replace(path)
    stamp.write_text(json.dumps(wanted))
    return True


# --------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Peak:
    """The largest sum of RSS seen over a process tree, sampled on a thread."""

    root: int
    bytes: int = 0
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def _sample(self) -> None:
        try:
            top = psutil.Process(self.root)
            tree = [top, *top.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        total = 0
        for proc in tree:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                total += proc.memory_info().rss
        self.bytes, self.samples = max(self.bytes, total), self.samples + 1

    def run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self._sample()

    @contextlib.contextmanager
    def sampling(self) -> Iterator[Peak]:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()


@contextlib.contextmanager
def server(data_dir: Path, log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``etl up --engine spark`` on a free loopback port; stopped (SIGTERM) on the way out."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [str(Path(sys.executable).parent / "etl"), "up", "--port", str(port), "--data-dir", str(data_dir)]
    with log.open("wb") as out:
        proc = subprocess.Popen([*argv, "--engine", "spark"], stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"etl up exited with {proc.returncode}; see {log}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{url}/api/health", timeout=5).json().get("status") == "ok":
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"etl up did not start in {START_TIMEOUT:g} s; see {log}")
            time.sleep(0.2)
        yield url, proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _api(url: str, method: str, path: str, **kwargs: Any) -> Any:
    response = requests.request(method, f"{url}/api{path}", timeout=120, **kwargs)
    if response.status_code >= 300:
        raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
    return response.json() if response.content else None


def upload(url: str, src: Path) -> str:
    """Create the job and upload ``src`` in parts as the web app does; the job's id."""
    size = src.stat().st_size
    created = _api(url, "POST", "/jobs", json={"filename": src.name, "size": size})
    plan = created["upload"]
    if plan["method"] != "multipart":
        raise RuntimeError(f"expected a multipart upload plan for {size:,} bytes, got {plan['method']}")
    job_id, part_size = created["job"]["job_id"], plan["part_size"]

    def send(number: int) -> None:
        with src.open("rb") as handle:
            handle.seek((number - 1) * part_size)
            chunk = handle.read(part_size)
        checksum = base64.b64encode(hashlib.sha256(chunk).digest()).decode()
        signed = _api(url, "POST", f"/jobs/{job_id}/upload/parts/{number}", json={"checksum_sha256": checksum})
        stored = requests.put(signed["url"], data=chunk, headers=signed["headers"], timeout=300)
        if stored.status_code != 200:
            raise RuntimeError(f"part {number}: {stored.status_code} {stored.text[:300]}")

    with ThreadPoolExecutor(UPLOADS_AT_ONCE) as pool:
        list(pool.map(send, range(1, plan["part_count"] + 1)))
    _api(url, "POST", f"/jobs/{job_id}/upload/complete")
    return str(job_id)


def wait(url: str, job_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = _api(url, "GET", f"/jobs/{job_id}")["job"]
        if job["status"] in ("SUCCEEDED", "FAILED"):
            return job
        time.sleep(1.0)
    raise RuntimeError(f"job {job_id} not finished after {timeout:g} s")


def download_lines(url: str, job_id: str) -> tuple[int, int]:
    """Stream the output (never stored): its bytes and its lines."""
    link = _api(url, "GET", f"/jobs/{job_id}/download")["url"]
    size = lines = 0
    with requests.get(link, stream=True, timeout=300) as response:
        response.raise_for_status()
        for chunk in response.iter_content(8 * MIB):
            size += len(chunk)
            lines += chunk.count(b"\n")
    return size, lines


# The local store's folder of multipart uploads in progress stays, empty, once they are done.
STAGING_MARKERS = (".tmp-", ".parts-", ".upload-", MULTIPART_DIR)


def leftovers(data_dir: Path) -> list[str]:
    """Upload parts, staged pieces and half-written files still in the data directory."""
    found = []
    for path in data_dir.rglob(".*"):
        if any(marker in path.name for marker in STAGING_MARKERS):
            if path.name == MULTIPART_DIR and not any(path.iterdir()):
                continue
            found.append(str(path.relative_to(data_dir)))
    return found


# --------------------------------------------------------------------------- the run


@dataclass
class Result:
    parquet_bytes: int
    rows: int
    generate_s: float | None
    upload_s: float = 0.0
    convert_s: float = 0.0
    download_s: float = 0.0
    output_bytes: int = 0
    output_lines: int = 0
    status: str = ""
    error: str | None = None
    peak_rss_bytes: int = 0
    rss_samples: int = 0
    leftovers: list[str] = field(default_factory=list)
    load: tuple[float, float] = (0.0, 0.0)  # the machine's 1-minute load average, at the start and the end

    def checks(self) -> list[tuple[str, str, bool]]:
        """(check, measured, passed) of each of the run's guarantees."""
        return [
            ("the job SUCCEEDED", self.status + (f": {self.error}" if self.error else ""), self.status == "SUCCEEDED"),
            (
                "output lines = rows of the input",
                f"{self.output_lines:,} of {self.rows:,}",
                self.output_lines == self.rows,
            ),
            (
                f"server's process tree RSS < {RSS_LIMIT / GIB:g} GiB",
                f"{self.peak_rss_bytes / MIB:,.0f} MiB peak ({self.rss_samples} samples)",
                0 < self.peak_rss_bytes < RSS_LIMIT,
            ),
            ("nothing left in staging", ", ".join(self.leftovers) or "nothing", not self.leftovers),
        ]


def run(src: Path, rows: int, data_dir: Path, generate_s: float | None, timeout: float) -> Result:
    result = Result(src.stat().st_size, rows, generate_s)
    load_start = os.getloadavg()[0]
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    log = data_dir.parent / "big-server.log"
    with server(data_dir, log) as (url, proc), Peak(proc.pid).sampling() as peak:
        clock = time.perf_counter()
        job_id = upload(url, src)
        result.upload_s = time.perf_counter() - clock
        clock = time.perf_counter()
        job = wait(url, job_id, timeout)
        result.convert_s = time.perf_counter() - clock
        result.status, result.error = job["status"], job.get("error")
        if job["status"] == "SUCCEEDED":
            clock = time.perf_counter()
            result.output_bytes, result.output_lines = download_lines(url, job_id)
            result.download_s = time.perf_counter() - clock
    result.peak_rss_bytes, result.rss_samples = peak.bytes, peak.samples
    result.leftovers = leftovers(data_dir)
    result.load = (load_start, os.getloadavg()[0])
    return result


def section(result: Result, when: dt.datetime) -> list[str]:
    """The page's section of this run."""
    lines = [
        "## A 6 GiB file end to end through `etl up`",
        "",
        f"`make bench-big` (`bench/big.py`), {when:%Y-%m-%d %H:%M} UTC: a generated Parquet file of "
        f"{result.parquet_bytes / GIB:.2f} GiB ({result.rows:,} rows of an `int64` id, a random `int64` and "
        f"{BLOB_BYTES:,} random bytes; uncompressed, as random bytes do not compress) uploaded to `etl up "
        f"--engine spark` in parts as the web app sends them ({UPLOADS_AT_ONCE} at a time, each with its SHA-256), "
        "converted by the Spark engine, and its output downloaded (streamed and counted, not stored). "
        "The RSS is the sum over the server's whole process tree (its job worker, Spark's JVM and "
        f"Python workers), sampled every {SAMPLE_SECONDS:g} s from the server's start to the end of the download. "
        f"The machine's load average (1 minute) was {result.load[0]:.1f} at the start and {result.load[1]:.1f} at "
        f"the end, on {os.cpu_count()} cores: the times are this shared machine's, not the code's alone.",
        "",
        "| step | seconds | MiB/s |",
        "|---|---:|---:|",
    ]
    for name, seconds, size in (
        ("upload (multipart)", result.upload_s, result.parquet_bytes),
        ("conversion (queue to SUCCEEDED; MiB/s of Parquet)", result.convert_s, result.parquet_bytes),
        ("download (JSON Lines)", result.download_s, result.output_bytes),
    ):
        rate = f"{size / MIB / seconds:,.0f}" if seconds else "–"
        lines.append(f"| {name} | {seconds:,.1f} | {rate} |")
    lines += [
        "",
        f"Output: {result.output_bytes / GIB:.2f} GiB of JSON Lines.",
        "",
        "| check | measured | verdict |",
        "|---|---|---|",
        *(f"| {name} | {measured} | **{'PASS' if ok else 'FAIL'}** |" for name, measured, ok in result.checks()),
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gib", type=float, default=6.0, help="size of the generated file in GiB (default 6)")
    p.add_argument("--data-dir", type=Path, default=ROOT / "build" / "bench")
    p.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds allowed for the conversion (default 3600)")
    p.add_argument("--clean", action="store_true", help="remove the generated file too at the end")
    args = p.parse_args(argv)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    rows = rows_for(int(args.gib * GIB))
    src = args.data_dir / f"big_{args.gib:g}gib.parquet"
    clock = time.perf_counter()
    written = generate(src, rows)
    generate_s = time.perf_counter() - clock if written else None
    print(
        f"data: {src} ({src.stat().st_size / GIB:.2f} GiB, {rows:,} rows, "
        f"{f'generated in {generate_s:.0f} s' if written else 'cached'})",
        flush=True,
    )
    when = dt.datetime.now(dt.UTC)
    stack_dir = args.data_dir / "big-stack"
    try:
        result = run(src, rows, stack_dir, generate_s, args.timeout)
    finally:
        shutil.rmtree(stack_dir, ignore_errors=True)
        if args.clean:
            src.unlink(missing_ok=True)
            src.with_suffix(".json").unlink(missing_ok=True)
    print(json.dumps(asdict(result)), flush=True)
    (args.data_dir / "results-big.json").write_text(json.dumps(asdict(result), indent=2) + "\n")
    report.replace_section(args.doc, report.BIG, section(result, when))
    print(f"wrote {args.doc}")
    failed = [name for name, _, ok in result.checks() if not ok]
    if failed:
        print(f"bench-big: FAILED: {'; '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
