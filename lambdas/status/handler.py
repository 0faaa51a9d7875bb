"""GET /jobs, GET /jobs/{job_id}, GET /jobs/{job_id}/report, DELETE /jobs/{job_id}: the caller's jobs only."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from etl_lib.jobs.metrics import JOBS_DELETED, service_name
from etl_lib.jobs.models import CURSOR_PATTERN
from etl_lib.jobs.service import ReportLink
from etl_lib.jobs.settings import service, validate_at_cold_start
from lambdas.common.api import ERROR_RESPONSES, FINISHED_JOB_RESPONSES, JobId, build_resolver, caller, ok
from lambdas.common.models import JobEnvelope, JobList, JobReport, JobView, RunReportView
from lambdas.common.observability import observability
from lambdas.routes import DELETE_JOB, GET_JOB, GET_REPORT, LIST_JOBS

logger, tracer, metrics = observability(service_name("status"))
validate_at_cold_start()  # a misconfigured container fails its init, in one line
# Routes are not wrapped by tracer.capture_method: Powertools reads their signatures
# (with this module's globals) to validate and to document them; the handler is traced.
router = Router()


@router.route(
    LIST_JOBS.rule,
    method=LIST_JOBS.method,
    summary="List my jobs, newest first",
    tags=["jobs"],
    responses={200: ok(JobList, "One page of jobs"), **ERROR_RESPONSES},
)
def list_jobs(
    limit: Annotated[int, Query(ge=1, le=100, description="Jobs per page")] = 20,
    next_token: Annotated[
        str | None, Query(pattern=CURSOR_PATTERN, description="`next_token` of the previous page")
    ] = None,
) -> JobList:
    page = service().list_jobs(caller(router), limit=limit, cursor=next_token)
    return JobList(jobs=[JobView.of(j) for j in page.jobs], next_token=page.next_cursor)


@router.route(
    GET_JOB.rule,
    method=GET_JOB.method,
    summary="Get one of my jobs",
    tags=["jobs"],
    responses={200: ok(JobEnvelope, "The job"), **ERROR_RESPONSES},
)
def get_job(job_id: JobId) -> JobEnvelope:
    logger.append_keys(job_id=job_id)
    return JobEnvelope(job=JobView.of(service().get_job(caller(router), job_id)))


@router.route(
    GET_REPORT.rule,
    method=GET_REPORT.method,
    summary="Get the run report of one of my finished jobs: its summary and the output's JSON Schema",
    tags=["jobs"],
    responses={
        200: ok(JobReport, "The run report"),
        **FINISHED_JOB_RESPONSES,
    },
)
def get_report(job_id: JobId) -> JobReport:
    logger.append_keys(job_id=job_id)
    report = service().run_report(caller(router), job_id)
    if isinstance(report, ReportLink):
        return JobReport(job_id=job_id, report=None, report_url=report.url, report_expires_at=report.expires_at)
    return JobReport(job_id=job_id, report=RunReportView.model_validate(report))


@router.route(
    DELETE_JOB.rule,
    method=DELETE_JOB.method,
    summary="Delete one of my jobs and its files",
    tags=["jobs"],
    responses={
        204: {"description": "Deleted", "content": {}},
        409: ERROR_RESPONSES[400] | {"description": "The job is being converted"},
        **ERROR_RESPONSES,
    },
)
def delete_job(job_id: JobId) -> Response[None]:
    logger.append_keys(job_id=job_id)
    service().delete_job(caller(router), job_id)
    metrics.add_metric(name=JOBS_DELETED.name, unit=MetricUnit.Count, value=1)
    return Response(status_code=204)


app = build_resolver(router, logger=logger)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)  # responses hold presigned URLs and job data
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
