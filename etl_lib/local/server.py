"""``etl up``: one process serving the API, the object store URLs and the web app.

Routes:
  /api/health                   liveness, worker and queue counts
  /api/<API Gateway routes>     the Lambda handlers, through :mod:`etl_lib.local.gateway`
  POST /objects/<input bucket>  presigned form uploads (policy + HMAC signature + expiry)
  GET  /objects/<output bucket>/<key>?expires&filename&signature   presigned downloads
  /                             the built web app (frontend/dist), with a runtime config.json
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import secrets
import signal
import socket
import sys
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.utils import send_file
from werkzeug.wrappers import Request, Response

from etl_lib.local import REPO_ROOT, import_lambdas

FRONTEND_DIST = REPO_ROOT / "frontend" / "dist"
MAX_RUN_ATTEMPTS = 2  # a run interrupted by a stop is re-run once, then the job fails


class StartupError(Exception):
    """A problem the person starting the server can fix; shown as one line."""


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def _error(status: int, code: str, message: str) -> Response:
    return _json(status, {"error": {"code": code, "message": message}})


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # requests are logged by the app, in the structured format


@dataclass
class LocalStack:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path(".etl-local")
    workers: int = 1
    engine: str = "spark"
    frontend: Path = FRONTEND_DIST
    _server: BaseWSGIServer | None = None
    _processes: list[Any] = field(default_factory=list)
    _stop: Any = None
    _listener: socket.socket | None = None

    # --- start-up ------------------------------------------------------------------------

    def prepare(self) -> None:
        """Check the data directory, bind the port, configure the composition root."""
        self.data_dir = self.data_dir.resolve()
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            probe = self.data_dir / f".write-test-{uuid.uuid4().hex[:6]}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise StartupError(f"cannot write the data directory {self.data_dir}: {exc.strerror or exc}") from exc
        # Bind here rather than in werkzeug, which prints its own advice and exits.
        listener = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.host, self.port))
            listener.listen(128)
        except OSError as exc:
            listener.close()
            raise StartupError(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}") from exc
        listener.set_inheritable(True)
        self._listener = listener
        self._server = make_server(
            self.host, self.port, self, threaded=True, request_handler=_QuietHandler, fd=listener.fileno()
        )
        self.port = int(listener.getsockname()[1])
        key_file = self.data_dir / "signing.key"
        if not key_file.exists():  # kept, so URLs handed out before a restart stay valid
            key_file.write_text(secrets.token_hex(32), encoding="utf-8")
            key_file.chmod(0o600)
        os.environ.update(self.environment(key_file.read_text(encoding="utf-8").strip()))
        import_lambdas()
        from etl_lib.jobs.settings import service

        service.cache_clear()
        from aws_lambda_powertools import Logger

        self.logger = Logger(service="etl-local")
        from etl_lib.local.gateway import ApiGateway, load_handler

        self.gateway = ApiGateway()
        self.events = load_handler("events")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def environment(self, signing_key: str) -> dict[str, str]:
        """The configuration the handlers and workers read (etl_lib.jobs.settings)."""
        return {
            "ETL_BACKEND": "local",
            "ETL_DATA_DIR": str(self.data_dir),
            "ETL_ENGINE": self.engine,
            "ETL_LOCAL_RUNNER": "queue",
            "ETL_PUBLIC_URL": self.url,
            "ETL_SIGNING_KEY": signing_key,
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "ParquetJsonEtlLocal",
        }

    def recover(self) -> None:
        """Runs interrupted by the last stop are re-run; jobs left without a run fail."""
        from etl_lib.jobs.models import JobError, JobStatus
        from etl_lib.jobs.settings import service
        from etl_lib.local.gateway import LocalLambdaContext
        from etl_lib.local.runs import RunQueue
        from etl_lib.local.worker import glue_state_event

        queue = RunQueue(self.data_dir / "runs.db")
        for run in queue.interrupted():
            if run.attempts < MAX_RUN_ATTEMPTS:
                queue.requeue(run.run_id)
                self.logger.info("re-running an interrupted run", extra={"job_id": run.job_id, "run_id": run.run_id})
            else:
                queue.finish(run.run_id, "FAILED")
                message = f"the local server stopped during this conversion {run.attempts} times"
                self.events(glue_state_event(run.run_id, "STOPPED", message), LocalLambdaContext("jobs-events"))
        svc = service()
        store = svc.jobs
        active = queue.active_job_ids()
        ids_in = getattr(store, "ids_in", None)
        for job_id in ids_in(frozenset({JobStatus.QUEUED, JobStatus.RUNNING})) if ids_in else []:
            if job_id not in active:
                svc.fail(
                    job_id,
                    JobError(
                        code="RUN_LOST",
                        message="the local server stopped before this conversion started; upload the file again",
                    ),
                )

    def start_workers(self) -> None:
        from etl_lib.local.worker import worker_main

        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        env = {k: v for k, v in os.environ.items() if k.startswith(("ETL_", "POWERTOOLS_", "SPARK_", "PYSPARK_"))}
        for i in range(self.workers):
            process = context.Process(
                target=worker_main, args=(env, f"w{i + 1}", self._stop), daemon=True, name=f"etl-worker-{i + 1}"
            )
            process.start()
            self._processes.append(process)

    def serve(self) -> None:
        assert self._server is not None
        self._server.serve_forever()

    def shutdown(self) -> None:
        if self._stop is not None:
            self._stop.set()
        for process in self._processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
        if self._server is not None:
            self._server.server_close()

    # --- WSGI ----------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        started = time.perf_counter()
        try:
            response = self.dispatch(request)
        except Exception:
            self.logger.exception("request failed", extra={"method": request.method, "path": request.path})
            response = _error(500, "INTERNAL_ERROR", "internal error; see the server log")
        self.logger.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        path = request.path
        if path == "/api/health":
            return self.health()
        if path == "/api" or path.startswith("/api/"):
            answer = self.gateway(request, path.removeprefix("/api") or "/")
            return answer or _error(404, "NOT_FOUND", f"no route {request.method} {path}")
        if path.startswith("/objects/"):
            bucket, _, key = path.removeprefix("/objects/").partition("/")
            if request.method == "POST" and not key:
                return self.upload(request, bucket)
            if request.method in {"GET", "HEAD"} and key:
                return self.download(request, bucket, key)
            return _error(405, "METHOD_NOT_ALLOWED", f"{request.method} {path}")
        return self.static(request)

    def health(self) -> Response:
        from etl_lib.local.runs import RunQueue

        queue = RunQueue(self.data_dir / "runs.db")
        return _json(
            200,
            {
                "status": "ok",
                "engine": self.engine,
                "workers": sum(1 for p in self._processes if p.is_alive()),
                "queued": queue.count("queued"),
                "running": queue.count("running"),
            },
        )

    def _inputs_outputs(self) -> tuple[Any, Any]:
        from etl_lib.jobs.settings import service

        svc = service()
        return svc.inputs, svc.outputs

    def upload(self, request: Request, bucket: str) -> Response:
        from etl_lib.jobs.local import SignatureError
        from etl_lib.local.gateway import LocalLambdaContext

        inputs, _ = self._inputs_outputs()
        if bucket != inputs.bucket:
            return _error(404, "NO_SUCH_BUCKET", f"no bucket {bucket}")
        upload = request.files.get("file")
        if upload is None:
            return _error(400, "MISSING_FILE", "the form has no file field")
        fields = {k: request.form[k] for k in request.form}
        tmp = inputs.root / f".upload-{uuid.uuid4().hex}"
        try:
            upload.save(tmp)
            size = tmp.stat().st_size
            key = inputs.verify_post(fields, size)
            target = inputs.path(key)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
        except SignatureError as exc:
            return _error(403, "ACCESS_DENIED", str(exc))
        except ValueError as exc:
            return _error(400, "BAD_FORM", str(exc))
        finally:
            tmp.unlink(missing_ok=True)
        # What S3 sends to EventBridge, and EventBridge to the events Lambda.
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Object Created",
            "source": "aws.s3",
            "account": "000000000000",
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "region": "local",
            "resources": [],
            "detail": {"bucket": {"name": bucket}, "object": {"key": key, "size": size}, "reason": "PostObject"},
        }
        self.events(event, LocalLambdaContext(function_name="jobs-events"))
        return Response(status=204)

    def download(self, request: Request, bucket: str, key: str) -> Response:
        from etl_lib.jobs.local import SignatureError

        _, outputs = self._inputs_outputs()
        if bucket != outputs.bucket:
            return _error(404, "NO_SUCH_BUCKET", f"no bucket {bucket}")
        try:
            outputs.verify_get(key, {k: request.args[k] for k in request.args})
            path = outputs.path(key)
        except SignatureError as exc:
            return _error(403, "ACCESS_DENIED", str(exc))
        except ValueError as exc:
            return _error(400, "BAD_KEY", str(exc))
        if not path.is_file():
            return _error(404, "NO_SUCH_KEY", "the object does not exist")
        return send_file(
            path,
            request.environ,
            as_attachment=True,
            download_name=request.args["filename"],
            mimetype="application/octet-stream",
        )

    def static(self, request: Request) -> Response:
        if request.path == "/config.json":  # the web app's runtime configuration: local, no sign-in
            return _json(200, {"apiBaseUrl": "/api", "auth": None})
        root = self.frontend.resolve()
        if not (root / "index.html").is_file():
            return Response(
                "The web app is not built: run `make up` (or `npm run build` in frontend/). The API is at /api.\n",
                status=404,
                content_type="text/plain",
            )
        target = (root / request.path.lstrip("/")).resolve()
        if target.is_relative_to(root) and target.is_file():
            return send_file(target, request.environ)
        if "." in Path(request.path).name:
            return Response("not found\n", status=404, content_type="text/plain")
        return send_file(root / "index.html", request.environ)  # client-side routes


def run(args: argparse.Namespace) -> int:
    """``etl up``: returns the exit status; problems at start-up are one line on stderr."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # Metrics are off locally (POWERTOOLS_METRICS_DISABLED); do not warn on every request.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    stack = LocalStack(
        host=args.host, port=args.port, data_dir=Path(args.data_dir), workers=args.workers, engine=args.engine
    )
    try:
        stack.prepare()
    except StartupError as exc:
        print(f"etl up: error: {exc}", file=sys.stderr)
        return 1

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        stack.recover()
        stack.start_workers()
        print(
            f"etl up: serving {stack.url} (data in {stack.data_dir}, {args.workers} worker(s), "
            f"{args.engine} engine); Ctrl-C stops",
            file=sys.stderr,
            flush=True,
        )
        stack.serve()
    except KeyboardInterrupt:
        pass
    finally:
        stack.shutdown()
    return 0
