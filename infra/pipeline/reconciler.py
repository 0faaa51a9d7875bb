"""The reconciler: a Lambda an EventBridge schedule invokes every few minutes, which
relaunches or fails jobs no live run will move on (etl_lib/jobs/reconcile.py,
lambdas/reconciler/handler.py).

Its grants are exactly the calls one pass makes: query the sparse index of QUEUED and RUNNING jobs,
read and conditionally update them, start a run (Glue's StartJobRun, or the converter's
asynchronous Invoke), read a Glue run's state, and remove a dead attempt's files from
``outputs/``; and, sweeping the outputs' catalog, list its tables, read their jobs and drop
the tables of jobs gone or expired (GetTables and DeleteTable on that database, granted by
the stack with the catalog's other grants). It never reads an input or an output object.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_s3 as s3
from constructs import Construct

from etl_lib.jobs import env
from etl_lib.jobs.aws import ACTIVE_INDEX
from infra.pipeline.functions import FunctionSizing, ServiceFunctions, _allow
from infra.pipeline.storage import OUTPUT_PREFIX

RECONCILE_EVERY = Duration.minutes(5)
# One pass reads every QUEUED and RUNNING job and starts a few runs: seconds, well within this.
RECONCILER_SIZING = FunctionSizing(memory_mb=256, timeout_seconds=120)


class JobReconciler(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: ServiceFunctions,
        table: dynamodb.ITableV2,
        output_bucket: s3.IBucket,
        glue_job_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = functions.add_function(
            "Reconciler",
            "reconciler",
            sizing=RECONCILER_SIZING,
            description="Relaunches or fails stuck jobs (queued with no run, or whose run's lease lapsed).",
            # It relaunches local-engine jobs on the converter, as the events Lambda starts them.
            extra_env={env.CONVERTER_FUNCTION_NAME: functions.converter.function_name},
        )
        # A missed pass is made up by the next one: no retries, so passes never pile up.
        self.schedule = events.Rule(
            self,
            "Schedule",
            description="Runs the job reconciler",
            schedule=events.Schedule.rate(RECONCILE_EVERY),
            targets=[targets.LambdaFunction(self.function, retry_attempts=0)],
        )
        glue_job_arn = Stack.of(self).format_arn(service="glue", resource="job", resource_name=glue_job_name)
        function = self.function
        _allow(function, ["dynamodb:GetItem", "dynamodb:UpdateItem"], [table.table_arn])
        _allow(function, ["dynamodb:Query"], [f"{table.table_arn}/index/{ACTIVE_INDEX}"])
        _allow(function, ["glue:StartJobRun", "glue:GetJobRun"], [glue_job_arn])
        _allow(function, ["lambda:InvokeFunction"], [functions.converter.function_arn])
        # A dead attempt's files (etl_lib ObjectStore.delete_prefix lists, then deletes).
        _allow(function, ["s3:ListBucket"], [output_bucket.bucket_arn])
        _allow(function, ["s3:DeleteObject"], [output_bucket.arn_for_objects(f"{OUTPUT_PREFIX}*")])
