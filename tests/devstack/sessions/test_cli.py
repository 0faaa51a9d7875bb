"""`etl sessions` as a user starts it (a separate process), and `etl session-config --local`."""

from __future__ import annotations

import configparser
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from etl_devstack.sessions.config import ENDPOINT_STATE, LOCAL_PROFILE, write_endpoint_state
from etl_devstack.sessions.guard import SECRET_ACCESS_KEY
from etl_lib.cli import main
from tests.devstack.sessions.conftest import REGION, ROLE
from tests.jobs.support import free_port

pytestmark = pytest.mark.xdist_group("glue-sessions")


def _until(check: Any, what: str, attempts: int = 300) -> Any:
    for _ in range(attempts):
        try:
            value = check()
        except Exception:  # not up yet
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} never happened")


def test_etl_sessions_serves_sessions_that_use_its_moto_and_stops_them_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "etl_lib.cli", "sessions", "--port", str(port), "--work-dir", str(tmp_path / "w"),
         "--cwd", str(tmp_path)],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    state_file = tmp_path / "w" / ENDPOINT_STATE
    try:
        state = _until(lambda: json.loads(state_file.read_text()), "the endpoint's state file")
        assert state["url"] == url
        assert state_file.stat().st_mode & 0o777 == 0o600, "the key is readable by others"
        glue = boto3.client(
            "glue", endpoint_url=url, region_name=REGION, aws_access_key_id=state["access_key_id"],
            aws_secret_access_key=SECRET_ACCESS_KEY,
        )  # fmt: skip
        _until(lambda: glue.list_sessions() is not None, "the endpoint answering")
        glue.create_session(Id="cli", Role=ROLE, Command={"Name": "glueetl", "PythonVersion": "3"})
        _until(lambda: glue.get_session(Id="cli")["Session"]["Status"] == "READY", "READY")
        code = "import os\n(os.getcwd(), os.environ['AWS_ENDPOINT_URL'], os.environ['AWS_ACCESS_KEY_ID'])"
        statement = glue.run_statement(SessionId="cli", Code=code)
        done = _until(
            lambda: (s := glue.get_statement(SessionId="cli", Id=statement["Id"])["Statement"])["State"] == "AVAILABLE"
            and s,
            "the statement",
        )  # fmt: skip
        # The session's own AWS calls (boto3 in a statement) go to this endpoint, with its key.
        assert done["Output"]["Data"]["TextPlain"] == repr((str(tmp_path), url, state["access_key_id"])) + "\n"
        worker = json.loads((tmp_path / "w" / "cli" / "session.json").read_text())["Id"]
        assert worker == "cli"
    finally:
        server.send_signal(signal.SIGINT)
        _, stderr = server.communicate(timeout=60)
    assert server.returncode == 130
    assert f"Glue interactive sessions on {url}" in stderr
    assert not state_file.exists(), "the key outlived the endpoint"
    assert (tmp_path / "w").stat().st_mode & 0o777 == 0o700
    leftovers = subprocess.run(["pgrep", "-f", f"{tmp_path / 'w' / 'cli'}"], capture_output=True, text=True)
    assert leftovers.stdout == "", "a session process outlived the endpoint"


KEY = "ETLLOCAL0123456789ABCDEF0123456789AB"


def _local_config(tmp_path: Path, url: str = "http://127.0.0.1:8998") -> Path:
    """`etl session-config --local` as `make session-config LOCAL=1` runs it, against an
    endpoint that has recorded its start's key."""
    sessions = tmp_path / "sessions"
    sessions.mkdir(exist_ok=True)
    write_endpoint_state(sessions, url, KEY)
    config = tmp_path / ".glue-session.json"
    args = ["session-config", "--local", url, "--sessions-dir", str(sessions), "--config", str(config)]
    assert main(args) == 0
    return config


def test_session_config_local_writes_a_profile_for_the_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = json.loads(_local_config(tmp_path).read_text())
    assert written["magics"][0] == f"%profile {LOCAL_PROFILE}"
    aws_config = configparser.ConfigParser()
    aws_config.read(written["env"]["AWS_CONFIG_FILE"])
    profile = aws_config[f"profile {LOCAL_PROFILE}"]
    assert (profile["endpoint_url"], profile["region"]) == ("http://127.0.0.1:8998", REGION)
    assert (profile["aws_access_key_id"], profile["aws_secret_access_key"]) == (KEY, SECRET_ACCESS_KEY)
    assert Path(written["env"]["AWS_CONFIG_FILE"]).stat().st_mode & 0o777 == 0o600, "the key is readable by others"
    # What the kernel does with a profile: clients built from it, no endpoint passed.
    monkeypatch.setenv("AWS_CONFIG_FILE", written["env"]["AWS_CONFIG_FILE"])
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_GLUE", "AWS_ENDPOINT_URL_STS"):
        monkeypatch.delenv(name, raising=False)
    session = boto3.Session(profile_name=LOCAL_PROFILE)
    for service in ("glue", "sts", "iam"):
        assert session.client(service, region_name=REGION).meta.endpoint_url == "http://127.0.0.1:8998", service


def test_why_the_local_config_selects_a_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """aws-glue-sessions 1.0.9 (KernelGateway): without a profile, STS gets an explicit AWS
    endpoint whatever AWS_ENDPOINT_URL says; with one, every client takes the profile's."""
    from aws_glue_interactive_sessions_kernel.glue_kernel_utils.KernelGateway import KernelGateway

    config = _local_config(tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:8998")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    without = KernelGateway()
    without.initialize_clients(profile=None, region=REGION, endpoint_url="http://127.0.0.1:8998")
    assert without.sts_client.meta.endpoint_url == f"https://sts.{REGION}.amazonaws.com"
    assert without.glue_client.meta.endpoint_url == "http://127.0.0.1:8998"  # %endpoint

    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.setenv("AWS_CONFIG_FILE", json.loads(config.read_text())["env"]["AWS_CONFIG_FILE"])
    with_profile = KernelGateway()
    with_profile.initialize_clients(profile=LOCAL_PROFILE, region=REGION, endpoint_url="http://ignored:1")
    for client in (with_profile.sts_client, with_profile.iam_client, with_profile.glue_client):
        assert client.meta.endpoint_url == "http://127.0.0.1:8998"


def test_etl_sessions_stopped_by_sigterm_removes_its_key(tmp_path: Path) -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "etl_lib.cli", "sessions", "--port", str(port), "--work-dir", str(tmp_path / "w")],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    state_file = tmp_path / "w" / ENDPOINT_STATE
    try:
        _until(state_file.exists, "the endpoint's state file")
    finally:
        server.terminate()
        server.communicate(timeout=60)
    assert not state_file.exists(), "the key outlived the endpoint"


def test_a_stop_arriving_just_after_the_key_was_written_still_removes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The window a SIGTERM hit once under load: the key written, the server not yet serving.
    from etl_devstack.sessions import server

    def written_then_stopped(work_dir: Path, url: str, access_key_id: str) -> Path:
        write_endpoint_state(work_dir, url, access_key_id)
        raise KeyboardInterrupt  # what the SIGTERM handler raises

    monkeypatch.setattr(server, "write_endpoint_state", written_then_stopped)
    with pytest.raises(KeyboardInterrupt), server.start(work_dir=str(tmp_path / "w")):
        pass
    assert not (tmp_path / "w" / ENDPOINT_STATE).exists(), "the key outlived the endpoint"


def test_session_config_local_without_a_running_endpoint_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / ".glue-session.json"
    args = ["session-config", "--local", "http://127.0.0.1:8998", "--sessions-dir", str(tmp_path / "none")]
    assert main([*args, "--config", str(config)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "no local sessions endpoint runs from" in error
    assert "make sessions" in error
    assert not config.exists()


def test_session_config_local_refuses_an_endpoint_serving_another_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_endpoint_state(tmp_path, "http://127.0.0.1:9999", KEY)
    args = ["session-config", "--local", "http://127.0.0.1:8998", "--sessions-dir", str(tmp_path)]
    assert main([*args, "--config", str(tmp_path / "c.json")]) == 2
    assert "serves http://127.0.0.1:9999, not http://127.0.0.1:8998" in capsys.readouterr().err
