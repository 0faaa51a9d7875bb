"""POST /jobs: validate the request, create the job PENDING, hand back how to upload its file
(a presigned POST, or above the multipart threshold a multipart upload); and the multipart
upload's routes: the parts held, one part's signed URL, completion."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Header, Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from etl_lib.errors import ErrorCode, ForbiddenError, IdempotentJobDeletedError
from etl_lib.jobs.metrics import JOBS_CREATED, service_name
from etl_lib.jobs.models import ENGINEERS_GROUP
from etl_lib.jobs.service import JobService, MultipartPlan
from etl_lib.jobs.settings import Settings, build_idempotency_store, service, validate_at_cold_start
from lambdas.common.api import ERROR_RESPONSES, JobId, build_resolver, caller, caller_groups, ok
from lambdas.common.models import (
    IDEMPOTENCY_HEADER,
    CreateJobRequest,
    CreateJobResponse,
    CreateSourceJobRequest,
    JobEnvelope,
    JobView,
    MultipartUpload,
    PartUploadRequest,
    PostUpload,
    PresignedPartView,
    UploadedParts,
    UploadedPartView,
)
from lambdas.common.observability import observability
from lambdas.routes import COMPLETE_UPLOAD, CREATE_JOB, CREATE_SOURCE_JOB, LIST_PARTS, SIGN_PART

logger, tracer, metrics = observability(service_name("upload"))
validate_at_cold_start()  # a misconfigured container fails its init, in one line
# Routes are not wrapped by tracer.capture_method: Powertools reads their signatures
# (with this module's globals) to validate and to document them; the handler is traced.
router = Router()

# Creating a job, from an upload or a source: refused over the caller's unfinished jobs.
TOO_MANY_JOBS = ERROR_RESPONSES[400] | {
    "description": "Too many unfinished jobs (TOO_MANY_ACTIVE_JOBS), or on Spark (TOO_MANY_SPARK_JOBS)"
}


@router.route(
    CREATE_JOB.rule,
    method=CREATE_JOB.method,
    status_code=201,
    summary="Create a job and get its upload form",
    tags=["jobs"],
    responses={
        201: {"description": "Created", "content": {"application/json": {"model": CreateJobResponse}}},
        409: ERROR_RESPONSES[400]
        | {
            "description": "A request with this Idempotency-Key is still being handled (IDEMPOTENCY_IN_PROGRESS), "
            "or the job it created was deleted since (IDEMPOTENT_JOB_DELETED)"
        },
        422: ERROR_RESPONSES[400]
        | {
            "description": "Invalid fields (INVALID_REQUEST), or this Idempotency-Key already used with another "
            "body (IDEMPOTENCY_KEY_REUSED)"
        },
        413: ERROR_RESPONSES[400] | {"description": "File too large"},
        415: ERROR_RESPONSES[400] | {"description": "The body is not JSON"},
        429: TOO_MANY_JOBS,
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
        owner,
        filename=request.filename,
        size=request.size,
        options=request.options,
        engine=request.engine,
        execution_class=request.execution_class,
    )
    logger.append_keys(job_id=job.job_id)
    multipart = isinstance(upload, MultipartPlan)
    logger.info("job created", extra={"size": request.size, "engine": request.engine, "multipart": multipart})
    metrics.add_metric(name=JOBS_CREATED.name, unit=MetricUnit.Count, value=1)
    if isinstance(upload, MultipartPlan):
        plan: PostUpload | MultipartUpload = MultipartUpload(
            method="multipart", part_size=upload.part_size, part_count=upload.part_count
        )
    else:
        plan = PostUpload(method="post", url=upload.url, fields=upload.fields)
    return CreateJobResponse(job=JobView.of(job), upload=plan).model_dump(mode="json")


@functools.lru_cache(maxsize=2)
def _idempotent(jobs: JobService) -> tuple[IdempotencyConfig, Callable[..., dict[str, Any]]]:
    """``_create`` made idempotent with Powertools, for this container's service (its store
    and its upload form lifetime: a replay never hands out a form that has expired)."""

    def replayed(response: Any, idempotent_data: DataRecord) -> Any:
        """A replay answers with the job the key created, while that job exists."""
        if jobs.jobs.get(response["job"]["job_id"]) is None:
            raise IdempotentJobDeletedError(
                "the job this Idempotency-Key created was deleted; send a new key to create another job"
            )
        return response

    config = IdempotencyConfig(
        event_key_jmespath="[owner, key]",  # keys are per caller
        payload_validation_jmespath="request",  # the same key with another body is refused
        expires_after_seconds=jobs.limits.upload_expires_in,
        raise_on_no_idempotency_key=True,
        response_hook=replayed,
    )

    @idempotent_function(
        data_keyword_argument="call", persistence_store=build_idempotency_store(Settings.from_env()), config=config
    )
    def create_once(call: dict[str, Any]) -> dict[str, Any]:
        return _create(call["owner"], CreateJobRequest.model_validate(call["request"]))

    return config, create_once


@router.route(
    CREATE_SOURCE_JOB.rule,
    method=CREATE_SOURCE_JOB.method,
    status_code=201,
    summary="Convert a dataset (s3:// prefix) or a catalog table (glue://) in place; data engineers only",
    tags=["jobs"],
    responses={
        201: ok(JobEnvelope, "Created, its run started (no upload)"),
        403: ERROR_RESPONSES[400]
        | {
            "description": f"The caller is not in the {ENGINEERS_GROUP} group (FORBIDDEN), or the source is not "
            "in the deployment's allow-list (SOURCE_NOT_ALLOWED)"
        },
        429: TOO_MANY_JOBS,
        **ERROR_RESPONSES,
    },
)
def create_source_job(request: CreateSourceJobRequest) -> Response[JobEnvelope]:
    owner = caller(router)
    if ENGINEERS_GROUP not in caller_groups(router):
        raise ForbiddenError(f"converting a dataset or catalog table in place is for the {ENGINEERS_GROUP} group")
    job = service().create_source_job(
        owner,
        source=request.source,
        options=request.options,
        partition_filter=request.partition_filter or None,
        engine=request.engine,
    )
    logger.append_keys(job_id=job.job_id)
    logger.info("source job created", extra={"source": request.source})
    metrics.add_metric(name="JobsCreated", unit=MetricUnit.Count, value=1)
    return Response(status_code=201, content_type="application/json", body=JobEnvelope(job=JobView.of(job)))


# The multipart upload's routes: 409 when the job's upload is not multipart or is over.
UPLOAD_RESPONSES: dict[int, Any] = {
    409: ERROR_RESPONSES[400]
    | {
        "description": f"The job's upload is not multipart ({ErrorCode.UPLOAD_NOT_MULTIPART}) "
        f"or is over ({ErrorCode.UPLOAD_CLOSED})"
    },
    **ERROR_RESPONSES,
}


@router.route(
    LIST_PARTS.rule,
    method=LIST_PARTS.method,
    summary="List the parts uploaded so far of my job's multipart upload (to resume it)",
    tags=["uploads"],
    responses={200: ok(UploadedParts, "The parts storage holds"), **UPLOAD_RESPONSES},
)
def list_parts(job_id: JobId) -> UploadedParts:
    logger.append_keys(job_id=job_id)
    parts = service().upload_parts(caller(router), job_id)
    return UploadedParts(parts=[UploadedPartView.model_validate(part, from_attributes=True) for part in parts])


@router.route(
    SIGN_PART.rule,
    method=SIGN_PART.method,
    summary="Get a signed URL to upload one part of my job's multipart upload",
    tags=["uploads"],
    responses={
        200: ok(PresignedPartView, "PUT the part's bytes to the URL, with the headers"),
        **UPLOAD_RESPONSES,
        400: ERROR_RESPONSES[400]
        | {"description": f"Malformed request, or no such part ({ErrorCode.INVALID_PART_NUMBER})"},
    },
)
def sign_part(
    job_id: JobId,
    part_number: Annotated[
        int, Path(description=f"From 1 to the upload's part_count (400 {ErrorCode.INVALID_PART_NUMBER} otherwise).")
    ],
    request: PartUploadRequest,
) -> PresignedPartView:
    logger.append_keys(job_id=job_id)
    signed = service().presign_part(caller(router), job_id, part_number, checksum_sha256=request.checksum_sha256)
    return PresignedPartView(url=signed.url, headers=signed.headers)


@router.route(
    COMPLETE_UPLOAD.rule,
    method=COMPLETE_UPLOAD.method,
    summary="Complete my job's multipart upload from the parts storage holds; the job is then queued",
    tags=["uploads"],
    responses={
        200: ok(JobEnvelope, "Completed: the job follows as after an upload by POST"),
        **UPLOAD_RESPONSES,
        409: ERROR_RESPONSES[400]
        | {
            "description": f"Parts are missing or of the wrong size ({ErrorCode.UPLOAD_INCOMPLETE}, naming them), "
            f"or the upload is not multipart ({ErrorCode.UPLOAD_NOT_MULTIPART}) or is over ({ErrorCode.UPLOAD_CLOSED})"
        },
    },
)
def complete_upload(job_id: JobId) -> JobEnvelope:
    logger.append_keys(job_id=job_id)
    job = service().complete_upload(caller(router), job_id)
    logger.info("multipart upload completed")
    return JobEnvelope(job=JobView.of(job))


app = build_resolver(router, logger=logger)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)  # responses hold presigned URLs and job data
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
