"""Fault injection against the real local stack over HTTP: processes are killed for real
(SIGKILL, no clean-up of any kind), in the middle of a conversion or of an upload."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests

from etl_lib.jobs.models import output_prefix
from tests.devstack.local.stack import (
    Server,
    converted,
    create_and_upload,
    create_job,
    sha256_of_download,
    sha256_of_file,
    temporary_files,
    upload,
    wait_finished,
    wait_for,
    write_large_parquet,
)
from tests.jobs.support import write_parquet

# Rows of the file killed in mid-conversion: the local engine takes seconds over it.
LARGE_ROWS = 3_000_000


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The large input and the SHA-256 of what ``etl convert`` makes of it."""
    folder = tmp_path_factory.mktemp("large")
    src = write_large_parquet(folder / "large.parquet", LARGE_ROWS)
    return src, sha256_of_file(Path(converted_path(src, folder)))


def converted_path(src: Path, folder: Path) -> Path:
    from etl_lib.cli import main as etl

    dest = folder / f"{src.stem}.jsonl"
    assert etl(["convert", str(src), str(dest), "--engine", "local"]) == 0
    return dest


def claimed_worker(server: Server, job_id: str) -> int:
    """The pid of the worker once it is converting ``job_id``: it has claimed the run and
    started writing under its attempt's folder."""
    outputs = server.data_dir / "objects" / "outputs" / output_prefix(job_id)

    def busy() -> int | None:
        if not outputs.is_dir() or not any(outputs.iterdir()):
            return None
        health = server.health()
        pids = [w["pid"] for w in health["worker_processes"] if w["alive"]]
        return pids[0] if health["running"] >= 1 and len(pids) == 1 else None

    pid: int = wait_for(busy, "a worker to claim the run")
    return pid


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def all_jobs(server: Server) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = server.api("GET", "/jobs", params={"limit": 100}).json()["jobs"]
    return jobs


def test_a_worker_killed_mid_conversion_fails_its_job_and_is_replaced(
    servers: Callable[..., Server], tmp_path: Path, large: tuple[Path, str]
) -> None:
    server = servers(tmp_path / "data", workers=1)
    src, _ = large
    job_id, posted = create_and_upload(server, src.read_bytes())
    assert posted.ok, posted.text  # in parts: the file is over the multipart threshold
    victim = claimed_worker(server, job_id)
    os.kill(victim, signal.SIGKILL)

    job = wait_finished(server, job_id)
    assert job["status"] == "FAILED", job
    assert job["error"]["code"] == "WORKER_DIED"
    assert "signal 9" in job["error"]["message"]
    assert server.api("GET", f"/jobs/{job_id}/download").status_code == 409
    assert not (server.data_dir / "objects" / "outputs" / output_prefix(job_id)).exists()

    health = wait_for(
        lambda: (h := server.health())["status"] == "ok" and h["worker_restarts"] == 1 and h,
        "a replacement worker",
    )
    assert health["workers"] == health["workers_expected"] == 1
    assert health["worker_processes"][0]["pid"] != victim

    small = write_parquet(tmp_path / "small.parquet", rows=50)
    next_id, posted = create_and_upload(server, small.read_bytes())
    assert posted.status_code == 204
    assert wait_finished(server, next_id)["status"] == "SUCCEEDED"
    url = server.api("GET", f"/jobs/{next_id}/download").json()["url"]
    assert requests.get(url, timeout=30).content == converted(small, tmp_path)
    assert temporary_files(server.data_dir) == []


def test_a_worker_dying_at_every_start_is_restarted_with_a_growing_delay_and_health_says_so(
    tmp_path: Path,
) -> None:
    """A crash loop (a worker that cannot start) neither spins nor passes for healthy."""
    import json

    from aws_lambda_powertools import Logger

    from etl_devstack.local.app import health_response
    from etl_devstack.local.lifecycle import Lifecycle
    from etl_devstack.local.supervisor import Supervisor
    from tests.devstack.local.stack import crash_at_start

    died: list[tuple[str, int | None]] = []
    supervisor = Supervisor(
        crash_at_start,
        count=1,
        env={},
        on_death=lambda slot, pid, code: died.append((slot, code)),
        logger=Logger(service="test-supervisor"),
    )

    def no_event(event: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError(f"the health check sends no event, not {event}")

    lifecycle = Lifecycle(data_dir=tmp_path, workers=1, engine="local", events=no_event, logger=None)
    lifecycle.supervisor = supervisor
    supervisor.start()
    try:
        # The third quick death in a row waits 2**3 s before the next start.
        wait_for(lambda: supervisor.restarts() >= 3, "three deaths")
        assert supervisor.alive() == 0
        response = health_response(lifecycle.health())
        assert response.status_code == 503
        health = json.loads(response.get_data())
        assert (health["status"], health["workers"], health["workers_expected"]) == ("degraded", 0, 1)
        assert health["worker_restarts"] >= 3
    finally:
        supervisor.stop()
    assert died[:3] == [("w1", 3)] * 3


def test_a_server_killed_mid_conversion_recovers_every_job_at_restart(
    servers: Callable[..., Server], tmp_path: Path, large: tuple[Path, str]
) -> None:
    data_dir = tmp_path / "data"
    server = servers(data_dir, workers=1)
    small = write_parquet(tmp_path / "small.parquet", rows=30)
    done_id, _ = create_and_upload(server, small.read_bytes())
    assert wait_finished(server, done_id)["status"] == "SUCCEEDED"
    src, expected = large
    big_id, posted = create_and_upload(server, src.read_bytes())
    assert posted.ok, posted.text  # in parts: the file is over the multipart threshold
    worker = claimed_worker(server, big_id)
    queued_id, posted = create_and_upload(server, small.read_bytes())  # waits behind the big one
    assert posted.status_code == 204
    server.kill()
    # The orphaned worker notices and stops: it must not go on converting next to the
    # restarted server's own workers.
    wait_for(lambda: gone(worker), "the orphaned worker to exit")

    again = servers(data_dir, workers=1, port=server.port)
    assert temporary_files(data_dir) == [] or all(
        ".parts-" in p.name or ".tmp-" in p.name for p in temporary_files(data_dir)
    )  # a re-run may be writing its own already
    jobs = {j: wait_finished(again, j) for j in (done_id, big_id, queued_id)}
    assert {j: job["status"] for j, job in jobs.items()} == dict.fromkeys(jobs, "SUCCEEDED")
    assert not [j for j in all_jobs(again) if j["status"] in {"PENDING", "QUEUED", "RUNNING"}]
    assert temporary_files(data_dir) == []
    small_expected = converted(small, tmp_path)
    for job_id in (done_id, queued_id):
        url = again.api("GET", f"/jobs/{job_id}/download").json()["url"]
        assert requests.get(url, timeout=30).content == small_expected
    assert sha256_of_download(again.api("GET", f"/jobs/{big_id}/download").json()["url"]) == expected


def test_a_server_killed_mid_upload_leaves_nothing_and_the_upload_can_be_retried(
    servers: Callable[..., Server], tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    server = servers(data_dir, workers=1)
    data = write_parquet(tmp_path / "sales.parquet", rows=20_000).read_bytes()
    created = create_job(server, data)
    form = created["upload"]
    boundary = "k1ll"
    fields = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in form["fields"].items()
    )
    file_head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="sales.parquet"\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = len(fields) + len(file_head) + len(data) + len(tail)
    head = (
        f"POST /objects/inputs HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {length}\r\n\r\n"
    ).encode()
    inputs = data_dir / "objects" / "inputs"
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        sock.sendall(head + fields + file_head + data[: len(data) // 2])
        wait_for(lambda: list(inputs.glob(".upload-*")), "the upload's temporary file")
        server.kill()  # half the file received, the rest never comes

    again = servers(data_dir, workers=1, port=server.port)
    assert temporary_files(data_dir) == []
    job_id = created["job"]["job_id"]
    assert again.api("GET", f"/jobs/{job_id}").json()["job"]["status"] == "PENDING"
    assert upload(created, data).status_code == 204  # the same form, as the web app retries
    assert wait_finished(again, job_id)["status"] == "SUCCEEDED"
    url = again.api("GET", f"/jobs/{job_id}/download").json()["url"]
    assert requests.get(url, timeout=30).content == converted(tmp_path / "sales.parquet", tmp_path)
    assert not [j for j in all_jobs(again) if j["status"] in {"QUEUED", "RUNNING"}]
