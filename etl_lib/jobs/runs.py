"""The local run queue: what Glue's job runs are in AWS, durable in SQLite.

The events Lambda "starts a run" by queueing it (:class:`QueueLauncher`); worker
processes claim runs one at a time. A run claimed by a worker that died with the server
is found ``running`` at the next start and re-queued (or failed after too many tries).

It is a launcher of the job service's local backend (``local_runner="queue"`` in
:mod:`etl_lib.jobs.settings`), so it lives with the other local adapters; the local stack
(``etl up``, in the developer stack) runs the workers that claim its runs.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from etl_lib.jobs.local import create_sqlite, sqlite_connection
from etl_lib.jobs.ports import JobLauncher, RunSpec

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id     TEXT PRIMARY KEY,
    job_id     TEXT NOT NULL,
    arguments  TEXT NOT NULL,
    state      TEXT NOT NULL,          -- queued | running | SUCCEEDED | FAILED
    attempts   INTEGER NOT NULL DEFAULT 0,
    worker     TEXT,
    created    REAL NOT NULL,
    updated    REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_state ON runs (state, created);
"""


@dataclass(frozen=True)
class Run:
    run_id: str
    job_id: str
    arguments: dict[str, str]
    attempts: int

    @property
    def attempt(self) -> str:
        """The job service's attempt id for this claim of the run: known to the worker
        that converts and to the supervisor that ends its job if it dies."""
        return f"{self.run_id}.{self.attempts}"


class RunQueue:
    def __init__(self, path: str | Path) -> None:
        self.path = create_sqlite(path, _SCHEMA)

    def _connect(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return sqlite_connection(self.path)

    def enqueue(self, arguments: Mapping[str, str]) -> str:
        run_id = f"lr_{uuid.uuid4().hex}"
        now = time.time()
        args = {**arguments, "--JOB_RUN_ID": run_id}
        with self._connect() as db:
            db.execute(
                "INSERT INTO runs (run_id, job_id, arguments, state, created, updated) "
                "VALUES (?, ?, ?, 'queued', ?, ?)",
                (run_id, arguments.get("--job_id", ""), json.dumps(args), now, now),
            )
        return run_id

    def claim(self, worker: str) -> Run | None:
        """The oldest queued run, now ``running`` for ``worker`` (atomic across processes)."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(
                "SELECT run_id, job_id, arguments, attempts FROM runs WHERE state = 'queued' ORDER BY created LIMIT 1"
            ).fetchone()
            if row is None:
                db.execute("ROLLBACK")
                return None
            db.execute(
                "UPDATE runs SET state = 'running', worker = ?, attempts = attempts + 1, updated = ? "
                "WHERE run_id = ? AND state = 'queued'",
                (worker, time.time(), row[0]),
            )
            db.execute("COMMIT")
        return Run(run_id=row[0], job_id=row[1], arguments=json.loads(row[2]), attempts=row[3] + 1)

    def finish(self, run_id: str, state: str) -> None:
        with self._connect() as db:
            db.execute("UPDATE runs SET state = ?, updated = ? WHERE run_id = ?", (state, time.time(), run_id))

    def arguments_of(self, run_id: str) -> dict[str, str] | None:
        with self._connect() as db:
            row = db.execute("SELECT arguments FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return {str(k): str(v) for k, v in json.loads(row[0]).items()} if row else None

    def state_of(self, run_id: str) -> str | None:
        """The run's state as Glue names it: RUNNING while queued or claimed, then
        SUCCEEDED or FAILED; None for an unknown run."""
        with self._connect() as db:
            row = db.execute("SELECT state FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            return None
        return "RUNNING" if row[0] in {"queued", "running"} else str(row[0])

    def interrupted(self) -> list[Run]:
        """Runs a worker had claimed when the server stopped."""
        with self._connect() as db:
            rows = db.execute("SELECT run_id, job_id, arguments, attempts FROM runs WHERE state = 'running'").fetchall()
        return [Run(run_id=r[0], job_id=r[1], arguments=json.loads(r[2]), attempts=r[3]) for r in rows]

    def running_for(self, worker: str) -> list[Run]:
        """Runs ``worker`` has claimed and not finished (what a dead worker leaves)."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT run_id, job_id, arguments, attempts FROM runs WHERE state = 'running' AND worker = ?",
                (worker,),
            ).fetchall()
        return [Run(run_id=r[0], job_id=r[1], arguments=json.loads(r[2]), attempts=r[3]) for r in rows]

    def requeue(self, run_id: str) -> None:
        with self._connect() as db:
            db.execute(
                "UPDATE runs SET state = 'queued', worker = NULL, updated = ? WHERE run_id = ? AND state = 'running'",
                (time.time(), run_id),
            )

    def active_job_ids(self) -> set[str]:
        with self._connect() as db:
            rows = db.execute("SELECT job_id FROM runs WHERE state IN ('queued', 'running')").fetchall()
        return {r[0] for r in rows}

    def count(self, state: str) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM runs WHERE state = ?", (state,)).fetchone()[0])


class QueueLauncher(JobLauncher):
    """Starting a run = queueing it for the workers; the API never waits for a conversion."""

    def __init__(self, queue: RunQueue) -> None:
        self.queue = queue

    def start(self, arguments: Mapping[str, str], spec: RunSpec | None = None) -> str:
        return self.queue.enqueue(arguments)

    def arguments_of(self, run_id: str) -> dict[str, str] | None:
        return self.queue.arguments_of(run_id)

    def run_state(self, run_id: str) -> str | None:
        return self.queue.state_of(run_id)
