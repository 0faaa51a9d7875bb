"""Input, output and access-log buckets."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

# Server-chosen key prefixes (etl_lib.jobs.models): inputs/<job_id>/input.parquet and
# outputs/<job_id>/output.<ext> + report.json.
UPLOAD_PREFIX = "inputs/"
OUTPUT_PREFIX = "outputs/"


class Storage(Construct):
    """Private, encrypted, TLS-only buckets whose objects expire.

    The input bucket sends its events to EventBridge (the events Lambda reacts to Object
    Created); both data buckets accept the browser's presigned POST / GET through CORS.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        input_retention_days: int,
        output_retention_days: int,
        access_log_retention_days: int,
        abort_multipart_days: int,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)

        # S3 server access logs can only go to an SSE-S3 bucket, and this bucket cannot log to itself.
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=False,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(access_log_retention_days),
                    abort_incomplete_multipart_upload_after=Duration.days(abort_multipart_days),
                )
            ],
            removal_policy=removal_policy,
        )

        self.input_bucket = self._data_bucket(
            "Input",
            retention_days=input_retention_days,
            abort_multipart_days=abort_multipart_days,
            removal_policy=removal_policy,
        )
        self.output_bucket = self._data_bucket(
            "Output",
            retention_days=output_retention_days,
            abort_multipart_days=abort_multipart_days,
            removal_policy=removal_policy,
        )
        # Only the input bucket's events drive the pipeline; enabled on the L1 resource so CDK
        # does not add its notifications custom-resource Lambda.
        cfn_input = self.input_bucket.node.default_child
        assert isinstance(cfn_input, s3.CfnBucket)
        cfn_input.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True)
        )

    def _data_bucket(
        self, name: str, *, retention_days: int, abort_multipart_days: int, removal_policy: RemovalPolicy
    ) -> s3.Bucket:
        return s3.Bucket(
            self,
            name,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=f"{name.lower()}/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id=f"expire-{name.lower()}",
                    expiration=Duration.days(retention_days),
                    abort_incomplete_multipart_upload_after=Duration.days(abort_multipart_days),
                )
            ],
            removal_policy=removal_policy,
        )

    def allow_browser_origins(self, origins: list[str]) -> None:
        """CORS for the web app: presigned POST and UploadPart (PUT) to the input bucket, whose
        ETag the uploader reads; presigned GET of results."""
        self.input_bucket.add_cors_rule(
            allowed_methods=[s3.HttpMethods.POST, s3.HttpMethods.PUT],
            allowed_origins=origins,
            allowed_headers=["*"],
            exposed_headers=["ETag"],
            max_age=3000,
        )
        self.output_bucket.add_cors_rule(
            allowed_methods=[s3.HttpMethods.GET, s3.HttpMethods.HEAD],
            allowed_origins=origins,
            allowed_headers=["*"],
            exposed_headers=["ETag", "Content-Length", "Content-Disposition"],
            max_age=3000,
        )
