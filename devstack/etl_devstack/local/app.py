"""The local stack's WSGI app: the API through the gateway, the object store's presigned
URLs as S3 answers them, and the built web app.

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

import functools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.utils import send_file
from werkzeug.wrappers import Request, Response

from etl_devstack.local import REPO_ROOT
from etl_devstack.local.http import READER_KEY, host_name
from etl_devstack.local.limits import ServerLimits
from etl_lib.errors import ErrorCode, S3ErrorCode

FRONTEND_DIST = REPO_ROOT / "frontend" / "dist"
CSP_FILE = REPO_ROOT / "frontend" / "csp.json"

Event = dict[str, Any]


def content_security_policy(policy_file: Path = CSP_FILE) -> str:
    """The web app's policy as the header writes it. Locally the API and the files are on
    the app's own origin, so nothing is added to ``connect-src``."""
    directives = json.loads(policy_file.read_text(encoding="utf-8"))
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items() if name != "$comment")


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def _error(status: int, code: str, message: str) -> Response:
    return _json(status, {"error": {"code": code, "message": message}})


def _refusal(exc: HTTPException, reader: Any) -> Response:
    """Werkzeug's refusals as API errors. It reports a body that stopped arriving (its
    deadline passed in the reader) as a 400 "client disconnected": that is a 408."""
    if reader is not None and reader.expired:
        return _error(408, ErrorCode.REQUEST_TIMEOUT, "the request did not arrive in time")
    code = exc.code or 400
    return _error(code, ErrorCode.REQUEST_TOO_LARGE if code == 413 else ErrorCode.BAD_REQUEST, exc.description or "")


def _has_body(request: Request) -> bool:
    return bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def health_response(status: dict[str, Any]) -> Response:
    """The health check's answer: 200 when ``status`` says "ok", 503 otherwise."""
    return _json(200 if status["status"] == "ok" else 503, status)


def send_event(gateway: Any, event: Event) -> Event:
    """Invoke the events Lambda through ``gateway``, as EventBridge invokes it."""
    from etl_devstack.local.gateway import LocalLambdaContext

    answer: Event = gateway.call("events", event, LocalLambdaContext(function_name="jobs-events"))
    return answer


def object_created_event(bucket: str, key: str, size: int, reason: str = "PostObject") -> Event:
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


def _stores() -> tuple[Any, Any]:
    """The job service's input and output stores (the local object tree)."""
    from etl_lib.jobs.settings import service

    svc = service()
    return svc.inputs, svc.outputs


@dataclass
class LocalApp:
    """The WSGI app ``etl up`` serves (see the module's routes)."""

    gateway: Any
    events: Callable[[Event], Event]
    logger: Any
    # What /api/health reports (the process lifecycle's view of its workers and runs).
    status: Callable[[], dict[str, Any]]
    hosts: frozenset[str]
    limits: ServerLimits
    frontend: Path = FRONTEND_DIST

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        """Answer one request; every failure is a JSON error and is logged."""
        request = Request(environ)
        started = time.perf_counter()
        try:
            response = self.check_host(request) or self.dispatch(request)
        except HTTPException as exc:  # werkzeug's own refusals: a body over the limit...
            response = _refusal(exc, environ.get(READER_KEY))
        except Exception:
            self.logger.exception("request failed", extra={"method": request.method, "path": request.path})
            response = _error(500, ErrorCode.INTERNAL_ERROR, "internal error; see the server log")
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
            return _error(400, ErrorCode.MISSING_HOST, "the request has no Host header")
        name = host_name(header)
        if name is None:
            return _error(400, ErrorCode.BAD_HOST, "the Host header is malformed")
        if name not in self.hosts:
            return _error(
                421,
                ErrorCode.MISDIRECTED_REQUEST,
                f"this server does not answer to {name}; start it with --allowed-host {name} to allow it",
            )
        return None

    def dispatch(self, request: Request) -> Response:
        """Route a request whose host was accepted (see the module's routes)."""
        path = request.path
        if path == "/api/health":
            return health_response(self.status())
        if path == "/api" or path.startswith("/api/"):
            request.max_content_length = self.limits.max_api_body_bytes
            answer = self.gateway(request, path.removeprefix("/api") or "/")
            self.announce_completed_uploads()
            return answer or _error(404, ErrorCode.NOT_FOUND, f"no route {request.method} {path}")
        if path.startswith("/objects/"):
            bucket, _, key = path.removeprefix("/objects/").partition("/")
            if request.method == "POST" and not key:
                return self.upload(request, bucket)
            if request.method == "PUT" and key and "uploadId" in request.args:
                return self.upload_part(request, bucket, key)
            if request.method in {"GET", "HEAD"} and key:
                return self.download(request, bucket, key)
            return _error(405, ErrorCode.METHOD_NOT_ALLOWED, f"{request.method} {path}")
        return self.static(request)

    # --- the object store, as S3 answers its presigned URLs ---------------------------------

    def upload(self, request: Request, bucket: str) -> Response:
        """A presigned POST form upload; the object's event once it is whole."""
        from etl_devstack.local.uploads import UploadRefused, receive
        from etl_lib.jobs.settings import service

        inputs, _ = _stores()
        if bucket != inputs.bucket:
            return _error(404, ErrorCode.NO_SUCH_BUCKET, f"no bucket {bucket}")
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

        inputs, _ = _stores()
        if bucket != inputs.bucket:
            return _error(404, S3ErrorCode.NO_SUCH_BUCKET, f"no bucket {bucket}")
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
        inputs, _ = _stores()
        for key, size in inputs.created_by_uploads():
            self.events(object_created_event(inputs.bucket, key, size, reason="CompleteMultipartUpload"))

    def download(self, request: Request, bucket: str, key: str) -> Response:
        """A presigned download of an output, its signature and expiry checked."""
        from etl_lib.jobs.local import SignatureError

        _, outputs = _stores()
        if bucket != outputs.bucket:
            return _error(404, ErrorCode.NO_SUCH_BUCKET, f"no bucket {bucket}")
        try:
            outputs.verify_get(key, {k: request.args[k] for k in request.args})
            path = outputs.path(key)
        except SignatureError as exc:
            return _error(403, ErrorCode.ACCESS_DENIED, str(exc))
        except ValueError as exc:
            return _error(400, ErrorCode.BAD_KEY, str(exc))
        if not path.is_file():
            return _error(404, ErrorCode.NO_SUCH_KEY, "the object does not exist")
        return send_file(
            path,
            request.environ,
            as_attachment=True,
            download_name=request.args["filename"],
            mimetype="application/octet-stream",
        )

    # --- the web app ---------------------------------------------------------------------

    def static(self, request: Request) -> Response:
        """A file of the built web app, under its Content-Security-Policy."""
        response = self._static(request)
        response.headers["Content-Security-Policy"] = self.csp
        return response

    @functools.cached_property
    def csp(self) -> str:
        """The web app's Content-Security-Policy header (read once)."""
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
