"""Dashboard and alarms. Alarms (and Glue failure events) notify an encrypted SNS topic."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

# The series the code publishes (etl_lib.jobs.metrics, the one catalogue): documented in docs/deploy.md.
from etl_lib.jobs.metrics import (
    JOB_DURATION_MS,
    JOBS_CREATED,
    JOBS_FAILED,
    JOBS_SUCCEEDED,
    UPLOADS_REJECTED,
    UPLOADS_STARTED,
    VALIDATION_FAILURES,
    Metric,
)

FIVE_MINUTES = Duration.minutes(5)


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        dashboard_name: str,
        metrics_namespace: str,
        key: kms.IKey,
        rest_api: apigw.RestApi,
        functions: dict[str, lambda_.IFunction],
        dead_letter_queues: dict[str, sqs.IQueue],
        glue_job_names: list[str],
        alarm_emails: list[str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "Alarms", display_name="Parquet to JSON alarms", master_key=key, enforce_ssl=True)
        for email in alarm_emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        action = cw_actions.SnsAction(self.topic)

        def custom(metric: Metric, statistic: str = "Sum") -> cw.Metric:
            name, service = metric
            return cw.Metric(
                namespace=metrics_namespace,
                metric_name=name,
                dimensions_map={"service": service} if service else None,
                statistic=statistic,
                period=FIVE_MINUTES,
            )

        def glue(name: str, job: str) -> cw.Metric:
            return cw.Metric(
                namespace="Glue",
                metric_name=name,
                dimensions_map={"JobName": job, "JobRunId": "ALL", "Type": "count"},
                statistic="Sum",
                period=FIVE_MINUTES,
            )

        self.alarms: list[cw.Alarm] = []

        def alarm(construct_id: str, metric: cw.IMetric, description: str, threshold: float = 1) -> None:
            created = cw.Alarm(
                self,
                construct_id,
                metric=metric,
                threshold=threshold,
                evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
                alarm_description=description,
            )
            created.add_alarm_action(action)
            self.alarms.append(created)

        alarm("JobsFailedAlarm", custom(JOBS_FAILED), "Conversion jobs ended FAILED")
        alarm("UploadsRejectedAlarm", custom(UPLOADS_REJECTED), "Uploads rejected (not Parquet, too large...)", 5)
        alarm("ValidationAlarm", custom(VALIDATION_FAILURES, "Maximum"), "Scheduled validation found bad results")
        alarm("Api5xxAlarm", rest_api.metric_server_error(period=FIVE_MINUTES), "API returned 5xx")
        for name, function in functions.items():
            alarm(
                f"{name.capitalize()}ErrorsAlarm", function.metric_errors(period=FIVE_MINUTES), f"{name} Lambda errors"
            )
            alarm(
                f"{name.capitalize()}ThrottlesAlarm",
                function.metric_throttles(period=FIVE_MINUTES),
                f"{name} Lambda throttled",
            )
        for name, queue in dead_letter_queues.items():
            alarm(
                f"{name}DlqAlarm",
                queue.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES, statistic="Maximum"),
                f"Undelivered events in the {name} dead-letter queue",
            )

        # A Glue run that fails, times out or errors is pushed straight to the topic as well.
        self.glue_failure_rule = events.Rule(
            self,
            "GlueFailures",
            description="Glue runs of this stack that did not succeed",
            event_pattern=events.EventPattern(
                source=["aws.glue"],
                detail_type=["Glue Job State Change"],
                detail={"jobName": glue_job_names, "state": ["FAILED", "TIMEOUT", "ERROR"]},
            ),
            targets=[targets.SnsTopic(self.topic)],
        )

        lambda_errors = [f.metric_errors(period=FIVE_MINUTES, label=n) for n, f in functions.items()]
        lambda_throttles = [f.metric_throttles(period=FIVE_MINUTES, label=n) for n, f in functions.items()]
        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=dashboard_name)
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Jobs",
                left=[
                    custom(JOBS_CREATED),
                    custom(UPLOADS_STARTED),
                    custom(JOBS_SUCCEEDED),
                    custom(JOBS_FAILED),
                    custom(UPLOADS_REJECTED),
                ],
                width=12,
            ),
            cw.GraphWidget(
                title="Job duration (ms)",
                left=[
                    custom(JOB_DURATION_MS, "Average"),
                    custom(JOB_DURATION_MS, "p90"),
                    custom(JOB_DURATION_MS, "Maximum"),
                ],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="API errors",
                left=[
                    rest_api.metric_client_error(period=FIVE_MINUTES),
                    rest_api.metric_server_error(period=FIVE_MINUTES),
                ],
                right=[rest_api.metric_count(period=FIVE_MINUTES)],
                width=12,
            ),
            cw.GraphWidget(
                title="API latency (ms)",
                left=[
                    rest_api.metric_latency(period=FIVE_MINUTES, statistic="p50"),
                    rest_api.metric_latency(period=FIVE_MINUTES, statistic="p99"),
                    rest_api.metric_integration_latency(period=FIVE_MINUTES, statistic="p99"),
                ],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Lambda errors", left=lambda_errors, width=12),
            cw.GraphWidget(title="Lambda throttles", left=lambda_throttles, width=12),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Glue failures",
                left=[
                    glue("glue.driver.aggregate.numFailedTasks", job).with_(label=f"{job} failed tasks")
                    for job in glue_job_names
                ],
                right=[
                    custom(VALIDATION_FAILURES, "Maximum"),
                    cw.Metric(
                        namespace="AWS/Events",
                        metric_name="TriggeredRules",
                        dimensions_map={"RuleName": self.glue_failure_rule.rule_name},
                        statistic="Sum",
                        period=FIVE_MINUTES,
                        label="failed Glue runs",
                    ),
                ],
                width=12,
            ),
            cw.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=12),
        )
