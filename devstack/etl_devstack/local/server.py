"""``etl up``: one process serving the API, the object store URLs and the web app.

Routes:
  /api/health                   liveness: workers alive against expected, queue counts
  /api/<API Gateway routes>     the Lambda handlers, through :mod:`etl_devstack.local.gateway`
  POST /objects/<input bucket>  presigned form uploads (policy + HMAC signature + expiry)
  PUT  /objects/<input bucket>/<key>?uploadId&partNumber&expires&signature   one part of a
                                multipart upload, its x-amz-checksum-sha256 verified (S3's UploadPart)
  GET  /objects/<output bucket>/<key>?expires&filename&signature   presigned downloads
  /                             the built web app (frontend/dist), with a runtime config.json
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import re
import shutil
import signal
import socket
import sys
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.utils import send_file
from werkzeug.wrappers import Request, Response

from etl_devstack.local import REPO_ROOT, import_lambdas
from etl_devstack.local.http import (
    READER_KEY,
    WILDCARD_HOSTS,
    BoundedThreadedServer,
    allowed_hosts,
    handler_class,
    host_name,
    is_loopback,
)
from etl_devstack.local.limits import ServerLimits
from etl_lib.jobs.local import signing_key

FRONTEND_DIST = REPO_ROOT / "frontend" / "dist"
CSP_FILE = REPO_ROOT / "frontend" / "csp.json"


def content_security_policy(policy_file: Path = CSP_FILE) -> str:
    """The web app's policy as the header writes it. Locally the API and the files are on
    the app's own origin, so nothing is added to ``connect-src``."""
    directives = json.loads(policy_file.read_text(encoding="utf-8"))
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items() if name != "$comment")


MAX_RUN_ATTEMPTS = 2  # a run interrupted by a stop is re-run once, then the job fails
# Half-written files: atomic object writes (.NAME.tmp-*), output pieces (.NAME.parts-*),
# uploads being received (.upload-*), the start-up probe and the key being created.
TEMPORARY_FILE = re.compile(
    r"^\.(.+\.(tmp|parts)-[0-9a-f]+|upload-[0-9a-f]+|write-test-[0-9a-f]+|signing\.key\.[0-9a-f]+)$"
)
# The job service's run lease on this machine (RUN_LEASE_SECONDS; 120 s by default in AWS).
LOCAL_RUN_LEASE_SECONDS = 15
# How often expired jobs and their files are swept (JobService.sweep_expired).
SWEEP_INTERVAL_SECONDS = 60.0


class StartupError(Exception):
    """A problem the person starting the server can fix; shown as one line."""


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def _error(status: int, code: str, message: str) -> Response:
    return _json(status, {"error": {"code": code, "message": message}})


def _refusal(exc: HTTPException, reader: Any) -> Response:
    """Werkzeug's refusals as API errors. It reports a body that stopped arriving (its
    deadline passed in the reader) as a 400 "client disconnected": that is a 408."""
    if reader is not None and reader.expired:
        return _error(408, "REQUEST_TIMEOUT", "the request did not arrive in time")
    code = exc.code or 400
    return _error(code, "REQUEST_TOO_LARGE" if code == 413 else "BAD_REQUEST", exc.description or "")


def _has_body(request: Request) -> bool:
    return bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def remove_temporary_files(data_dir: Path) -> list[Path]:
    """Remove what interrupted writes left in ``data_dir`` (nothing is writing at start)."""
    removed = []
    for path in sorted(data_dir.rglob(".*"), key=lambda p: len(p.parts)):
        if not TEMPORARY_FILE.match(path.name) or not (path.is_file() or path.is_dir()):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


@dataclass
class LocalStack:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path(".etl-local")
    workers: int = 1
    engine: str = "spark"
    frontend: Path = FRONTEND_DIST
    extra_hosts: tuple[str, ...] = ()
    limits: ServerLimits = field(default_factory=ServerLimits)
    sweep_interval: float = SWEEP_INTERVAL_SECONDS
    _server: BoundedThreadedServer | None = None
    _supervisor: Any = None
    _listener: socket.socket | None = None
    _hosts: frozenset[str] = frozenset()

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
        self._server = BoundedThreadedServer(
            self.host,
            self.port,
            self,
            handler_class(self.limits),
            fd=listener.fileno(),
            max_connections=self.limits.max_connections,
        )
        self.port = int(listener.getsockname()[1])
        self._hosts = allowed_hosts(self.host, self.extra_hosts)
        self.removed = remove_temporary_files(self.data_dir)
        os.environ.update(self.environment(signing_key(self.data_dir)))
        import_lambdas()
        from etl_lib.jobs.settings import service

        service.cache_clear()
        from aws_lambda_powertools import Logger

        self.logger = Logger(service="etl-local")
        from etl_devstack.local.gateway import ApiGateway

        self.gateway = ApiGateway()

    def events(self, event: dict[str, Any]) -> dict[str, Any]:
        """The events Lambda, as EventBridge invokes it."""
        from etl_devstack.local.gateway import LocalLambdaContext

        return self.gateway.call("events", event, LocalLambdaContext(function_name="jobs-events"))

    @property
    def url(self) -> str:
        """Where clients reach this server (presigned URLs point here)."""
        host = self.host
        if host in WILDCARD_HOSTS:
            host = self.extra_hosts[0] if self.extra_hosts else "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def warnings(self) -> list[str]:
        if is_loopback(self.host):
            return []
        return [
            f"listening on {self.host}, not only on this machine: anyone who can reach this port can list, "
            "upload, download and delete jobs (the local stack has no sign-in). Name the host clients use "
            "with --allowed-host; requests for any other name are refused."
        ]

    def environment(self, signing_key: str) -> dict[str, str]:
        """The configuration the handlers and workers read (etl_lib.jobs.settings)."""
        from etl_lib.jobs import env

        return {
            env.ETL_BACKEND: "local",
            env.ETL_DATA_DIR: str(self.data_dir),
            env.ETL_ENGINE: self.engine,
            env.ETL_LOCAL_RUNNER: "queue",
            env.ETL_PUBLIC_URL: self.url,
            env.ETL_SIGNING_KEY: signing_key,
            # A run re-run after a stop waits out its dead predecessor's lease first:
            # keep that short on one machine (renewed every third of it while converting).
            env.RUN_LEASE_SECONDS: os.environ.get(env.RUN_LEASE_SECONDS) or str(LOCAL_RUN_LEASE_SECONDS),
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_TRACE_DISABLED": "true",
            env.POWERTOOLS_METRICS_NAMESPACE: "ParquetJsonEtlLocal",
        }

    def recover(self) -> None:
        """Runs interrupted by the last stop are re-run; jobs left without a run fail;
        uploads saved but never announced (a stop in between) are announced now."""
        from etl_devstack.local.worker import glue_state_event
        from etl_lib.jobs.models import JobError, JobStatus
        from etl_lib.jobs.runs import RunQueue
        from etl_lib.jobs.settings import service

        queue = RunQueue(self.data_dir / "runs.db")
        for run in queue.interrupted():
            if run.attempts < MAX_RUN_ATTEMPTS:
                queue.requeue(run.run_id)
                self.logger.info("re-running an interrupted run", extra={"job_id": run.job_id, "run_id": run.run_id})
            else:
                queue.finish(run.run_id, "FAILED")
                message = f"the local server stopped during this conversion {run.attempts} times"
                self.events(glue_state_event(run.run_id, "STOPPED", message))
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
        for job_id in ids_in(frozenset({JobStatus.PENDING})) if ids_in else []:
            self._announce_saved_upload(job_id)

    def _announce_saved_upload(self, job_id: str) -> None:
        from etl_lib.jobs.models import input_key
        from etl_lib.jobs.settings import service

        key = input_key(job_id)
        size = service().inputs.size(key)
        if size is not None:
            self.logger.info("announcing an upload saved before the last stop", extra={"job_id": job_id})
            inputs, _ = self._inputs_outputs()
            self.events(object_created_event(inputs.bucket, key, size))

    def start_workers(self) -> None:
        from etl_devstack.local.supervisor import Supervisor
        from etl_devstack.local.worker import worker_main

        env = {k: v for k, v in os.environ.items() if k.startswith(("ETL_", "POWERTOOLS_", "SPARK_", "PYSPARK_"))}
        self._supervisor = Supervisor(
            worker_main, count=self.workers, env=env, on_death=self.worker_died, logger=self.logger
        )
        self._supervisor.every(self.sweep_interval, self.sweep_expired)
        self._supervisor.start()

    def worker_died(self, slot: str, pid: int, exitcode: int | None) -> None:
        """End the run a dead worker held: its job FAILED with WORKER_DIED, its files gone.

        Only while that worker's attempt still holds the job (``fail_if_attempt``): a job
        it had finished, or another run took over, is left as it is. Not retried: a worker
        that dies mid-conversion was most often killed for its memory by the file itself,
        and a retry would only kill the next worker.
        """
        from etl_devstack.local.worker import worker_id
        from etl_lib.errors import WORKER_DIED
        from etl_lib.jobs import state
        from etl_lib.jobs.models import JobError, JobStatus
        from etl_lib.jobs.runs import RunQueue
        from etl_lib.jobs.settings import service

        how = f"killed by signal {-exitcode}" if exitcode is not None and exitcode < 0 else f"exit status {exitcode}"
        error = JobError(
            code=WORKER_DIED,
            message=f"the worker converting this file stopped ({how}), possibly for lack of memory; "
            "try again, or with a smaller file",
        )
        queue = RunQueue(self.data_dir / "runs.db")
        svc = service()
        for run in queue.running_for(worker_id(slot, pid)):
            queue.finish(run.run_id, "FAILED")
            failed = svc.fail_if_attempt(run.job_id, run.attempt, error)
            job = svc.jobs.get(run.job_id) if failed is None else None
            if job is not None and job.attempt is None and not state.is_terminal(job.status):
                # Died before its conversion claimed the job: no attempt holds it, and
                # this run was the job's only one.
                failed = svc.fail(run.job_id, error)
            if failed is not None and failed.status is JobStatus.FAILED:
                self.logger.error("job failed: its worker died", extra={"job_id": run.job_id, "worker": slot})

    def sweep_expired(self) -> None:
        """Delete expired jobs and their files (in AWS, DynamoDB's TTL and S3's lifecycle do)."""
        from etl_lib.jobs.settings import service

        swept = service().sweep_expired()
        if swept:
            self.logger.info("expired jobs removed", extra={"count": swept})

    def serve(self) -> None:
        assert self._server is not None
        self._server.serve_forever()

    def shutdown(self) -> None:
        if self._supervisor is not None:
            self._supervisor.stop()
        if self._server is not None:
            self._server.server_close()

    # --- WSGI ----------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        started = time.perf_counter()
        try:
            response = self.check_host(request) or self.dispatch(request)
        except HTTPException as exc:  # werkzeug's own refusals: a body over the limit...
            response = _refusal(exc, environ.get(READER_KEY))
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
        reader = environ.get(READER_KEY)
        if response.status_code >= 400 and _has_body(request) and reader is not None:
            # A refused body may be unread: read a little more of what the client is still
            # sending, so that it sees this answer, then close (Werkzeug closes every
            # connection after its response, but would first drain up to 10 GB).
            reader.stop_after(self.limits.drain_bytes)
        return response(environ, start_response)

    def check_host(self, request: Request) -> Response | None:
        """Refuse requests addressed to a name this server does not answer to: a page whose
        DNS name was rebound to 127.0.0.1 must not reach the API."""
        header = request.headers.get("Host")
        if not header:
            return _error(400, "MISSING_HOST", "the request has no Host header")
        name = host_name(header)
        if name is None:
            return _error(400, "BAD_HOST", "the Host header is malformed")
        if name not in self._hosts:
            return _error(
                421,
                "MISDIRECTED_REQUEST",
                f"this server does not answer to {name}; start it with --allowed-host {name} to allow it",
            )
        return None

    def dispatch(self, request: Request) -> Response:
        path = request.path
        if path == "/api/health":
            return self.health()
        if path == "/api" or path.startswith("/api/"):
            request.max_content_length = self.limits.max_api_body_bytes
            answer = self.gateway(request, path.removeprefix("/api") or "/")
            self.announce_completed_uploads()
            return answer or _error(404, "NOT_FOUND", f"no route {request.method} {path}")
        if path.startswith("/objects/"):
            bucket, _, key = path.removeprefix("/objects/").partition("/")
            if request.method == "POST" and not key:
                return self.upload(request, bucket)
            if request.method == "PUT" and key and "uploadId" in request.args:
                return self.upload_part(request, bucket, key)
            if request.method in {"GET", "HEAD"} and key:
                return self.download(request, bucket, key)
            return _error(405, "METHOD_NOT_ALLOWED", f"{request.method} {path}")
        return self.static(request)

    def health(self) -> Response:
        """200 and "ok" only when every worker is alive; 503 and "degraded" otherwise."""
        from etl_lib.jobs.runs import RunQueue

        queue = RunQueue(self.data_dir / "runs.db")
        supervisor = self._supervisor
        alive = supervisor.alive() if supervisor else 0
        healthy = alive == self.workers
        return _json(
            200 if healthy else 503,
            {
                "status": "ok" if healthy else "degraded",
                "engine": self.engine,
                "workers": alive,
                "workers_expected": self.workers,
                "worker_restarts": supervisor.restarts() if supervisor else 0,
                "worker_processes": supervisor.status() if supervisor else [],
                "queued": queue.count("queued"),
                "running": queue.count("running"),
            },
        )

    def _inputs_outputs(self) -> tuple[Any, Any]:
        from etl_lib.jobs.settings import service

        svc = service()
        return svc.inputs, svc.outputs

    def upload(self, request: Request, bucket: str) -> Response:
        from etl_devstack.local.uploads import UploadRefused, receive
        from etl_lib.jobs.settings import service

        inputs, _ = self._inputs_outputs()
        if bucket != inputs.bucket:
            return _error(404, "NO_SUCH_BUCKET", f"no bucket {bucket}")
        try:
            key, size = receive(request, inputs, self.limits, service().limits.max_upload_bytes)
        except UploadRefused as exc:  # the rest of the body is not read (see __call__)
            return _error(exc.status, exc.code, exc.message)
        self.events(object_created_event(bucket, key, size))
        return Response(status=204)

    def upload_part(self, request: Request, bucket: str, key: str) -> Response:
        """S3's UploadPart through a presigned URL: the bytes kept only if their SHA-256 is the
        signed ``x-amz-checksum-sha256``; the part's ETag in the answer (the uploader reads it)."""
        from etl_devstack.local.uploads import UploadRefused, receive_part

        inputs, _ = self._inputs_outputs()
        if bucket != inputs.bucket:
            return _error(404, "NoSuchBucket", f"no bucket {bucket}")
        try:
            part = receive_part(request, inputs, key)
        except UploadRefused as exc:  # the rest of the body is not read (see __call__)
            return _error(exc.status, exc.code, exc.message)
        response = Response(status=200)
        response.headers["ETag"] = part.etag
        response.headers["x-amz-checksum-sha256"] = part.checksum_sha256 or ""
        return response

    def announce_completed_uploads(self) -> None:
        """Send the events of the objects completed multipart uploads created (S3 sends them
        to EventBridge): after the API call, as S3's arrive after CompleteMultipartUpload."""
        inputs, _ = self._inputs_outputs()
        for key, size in inputs.created_by_uploads():
            self.events(object_created_event(inputs.bucket, key, size, reason="CompleteMultipartUpload"))

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
        response = self._static(request)
        response.headers["Content-Security-Policy"] = self.csp
        return response

    @functools.cached_property
    def csp(self) -> str:
        return content_security_policy()

    def _static(self, request: Request) -> Response:
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


def object_created_event(bucket: str, key: str, size: int, reason: str = "PostObject") -> dict[str, Any]:
    """What S3 sends to EventBridge, and EventBridge to the events Lambda (``reason``: the
    request that created the object, PostObject or CompleteMultipartUpload)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "000000000000",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": "local",
        "resources": [],
        "detail": {"bucket": {"name": bucket}, "object": {"key": key, "size": size}, "reason": reason},
    }


def run(args: argparse.Namespace) -> int:
    """``etl up``: returns the exit status; problems at start-up are one line on stderr."""
    # Everything the stack writes (uploads, outputs, the job store, logs, its workers' files:
    # they inherit it) is its user's alone: files 0600, folders 0700, whatever the shell's umask.
    os.umask(0o077)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # Metrics are off locally (POWERTOOLS_METRICS_DISABLED); do not warn on every request.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    stack = LocalStack(
        host=args.host,
        port=args.port,
        data_dir=Path(args.data_dir),
        workers=args.workers,
        engine=args.engine,
        extra_hosts=tuple(args.allowed_host or ()),
        limits=ServerLimits(request_timeout=args.request_timeout, max_connections=args.max_connections),
    )
    try:
        stack.prepare()
    except StartupError as exc:
        print(f"etl up: error: {exc}", file=sys.stderr)
        return 1
    for warning in stack.warnings():
        print(f"etl up: warning: {warning}", file=sys.stderr, flush=True)

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
