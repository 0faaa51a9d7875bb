"""GET /jobs/{job_id}/download: a short-lived link to the output, once the job SUCCEEDED."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from etl_lib.jobs.metrics import DOWNLOADS, service_name
from etl_lib.jobs.settings import service, validate_at_cold_start
from lambdas.common.api import FINISHED_JOB_RESPONSES, JobId, build_resolver, caller, ok
from lambdas.common.models import DownloadLink
from lambdas.common.observability import observability
from lambdas.routes import DOWNLOAD

logger, tracer, metrics = observability(service_name("download"))
validate_at_cold_start()  # a misconfigured container fails its init, in one line
# Routes are not wrapped by tracer.capture_method: Powertools reads their signatures
# (with this module's globals) to validate and to document them; the handler is traced.
router = Router()


@router.route(
    DOWNLOAD.rule,
    method=DOWNLOAD.method,
    summary="Get a download link for a finished job's output",
    tags=["jobs"],
    responses={
        200: ok(DownloadLink, "A short-lived link to the output"),
        **FINISHED_JOB_RESPONSES,
    },
)
def download(job_id: JobId) -> DownloadLink:
    logger.append_keys(job_id=job_id)
    link = service().download(caller(router), job_id)
    metrics.add_metric(name=DOWNLOADS.name, unit=MetricUnit.Count, value=1)
    return DownloadLink(url=link.url, expires_at=link.expires_at, filename=link.filename)


app = build_resolver(router, logger=logger)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)  # responses hold presigned URLs and job data
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
