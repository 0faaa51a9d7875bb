"""One user cannot starve everyone: the API's web ACL limits each caller and each IP, the
converter has its own reserved concurrency, and nobody signs up unless the stack allows it.
The default stack (the session's synth) and one with every switch turned the other way."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Annotations, Match, Template

from infra.config import InfraConfig
from infra.pipeline.firewall import RATE_WINDOW_SECONDS
from infra.pipeline.functions import handler_path
from tests.infra.conftest import Synth, infra_context

pytestmark = pytest.mark.xdist_group("infra")
DEFAULTS = InfraConfig()


def _web_app_config(raw: dict[str, Any], stack: Any, outdir: Any) -> dict[str, Any]:
    site = stack.get_logical_id(stack.hosting.bucket.node.default_child)
    (deployment,) = [
        r for r in raw["Resources"].values()
        if r["Type"] == "Custom::CDKBucketDeployment" and r["Properties"]["DestinationBucketName"] == {"Ref": site}
    ]  # fmt: skip
    key = deployment["Properties"]["SourceObjectKeys"][1].removesuffix(".zip")
    text = (outdir / f"asset.{key}" / "config.json").read_text()
    return dict(json.loads(re.sub(r"<<marker:0xbaba:\d+>>", '"deploy-time"', text)))


def _converter(raw: dict[str, Any]) -> dict[str, Any]:
    handler = handler_path("converter")
    (converter,) = [
        r["Properties"] for r in raw["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler") == handler
    ]  # fmt: skip
    return dict(converter)


def test_the_api_stage_is_behind_a_web_acl_limiting_each_caller_and_each_ip(synth: Synth) -> None:
    (acl,) = synth.resources("AWS::WAFv2::WebACL").values()
    props = acl["Properties"]
    assert (props["Scope"], props["DefaultAction"]) == ("REGIONAL", {"Allow": {}})
    rules = {rule["Name"]: rule for rule in props["Rules"]}
    per_caller = rules["PerCaller"]["Statement"]["RateBasedStatement"]
    assert per_caller["AggregateKeyType"] == "CUSTOM_KEYS"
    assert per_caller["CustomKeys"] == [
        {"Header": {"Name": "authorization", "TextTransformations": [{"Priority": 0, "Type": "NONE"}]}}
    ]
    assert per_caller["Limit"] == DEFAULTS.waf_requests_per_caller
    per_ip = rules["PerIp"]["Statement"]["RateBasedStatement"]
    assert (per_ip["AggregateKeyType"], per_ip["Limit"]) == ("IP", DEFAULTS.waf_requests_per_ip)
    for rule in (per_caller, per_ip):
        assert rule["EvaluationWindowSec"] == RATE_WINDOW_SECONDS
    assert rules["PerCaller"]["Action"] == rules["PerIp"]["Action"] == {"Block": {}}
    managed = rules["IpReputation"]["Statement"]["ManagedRuleGroupStatement"]
    assert managed == {"VendorName": "AWS", "Name": "AWSManagedRulesAmazonIpReputationList"}
    stage = synth.logical_id(synth.stack.api.rest_api.deployment_stage)
    acl_id = synth.logical_id(synth.stack.firewall.web_acl)
    synth.template.has_resource_properties(
        "AWS::WAFv2::WebACLAssociation", {"WebACLArn": {"Fn::GetAtt": [acl_id, "Arn"]}}
    )
    (association,) = synth.resources("AWS::WAFv2::WebACLAssociation").values()
    assert stage in json.dumps(association["Properties"]["ResourceArn"]), "the ACL guards the API's stage"


def test_the_api_functions_get_the_per_user_spark_limit(synth: Synth) -> None:
    from etl_lib.jobs import env

    assert 0 < DEFAULTS.max_spark_jobs_per_user < DEFAULTS.glue_max_concurrent_runs
    (upload,) = [
        r["Properties"] for r in synth.raw["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler") == handler_path("upload")
    ]  # fmt: skip
    variables = upload["Environment"]["Variables"]
    assert variables[env.MAX_SPARK_JOBS_PER_USER] == str(DEFAULTS.max_spark_jobs_per_user)


def test_the_converter_has_its_own_reserved_concurrency(synth: Synth) -> None:
    assert DEFAULTS.converter_reserved_concurrency > 0
    assert _converter(synth.raw)["ReservedConcurrentExecutions"] == DEFAULTS.converter_reserved_concurrency


def test_self_sign_up_is_off_by_default_and_the_web_app_offers_none(synth: Synth) -> None:
    assert DEFAULTS.self_sign_up is False
    synth.template.has_resource_properties(
        "AWS::Cognito::UserPool", {"AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True}}
    )
    assert _web_app_config(synth.raw, synth.stack, synth.outdir)["auth"]["selfSignUp"] is False


@pytest.fixture(scope="module")
def switched(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, Any], Any]:
    """The stack with the WAF off, self sign-up on and no reserved converter concurrency."""
    from infra.app import build_app

    outdir = tmp_path_factory.mktemp("cdk.out.switched")
    context = infra_context(**{"etl:waf": False, "etl:selfSignUp": True, "etl:converterReservedConcurrency": 0})
    app, stack = build_app(context, outdir=str(outdir))
    assembly = app.synth()
    template = Path(assembly.get_stack_by_name(stack.stack_name).template_full_path)
    raw = json.loads(template.read_text(encoding="utf-8"))
    return stack, raw, outdir


def test_each_protection_can_be_switched_and_nag_stays_clean(switched: tuple[Any, dict[str, Any], Any]) -> None:
    stack, raw, outdir = switched
    kinds = {r["Type"] for r in raw["Resources"].values()}
    assert "AWS::WAFv2::WebACL" not in kinds and "AWS::WAFv2::WebACLAssociation" not in kinds
    assert "ReservedConcurrentExecutions" not in _converter(raw)
    Template.from_json(raw).has_resource_properties(
        "AWS::Cognito::UserPool", {"AdminCreateUserConfig": {"AllowAdminCreateUserOnly": False}}
    )
    assert _web_app_config(raw, stack, outdir)["auth"]["selfSignUp"] is True
    annotations = Annotations.from_stack(stack)
    found = [
        str(m.entry.data)[:160]
        for kind in ("find_error", "find_warning")
        for m in getattr(annotations, kind)("*", Match.string_like_regexp("AwsSolutions-.*"))
    ]
    assert found == [], "every finding of the switched stack is acknowledged, with its reason"


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("converter_reserved_concurrency", -1, "converterReservedConcurrency"),
        ("max_spark_jobs_per_user", InfraConfig().glue_max_concurrent_runs, "maxSparkJobsPerUser"),
        ("waf_requests_per_ip", 5, "wafRequestsPerIp"),
        ("waf_requests_per_caller", 3_000_000_000, "wafRequestsPerCaller"),
    ],
)
def test_protection_settings_out_of_range_are_refused(setting: str, value: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        InfraConfig(**{setting: value})  # type: ignore[arg-type]
