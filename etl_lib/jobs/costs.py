"""What a run cost, written into its job's stored report: the Glue run's DPU-seconds or the
converter Lambda's GB-seconds, at the deployment's prices."""

from __future__ import annotations

import json
import logging

from etl_lib.jobs.context import JobContext
from etl_lib.jobs.models import Job, report_key
from etl_lib.jobs.sizing import RunCost, lambda_gb_seconds

log = logging.getLogger(__name__)


class RunCosts:
    """Records a run's cost in the report of the job it published."""

    def __init__(self, context: JobContext) -> None:
        self.context = context

    def record_glue_cost(self, job: Job, run_id: str) -> Job:
        """Add the Glue run's charge to the report of the job it published (only that run's:
        a duplicate run's end changes nothing)."""
        launcher = self.context.launcher
        if job.run_id != run_id or launcher is None:
            return job
        usage = launcher.usage(run_id)
        if usage is None:
            return job
        price = self.context.prices.per_dpu_second(usage.execution_class)
        self.record_cost(
            job,
            RunCost(
                service="glue",
                units=usage.dpu_seconds,
                unit="DPU-second",
                source=usage.source,
                price_per_unit_usd=price,
                estimated_usd=usage.dpu_seconds * price,
                execution_class=usage.execution_class.glue_name,
                worker_type=usage.worker_type,
                workers=usage.workers,
            ),
        )
        return job

    def record_lambda_cost(self, job: Job, *, memory_mb: int, duration_ms: float) -> None:
        """Add the converter Lambda's charge for ``job``'s run (``memory_mb`` for
        ``duration_ms``) to its report."""
        units = lambda_gb_seconds(memory_mb, duration_ms)
        price = self.context.prices.lambda_gb_second
        self.record_cost(
            job,
            RunCost(
                service="lambda",
                units=units,
                unit="GB-second",
                source="memory x duration",
                price_per_unit_usd=price,
                estimated_usd=units * price,
                memory_mb=memory_mb,
            ),
        )

    def record_cost(self, job: Job, cost: RunCost) -> None:
        """Write ``cost`` into the SUCCEEDED job's stored report (its ``cost``). The report is
        edited as JSON, unparsed, as run_report reads it: pyarrow stays out of the events
        Lambda. Never fails the job: a cost that cannot be recorded is logged."""
        outputs = self.context.outputs
        key = report_key(job.job_id, job.attempt)
        try:
            stored = outputs.get_bytes(key)
            if stored is None:
                return
            report = json.loads(stored)
            report["cost"] = cost.to_dict()
            outputs.put_bytes(key, json.dumps(report, indent=2).encode())
        except Exception:
            log.exception("cannot record the run's cost", extra={"job_id": job.job_id})
