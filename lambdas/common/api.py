"""The REST resolver every API Lambda uses: validation, identity and the error format.

Every failure is ``{"error": {"code", "message"}}``: service refusals with their own
status, malformed JSON ``400``, invalid fields ``422``, unknown routes ``404``, and
anything unexpected ``500`` with no internals.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from pydantic import BaseModel

from etl_lib.errors import ErrorCode, JobServiceError, UnauthorizedError
from etl_lib.jobs.models import JOB_ID_PATTERN
from etl_lib.jobs.settings import allowed_origins
from lambdas.common.models import IDEMPOTENCY_HEADER, ErrorResponse

JobId = Annotated[
    str, Path(pattern=JOB_ID_PATTERN, description=f"The job's id (400 {ErrorCode.INVALID_JOB_ID} if malformed).")
]
"""A ``{job_id}`` path parameter: checked before any store is asked, so no id reaches one
that could make it fail (a DynamoDB key over its size limit is a 500, not a 404)."""

# Documented on every route; the OpenAPI document lists them.
ERROR_RESPONSES: dict[int, Any] = {
    status: {"description": description, "content": {"application/json": {"model": ErrorResponse}}}
    for status, description in (
        (400, "Malformed request"),
        (401, "No caller identity"),
        (404, "No such job"),
        (422, "Invalid fields"),
        (500, "Internal error"),
    )
}

# Routes that read a finished job's results (its download link, its run report).
FINISHED_JOB_RESPONSES: dict[int, Any] = {
    409: ERROR_RESPONSES[400] | {"description": "The job has not SUCCEEDED"},
    410: ERROR_RESPONSES[400] | {"description": "The job has expired: its output is no longer kept"},
    **ERROR_RESPONSES,
}


def ok(model: type[BaseModel], description: str) -> OpenAPIResponse:
    """A documented success response: Powertools documents none for a route given ``responses``."""
    return {"description": description, "content": {"application/json": {"model": model}}}


def error(status: int, code: str, message: str) -> Response[Any]:
    return Response(
        status_code=status, content_type="application/json", body={"error": {"code": code, "message": message}}
    )


def _field_errors(errors: Any) -> str:
    parts = []
    for e in errors:
        where = ".".join(str(p) for p in e.get("loc", ()) if p not in {"body"}) or "body"
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    return "; ".join(parts)


def caller(app: APIGatewayRestResolver | Router) -> str:
    """The caller's identity: the Cognito ``sub`` the API Gateway authorizer verified."""
    event = app.current_event
    assert isinstance(event, APIGatewayProxyEvent)  # REST API events only
    authorizer = event.request_context.authorizer
    claims = (authorizer.claims if authorizer else None) or {}
    sub = claims.get("sub")
    if not sub:
        raise UnauthorizedError("the request carries no verified identity")
    return str(sub)


def caller_groups(app: APIGatewayRestResolver | Router) -> frozenset[str]:
    """The Cognito groups of the caller (the ``cognito:groups`` claim). API Gateway hands
    the claim on as text, ``[engineers admins]`` or ``engineers,admins``: both are read."""
    event = app.current_event
    assert isinstance(event, APIGatewayProxyEvent)
    authorizer = event.request_context.authorizer
    claims = (authorizer.claims if authorizer else None) or {}
    raw = claims.get("cognito:groups") or ""
    names = raw if isinstance(raw, list) else str(raw).strip("[]").replace(",", " ").split()
    return frozenset(str(name) for name in names)


def cors_config() -> CORSConfig | None:
    """CORS headers on every response (errors included) when the web app is on another origin."""
    origins = allowed_origins()
    if not origins:
        return None  # same origin (the local stack) or no browser client
    return CORSConfig(
        allow_origin=origins[0],
        extra_origins=origins[1:],
        allow_headers=["Authorization", IDEMPOTENCY_HEADER],
        max_age=600,
    )


def build_resolver(*routers: Router, logger: Logger) -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(enable_validation=True, cors=cors_config())
    for router in routers:
        app.include_router(router)

    @app.exception_handler(JobServiceError)
    def refused(exc: JobServiceError) -> Response[Any]:
        return error(exc.status, exc.code, exc.message)

    def unsupported_media_type() -> Response[Any]:
        return error(
            415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, "the request body must be JSON (Content-Type: application/json)"
        )

    @app.exception_handler(RequestUnsupportedContentType)
    def not_json(exc: RequestUnsupportedContentType) -> Response[Any]:
        return unsupported_media_type()

    @app.exception_handler(ValueError)
    def unparseable(exc: ValueError) -> Response[Any]:
        # Powertools parses form bodies itself and raises ValueError on a malformed one
        # (multipart/form-data without a boundary): a body that is not JSON, not a crash.
        content_type = app.current_event.get_header_value("Content-Type", default_value="", case_sensitive=False)
        if app.current_event.body and not (content_type or "").lower().startswith("application/json"):
            return unsupported_media_type()
        return crashed(exc)

    @app.exception_handler(IdempotencyValidationError)
    def key_reused(exc: IdempotencyValidationError) -> Response[Any]:
        return error(
            422,
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            "this Idempotency-Key was already used for another request; use a new key per request",
        )

    @app.exception_handler(IdempotencyAlreadyInProgressError)
    def key_in_progress(exc: IdempotencyAlreadyInProgressError) -> Response[Any]:
        return error(
            409,
            ErrorCode.IDEMPOTENCY_IN_PROGRESS,
            "a request with this Idempotency-Key is still being handled; retry in a moment",
        )

    @app.exception_handler(RequestValidationError)
    def invalid(exc: RequestValidationError) -> Response[Any]:
        problems = exc.errors()
        if any(e.get("type") == "json_invalid" for e in problems):
            return error(400, ErrorCode.MALFORMED_JSON, "the request body is not valid JSON")
        if any(tuple(e.get("loc", ()))[:2] == ("path", "job_id") for e in problems):
            return error(400, ErrorCode.INVALID_JOB_ID, "the job id in the path is malformed: no job has such an id")
        return error(422, ErrorCode.INVALID_REQUEST, _field_errors(problems))

    @app.not_found
    def no_route(exc: NotFoundError) -> Response[Any]:
        return error(404, ErrorCode.NOT_FOUND, f"no route {app.current_event.http_method} {app.current_event.path}")

    @app.exception_handler(Exception)
    def crashed(exc: Exception) -> Response[Any]:
        logger.exception("unhandled error")
        return error(500, ErrorCode.INTERNAL_ERROR, "internal error; the request id is in the logs")

    return app
