"""The reconciler Lambda: relaunches or fails jobs no live run will move on, and drops the
catalog tables of jobs that are gone or expired.

An EventBridge schedule rule invokes it every few minutes with a
"Scheduled Event". It runs one pass of :func:`etl_lib.jobs.reconcile.reconcile` (the local
stack's sweep runs the same one) and publishes how many jobs it relaunched and failed.
Two passes racing (a slow one overlapping the next) change each job once: every change is
a conditional write.
"""

from __future__ import annotations

from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from etl_lib.jobs.metrics import RECONCILER_SERVICE, reconciled_values
from etl_lib.jobs.reconcile import reconcile
from etl_lib.jobs.settings import Settings, service, validate_at_cold_start
from lambdas.common.observability import PowertoolsJobMetrics, observability

logger, tracer, metrics = observability(RECONCILER_SERVICE)
validate_at_cold_start()  # a misconfigured container fails its init, in one line


class ScheduledEvent(EventBridgeModel):
    source: Literal["aws.events"]
    detail_type: Literal["Scheduled Event"] = Field(alias="detail-type")


@logger.inject_lambda_context(correlation_id_path="id")
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    parse(event=event, model=ScheduledEvent)
    # JobsFailed for each job it ends, like every other place a job ends.
    jobs = service().observed_by(PowertoolsJobMetrics())
    done = reconcile(jobs, Settings.from_env().reconcile_policy)
    for name, unit, value in reconciled_values(len(done.relaunched), done.failed):
        metrics.add_metric(name=name, unit=MetricUnit(unit), value=value)
    summary = {
        "relaunched": done.relaunched,
        "failed_unstarted": done.failed_unstarted,
        "failed_unclaimed": done.failed_unclaimed,
        "failed_run_ended": done.failed_run_ended,
        "failed_lapsed": done.failed_lapsed,
        "dropped_tables": done.dropped_tables,
    }
    if done.relaunched or done.failed:
        logger.warning("stuck jobs reconciled", extra=summary)
    elif done.dropped_tables:
        logger.info("catalog tables of gone or expired jobs dropped", extra=summary)
    return summary
