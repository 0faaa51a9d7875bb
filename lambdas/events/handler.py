"""EventBridge events: S3 "Object Created" (an upload finished), "Glue Job State Change",
and the converter Lambda's failures ("Lambda Function Invocation Result - Failure", sent by
its on-failure destination once Lambda has given up retrying a crashed or timed-out run).

All arrive at least once and in any order; the service's conditional transitions make
every duplicate or late event a no-op, so this handler never needs to deduplicate.
"""

from __future__ import annotations

from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from etl_lib.jobs.metrics import UPLOADS_BY_STATUS, service_name
from etl_lib.jobs.service import JobService
from etl_lib.jobs.settings import service, validate_at_cold_start
from lambdas.common.observability import PowertoolsJobMetrics, observability

logger, tracer, metrics = observability(service_name("events"))
validate_at_cold_start()  # a misconfigured container fails its init, in one line
# Longest error text kept from a failed invocation (a stack trace belongs in the logs).
MAX_REASON = 300


def jobs() -> JobService:
    """The container's service, publishing JobsSucceeded/JobsFailed for jobs ended here."""
    return service().observed_by(PowertoolsJobMetrics())


class S3Bucket(BaseModel):
    name: str


class S3Object(BaseModel):
    key: str
    size: int | None = None


class ObjectCreatedDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    bucket: S3Bucket
    object: S3Object


class ObjectCreatedEvent(EventBridgeModel):
    source: Literal["aws.s3"]
    detail_type: Literal["Object Created"] = Field(alias="detail-type")
    detail: ObjectCreatedDetail


class GlueStateDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    jobName: str
    jobRunId: str
    state: str
    message: str | None = None


class GlueStateEvent(EventBridgeModel):
    source: Literal["aws.glue"]
    detail_type: Literal["Glue Job State Change"] = Field(alias="detail-type")
    detail: GlueStateDetail


class InvocationRequestContext(BaseModel):
    model_config = ConfigDict(extra="allow")

    condition: str = Field(examples=["RetriesExhausted", "EventAgeExceeded"])
    approximateInvokeCount: int = 0


class ConverterRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    job_id: str


class InvocationRecord(BaseModel):
    """What Lambda sends an asynchronous invocation's on-failure destination."""

    model_config = ConfigDict(extra="allow")

    requestContext: InvocationRequestContext
    requestPayload: ConverterRequest
    responsePayload: dict[str, Any] | None = None

    def reason(self) -> str:
        payload = self.responsePayload or {}
        # A timeout has only errorMessage ("... Task timed out after 900.00 seconds").
        error = ": ".join(str(payload[k]) for k in ("errorType", "errorMessage") if payload.get(k))
        attempts = self.requestContext.approximateInvokeCount
        tried = f" after {attempts} attempt{'s' * (attempts != 1)}" if attempts else ""
        text = f"the converter Lambda gave up ({self.requestContext.condition}{tried})"
        return f"{text}: {error}"[:MAX_REASON] if error else text


class ConverterFailureEvent(EventBridgeModel):
    source: Literal["lambda"]
    detail_type: Literal["Lambda Function Invocation Result - Failure"] = Field(alias="detail-type")
    detail: InvocationRecord


@tracer.capture_method
def on_object_created(event: ObjectCreatedEvent) -> dict[str, Any]:
    from urllib.parse import unquote_plus

    key = unquote_plus(event.detail.object.key)
    job = jobs().on_object_created(key, event.detail.object.size)
    if job is None:
        return {"job_id": None, "status": None}
    logger.append_keys(job_id=job.job_id)
    logger.info("upload handled", extra={"status": job.status.value})
    metrics.add_metric(name=UPLOADS_BY_STATUS[job.status].name, unit=MetricUnit.Count, value=1)
    return {"job_id": job.job_id, "status": job.status.value}


@tracer.capture_method
def on_glue_state(event: GlueStateEvent) -> dict[str, Any]:
    detail = event.detail
    job = jobs().on_run_state(detail.jobRunId, detail.state, detail.message)
    if job is None:
        return {"job_id": None, "status": None}
    logger.append_keys(job_id=job.job_id)
    logger.info("run state handled", extra={"run_state": detail.state, "status": job.status.value})
    return {"job_id": job.job_id, "status": job.status.value}


@tracer.capture_method
def on_converter_failure(record: InvocationRecord) -> dict[str, Any]:
    job = jobs().on_run_lost(record.requestPayload.job_id, record.reason())
    if job is None:
        return {"job_id": None, "status": None}
    logger.append_keys(job_id=job.job_id)
    logger.warning("converter failure handled", extra={"reason": record.reason(), "status": job.status.value})
    return {"job_id": job.job_id, "status": job.status.value}


@logger.inject_lambda_context(correlation_id_path="id")
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    source = event.get("source")
    if source == "aws.s3":
        return on_object_created(parse(event=event, model=ObjectCreatedEvent))
    if source == "aws.glue":
        return on_glue_state(parse(event=event, model=GlueStateEvent))
    if source == "lambda":
        return on_converter_failure(parse(event=event, model=ConverterFailureEvent).detail)
    if source is None and "requestPayload" in event:  # a Lambda destination, not via EventBridge
        return on_converter_failure(parse(event=event, model=InvocationRecord))
    logger.warning("ignored event", extra={"source": source, "detail_type": event.get("detail-type")})
    return {"ignored": True}
