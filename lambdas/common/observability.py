"""One Logger, Tracer and Metrics per function (Powertools reads POWERTOOLS_* env vars)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from etl_lib.jobs.metrics import SERVICE_DIMENSION, job_end_values
from etl_lib.jobs.models import Job
from etl_lib.jobs.ports import JobMetrics
from etl_lib.jobs.settings import metrics_namespace

NAMESPACE = metrics_namespace()


def observability(service: str) -> tuple[Logger, Tracer, Metrics]:
    return Logger(service=service), Tracer(service=service), Metrics(namespace=NAMESPACE, service=service)


class PowertoolsJobMetrics(JobMetrics):
    """A job's end as EMF lines (CloudWatch Logs extracts them from Lambda's output).

    ``single_metric`` rather than the function's ``Metrics``: these series carry the
    dashboard's ``service=jobs-events`` dimension even when the converter ends the job,
    and each is flushed at once, so a crash later in the invocation cannot lose it.
    """

    def job_ended(self, job: Job) -> None:
        if is_metrics_disabled():  # the local stack (POWERTOOLS_METRICS_DISABLED)
            return
        name, value = SERVICE_DIMENSION
        for metric, unit, amount in job_end_values(job):
            with single_metric(
                name=metric, unit=MetricUnit(unit), value=amount, namespace=NAMESPACE, default_dimensions={name: value}
            ) as emf:
                emf.add_metadata(key="job_id", value=job.job_id)
                emf.add_metadata(key="engine", value=job.engine)
