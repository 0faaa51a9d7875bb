"""Enforcement of a job's :class:`~etl_lib.options.Limits` while it runs.

One :class:`Budget` counts the decoded bytes read, the JSON bytes written and the clock,
for a whole local run (shared by its encoding threads) or for one Spark task (each task
checks its own share against the job's limits, and the driver checks the sum).
"""

from __future__ import annotations

import threading
import time

from etl_lib.errors import InputTooLargeError, OutputTooLargeError, TimedOutError
from etl_lib.options import Limits


def _size(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    raise AssertionError("unreachable")


class Budget:
    """Counts one job's work against its limits; raises the limit's error when over.

    ``deadline`` is wall-clock (``time.time()``) so it means the same on the driver and
    on Spark executors; by default it is ``max_run_seconds`` from now.
    """

    def __init__(self, limits: Limits, *, name: str, deadline: float | None = None) -> None:
        self.limits, self.name = limits, name
        if deadline is None and limits.max_run_seconds is not None:
            deadline = time.time() + limits.max_run_seconds
        self.deadline = deadline
        self.input_bytes = self.output_bytes = 0
        self._lock = threading.Lock()

    def _add(self, counter: str, n: int) -> int:
        with self._lock:
            total = getattr(self, counter) + n
            setattr(self, counter, total)
        return total

    def charge_input(self, n: int) -> None:
        self.check_input(self._add("input_bytes", n))

    def charge_output(self, n: int) -> None:
        self.check_output(self._add("output_bytes", n))

    def _basis(self, factor: int) -> str:
        """Why the limit is what it is, when the input's own size set it."""
        limits, basis = self.limits, self.limits.expansion_basis
        if basis is None or limits.max_expansion is None:
            return ""
        return (
            f" ({factor * limits.max_expansion} times the input's {_size(basis)} on disk, "
            f"or {_size(limits.expansion_floor_bytes)} where that is more)"
        )

    def check_input(self, total: int) -> None:
        limit = self.limits.max_input_bytes
        if limit is not None and total > limit:
            raise InputTooLargeError(
                f"{self.name} decodes to more than {_size(limit)}, this job's limit on decoded input{self._basis(1)}"
            )

    def check_output(self, total: int) -> None:
        limit = self.limits.max_output_bytes
        if limit is not None and total > limit:
            raise OutputTooLargeError(
                f"the JSON of {self.name} is larger than {_size(limit)}, this job's limit on output{self._basis(2)}"
            )

    def check_time(self) -> None:
        if self.deadline is not None and time.time() > self.deadline:
            raise TimedOutError(
                f"converting {self.name} took longer than {self.limits.max_run_seconds:g} s, this job's time limit"
            )
