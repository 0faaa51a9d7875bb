"""Keeps ``etl up``'s worker processes alive, and runs the stack's periodic housekeeping.

A thread waits on the workers' process sentinels, so a worker's death (``kill -9``,
the kernel's OOM killer, a crash in native code) is seen at once: ``on_death`` ends
what it was running, and a new process takes its slot. A worker that keeps dying
right after its start is restarted with a growing delay instead of in a tight loop.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# A worker that dies within this many seconds of its start counts as a crash loop.
QUICK_DEATH_SECONDS = 10.0
MAX_RESTART_DELAY = 30.0


@dataclass
class Slot:
    name: str
    process: Any = None
    started: float = 0.0
    quick_deaths: int = 0
    restart_at: float = 0.0
    deaths: int = 0


@dataclass
class Periodic:
    interval: float
    action: Callable[[], None]
    due: float = field(default=0.0)


class Supervisor:
    """``count`` worker processes running ``target(env, slot name, parent pid)``."""

    def __init__(
        self,
        target: Callable[..., None],
        *,
        count: int,
        env: dict[str, str],
        on_death: Callable[[str, int, int | None], None],
        logger: Any,
        poll_interval: float = 0.5,
    ) -> None:
        self.target = target
        self.env = env
        self.on_death = on_death
        self.logger = logger
        self.poll_interval = poll_interval
        self.slots = [Slot(name=f"w{i + 1}") for i in range(count)]
        self.periodic: list[Periodic] = []
        self._context = multiprocessing.get_context("spawn")
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def every(self, interval: float, action: Callable[[], None]) -> None:
        self.periodic.append(Periodic(interval, action, due=time.monotonic() + interval))

    # --- life cycle ----------------------------------------------------------------------

    def start(self) -> None:
        for slot in self.slots:
            self._spawn(slot)
        self._thread = threading.Thread(target=self._loop, name="etl-supervisor", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop supervising, then ask every worker to stop (SIGTERM: after its current run)."""
        self._halt.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout + 5)
        processes = [s.process for s in self.slots if s.process is not None]
        for process in processes:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + timeout
        for process in processes:
            process.join(timeout=max(0.1, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(timeout=5)

    # --- state ---------------------------------------------------------------------------

    @property
    def expected(self) -> int:
        return len(self.slots)

    def alive(self) -> int:
        with self._lock:
            return sum(1 for s in self.slots if s.process is not None and s.process.is_alive())

    def status(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {
                    "slot": s.name,
                    "pid": s.process.pid if s.process is not None else None,
                    "alive": s.process is not None and s.process.is_alive(),
                    "restarts": s.deaths,
                }
                for s in self.slots
            ]

    def restarts(self) -> int:
        return sum(s.deaths for s in self.slots)

    # --- the loop ------------------------------------------------------------------------

    def _spawn(self, slot: Slot) -> None:
        process = self._context.Process(
            target=self.target,
            args=(self.env, slot.name, os.getpid()),
            daemon=True,
            name=f"etl-worker-{slot.name}",
        )
        process.start()
        with self._lock:
            slot.process = process
            slot.started = time.monotonic()

    def _died(self, slot: Slot) -> None:
        process = slot.process
        assert process is not None
        process.join(timeout=5)
        exitcode = process.exitcode
        now = time.monotonic()
        slot.quick_deaths = slot.quick_deaths + 1 if now - slot.started < QUICK_DEATH_SECONDS else 0
        delay = 0.0 if slot.quick_deaths <= 1 else min(MAX_RESTART_DELAY, 2.0**slot.quick_deaths)
        with self._lock:
            slot.process = None
            slot.deaths += 1
            slot.restart_at = now + delay
        self.logger.error(
            "worker died",
            extra={"worker": slot.name, "pid": process.pid, "exitcode": exitcode, "restart_in_s": delay},
        )
        try:
            self.on_death(slot.name, process.pid, exitcode)
        except Exception:  # the supervisor must outlive any one failure
            self.logger.exception("cannot end the runs of a dead worker", extra={"worker": slot.name})

    def _loop(self) -> None:
        while not self._halt.is_set():
            with self._lock:
                watched = {s.process.sentinel: s for s in self.slots if s.process is not None}
            if watched:
                ready = multiprocessing.connection.wait(list(watched), timeout=self.poll_interval)
            else:
                self._halt.wait(self.poll_interval)
                ready = []
            if self._halt.is_set():
                break
            for sentinel in ready:
                self._died(watched[sentinel])
            now = time.monotonic()
            for slot in self.slots:
                if slot.process is None and slot.restart_at <= now and not self._halt.is_set():
                    self._spawn(slot)
                    self.logger.info("worker replaced", extra={"worker": slot.name})
            self._housekeeping(now)

    def _housekeeping(self, now: float) -> None:
        for task in self.periodic:
            if now >= task.due:
                task.due = now + task.interval
                try:
                    task.action()
                except Exception:
                    self.logger.exception("housekeeping failed")
