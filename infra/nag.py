"""cdk-nag (AwsSolutions) acknowledgements.

Each one names a rule, the exact finding (``applies_to`` for IAM4/IAM5: which policy or which
wildcard resource), the one construct it is on, and why the finding is accepted. Nothing is
suppressed stack-wide. Anything not listed here fails the tests (tests/infra/test_nag.py).
The app (infra/app.py) applies them to its stack, beside the AwsSolutions pack itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from aws_cdk import CfnResource, Stack
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import IConstruct

from infra.pipeline.etl import SPARK_UI_PREFIX, TEMP_PREFIX, glue_log_groups_arn

if TYPE_CHECKING:
    from infra.stack import PipelineStack

BASIC_EXECUTION = "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
VPC_ACCESS = "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
API_GATEWAY_LOGS = "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
XRAY = "X-Ray PutTraceSegments/PutTelemetryRecords have no resource-level permissions (Tracing.ACTIVE)."
RUNTIME = (
    "Python 3.13 is the runtime the project targets (pyproject requires-python >=3.13,<3.14) "
    "and the Powertools layer is built for; moving to 3.14 is a project-wide decision."
)


def objects(stack: Stack, bucket: IConstruct, pattern: str) -> str:
    """The ``applies_to`` text cdk-nag prints for ``<bucket ARN>/<pattern>``."""
    default_child = bucket.node.default_child
    assert isinstance(default_child, CfnResource)
    return f"Resource::<{stack.get_logical_id(default_child)}.Arn>/{pattern}"


def ack(
    construct: IConstruct, rule: str, reason: str, applies_to: Sequence[str | RegexAppliesTo] | None = None
) -> None:
    findings = None if applies_to is None else list(applies_to)
    NagSuppressions.add_resource_suppressions(
        construct,
        [NagPackSuppression(id=rule, reason=reason, applies_to=findings)],
        apply_to_children=True,
    )


def acknowledge_findings(stack: PipelineStack) -> None:
    storage, functions, etl, validation = stack.storage, stack.functions, stack.etl, stack.validation
    input_bucket, output_bucket = storage.input_bucket, storage.output_bucket
    artifacts = stack.artifacts.bucket

    # --- Lambdas -----------------------------------------------------------------------------
    for function in functions.all.values():
        assert function.role is not None
        ack(
            function.role,
            "AwsSolutions-IAM4",
            "AWSLambdaBasicExecutionRole only allows writing the function's CloudWatch logs.",
            [BASIC_EXECUTION],
        )
        ack(function.role, "AwsSolutions-IAM5", XRAY, ["Resource::*"])
        ack(function, "AwsSolutions-L1", RUNTIME)
    upload_keys = objects(stack, input_bucket, "inputs/*")
    output_keys = objects(stack, output_bucket, "outputs/*")
    ack(
        functions.upload.role,  # type: ignore[arg-type]
        "AwsSolutions-IAM5",
        "Presigned POST for a server-chosen key under inputs/; the key is only known per request.",
        [upload_keys],
    )
    ack(
        functions.status.role,  # type: ignore[arg-type]
        "AwsSolutions-IAM5",
        "DELETE /jobs/{job_id} removes that job's upload and results, and GET /jobs/{job_id}/report "
        "reads that job's run report (report.json objects only); the keys are per job.",
        [upload_keys, output_keys, objects(stack, output_bucket, "outputs/*/report.json")],
    )
    ack(
        functions.download.role,  # type: ignore[arg-type]
        "AwsSolutions-IAM5",
        "Presigned GET of one job's result; the key is per job (owner checked in the handler).",
        [output_keys],
    )
    ack(
        functions.events.role,  # type: ignore[arg-type]
        "AwsSolutions-IAM5",
        "Reads the head and tail of each new upload (PAR1 check) and a lost run's report, and adds an "
        "ended Glue run's cost to its report (report.json objects only); keys are per job.",
        [upload_keys, output_keys, objects(stack, output_bucket, "outputs/*/report.json")],
    )
    ack(
        stack.run_role.role,
        "AwsSolutions-IAM5",
        "The run role reaches every job's upload and outputs; each run's session policy cuts it "
        "down to one job's (etl_lib.jobs.aws.job_session_policy).",
        [upload_keys, output_keys],
    )
    ack(
        stack.reconciler.function.role,  # type: ignore[arg-type]
        "AwsSolutions-IAM5",
        "Removes a dead run's files under its job's outputs/ folder; keys are per job.",
        [output_keys],
    )

    # --- the outputs' catalog tables ------------------------------------------------------------
    tables = f"Resource::{stack.catalog.resource_arns[-1]}"
    for role, who in (
        (stack.run_role.role, "A run (in its job-scoped session) registers"),
        (functions.status.role, "DELETE /jobs/{job_id} drops"),
        (stack.reconciler.function.role, "The reconciler, ending a dead attempt, drops"),
    ):
        assert role is not None
        ack(
            role,
            "AwsSolutions-IAM5",
            f"{who} the table of one job's output; the table name is per job attempt, in the outputs' "
            "catalog database only.",
            [tables],
        )

    # --- Glue roles ----------------------------------------------------------------------------
    glue_common = [
        "Resource::*",
        objects(stack, artifacts, "glue/*"),
        objects(stack, artifacts, f"{TEMP_PREFIX}*"),
        objects(stack, artifacts, f"{SPARK_UI_PREFIX}*"),
        f"Resource::{glue_log_groups_arn(stack)}",
    ]
    glue_reason = (
        "Glue run essentials: its scripts and wheel (glue/*), Spark scratch (glue/temp/*), Spark UI "
        "event logs (glue/spark-ui/*), its log "
        "groups (/aws-glue/*, names chosen by Glue) and cloudwatch:PutMetricData, which has no "
        "resource-level permissions and is limited by a namespace condition."
    )
    ack(etl.role, "AwsSolutions-IAM5", glue_reason, glue_common)
    sources = stack.engineer_sources.policy
    if sources is not None:
        ack(
            sources,
            "AwsSolutions-IAM5",
            "Data engineers convert any dataset of the allow-listed buckets and any table of the allow-listed "
            "catalog databases (etl:sourceBuckets, etl:sourceDatabases): their objects and tables, by name.",
            [
                RegexAppliesTo(regex=r"/^Resource::arn:[^:]+:s3:::[a-z0-9.-]+\/\*$/"),
                RegexAppliesTo(regex=r"/^Resource::arn:[^:]+:glue:[^:]+:[^:]+:table\/[\w-]+\/\*$/"),
            ],
        )
    ack(validation.role, "AwsSolutions-IAM5", glue_reason, glue_common)
    ack(
        validation.role,
        "AwsSolutions-IAM5",
        "Reads each validated job's upload and result (keys per job), writes each job's executed notebook "
        "and summary in that job's output folder (outputs/<job>/validation/, deleted with the job) and the "
        "run's summary under validation/.",
        [
            upload_keys,
            output_keys,
            objects(stack, output_bucket, "validation/*"),
            objects(stack, output_bucket, "outputs/*/validation/*"),
        ],
    )
    sessions = stack.sessions.role
    ack(sessions, "AwsSolutions-IAM5", glue_reason, glue_common)
    ack(
        sessions,
        "AwsSolutions-IAM5",
        "A data engineer's notebook reads any job's upload and result and writes its reports under validation/.",
        [upload_keys, output_keys, objects(stack, output_bucket, "validation/*")],
    )
    ack(
        etl.events_dlq,
        "AwsSolutions-SQS3",
        "This queue is itself the dead-letter queue of the EventBridge rule targets.",
    )

    if stack.network is not None:
        _acknowledge_network(stack)

    # --- API and Cognito -----------------------------------------------------------------------
    api = stack.api
    cloud_watch_role = api.rest_api.node.find_child("CloudWatchRole")
    ack(
        cloud_watch_role,
        "AwsSolutions-IAM4",
        "The account-level API Gateway logging role; this AWS policy is the documented way.",
        [API_GATEWAY_LOGS],
    )
    if not stack.config.waf:
        ack(
            api.rest_api.deployment_stage,
            "AwsSolutions-APIG3",
            "The WAF web ACL is turned off in this environment (context etl:waf=false): every "
            "method still needs a Cognito token and the stage is throttled.",
        )
    ack(
        api.user_pool,
        "AwsSolutions-COG8",
        "Cognito Plus (threat protection) is a paid tier; Essentials with a strong password "
        "policy and optional TOTP MFA is the baseline here.",
    )
    if stack.config.cognito_mfa != "REQUIRED":
        ack(
            api.user_pool,
            "AwsSolutions-COG2",
            f"MFA is {stack.config.cognito_mfa} (context etl:cognitoMfa); set REQUIRED for production.",
        )

    # --- CloudFront ----------------------------------------------------------------------------
    distribution = stack.hosting.distribution
    ack(
        distribution,
        "AwsSolutions-CFR1",
        "A public web app for any country; the API behind it requires sign-in.",
    )
    ack(
        distribution,
        "AwsSolutions-CFR2",
        "Static files only (no API behind this distribution); no WAF web ACL by default (cost).",
    )
    ack(
        distribution,
        "AwsSolutions-CFR4",
        "Uses the default *.cloudfront.net certificate, whose TLS policy cannot be set; a custom "
        "domain with an ACM certificate and TLSv1.2_2021 is an environment choice.",
    )

    # --- CDK's BucketDeployment singleton handler ---------------------------------------------
    for child in stack.node.children:
        if child.node.id.startswith("Custom::CDKBucketDeployment"):
            ack(child, "AwsSolutions-L1", "CDK's BucketDeployment handler: its runtime is chosen by aws-cdk-lib.")
            ack(
                child,
                "AwsSolutions-IAM4",
                "CDK's BucketDeployment handler only writes its own logs with this policy.",
                [BASIC_EXECUTION],
            )
            ack(
                child,
                "AwsSolutions-IAM5",
                "CDK's BucketDeployment copies assets into the site and Glue artifact buckets and "
                "invalidates the distribution (cloudfront:CreateInvalidation is granted on *): "
                "generated by aws-cdk-lib, S3 access scoped to those buckets.",
                [
                    "Resource::*",
                    "Action::s3:Abort*",
                    "Action::s3:DeleteObject*",
                    "Action::s3:GetBucket*",
                    "Action::s3:GetObject*",
                    "Action::s3:List*",
                    objects(stack, artifacts, "*"),
                    objects(stack, stack.hosting.bucket, "*"),
                    RegexAppliesTo(
                        regex=r"/^Resource::arn:aws[a-z-]*:s3:::cdk-[a-z0-9]+-assets-\d{12}-[a-z0-9-]+\/\*$/g"
                    ),
                ],
            )


def _acknowledge_network(stack: PipelineStack) -> None:
    """VPC mode (etl:vpc=true): the functions' and the Glue job's network permissions."""
    interfaces = stack.format_arn(service="ec2", resource="network-interface", resource_name="*")
    for function in stack.functions.all.values():
        assert function.role is not None
        ack(
            function.role,
            "AwsSolutions-IAM4",
            "AWSLambdaVPCAccessExecutionRole only lets Lambda create and remove the function's network "
            "interfaces in the VPC; CDK attaches it to functions placed in a VPC.",
            [VPC_ACCESS],
        )
    ack(
        stack.etl.role,
        "AwsSolutions-IAM5",
        "A Glue run in the VPC creates, tags and removes its workers' network interfaces (their ids are not "
        "known in advance; tagging limited to Glue's own tag key) and reads the subnets, route tables, security "
        "groups and endpoints it joins: EC2's Describe calls and CreateNetworkInterface take no narrower resource.",
        ["Resource::*", f"Resource::{interfaces}"],
    )
