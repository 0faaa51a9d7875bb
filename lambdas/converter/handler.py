"""The converter Lambda: converts one small job on the local engine (no JVM, no Glue start).

Invoked asynchronously by the events Lambda (``LambdaLauncher``) with ``{"job_id": ...}``.
It runs the very ``JobService.run`` the Glue job runs, so the job is marked RUNNING, then
SUCCEEDED or FAILED by the same conditional writes; only the engine differs. The output
streams from the input bucket to the output bucket (etl_lib's sink stages and publishes
with a multipart copy), so memory does not grow with the file.

Lambda delivers an asynchronous invocation at least once: a duplicate finds the job
claimed by the first (JobService.run) and changes nothing. A crash or a timeout is retried
by Lambda (the retry takes the job over once the dead run's lease has lapsed), then sent
to the on-failure destination, which the events Lambda turns into a FAILED job.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from etl_lib._runtime.arrow_memory import use_jemalloc
from etl_lib._runtime.lazy import import_pyarrow_without_numpy
from etl_lib.jobs.metrics import service_name
from etl_lib.jobs.models import JobStatus, new_attempt_id
from etl_lib.jobs.settings import service_for_job, validate_at_cold_start
from lambdas.common.observability import PowertoolsJobMetrics, observability

logger, tracer, metrics = observability(service_name("converter"))
validate_at_cold_start()  # a misconfigured container fails its init, in one line
# pyarrow is loaded during init, without numpy (which the local engine's native path never
# uses, and which costs a cold start about 0.1 s more): the first job starts converting at once.
# Its pool is jemalloc, which touches less fresh memory than the default (etl_lib._runtime.arrow_memory).
use_jemalloc()
import_pyarrow_without_numpy()


class ConvertRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: str


@logger.inject_lambda_context(correlation_id_path="job_id")
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    started = time.monotonic()
    request = parse(event=event, model=ConvertRequest)
    logger.append_keys(job_id=request.job_id)
    # engine="local" whatever the record says: this function has no Spark to start.
    # The run id is the one LambdaLauncher recorded (the invocation's request id, which
    # Lambda keeps across its retries); each execution still claims with its own attempt.
    # Waiting for the claim and converting both end inside this invocation's own timeout.
    must_end_by = time.monotonic() + context.get_remaining_time_in_millis() / 1000
    attempt = new_attempt_id()
    # Credentials scoped to this job (RUN_ROLE_ARN): the file parsed here is untrusted, and
    # this function's own role may only assume the run role.
    with service_for_job(request.job_id) as scoped:
        service = scoped.observed_by(PowertoolsJobMetrics())
        job = service.run(
            request.job_id,
            engine="local",
            attempt=attempt,
            run_id=f"lambda:{context.aws_request_id}",
            must_end_by=must_end_by,
        )
        if job is not None and job.status is JobStatus.SUCCEEDED and job.attempt == attempt:
            # This invocation published the output: its cost is its memory for its duration so
            # far (Lambda bills the handler's duration; the few milliseconds left are not counted).
            duration_ms = (time.monotonic() - started) * 1000
            service.record_lambda_cost(job, memory_mb=int(context.memory_limit_in_mb), duration_ms=duration_ms)
    if job is None:
        return {"job_id": request.job_id, "status": None}
    logger.info("conversion finished", extra={"status": job.status.value, "engine": job.engine})
    return {"job_id": job.job_id, "status": job.status.value, "engine": job.engine}
