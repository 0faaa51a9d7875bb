"""A WAF web ACL in front of the API stage: rate limits per caller and per client IP.

API Gateway's stage throttling is one bucket shared by every user, so one client could use
all of it; AWS WAF's rate-based rules count requests per key over a window and block a key
over its limit (403) until its rate falls, leaving everyone else served.

- ``PerCaller``: keyed by the ``Authorization`` header (the caller's Cognito token), so a
  signed-in user over the limit is blocked whatever addresses they use;
- ``PerIp``: keyed by the client IP, which also covers unauthenticated floods (requests
  without a token never reach a Lambda, but still cost the authorizer and the stage);
- AWS's IP reputation list (``AWSManagedRulesAmazonIpReputationList``): known bad sources.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

# WAF counts requests per key over this many seconds (one of 60, 120, 300, 600).
RATE_WINDOW_SECONDS = 300


def _visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )


def _rate_rule(name: str, priority: int, limit: int, **key: Any) -> wafv2.CfnWebACL.RuleProperty:
    return wafv2.CfnWebACL.RuleProperty(
        name=name,
        priority=priority,
        action=wafv2.CfnWebACL.RuleActionProperty(block={}),
        statement=wafv2.CfnWebACL.StatementProperty(
            rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                limit=limit, evaluation_window_sec=RATE_WINDOW_SECONDS, **key
            )
        ),
        visibility_config=_visibility(name),
    )


class ApiFirewall(Construct):
    """The web ACL and its association with the API's stage (``stage_arn``)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, name_prefix: str, stage_arn: str, per_caller: int, per_ip: int
    ) -> None:
        super().__init__(scope, construct_id)
        per_caller_key = wafv2.CfnWebACL.RateBasedStatementCustomKeyProperty(
            header=wafv2.CfnWebACL.RateLimitHeaderProperty(
                name="authorization",
                text_transformations=[wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")],
            )
        )
        reputation = wafv2.CfnWebACL.RuleProperty(
            name="IpReputation",
            priority=0,
            override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
            statement=wafv2.CfnWebACL.StatementProperty(
                managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                    vendor_name="AWS", name="AWSManagedRulesAmazonIpReputationList"
                )
            ),
            visibility_config=_visibility("IpReputation"),
        )
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=f"{name_prefix}-api",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(f"{name_prefix}-api"),
            rules=[
                reputation,
                _rate_rule("PerCaller", 1, per_caller, aggregate_key_type="CUSTOM_KEYS", custom_keys=[per_caller_key]),
                _rate_rule("PerIp", 2, per_ip, aggregate_key_type="IP"),
            ],
        )
        wafv2.CfnWebACLAssociation(self, "Association", resource_arn=stage_arn, web_acl_arn=self.web_acl.attr_arn)
