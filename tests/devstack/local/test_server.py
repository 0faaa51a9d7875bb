"""``etl up`` as a user runs it: a real server process on a free port, driven over HTTP."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from tests.devstack.local.stack import ROOT, Server, converted, create_and_upload, upload, wait_finished
from tests.jobs.support import free_port, write_parquet


def test_the_full_flow_over_http_survives_a_restart(servers: Callable[..., Server], tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = servers(data_dir)
    src = write_parquet(tmp_path / "sales.parquet", rows=40)
    job_id, posted = create_and_upload(server, src.read_bytes(), format="json", drop_nulls=True)
    assert posted.status_code == 204, posted.text
    job = wait_finished(server, job_id)
    assert job["status"] == "SUCCEEDED", job
    assert job["rows_out"] == 40
    link = server.api("GET", f"/jobs/{job_id}/download").json()
    assert link["filename"] == "sales.json"
    first = requests.get(link["url"], timeout=30)
    assert first.status_code == 200
    assert first.headers["Content-Disposition"] == "attachment; filename=sales.json"
    assert first.content == converted(src, tmp_path, "--format", "json", "--drop-nulls")

    server.stop()
    again = servers(data_dir, port=server.port)  # same URL, as a user restarting it
    assert again.api("GET", f"/jobs/{job_id}").json()["job"] == job
    assert [j["job_id"] for j in again.api("GET", "/jobs").json()["jobs"]] == [job_id]
    assert requests.get(link["url"], timeout=30).content == first.content  # the old link still works
    fresh = again.api("GET", f"/jobs/{job_id}/download").json()
    assert requests.get(fresh["url"], timeout=30).content == first.content


def test_etl_up_accepts_a_flex_job_and_converts_it_at_no_cost(servers: Callable[..., Server], tmp_path: Path) -> None:
    """Flex (Glue's execution class for jobs that are not urgent) is a request field the local
    stack takes as AWS does: kept on the job, converted the same way, and nothing is charged."""
    server = servers(tmp_path / "data")
    data = write_parquet(tmp_path / "sales.parquet", rows=20).read_bytes()
    body = {"filename": "sales.parquet", "size": len(data), "execution_class": "flex"}
    created = server.api("POST", "/jobs", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["job"]["execution_class"] == "flex"
    assert upload(created.json(), data).status_code == 204
    job = wait_finished(server, created.json()["job"]["job_id"])
    assert (job["status"], job["execution_class"]) == ("SUCCEEDED", "flex")
    assert server.api("GET", f"/jobs/{job['job_id']}/report").json()["report"]["cost"] is None

    refused = server.api("POST", "/jobs", json={**body, "execution_class": "urgent"})
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "INVALID_REQUEST"
    assert "execution_class" in refused.json()["error"]["message"]


def test_tampered_and_expired_urls_are_refused(servers: Callable[..., Server], tmp_path: Path) -> None:
    server = servers(tmp_path / "data", env={"UPLOAD_URL_EXPIRES": "2", "DOWNLOAD_URL_EXPIRES": "2"})
    src = write_parquet(tmp_path / "sales.parquet")
    data = src.read_bytes()

    created = server.api("POST", "/jobs", json={"filename": "a.parquet", "size": len(data)}).json()
    upload = created["upload"]
    for fields, body in (
        ({**upload["fields"], "key": "inputs/other/input.parquet"}, data),
        ({**upload["fields"], "signature": "0" * 64}, data),
        (upload["fields"], data + b"more bytes than the policy allows"),
    ):
        refused = requests.post(upload["url"], data=fields, files={"file": ("a", body)}, timeout=30)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "ACCESS_DENIED"
    time.sleep(2.5)
    expired = requests.post(upload["url"], data=upload["fields"], files={"file": ("a", data)}, timeout=30)
    assert expired.status_code == 403
    assert "expired" in expired.json()["error"]["message"]
    assert server.api("GET", f"/jobs/{created['job']['job_id']}").json()["job"]["status"] == "PENDING"

    job_id, posted = create_and_upload(server, data)
    assert posted.status_code == 204
    assert wait_finished(server, job_id)["status"] == "SUCCEEDED"
    url = server.api("GET", f"/jobs/{job_id}/download").json()["url"]
    assert requests.get(url.replace("filename=sales.jsonl", "filename=evil.exe"), timeout=30).status_code == 403
    assert requests.get(url.replace("/output.jsonl", "/report.json"), timeout=30).status_code == 403
    assert requests.get(url.split("?")[0], timeout=30).status_code == 403
    assert requests.get(url, timeout=30).status_code == 200
    time.sleep(2.5)
    assert requests.get(url, timeout=30).status_code == 403


def test_a_corrupt_upload_fails_while_other_jobs_are_served(servers: Callable[..., Server], tmp_path: Path) -> None:
    server = servers(tmp_path / "data", workers=2)
    good = write_parquet(tmp_path / "sales.parquet").read_bytes()
    bad_id, _ = create_and_upload(server, good[:4] + b"\x13" * (len(good) - 8) + good[-4:])
    text_id, _ = create_and_upload(server, b"just some text, not parquet")
    good_id, _ = create_and_upload(server, good)
    bad, text, fine = (wait_finished(server, i) for i in (bad_id, text_id, good_id))
    assert (bad["status"], bad["error"]["code"]) == ("FAILED", "INVALID_PARQUET")
    assert bad["error"]["message"].startswith("sales.parquet: ")
    assert (text["status"], text["error"]["code"]) == ("FAILED", "INVALID_PARQUET")
    assert fine["status"] == "SUCCEEDED"
    assert server.api("GET", f"/jobs/{bad_id}/download").status_code == 409
    assert requests.get(f"{server.url}/api/health", timeout=5).json()["status"] == "ok"


def test_a_run_interrupted_by_a_stop_is_rerun_at_the_next_start(servers: Callable[..., Server], tmp_path: Path) -> None:
    from etl_lib.jobs.runs import RunQueue

    data_dir = tmp_path / "data"
    idle = servers(data_dir, workers=0)
    job_id, posted = create_and_upload(idle, write_parquet(tmp_path / "sales.parquet").read_bytes())
    assert posted.status_code == 204
    assert idle.api("GET", f"/jobs/{job_id}").json()["job"]["status"] == "RUNNING"
    assert RunQueue(data_dir / "runs.db").claim("a-worker-that-dies") is not None  # claimed, never finished
    idle.stop()
    restarted = servers(data_dir, workers=1)
    assert wait_finished(restarted, job_id)["status"] == "SUCCEEDED"


def test_a_run_interrupted_too_often_ends_failed_with_the_reason(
    servers: Callable[..., Server], tmp_path: Path
) -> None:
    from etl_lib.jobs.runs import RunQueue

    data_dir = tmp_path / "data"
    idle = servers(data_dir, workers=0)
    job_id, _ = create_and_upload(idle, write_parquet(tmp_path / "sales.parquet").read_bytes())
    queue = RunQueue(data_dir / "runs.db")
    run = queue.claim("dies")
    assert run is not None
    queue.requeue(run.run_id)
    assert queue.claim("dies again") is not None
    idle.stop()
    restarted = servers(data_dir, workers=1)
    job = wait_finished(restarted, job_id)
    assert job["status"] == "FAILED"
    assert job["error"]["code"] == "RUN_STOPPED"
    assert "stopped during this conversion 2 times" in job["error"]["message"]


def test_the_web_app_and_its_local_config_are_served(servers: Callable[..., Server], tmp_path: Path) -> None:
    server = servers(tmp_path / "data")
    assert requests.get(f"{server.url}/config.json", timeout=5).json() == {"apiBaseUrl": "/api", "auth": None}
    home = requests.get(f"{server.url}/", timeout=5)
    if (ROOT / "frontend" / "dist" / "index.html").is_file():
        assert home.status_code == 200
        assert "<html" in home.text.lower()
        assert requests.get(f"{server.url}/jobs/some-client-route", timeout=5).status_code == 200
    else:
        assert home.status_code == 404
        assert "make up" in home.text
    assert server.api("GET", "/nothing").json()["error"]["code"] == "NOT_FOUND"
    assert server.api("POST", "/jobs", data="{oops").status_code == 400


def test_a_used_port_or_an_unwritable_data_dir_is_one_clear_line(
    servers: Callable[..., Server], tmp_path: Path
) -> None:
    server = servers(tmp_path / "data", workers=0)
    used = subprocess.run(
        [sys.executable, "-m", "etl_lib.cli", "up", "--port", str(server.port), "--data-dir", str(tmp_path / "other")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert used.returncode == 1
    assert used.stderr.strip().splitlines() == [used.stderr.strip()]
    assert f"cannot listen on 127.0.0.1:{server.port}" in used.stderr
    blocker = tmp_path / "a-file"
    blocker.write_text("a file where the data directory should go")  # unwritable even for root
    bad = subprocess.run(
        [sys.executable, "-m", "etl_lib.cli", "up", "--port", str(free_port()), "--data-dir", str(blocker / "data")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1
    assert bad.stderr.strip().startswith("etl up: error: cannot write the data directory")
    assert len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.spark
def test_the_spark_engine_converts_with_a_warm_worker_session(servers: Callable[..., Server], tmp_path: Path) -> None:
    """``--engine spark``: each worker keeps its Spark session; the second job reuses it."""
    server = servers(tmp_path / "data", engine="spark")
    src = write_parquet(tmp_path / "sales.parquet", rows=30)
    for _ in range(2):
        job_id, posted = create_and_upload(server, src.read_bytes())
        assert posted.status_code == 204
        job = wait_finished(server, job_id, timeout=300)
        assert job["status"] == "SUCCEEDED", (job, server.log.read_text()[-3000:])
        assert job["engine"] == "spark"
        url = server.api("GET", f"/jobs/{job_id}/download").json()["url"]
        assert requests.get(url, timeout=30).content == converted(src, tmp_path)
    assert server.log.read_text().count("worker ready") == 1
