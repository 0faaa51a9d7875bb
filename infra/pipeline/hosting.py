"""The React app on a private S3 bucket behind CloudFront (origin access control)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

RUNTIME_CONFIG = "config.json"
CSP_FILE = Path(__file__).resolve().parents[2] / "frontend" / "csp.json"


def content_security_policy(connect_src: Sequence[str], policy_file: Path = CSP_FILE) -> str:
    """The web app's policy (``frontend/csp.json``, which ``etl up`` sends too), with the
    deployment's API, sign-in and file origins added to ``connect-src``."""
    directives = {k: v for k, v in json.loads(policy_file.read_text(encoding="utf-8")).items() if k != "$comment"}
    directives["connect-src"] = [*directives["connect-src"], *connect_src]
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


class Hosting(Construct):
    """Bucket and distribution are created first (their URL is the API's CORS origin); the site
    itself is published by :meth:`publish` once the API and user pool exist, because its
    ``config.json`` carries their ids."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        access_logs: s3.IBucket,
        log_retention_days: int,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Site",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="site/",
            removal_policy=removal_policy,
        )
        # CloudFront standard logs are delivered with ACLs, which the other buckets disable.
        self.cdn_logs = s3.Bucket(
            self,
            "CdnLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.OBJECT_WRITER,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="cdn-logs/",
            lifecycle_rules=[s3.LifecycleRule(id="expire-cdn-logs", expiration=Duration.days(log_retention_days))],
            removal_policy=removal_policy,
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="Parquet to JSON web app",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
            ),
            # Client-side routes (/jobs/123) are served the app shell.
            error_responses=[
                cloudfront.ErrorResponse(
                    http_status=status,
                    response_http_status=200,
                    response_page_path="/index.html",
                    ttl=Duration.seconds(0),
                )
                for status in (403, 404)
            ],
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            enable_logging=True,
            log_bucket=self.cdn_logs,
            log_file_prefix="cloudfront/",
        )

    @property
    def url(self) -> str:
        return f"https://{self.distribution.distribution_domain_name}"

    def publish(
        self, *, site_dir: Path, runtime_config: dict[str, Any], connect_src: Sequence[str]
    ) -> s3deploy.BucketDeployment:
        """Upload the built app plus a ``config.json`` generated from the stack's outputs, and
        serve it under its Content-Security-Policy, which may connect to ``connect_src``."""
        self._secure_headers(connect_src)
        return s3deploy.BucketDeployment(
            self,
            "Publish",
            sources=[
                s3deploy.Source.asset(str(site_dir)),
                s3deploy.Source.json_data(RUNTIME_CONFIG, runtime_config),
            ],
            destination_bucket=self.bucket,
            distribution=self.distribution,
            distribution_paths=["/index.html", f"/{RUNTIME_CONFIG}"],
            memory_limit=256,
        )

    def _secure_headers(self, connect_src: Sequence[str]) -> None:
        """The managed SecurityHeadersPolicy's headers plus the app's CSP. Attached here, once
        the API exists, rather than in the constructor: its origin is in ``connect-src``."""
        policy = cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment="Parquet to JSON web app: security headers and Content-Security-Policy",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=content_security_policy(connect_src), override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN, override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(365), include_subdomains=True, override=True
                ),
            ),
        )
        distribution = self.distribution.node.default_child
        assert isinstance(distribution, cloudfront.CfnDistribution)
        distribution.add_property_override(
            "DistributionConfig.DefaultCacheBehavior.ResponseHeadersPolicyId", policy.response_headers_policy_id
        )
