"""The local Glue interactive-sessions endpoint: one HTTP port for the Glue kernel.

The ``glue_pyspark`` kernel of aws-glue-sessions talks to Glue (sessions and statements),
STS (``GetCallerIdentity`` for the session owner tag) and IAM. This WSGI app answers Glue's
session operations itself, in Glue's JSON 1.1 protocol (``POST /`` with
``X-Amz-Target: AWSGlue.<Operation>``), and hands every other request to moto's server
application (STS, IAM, S3, the rest of Glue such as ``GetTags``), so one endpoint URL serves
the kernel, and the S3 buckets a notebook reads on it.

``etl sessions`` runs it; tests start it with :func:`start`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from etl_lib.errors import GlueApiError

if TYPE_CHECKING:  # imported where sessions start: `etl` builds its parser from this module
    from etl_lib.sessions.manager import SessionManager

DEFAULT_PORT = 8998
TARGET_PREFIX = "AWSGlue."
CONTENT_TYPE = "application/x-amz-json-1.1"

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class SessionsApp:
    """WSGI: Glue session operations here, everything else to moto."""

    def __init__(self, manager: SessionManager) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self.manager = manager
        self.operations: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "CreateSession": manager.create_session,
            "GetSession": manager.get_session,
            "ListSessions": manager.list_sessions,
            "StopSession": manager.stop_session,
            "DeleteSession": manager.delete_session,
            "RunStatement": manager.run_statement,
            "GetStatement": manager.get_statement,
            "ListStatements": manager.list_statements,
            "CancelStatement": manager.cancel_statement,
        }
        self.moto = DomainDispatcherApplication(create_backend_app)
        # moto's backends do not lock; one request at a time keeps them consistent.
        self._moto_lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        operation = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else ""
        if operation not in self.operations:
            with self._moto_lock:
                return list(self.moto(environ, start_response))
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b"{}"
        try:
            request = json.loads(raw or b"{}")
            if not isinstance(request, dict):
                raise GlueApiError("InvalidInputException", "the request body must be a JSON object")
            status, body = "200 OK", self.operations[operation](request)
        except json.JSONDecodeError:
            status, body = "400 Bad Request", {"__type": "SerializationException", "message": "invalid JSON body"}
        except GlueApiError as exc:
            status, body = f"{exc.status} Bad Request", {"__type": exc.code, "message": exc.message}
        data = json.dumps(body).encode("utf-8")
        headers = [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(data)))]
        if "__type" in body:
            headers.append(("x-amzn-ErrorType", body["__type"]))
        start_response(status, headers)
        return [data]


@dataclass
class Endpoint:
    url: str
    manager: SessionManager


@contextmanager
def start(
    host: str = "127.0.0.1", port: int = 0, *, minute: float = 60.0, work_dir: str | None = None,
    env: dict[str, str] | None = None, cwd: str | os.PathLike[str] | None = None,
) -> Iterator[Endpoint]:  # fmt: skip
    """Serve the endpoint on a background thread; on exit stop every session and the server."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    from etl_lib.sessions.manager import SessionManager

    class QuietHandler(MotoRequestHandler):
        """Logs failed requests only: the kernel polls GetStatement every second."""

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            if str(code).isdigit() and int(code) >= 400:
                super().log_request(code, size)

    manager = SessionManager(work_dir, minute=minute, env=env, cwd=cwd)
    server = make_server(host, port, SessionsApp(manager), threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="glue-sessions-endpoint", daemon=True)
    thread.start()
    bound_host, bound_port = server.server_address[:2]
    try:
        yield Endpoint(f"http://{bound_host!s}:{bound_port}", manager)
    finally:
        server.shutdown()
        manager.close()


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "sessions",
        help="serve a local Glue interactive-sessions endpoint for the glue_pyspark kernel",
        description="Serve Glue's session API (CreateSession, RunStatement, ...) on HOST:PORT; each session "
        "is a local PySpark process. STS, IAM and S3 on the same port are moto's. Point the kernel at it "
        "with `etl session-config --local`.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT})")
    p.add_argument("--work-dir", default=".etl-local/sessions", help="session logs and installed modules")
    p.add_argument(
        "--cwd", default="notebooks", help="sessions' working directory (default: notebooks, as papermill's)"
    )
    p.add_argument(
        "--real-aws",
        action="store_true",
        help="sessions use this shell's AWS settings (default: this endpoint's moto, dummy credentials)",
    )


def session_env(endpoint_url: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of local sessions: their AWS calls go to this endpoint (its moto), as
    a Glue session's go to the AWS account it runs in."""
    env = dict(os.environ if base is None else base)
    env.update(AWS_ENDPOINT_URL=endpoint_url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        env.pop(name, None)
    return env


def run(args: argparse.Namespace) -> int:
    os.makedirs(args.work_dir, exist_ok=True)
    with start(args.host, args.port, work_dir=args.work_dir, cwd=args.cwd) as endpoint:
        if not args.real_aws:
            endpoint.manager.env = session_env(endpoint.url)
        print(f"Glue interactive sessions on {endpoint.url} (Ctrl-C stops every session)", file=sys.stderr)
        threading.Event().wait()
    return 0
