"""Load: many clients at once through HTTP against ``etl up`` (loopback, bounded)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import requests

from tests.devstack.local.stack import JOB_TIMEOUT, Server, converted, temporary_files
from tests.jobs.support import write_parquet

CLIENTS = 50
DISTINCT_FILES = 5


def test_fifty_concurrent_clients_each_get_their_exact_output(servers: Callable[..., Server], tmp_path: Path) -> None:
    server = servers(tmp_path / "data", workers=2)
    files = [write_parquet(tmp_path / f"f{i}.parquet", rows=200 + 50 * i) for i in range(DISTINCT_FILES)]
    expected = [converted(f, tmp_path) for f in files]
    statuses: list[int] = []
    problems: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    def record(response: requests.Response, what: str) -> requests.Response:
        with lock:
            statuses.append(response.status_code)
        return response

    def client(n: int) -> None:
        data = files[n % DISTINCT_FILES].read_bytes()
        with requests.Session() as http:
            start.wait(timeout=120)
            created = record(
                http.post(
                    f"{server.url}/api/jobs", json={"filename": f"client-{n}.parquet", "size": len(data)}, timeout=120
                ),
                "create",
            )
            if created.status_code != 201:
                problems.append(f"{n}: create {created.status_code} {created.text[:200]}")
                return
            job_id = created.json()["job"]["job_id"]
            form = created.json()["upload"]
            posted = record(
                http.post(form["url"], data=form["fields"], files={"file": ("f.parquet", data)}, timeout=120),
                "upload",
            )
            if posted.status_code != 204:
                problems.append(f"{n}: upload {posted.status_code} {posted.text[:200]}")
                return
            deadline = time.monotonic() + JOB_TIMEOUT
            job = {}
            while time.monotonic() < deadline:
                job = record(http.get(f"{server.url}/api/jobs/{job_id}", timeout=120), "poll").json()["job"]
                if job["status"] in {"SUCCEEDED", "FAILED"}:
                    break
                time.sleep(0.25)
            if job.get("status") != "SUCCEEDED":
                problems.append(f"{n}: job ended {job}")
                return
            link = record(http.get(f"{server.url}/api/jobs/{job_id}/download", timeout=120), "link").json()
            body = record(http.get(link["url"], timeout=120), "download").content
            if body != expected[n % DISTINCT_FILES]:
                problems.append(f"{n}: the download differs from etl convert's output")

    errors: list[BaseException] = []

    def guarded(n: int) -> None:
        try:
            client(n)
        except BaseException as exc:  # a client thread's own failure is a test failure
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=JOB_TIMEOUT + 300)
    assert not any(t.is_alive() for t in threads), "a client hung"
    assert errors == []
    assert problems == []
    assert not [s for s in statuses if s >= 500]
    assert len([s for s in statuses if s == 204]) == CLIENTS
    jobs = server.api("GET", "/jobs", params={"limit": 100}).json()["jobs"]
    assert len(jobs) == CLIENTS
    assert {j["status"] for j in jobs} == {"SUCCEEDED"}
    assert server.health()["status"] == "ok"
    server.stop()
    log = server.log.read_text()
    for sign in ("Traceback", '"level":"ERROR"', "Error on request", "Exception in thread"):
        assert sign not in log, log[-5000:]
    assert temporary_files(server.data_dir) == []
