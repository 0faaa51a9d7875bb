"""POST /jobs: validate the request, create the job PENDING, hand back a presigned upload."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.typing import LambdaContext

from etl_lib.jobs.service import JobService
from etl_lib.jobs.settings import Settings, build_idempotency_store, service, validate_at_cold_start
from lambdas.common.api import ERROR_RESPONSES, build_resolver, caller
from lambdas.common.models import IDEMPOTENCY_HEADER, CreateJobRequest, CreateJobResponse, JobView, Upload
from lambdas.common.observability import observability
from lambdas.routes import CREATE_JOB

logger, tracer, metrics = observability("jobs-upload")
validate_at_cold_start()  # a misconfigured container fails its init, in one line
# Routes are not wrapped by tracer.capture_method: Powertools reads their signatures
# (with this module's globals) to validate and to document them; the handler is traced.
router = Router()


@router.route(
    CREATE_JOB.rule,
    method=CREATE_JOB.method,
    status_code=201,
    summary="Create a job and get its upload form",
    tags=["jobs"],
    responses={
        201: {"description": "Created", "content": {"application/json": {"model": CreateJobResponse}}},
        409: ERROR_RESPONSES[400]
        | {"description": "A request with this Idempotency-Key is still being handled (IDEMPOTENCY_IN_PROGRESS)"},
        413: ERROR_RESPONSES[400] | {"description": "File too large"},
        415: ERROR_RESPONSES[400] | {"description": "The body is not JSON"},
        429: ERROR_RESPONSES[400]
        | {"description": "Too many unfinished jobs (TOO_MANY_ACTIVE_JOBS), or on Spark (TOO_MANY_SPARK_JOBS)"},
        **ERROR_RESPONSES,
    },
)
def create_job(
    request: CreateJobRequest,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=IDEMPOTENCY_HEADER,
            min_length=1,
            max_length=128,
            description="Makes retries safe: a request with a key already used by the caller returns the "
            "first job and its upload form again (for the upload form's lifetime); the same key with "
            "another body is refused (422 IDEMPOTENCY_KEY_REUSED). The web app sends one per file.",
        ),
    ] = None,
) -> Response[CreateJobResponse]:
    body = create(caller(router), request, idempotency_key)
    return Response(status_code=201, content_type="application/json", body=CreateJobResponse.model_validate(body))


def create(owner: str, request: CreateJobRequest, idempotency_key: str | None) -> dict[str, Any]:
    """The response body of POST /jobs; with a key, at most one job per (caller, key)."""
    if idempotency_key is None:
        return _create(owner, request)
    config, create_once = _idempotent(service())
    # The invocation's deadline bounds the key's in-progress lock: a request that dies
    # mid-way (a Lambda timeout) frees its key then, not when the record expires.
    config.register_lambda_context(router.lambda_context)
    return create_once(call={"owner": owner, "key": idempotency_key, "request": request.model_dump(mode="json")})


def _create(owner: str, request: CreateJobRequest) -> dict[str, Any]:
    job, upload = service().create_job(
        owner, filename=request.filename, size=request.size, options=request.options, engine=request.engine
    )
    logger.append_keys(job_id=job.job_id)
    logger.info("job created", extra={"size": request.size, "engine": request.engine})
    metrics.add_metric(name="JobsCreated", unit=MetricUnit.Count, value=1)
    return CreateJobResponse(job=JobView.of(job), upload=Upload(url=upload.url, fields=upload.fields)).model_dump(
        mode="json"
    )


@functools.lru_cache(maxsize=2)
def _idempotent(jobs: JobService) -> tuple[IdempotencyConfig, Callable[..., dict[str, Any]]]:
    """``_create`` made idempotent with Powertools, for this container's service (its store
    and its upload form lifetime: a replay never hands out a form that has expired)."""
    config = IdempotencyConfig(
        event_key_jmespath="[owner, key]",  # keys are per caller
        payload_validation_jmespath="request",  # the same key with another body is refused
        expires_after_seconds=jobs.limits.upload_expires_in,
        raise_on_no_idempotency_key=True,
    )

    @idempotent_function(
        data_keyword_argument="call", persistence_store=build_idempotency_store(Settings.from_env()), config=config
    )
    def create_once(call: dict[str, Any]) -> dict[str, Any]:
        return _create(call["owner"], CreateJobRequest.model_validate(call["request"]))

    return config, create_once


app = build_resolver(router, logger=logger)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
