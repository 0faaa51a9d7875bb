"""An HTTP request as API Gateway (REST) hands it to a Lambda, and the Lambda's answer back.

The local server has no second implementation of the API: it routes like the API
Gateway resources in infra/ and calls the very same handlers.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request, Response

from etl_devstack.local import import_lambdas
from etl_lib.errors import ErrorCode

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

LOCAL_USER = "local"


@dataclass
class LocalLambdaContext:
    function_name: str
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:local:000000000000:function:local"
    memory_limit_in_mb: int = 1024
    aws_request_id: str = ""
    log_group_name: str = "local"
    log_stream_name: str = "local"
    remaining_ms: int = 900_000  # the converter's timeout: the most any invocation has

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def handlers() -> list[tuple[str, re.Pattern[str], str, str]]:
    """(method, path pattern, API Gateway resource, handler module): the API's route table
    (lambdas/routes.py), which infra/pipeline/api.py and the handlers are built from too."""
    import_lambdas()
    from lambdas.routes import ROUTES

    return [(r.method, r.pattern(), r.resource, r.function) for r in ROUTES]


def load_handler(name: str) -> Handler:
    import importlib

    import_lambdas()
    module = importlib.import_module(f"lambdas.{name}.handler")
    handler: Handler = module.handler
    return handler


def to_event(
    request: Request, path: str, resource: str, path_parameters: dict[str, str] | None, sub: str = LOCAL_USER
) -> dict[str, Any]:
    body = request.get_data(as_text=True)
    query = {k: request.args.getlist(k) for k in request.args}
    return {
        "resource": resource,
        "path": path,
        "httpMethod": request.method,
        "headers": dict(request.headers.items()),
        "multiValueHeaders": {k: request.headers.getlist(k) for k in request.headers.keys()},  # noqa: SIM118
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "stage": "local",
            "resourcePath": resource,
            "httpMethod": request.method,
            "path": request.path,
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": request.remote_addr or "127.0.0.1", "userAgent": request.user_agent.string},
            # The single local user: what the Cognito authorizer puts here in AWS.
            "authorizer": {"claims": {"sub": sub}},
        },
        "body": body or None,
        "isBase64Encoded": False,
    }


def to_response(result: dict[str, Any]) -> Response:
    """The HTTP response API Gateway makes of a Lambda proxy result.

    Headers come from ``multiValueHeaders`` and ``headers`` together (a name in both is
    sent once per distinct value), and only from them: no Content-Type of Werkzeug's own
    is added next to the handler's.
    """
    import base64

    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    headers = Headers()
    for name, values in (result.get("multiValueHeaders") or {}).items():
        for value in values:
            if value not in headers.getlist(name):
                headers.add(name, value)
    for name, value in (result.get("headers") or {}).items():
        if value not in headers.getlist(name):
            headers.add(name, value)
    typed = "Content-Type" in headers
    response = Response(data, status=int(result["statusCode"]), headers=headers)
    if not typed:  # e.g. a 204: no body, no type
        del response.headers["Content-Type"]
    return response


class ApiGateway:
    """The API's routes, each calling its Lambda handler.

    Powertools resolvers keep the request being handled on their class
    (``BaseRouter.current_event``), shared by every resolver of the process: right in a
    Lambda container, which runs one request at a time, wrong in a threaded server. So
    handlers are called one at a time, behind one lock, as Lambda would call them; each
    call is a few milliseconds of SQLite, never a conversion or a transfer.
    """

    def __init__(self) -> None:
        self.routes = [(m, p, r, h) for m, p, r, h in handlers()]
        self._handlers = {name: load_handler(name) for *_, name in self.routes}
        self._lock = threading.Lock()

    def call(self, name: str, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """Invoke one handler (the events handler included) as Lambda would."""
        with self._lock:
            if name not in self._handlers:
                self._handlers[name] = load_handler(name)
            return self._handlers[name](event, context)

    def __call__(self, request: Request, path: str) -> Response | None:
        """The handler's response for ``path`` (the part after ``/api``); 405 for a method
        the path does not have; None: no such path."""
        matches = [(m, p.fullmatch(path), r, n) for m, p, r, n in self.routes if p.fullmatch(path)]
        # As in API Gateway, a literal path segment wins over a path parameter: /jobs/source is
        # its own resource, never /jobs/{job_id} with job_id "source".
        fewest = min((resource.count("{") for _, _, resource, _ in matches), default=0)
        allowed = []
        for method, match, resource, name in matches:
            if resource.count("{") != fewest:
                continue
            if match and method == request.method:
                event = to_event(request, path, resource, match.groupdict() or None)
                context = LocalLambdaContext(
                    function_name=f"jobs-{name}", aws_request_id=event["requestContext"]["requestId"]
                )
                return to_response(self.call(name, event, context))
            allowed.append(method)
        if allowed:
            body = {
                "error": {"code": ErrorCode.METHOD_NOT_ALLOWED, "message": f"{request.method} is not allowed on {path}"}
            }
            response = Response(json.dumps(body), status=405, content_type="application/json")
            response.headers["Allow"] = ", ".join(sorted(set(allowed)))
            return response
        return None
