"""The local Glue interactive-sessions endpoint: one HTTP port for the Glue kernel.

The ``glue_pyspark`` kernel of aws-glue-sessions talks to Glue (sessions and statements),
STS (``GetCallerIdentity`` for the session owner tag) and IAM. This WSGI app answers Glue's
session operations itself, in Glue's JSON 1.1 protocol (``POST /`` with
``X-Amz-Target: AWSGlue.<Operation>``), and hands every other request to moto's server
application (STS, IAM, S3, the rest of Glue such as ``GetTags``), so one endpoint URL serves
the kernel, and the S3 buckets a notebook reads on it.

Every request first passes :class:`~etl_devstack.sessions.guard.Guard` (no browser, a Host of
this endpoint, this start's key): a request that reaches a session runs code here.

``etl sessions`` runs it; tests start it with :func:`start`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from etl_devstack.sessions.config import ENDPOINT_STATE, SESSIONS_DIR, remove_endpoint_state, write_endpoint_state
from etl_devstack.sessions.guard import SECRET_ACCESS_KEY, Guard, client_host, url_host
from etl_lib.errors import GlueApiError, GlueErrorCode

if TYPE_CHECKING:  # imported where sessions start: `etl` builds its parser from this module
    from etl_devstack.sessions.manager import SessionManager

DEFAULT_PORT = 8998
TARGET_PREFIX = "AWSGlue."
CONTENT_TYPE = "application/x-amz-json-1.1"

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def _backend_app_without_cors(service: Any) -> Any:
    """moto's backend app for ``service`` without moto's global CORS.

    moto's server lets every origin call every API (flask-cors on each backend app, unless
    ``MOTO_DISABLE_GLOBAL_CORS`` was set before moto was imported); here that would let any
    web page read what the endpoint answers. The guard already refuses what a browser sends;
    this keeps a request that slipped past it from being answered with CORS grants.
    """
    from moto.moto_server.werkzeug_app import create_backend_app

    app = create_backend_app(service)
    for hooks in app.after_request_funcs.values():
        hooks[:] = [hook for hook in hooks if not getattr(hook, "__module__", "").startswith("flask_cors")]
    return app


def _answer(start_response: StartResponse, status: str, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode("utf-8")
    headers = [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(data)))]
    if "__type" in body:
        headers.append(("x-amzn-ErrorType", body["__type"]))
    start_response(status, headers)
    return [data]


class SessionsApp:
    """WSGI: the guard, then Glue session operations here and everything else to moto."""

    def __init__(self, manager: SessionManager, guard: Guard) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication

        self.manager = manager
        self.guard = guard
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
        self.moto = DomainDispatcherApplication(_backend_app_without_cors)
        # moto's backends do not lock; one request at a time keeps them consistent.
        self._moto_lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        refusal = self.guard.refusal(environ)
        if refusal is not None:
            # Its body stays unread: werkzeug closes every connection after one response.
            return _answer(start_response, "403 Forbidden", {"__type": "AccessDeniedException", "message": refusal})
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
                raise GlueApiError(GlueErrorCode.INVALID_INPUT, "the request body must be a JSON object")
            status, body = "200 OK", self.operations[operation](request)
        except json.JSONDecodeError:
            status, body = "400 Bad Request", {"__type": "SerializationException", "message": "invalid JSON body"}
        except GlueApiError as exc:
            status, body = f"{exc.status} Bad Request", {"__type": exc.code, "message": exc.message}
        return _answer(start_response, status, body)


class Credentials(TypedDict):
    aws_access_key_id: str
    aws_secret_access_key: str


@dataclass
class Endpoint:
    url: str
    manager: SessionManager
    access_key_id: str
    """This start's token: clients sign with it (:mod:`etl_devstack.sessions.guard`)."""

    def credentials(self) -> Credentials:
        """boto3 client keyword arguments that this endpoint accepts."""
        return {"aws_access_key_id": self.access_key_id, "aws_secret_access_key": SECRET_ACCESS_KEY}


@contextmanager
def start(
    host: str = "127.0.0.1", port: int = 0, *, minute: float = 60.0, work_dir: str | None = None,
    env: dict[str, str] | None = None, cwd: str | os.PathLike[str] | None = None, allowed_hosts: Iterable[str] = (),
) -> Iterator[Endpoint]:  # fmt: skip
    """Serve the endpoint on a background thread; on exit stop every session and the server.

    The start's key and URL are written to ``endpoint.json`` in the work directory, readable
    by this user only, for ``etl session-config --local``; the file goes when the server does.
    ``allowed_hosts`` are extra names a Host header may give (loopback names always may).
    """
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    from etl_devstack.sessions.manager import SessionManager

    class QuietHandler(MotoRequestHandler):
        """Logs failed requests only: the kernel polls GetStatement every second."""

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            if str(code).isdigit() and int(code) >= 400:
                super().log_request(code, size)

    manager = SessionManager(work_dir, minute=minute, env=env, cwd=cwd)
    # The guard needs the bound port (``port`` may be 0); until it is set nothing passes, and
    # the server answers nothing before serve_forever anyway.
    app = SessionsApp(manager, Guard(access_key_id="", hosts=frozenset()))
    server = make_server(host, port, app, threaded=True, request_handler=QuietHandler)
    bound_port = int(server.server_address[1])
    app.guard = Guard.for_server(host, bound_port, allowed_hosts)
    url = f"http://{url_host(client_host(host))}:{bound_port}"
    thread = threading.Thread(target=server.serve_forever, name="glue-sessions-endpoint", daemon=True)
    # The key file is written inside the block that removes it: a SIGTERM (a KeyboardInterrupt
    # here) arriving just after it was written must not leave it behind.
    try:
        write_endpoint_state(manager.work_dir, url, app.guard.access_key_id)
        thread.start()
        yield Endpoint(url, manager, app.guard.access_key_id)
    finally:
        if thread.is_alive():  # shutdown() waits for serve_forever, which may not have started
            server.shutdown()
        remove_endpoint_state(manager.work_dir)
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
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a further host name clients may reach the endpoint by (loopback names always may); repeatable",
    )
    p.add_argument(
        "--work-dir",
        default=SESSIONS_DIR,
        help=f"session logs, installed modules, this start's key (default: {SESSIONS_DIR})",
    )
    p.add_argument(
        "--cwd", default="notebooks", help="sessions' working directory (default: notebooks, as papermill's)"
    )
    p.add_argument(
        "--real-aws",
        action="store_true",
        help="sessions use this shell's AWS settings (default: this endpoint's moto, dummy credentials)",
    )


def session_env(endpoint: Endpoint, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of local sessions: their AWS calls go to this endpoint (its moto),
    signed with its key, as a Glue session's go to the AWS account it runs in."""
    env = dict(os.environ if base is None else base)
    env.update(AWS_ENDPOINT_URL=endpoint.url, AWS_ACCESS_KEY_ID=endpoint.access_key_id,
               AWS_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY)  # fmt: skip
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        env.pop(name, None)
    return env


def _stop(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    os.makedirs(args.work_dir, mode=0o700, exist_ok=True)
    # SIGTERM stops as Ctrl-C does: every session process ends and the key file goes.
    signal.signal(signal.SIGTERM, _stop)
    with start(args.host, args.port, work_dir=args.work_dir, cwd=args.cwd, allowed_hosts=args.allow_host) as endpoint:
        if not args.real_aws:
            endpoint.manager.env = session_env(endpoint)
        print(
            f"Glue interactive sessions on {endpoint.url} (Ctrl-C stops every session); this start's key is in "
            f"{Path(args.work_dir) / ENDPOINT_STATE}: run `make session-config LOCAL=1` to hand it to the kernel",
            file=sys.stderr,
        )
        threading.Event().wait()
    return 0
