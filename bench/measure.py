"""Running one command and measuring its whole process tree: wall, CPU and peak RSS.

Shared by every section of ``make bench`` (bench/run.py, bench/scale.py): each contender is
timed the same way.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
POLL_SECONDS = 0.05
MB = 1024 * 1024


def _tree(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _vm_hwm(pid: int) -> int:
    """The process's peak resident set size in bytes (0 if unknown)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def measure(argv: list[str], log: Path, env: dict[str, str], timeout: float) -> tuple[int, float, float, float]:
    """Run ``argv``; return (exit code, wall s, user+sys CPU s, peak RSS MB) of its process tree.

    Peak RSS is the larger of the sampled sum of RSS over the tree (every 50 ms) and the
    largest per-process high-water mark (VmHWM, read at the same samples). Not wait4's
    ru_maxrss: Linux carries the pre-exec high-water mark over exec, so a child spawned
    from this (larger) Python process would report at least this process's size. CPU is
    the larger of wait4's (the process and the children it waited for) and the sum of the
    last sampled CPU times of every process seen in the tree (covers a JVM nobody waits for).
    """
    with log.open("wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True)
        handle = psutil.Process(proc.pid)
        peak_tree = hwm = 0
        cpu_seen: dict[tuple[int, float], float] = {}
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - start > timeout:
                os.killpg(proc.pid, signal.SIGKILL)
                _, status, usage = os.wait4(proc.pid, 0)
                break
            total = 0
            for p in _tree(handle):
                try:
                    with p.oneshot():
                        total += p.memory_info().rss
                        hwm = max(hwm, _vm_hwm(p.pid))
                        times = p.cpu_times()
                        cpu_seen[(p.pid, p.create_time())] = times.user + times.system
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    continue
            peak_tree = max(peak_tree, total)
            time.sleep(POLL_SECONDS)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    # Anything the contender left running in its session (a JVM) is not ours to keep.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    cpu = max(usage.ru_utime + usage.ru_stime, sum(cpu_seen.values()))
    peak = max(peak_tree, hwm) / MB
    return proc.returncode, wall, cpu, peak
