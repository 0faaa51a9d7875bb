"""``etl up`` as a user runs it: a real server process on a free port, driven over HTTP.

Shared by every suite of the local stack (the ``servers`` fixture is in conftest.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from etl_lib.cli import main as etl
from tests.jobs.support import free_port

ROOT = Path(__file__).resolve().parents[3]
# Generous: only a hung server or job fails a test on it, never a slow machine.
START_TIMEOUT = 120
JOB_TIMEOUT = 300
TEMP_MARKERS = (".tmp-", ".parts-", ".upload-", ".write-test-", ".key-")


class Server:
    def __init__(
        self,
        data_dir: Path,
        *,
        workers: int = 1,
        env: dict[str, str] | None = None,
        port: int | None = None,
        engine: str = "local",
        args: list[str] | None = None,
        wait: bool = True,
    ) -> None:
        self.data_dir = data_dir
        self.workers = workers
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir.parent / f"server-{self.port}-{time.monotonic_ns()}.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "etl_lib.cli",
                    "up",
                    "--port",
                    str(self.port),
                    "--data-dir",
                    str(data_dir),
                    "--workers",
                    str(workers),
                    "--engine",
                    engine,
                    *(args or []),
                ],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
            )
        if wait:
            self.wait_healthy()

    def wait_healthy(self) -> dict[str, Any]:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                health: dict[str, Any] = requests.get(f"{self.url}/api/health", timeout=5).json()
                if health["workers"] == self.workers and health["status"] == "ok":
                    return health
            except requests.RequestException:  # still starting: the port is bound before serving
                pass
            time.sleep(0.2)
        raise AssertionError(f"server did not start:\n{self.log.read_text()}")

    def health(self) -> dict[str, Any]:
        health: dict[str, Any] = requests.get(f"{self.url}/api/health", timeout=30).json()
        return health

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, f"{self.url}/api{path}", timeout=30, **kwargs)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """``kill -9``: no clean-up of any kind runs."""
        self.process.kill()
        self.process.wait(timeout=30)


def create_job(server: Server, data: bytes, filename: str = "sales.parquet", **options: Any) -> dict[str, Any]:
    created = server.api("POST", "/jobs", json={"filename": filename, "size": len(data), "options": options})
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


def upload(created: dict[str, Any], data: bytes, filename: str = "sales.parquet") -> requests.Response:
    form = created["upload"]
    return requests.post(form["url"], data=form["fields"], files={"file": (filename, data)}, timeout=60)


def upload_in_parts(server: Server, created: dict[str, Any], data: bytes) -> requests.Response:
    """A multipart upload as the web app makes it: each part signed with its SHA-256 and PUT
    to its URL, then completed. Returns the completion's answer."""
    import base64
    import hashlib

    job_id, part_size = created["job"]["job_id"], created["upload"]["part_size"]
    for number in range(1, created["upload"]["part_count"] + 1):
        chunk = data[(number - 1) * part_size : number * part_size]
        checksum = base64.b64encode(hashlib.sha256(chunk).digest()).decode()
        signed = server.api("POST", f"/jobs/{job_id}/upload/parts/{number}", json={"checksum_sha256": checksum})
        assert signed.status_code == 200, signed.text
        stored = requests.put(signed.json()["url"], data=chunk, headers=signed.json()["headers"], timeout=60)
        assert stored.status_code == 200, stored.text
    return server.api("POST", f"/jobs/{job_id}/upload/complete")


def create_and_upload(server: Server, data: bytes, **options: Any) -> tuple[str, requests.Response]:
    """Create a job and upload its file the way the server planned (a form, or parts); the
    upload's answer (204 for a form, the completion's 200 for parts)."""
    created = create_job(server, data, **options)
    if created["upload"]["method"] == "multipart":
        return created["job"]["job_id"], upload_in_parts(server, created, data)
    return created["job"]["job_id"], upload(created, data)


def wait_status(
    server: Server, job_id: str, statuses: set[str], timeout: float = JOB_TIMEOUT, poll: float = 0.1
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = server.api("GET", f"/jobs/{job_id}").json()["job"]
        if job["status"] in statuses:
            return job
        time.sleep(poll)
    raise AssertionError(f"job {job_id} never reached {statuses}:\n{server.log.read_text()[-3000:]}")


def wait_finished(server: Server, job_id: str, timeout: float = JOB_TIMEOUT) -> dict[str, Any]:
    return wait_status(server, job_id, {"SUCCEEDED", "FAILED"}, timeout, poll=0.2)


def converted(src: Path, tmp_path: Path, *flags: str) -> bytes:
    dest = tmp_path / f"expected-{src.stem}-{len(flags)}.out"
    assert etl(["convert", str(src), str(dest), "--engine", "local", *flags]) == 0
    return dest.read_bytes()


def temporary_files(data_dir: Path) -> list[Path]:
    """Half-written files the stack must never leave behind (uploads, outputs, parts)."""
    return [p for p in data_dir.rglob(".*") if any(marker in p.name for marker in TEMP_MARKERS)]


def write_large_parquet(path: Path, rows: int) -> Path:
    """A file the local engine takes seconds to convert: long enough to kill a process
    in the middle of it (generated column-wise, so writing it is quick)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    index = np.arange(rows, dtype=np.int64)
    names = pa.array([f"name-{i}" for i in range(1000)])
    table = pa.table(
        {
            "id": pa.array(index),
            "price": pa.array(np.random.default_rng(0).random(rows)),
            "name": pa.DictionaryArray.from_arrays(pa.array((index % 1000).astype(np.int32)), names).cast(pa.string()),
            "tags": pa.ListArray.from_arrays(
                pa.array(np.arange(0, 2 * rows + 1, 2, dtype=np.int32)), pa.array(np.arange(2 * rows, dtype=np.int64))
            ),
            "ts": pa.array(index * 1000, pa.timestamp("us")),
        }
    )
    pq.write_table(table, path, row_group_size=50_000)
    return path


def sha256_of_download(url: str) -> str:
    import hashlib

    digest = hashlib.sha256()
    with requests.get(url, timeout=60, stream=True) as response:
        assert response.status_code == 200, response.text[:500]
        for chunk in response.iter_content(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_of_file(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def wait_for(predicate: Any, what: str, timeout: float = JOB_TIMEOUT, poll: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what}")


def crash_at_start(env: dict[str, str], slot: str, parent_pid: int) -> None:
    """A worker process that cannot start (spawned: must be importable)."""
    raise SystemExit(3)
