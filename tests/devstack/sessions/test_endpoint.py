"""The endpoint through boto3's Glue client: Glue's wire protocol, output shapes, errors,
cancel, idle timeout, modules and files a session is given. No Spark is started here."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from etl_devstack.sessions.server import Endpoint, start
from etl_lib.platform import GLUE_VERSION
from tests.devstack.sessions.conftest import REGION, ROLE

pytestmark = pytest.mark.xdist_group("glue-sessions")
COMMAND: Any = {"Name": "glueetl", "PythonVersion": "3"}
FINAL = {"AVAILABLE", "CANCELLED", "ERROR"}


def _wait(fetch: Any, done: Any, what: str, attempts: int = 600) -> Any:
    """Poll (bounded) until ``done(value)``."""
    for _ in range(attempts):
        value = fetch()
        if done(value):
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} never happened; last: {value}")


def _session(glue: Any, session_id: str, **extra: Any) -> dict[str, Any]:
    created = glue.create_session(Id=session_id, Role=ROLE, Command=COMMAND, GlueVersion=GLUE_VERSION, **extra)[
        "Session"
    ]
    assert created["Id"] == session_id
    assert created["Status"] == "PROVISIONING"
    session: dict[str, Any] = _wait(
        lambda: glue.get_session(Id=session_id)["Session"], lambda s: s["Status"] != "PROVISIONING", "provisioning"
    )
    return session


def _run(glue: Any, session_id: str, code: str) -> dict[str, Any]:
    statement_id = glue.run_statement(SessionId=session_id, Code=code)["Id"]
    statement: dict[str, Any] = _wait(
        lambda: glue.get_statement(SessionId=session_id, Id=statement_id)["Statement"],
        lambda s: s["State"] in FINAL,
        f"statement {statement_id}",
    )
    return statement


def test_statements_share_a_namespace_and_answer_in_glues_output_shape(glue: Any) -> None:
    assert _session(glue, "shapes")["Status"] == "READY"

    first = _run(glue, "shapes", "x = 41\nprint('hello')\nx + 1")
    assert first["State"] == "AVAILABLE"
    assert first["Output"] == {"Data": {"TextPlain": "hello\n42\n"}, "ExecutionCount": 1, "Status": "ok"}
    assert first["Progress"] == 1.0
    assert first["StartedOn"] <= first["CompletedOn"]

    names = _run(glue, "shapes", "x, type(glueContext).__name__, hasattr(sc, 'parallelize') is not None")
    assert names["Output"]["Data"]["TextPlain"] == "(41, 'LocalGlueContext', True)\n"

    failed = _run(glue, "shapes", "def f():\n    return 1 / 0\nf()")
    assert failed["State"] == "AVAILABLE"
    output = failed["Output"]
    # The kernel shows only "ErrorName: ErrorValue": the value carries the traceback too.
    assert (output["Status"], output["ErrorName"], output["ErrorValue"]) == (
        "error",
        "ZeroDivisionError",
        "division by zero\n" + "".join(output["Traceback"]).rstrip("\n"),
    )
    assert output["Traceback"][0] == "Traceback (most recent call last):\n"
    assert output["Traceback"][-1] == "ZeroDivisionError: division by zero\n"
    assert not any("worker.py" in line for line in output["Traceback"]), "the runner's frames leak"

    listed = glue.list_statements(SessionId="shapes")["Statements"]
    assert [s["Id"] for s in listed] == [0, 1, 2]
    assert glue.list_sessions()["Ids"].count("shapes") == 1


def test_a_running_statement_is_cancelled_and_the_session_goes_on(glue: Any) -> None:
    _session(glue, "cancel")
    running = glue.run_statement(SessionId="cancel", Code="import time\nfor _ in range(600):\n    time.sleep(0.1)")[
        "Id"
    ]
    queued = glue.run_statement(SessionId="cancel", Code="'never runs'")["Id"]
    _wait(lambda: glue.get_statement(SessionId="cancel", Id=running)["Statement"]["State"], "RUNNING".__eq__, "start")
    assert glue.get_statement(SessionId="cancel", Id=queued)["Statement"]["State"] == "WAITING"

    glue.cancel_statement(SessionId="cancel", Id=queued)
    glue.cancel_statement(SessionId="cancel", Id=running)

    states = [
        _wait(
            lambda i=i: glue.get_statement(SessionId="cancel", Id=i)["Statement"], lambda s: s["State"] in FINAL, "end"
        )
        for i in (running, queued)
    ]
    assert [s["State"] for s in states] == ["CANCELLED", "CANCELLED"]
    assert "Output" not in states[1], "a statement cancelled before it ran has no output"
    assert _run(glue, "cancel", "'still here'")["Output"]["Data"]["TextPlain"] == "'still here'\n"


def test_errors_come_back_as_glue_names_them(glue: Any) -> None:
    with pytest.raises(ClientError) as missing:
        glue.get_session(Id="no-such-session")
    assert missing.value.response["Error"]["Code"] == "EntityNotFoundException"
    with pytest.raises(ClientError) as bad_role:
        glue.create_session(Id="bad-role", Role="arn:aws:iam::123:user/not-a-role", Command=COMMAND)
    assert bad_role.value.response["Error"]["Code"] == "InvalidInputException"
    _session(glue, "twice")
    with pytest.raises(ClientError) as twice:
        glue.create_session(Id="twice", Role=ROLE, Command=COMMAND)
    assert twice.value.response["Error"]["Code"] == "AlreadyExistsException"
    with pytest.raises(ClientError) as no_statement:
        glue.get_statement(SessionId="twice", Id=7)
    assert no_statement.value.response["Error"]["Code"] == "EntityNotFoundException"


def test_a_stopped_session_ends_its_process_and_takes_no_statements(glue: Any, glue_endpoint: Endpoint) -> None:
    _session(glue, "stop-me")
    process = next(s.process for s in glue_endpoint.manager.sessions() if s.id == "stop-me")
    assert process is not None
    assert glue.stop_session(Id="stop-me")["Id"] == "stop-me"
    stopped = glue.get_session(Id="stop-me")["Session"]
    assert stopped["Status"] == "STOPPED"
    assert "CompletedOn" in stopped
    assert process.poll() is not None, "the session process still runs"
    with pytest.raises(ClientError) as refused:
        glue.run_statement(SessionId="stop-me", Code="1")
    assert refused.value.response["Error"]["Code"] == "InvalidInputException"
    glue.delete_session(Id="stop-me")
    assert "stop-me" not in glue.list_sessions()["Ids"]


def test_an_idle_session_times_out(glue_endpoint: Endpoint, tmp_path: Path) -> None:
    """IdleTimeout is in minutes; this second endpoint's minute is 0.2 s (glue_endpoint: its environment)."""
    with start(minute=0.2, work_dir=str(tmp_path)) as endpoint:
        glue = boto3.client("glue", endpoint_url=endpoint.url, region_name=REGION, **endpoint.credentials())
        glue.create_session(Id="idle", Role=ROLE, Command=COMMAND, IdleTimeout=1)
        ended = _wait(
            lambda: glue.get_session(Id="idle")["Session"],
            lambda s: s["Status"] not in {"PROVISIONING", "READY", "STOPPING"},
            "the idle timeout",
        )
        assert ended["Status"] == "TIMEOUT"
        assert ended["IdleTimeout"] == 1
        process = next(endpoint.manager.sessions()).process
        assert process is not None
        assert process.poll() is not None, "the timed-out session's process still runs"
        with pytest.raises(ClientError) as refused:
            glue.run_statement(SessionId="idle", Code="1")
        # The kernel answers InvalidInputException on a TIMEOUT session by offering a new one.
        assert refused.value.response["Error"]["Code"] == "InvalidInputException"


def test_a_session_running_a_statement_is_not_idle(glue: Any, glue_endpoint: Endpoint) -> None:
    _session(glue, "busy", IdleTimeout=1)
    session = next(s for s in glue_endpoint.manager.sessions() if s.id == "busy")
    running = glue.run_statement(SessionId="busy", Code="import time\nfor _ in range(600):\n    time.sleep(0.1)")["Id"]
    _wait(lambda: glue.get_statement(SessionId="busy", Id=running)["Statement"]["State"], "RUNNING".__eq__, "start")
    a_day_later = time.monotonic() + 24 * 3600
    assert not glue_endpoint.manager.expired(session, a_day_later), "a running statement counts as activity"
    glue.cancel_statement(SessionId="busy", Id=running)
    _wait(lambda: glue.get_statement(SessionId="busy", Id=running)["Statement"]["State"], "CANCELLED".__eq__, "cancel")
    assert glue_endpoint.manager.expired(session, a_day_later)
    assert not glue_endpoint.manager.expired(session, time.monotonic())


def _tiny_wheel(folder: Path) -> Path:
    """A minimal pure-Python wheel (pip installs it like any other)."""
    wheel = folder / "tinymod-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("tinymod/__init__.py", "ANSWER = 42\n")
        archive.writestr("tinymod-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: tinymod\nVersion: 1.0\n")
        archive.writestr(
            "tinymod-1.0.dist-info/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        archive.writestr("tinymod-1.0.dist-info/RECORD", "")
    return wheel


def test_extra_py_files_and_additional_modules_from_paths_and_s3(
    glue: Any, glue_endpoint: Endpoint, tmp_path: Path
) -> None:
    from infra.assets import build_etl_lib_wheel

    project_wheel = build_etl_lib_wheel(tmp_path / "wheels")
    helpers = tmp_path / "helpers.zip"
    with zipfile.ZipFile(helpers, "w") as archive:
        archive.writestr("zipped_helper.py", "WHERE = 'zip from s3'\n")
    (tmp_path / "plain_helper.py").write_text("WHERE = 'local .py'\n")
    s3 = boto3.client("s3", endpoint_url=glue_endpoint.url, region_name=REGION)
    s3.create_bucket(Bucket="session-artifacts")
    s3.upload_file(str(helpers), "session-artifacts", "py/helpers.zip")
    s3.upload_file(str(_tiny_wheel(tmp_path)), "session-artifacts", "wheels/tinymod-1.0-py3-none-any.whl")

    session = _session(
        glue,
        "modules",
        DefaultArguments={
            "--additional-python-modules": f"{project_wheel},s3://session-artifacts/wheels/tinymod-1.0-py3-none-any.whl",
            "--extra-py-files": f"s3://session-artifacts/py/helpers.zip,{tmp_path / 'plain_helper.py'}",
        },
    )
    assert session["Status"] == "READY", session.get("ErrorMessage")
    code = (
        "import etl_lib, tinymod, zipped_helper, plain_helper\n"
        "(etl_lib.__file__, tinymod.ANSWER, zipped_helper.WHERE, plain_helper.WHERE)"
    )
    text = _run(glue, "modules", code)["Output"]["Data"]["TextPlain"]
    etl_file, answer, zipped, plain = eval(text)  # a tuple repr
    assert Path(etl_file).is_relative_to(glue_endpoint.manager.work_dir / "modules" / "site"), "not the wheel's etl_lib"
    assert (answer, zipped, plain) == (42, "zip from s3", "local .py")


def test_a_session_whose_modules_cannot_be_had_fails_with_the_reason(glue: Any) -> None:
    session = _session(glue, "broken", DefaultArguments={"--extra-py-files": "/nonexistent/helpers.zip"})
    assert session["Status"] == "FAILED"
    assert "/nonexistent/helpers.zip does not exist" in session["ErrorMessage"]


def test_sts_and_iam_on_the_same_endpoint_are_motos(glue_endpoint: Endpoint) -> None:
    """The kernel asks STS who the caller is (session owner tag) before CreateSession."""
    identity = boto3.client("sts", endpoint_url=glue_endpoint.url, region_name=REGION).get_caller_identity()
    assert identity["Account"] == "123456789012"
