"""POST /jobs: validate the request, create the job PENDING, hand back a presigned upload."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from etl_lib.jobs.settings import service
from lambdas.common.api import ERROR_RESPONSES, build_resolver, caller
from lambdas.common.models import CreateJobRequest, CreateJobResponse, JobView, Upload
from lambdas.common.observability import observability

logger, tracer, metrics = observability("jobs-upload")
# Routes are not wrapped by tracer.capture_method: Powertools reads their signatures
# (with this module's globals) to validate and to document them; the handler is traced.
router = Router()


@router.post(
    "/jobs",
    status_code=201,
    summary="Create a job and get its upload form",
    tags=["jobs"],
    responses={
        201: {"description": "Created", "content": {"application/json": {"model": CreateJobResponse}}},
        413: ERROR_RESPONSES[400] | {"description": "File too large"},
        415: ERROR_RESPONSES[400] | {"description": "The body is not JSON"},
        **ERROR_RESPONSES,
    },
)
def create_job(request: CreateJobRequest) -> Response[CreateJobResponse]:
    job, upload = service().create_job(
        caller(router), filename=request.filename, size=request.size, options=request.options, engine=request.engine
    )
    logger.append_keys(job_id=job.job_id)
    logger.info("job created", extra={"size": request.size, "engine": request.engine})
    metrics.add_metric(name="JobsCreated", unit=MetricUnit.Count, value=1)
    body = CreateJobResponse(job=JobView.of(job), upload=Upload(url=upload.url, fields=upload.fields))
    return Response(status_code=201, content_type="application/json", body=body)


app = build_resolver(router, logger=logger)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
