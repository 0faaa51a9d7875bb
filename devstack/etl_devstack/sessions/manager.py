"""Glue interactive sessions on this machine: session records, statements, worker processes.

Each session is one :mod:`etl_devstack.sessions.worker` process. A session is ``PROVISIONING``
while its process installs the session's modules, then ``READY``; statements run one at a
time in submission order (``WAITING`` -> ``RUNNING`` -> ``AVAILABLE``/``CANCELLED``/``ERROR``).
``StopSession`` ends the process (``STOPPING`` -> ``STOPPED``); a session idle for its
``IdleTimeout`` minutes, or older than its ``Timeout``, is stopped with status ``TIMEOUT``;
a process that dies is ``FAILED`` with the end of its log as ``ErrorMessage``. These are the
states and transitions the Glue API documents (Session, Statement).

moto serves CreateSession/GetSession/... as records only (its CreateSession answers without
the ``Session`` the kernel reads, and nothing runs a statement), hence this module.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from etl_lib.errors import GlueApiError, GlueErrorCode

WORKER = Path(__file__).with_name("worker.py")
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
SESSION_ID = re.compile(r"^[^\x00-\x1f]{1,255}$")
DEFAULT_IDLE_TIMEOUT = 2880  # minutes, Glue's default
LIVE = ("PROVISIONING", "READY")


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Statement:
    id: int
    code: str
    state: str = "WAITING"
    output: dict[str, Any] | None = None
    started_on: int | None = None
    completed_on: int | None = None

    def as_api(self) -> dict[str, Any]:
        done = self.state in {"AVAILABLE", "CANCELLED", "ERROR"}
        body: dict[str, Any] = {"Id": self.id, "Code": self.code, "State": self.state, "Progress": 1.0 if done else 0.0}
        if self.output is not None:
            body["Output"] = self.output
        if self.started_on is not None:
            body["StartedOn"] = self.started_on
        if self.completed_on is not None:
            body["CompletedOn"] = self.completed_on
        return body


@dataclass
class Session:
    request: dict[str, Any]
    folder: Path
    created_on: float = field(default_factory=time.time)
    status: str = "PROVISIONING"
    error_message: str | None = None
    completed_on: float | None = None
    statements: list[Statement] = field(default_factory=list)
    process: subprocess.Popen[str] | None = None
    last_active: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def id(self) -> str:
        return str(self.request["Id"])

    def as_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "Id": self.id,
            "CreatedOn": self.created_on,
            "Status": self.status,
            "Role": self.request["Role"],
            "Command": self.request["Command"],
            "DefaultArguments": self.request.get("DefaultArguments") or {},
            "Progress": 100.0 if self.status != "PROVISIONING" else 0.0,
            "IdleTimeout": self.idle_timeout,
        }
        for name in ("Description", "Connections", "MaxCapacity", "NumberOfWorkers", "WorkerType",
                     "SecurityConfiguration", "GlueVersion", "Timeout"):  # fmt: skip
            if self.request.get(name) is not None:
                body[name] = self.request[name]
        if self.error_message:
            body["ErrorMessage"] = self.error_message
        if self.completed_on is not None:
            body["CompletedOn"] = self.completed_on
            body["ExecutionTime"] = self.completed_on - self.created_on
        return body

    @property
    def idle_timeout(self) -> int:
        return int(self.request.get("IdleTimeout") or DEFAULT_IDLE_TIMEOUT)

    def busy(self) -> bool:
        return any(s.state in {"WAITING", "RUNNING"} for s in self.statements)


class SessionManager:
    """The sessions of one endpoint.

    ``work_dir`` keeps each session's request, log and installed modules; ``cwd`` is the
    sessions' working directory (relative paths in statements resolve there; on AWS a
    session has no local files, so notebooks use ``s3://`` there). ``minute`` is the length
    of a Glue minute in seconds for ``IdleTimeout``/``Timeout`` (60; tests shorten it).
    """

    def __init__(
        self, work_dir: str | os.PathLike[str] | None = None, *, minute: float = 60.0,
        env: dict[str, str] | None = None, python: str = sys.executable, cwd: str | os.PathLike[str] | None = None,
    ) -> None:  # fmt: skip
        self.cwd = Path(cwd or os.getcwd()).resolve()
        self._owns_dir = work_dir is None
        self.work_dir = Path(work_dir) if work_dir is not None else Path(tempfile.mkdtemp(prefix="glue-sessions-"))
        self.minute = minute
        self.env = env
        self.python = python
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._reaper = threading.Thread(target=self._reap, name="glue-session-reaper", daemon=True)
        self._reaper.start()

    # --- API operations ------------------------------------------------------------------

    def create_session(self, request: dict[str, Any]) -> dict[str, Any]:
        session_id = request.get("Id")
        if not isinstance(session_id, str) or not SESSION_ID.match(session_id):
            raise GlueApiError(GlueErrorCode.INVALID_INPUT, "Session Id must be 1 to 255 characters")
        if not ROLE_ARN.match(str(request.get("Role", ""))):
            raise GlueApiError(
                GlueErrorCode.INVALID_INPUT, f"Role must be an IAM role ARN, not {request.get('Role')!r}"
            )
        if not isinstance(request.get("Command"), dict) or request["Command"].get("Name") not in {
            "glueetl",
            "gluestreaming",
        }:
            raise GlueApiError(GlueErrorCode.INVALID_INPUT, "Command.Name must be glueetl or gluestreaming")
        with self._lock:
            if session_id in self._sessions:
                raise GlueApiError(GlueErrorCode.ALREADY_EXISTS, f"Session {session_id} already exists")
            folder = self.work_dir / re.sub(r"[^\w.-]", "_", session_id)
            folder.mkdir(parents=True, exist_ok=True)
            session = Session(request=request, folder=folder)
            self._sessions[session_id] = session
        (folder / "session.json").write_text(json.dumps(request), encoding="utf-8")
        log = (folder / "session.log").open("w", encoding="utf-8")
        session.process = subprocess.Popen(
            [self.python, str(WORKER), str(folder.resolve())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,  # a stop can kill the whole group (the JVM too)
        )
        log.close()
        threading.Thread(target=self._read, args=(session,), name=f"glue-session-{session_id}", daemon=True).start()
        return {"Session": session.as_api()}

    def get_session(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"Session": self._get(request.get("Id")).as_api()}

    def list_sessions(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            sessions = list(self._sessions.values())
        tags = request.get("Tags") or {}
        sessions = [s for s in sessions if all((s.request.get("Tags") or {}).get(k) == v for k, v in tags.items())]
        return {"Ids": [s.id for s in sessions], "Sessions": [s.as_api() for s in sessions]}

    def stop_session(self, request: dict[str, Any]) -> dict[str, Any]:
        session = self._get(request.get("Id"))
        with session.lock:
            if session.status not in LIVE:
                raise GlueApiError(GlueErrorCode.ILLEGAL_SESSION_STATE, f"Session is in {session.status} status")
        self._end(session, "STOPPED")
        return {"Id": session.id}

    def delete_session(self, request: dict[str, Any]) -> dict[str, Any]:
        session = self._get(request.get("Id"))
        self._end(session, "STOPPED")
        with self._lock:
            self._sessions.pop(session.id, None)
        return {"Id": session.id}

    def run_statement(self, request: dict[str, Any]) -> dict[str, Any]:
        session = self._get(request.get("SessionId"))
        code = request.get("Code")
        if not isinstance(code, str):
            raise GlueApiError(GlueErrorCode.INVALID_INPUT, "Code is required")
        with session.lock:
            if session.status != "READY":
                raise GlueApiError(GlueErrorCode.INVALID_INPUT, f"Session {session.id} is in {session.status} status")
            statement = Statement(id=len(session.statements), code=code)
            session.statements.append(statement)
            session.last_active = time.monotonic()
            self._dispatch(session)
        return {"Id": statement.id}

    def get_statement(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"Statement": self._statement(request).as_api()}

    def list_statements(self, request: dict[str, Any]) -> dict[str, Any]:
        session = self._get(request.get("SessionId"))
        return {"Statements": [s.as_api() for s in session.statements]}

    def cancel_statement(self, request: dict[str, Any]) -> dict[str, Any]:
        session = self._get(request.get("SessionId"))
        statement = self._statement(request)
        with session.lock:
            if statement.state == "WAITING":
                statement.state, statement.completed_on = "CANCELLED", _now_ms()
            elif statement.state == "RUNNING" and session.process is not None:
                statement.state = "CANCELLING"
                session.process.send_signal(signal.SIGINT)
        return {}

    # --- internals -----------------------------------------------------------------------

    def _get(self, session_id: Any) -> Session:
        with self._lock:
            session = self._sessions.get(str(session_id))
        if session is None:
            raise GlueApiError(GlueErrorCode.ENTITY_NOT_FOUND, f"Session {session_id} not found")
        return session

    def _statement(self, request: dict[str, Any]) -> Statement:
        session = self._get(request.get("SessionId"))
        statement_id = request.get("Id")
        if not isinstance(statement_id, int) or not 0 <= statement_id < len(session.statements):
            raise GlueApiError(
                GlueErrorCode.ENTITY_NOT_FOUND, f"Statement {statement_id} not found in session {session.id}"
            )
        return session.statements[statement_id]

    def _dispatch(self, session: Session) -> None:
        """Send the next waiting statement when none runs (caller holds ``session.lock``)."""
        if session.status != "READY" or any(s.state in {"RUNNING", "CANCELLING"} for s in session.statements):
            return
        waiting = next((s for s in session.statements if s.state == "WAITING"), None)
        if waiting is None or session.process is None or session.process.stdin is None:
            return
        waiting.state, waiting.started_on = "RUNNING", _now_ms()
        session.process.stdin.write(json.dumps({"id": waiting.id, "code": waiting.code}) + "\n")
        session.process.stdin.flush()

    def _read(self, session: Session) -> None:
        """Answers of one worker, until it exits."""
        assert session.process is not None and session.process.stdout is not None
        for line in session.process.stdout:
            message = json.loads(line)
            with session.lock:
                if message.get("event") == "ready":
                    if session.status == "PROVISIONING":
                        session.status = "READY"
                        session.last_active = time.monotonic()  # idle from now, not from creation
                elif message.get("event") == "failed":
                    session.status, session.error_message = "FAILED", message["message"]
                else:
                    statement = session.statements[message["id"]]
                    statement.state, statement.output = message["state"], message["output"]
                    statement.completed_on = _now_ms()
                    session.last_active = time.monotonic()
                    self._dispatch(session)
        session.process.wait()
        with session.lock:
            for statement in session.statements:
                if statement.state in {"WAITING", "RUNNING", "CANCELLING"}:
                    statement.state, statement.completed_on = "ERROR", _now_ms()
            if session.status in LIVE:
                session.status = "FAILED"
                session.error_message = (
                    f"the session process exited ({session.process.returncode}): {self._log_tail(session)}"
                )
            if session.completed_on is None:
                session.completed_on = time.time()

    @staticmethod
    def _log_tail(session: Session) -> str:
        try:
            lines = (session.folder / "session.log").read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return ""
        return " | ".join(lines[-5:])[-1000:]

    def _end(self, session: Session, final: str) -> None:
        with session.lock:
            if session.status not in LIVE:
                return
            session.status = "STOPPING"
            process = session.process
        if process is not None and process.poll() is None:
            if process.stdin is not None:
                process.stdin.close()  # the worker's loop ends; Spark stops with the process
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=20)
        with session.lock:
            session.status = final
            session.completed_on = time.time()

    def expired(self, session: Session, now: float) -> bool:
        """Whether the reaper stops ``session`` at ``now`` (``time.monotonic()``): READY, no
        statement waiting or running, idle for ``IdleTimeout`` minutes or older than ``Timeout``."""
        with session.lock:
            if session.status != "READY":
                return False
            idle = not session.busy() and now - session.last_active > session.idle_timeout * self.minute
            timeout = int(session.request.get("Timeout") or 0)
            too_old = timeout > 0 and time.time() - session.created_on > timeout * self.minute
            return idle or too_old

    def _reap(self) -> None:
        while not self._closed.wait(min(1.0, self.minute / 4)):
            with self._lock:
                sessions = list(self._sessions.values())
            for session in sessions:
                if self.expired(session, time.monotonic()):
                    self._end(session, "TIMEOUT")

    def sessions(self) -> Iterator[Session]:
        with self._lock:
            yield from list(self._sessions.values())

    def close(self) -> None:
        """Stop every session (their processes end) and the reaper."""
        self._closed.set()
        for session in self.sessions():
            self._end(session, "STOPPED")
        if self._owns_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)
