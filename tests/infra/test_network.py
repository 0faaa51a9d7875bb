"""VPC isolation (``-c etl:vpc=true``) and its absence by default, on synthesized templates."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from infra import assets
from tests.infra.conftest import ARTIFACTS, Synth, installed_urls, staged_asset, synthesize
from tests.infra.test_cfn_lint import assert_cfn_lint_clean

# Aliased: under their own names pytest would collect them here a second time.
from tests.infra.test_nag import test_no_other_synth_warnings_or_errors as assert_no_other_findings
from tests.infra.test_nag import test_no_unacknowledged_errors as assert_no_nag_errors
from tests.infra.test_nag import test_no_unacknowledged_warnings as assert_no_nag_warnings
from tests.infra.test_template import OUR_FUNCTIONS, as_list, function_id, statements_of_role

pytestmark = pytest.mark.xdist_group("infra")

INTERFACE_SERVICES = {"glue", "sts", "logs", "monitoring", "xray", "lambda", "kms"}


@pytest.fixture(scope="module")
def vpc_synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synth]:
    """The app synthesized offline with etl:vpc=true (beside conftest.py's default one)."""
    yield from synthesize(tmp_path_factory.mktemp("cdk.out.vpc"), **{"etl:vpc": "true"})


def service_of(endpoint: dict[str, Any]) -> str:
    """``glue`` of ``com.amazonaws.eu-west-1.glue`` (or of its Fn::Join form, as gateways have)."""
    name = endpoint["Properties"]["ServiceName"]
    text = name if isinstance(name, str) else "".join(p for p in name["Fn::Join"][1] if isinstance(p, str))
    return text.rsplit(".", 1)[-1]


def test_by_default_there_is_no_vpc_and_nothing_is_placed_in_one(synth: Synth) -> None:
    assert synth.stack.network is None
    for kind in ("AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::VPCEndpoint", "AWS::Glue::Connection"):
        assert synth.resources(kind) == {}, kind
    for name in OUR_FUNCTIONS:
        assert "VpcConfig" not in synth.raw["Resources"][function_id(synth, name)]["Properties"], name


def test_the_vpc_has_isolated_subnets_in_two_zones_and_no_way_to_the_internet(vpc_synth: Synth) -> None:
    assert len(vpc_synth.resources("AWS::EC2::VPC")) == 1
    subnets = vpc_synth.resources("AWS::EC2::Subnet").values()
    assert sorted(s["Properties"]["AvailabilityZone"] for s in subnets) == ["eu-west-1a", "eu-west-1b"]
    assert all(s["Properties"]["MapPublicIpOnLaunch"] is False for s in subnets)
    outside = ("AWS::EC2::NatGateway", "AWS::EC2::InternetGateway", "AWS::EC2::VPCGatewayAttachment", "AWS::EC2::EIP")
    for kind in outside:
        assert vpc_synth.resources(kind) == {}, kind
    # No route at all besides the gateway endpoints' (which are not AWS::EC2::Route resources).
    assert vpc_synth.resources("AWS::EC2::Route") == {}
    flow_logs = list(vpc_synth.resources("AWS::EC2::FlowLog").values())
    assert [f["Properties"]["ResourceType"] for f in flow_logs] == ["VPC"]


def test_s3_and_dynamodb_are_gateway_endpoints_on_every_route_table(vpc_synth: Synth) -> None:
    tables = sorted(vpc_synth.resources("AWS::EC2::RouteTable"))
    assert len(tables) == 2
    gateways = {
        service_of(e): e["Properties"]
        for e in vpc_synth.resources("AWS::EC2::VPCEndpoint").values()
        if e["Properties"]["VpcEndpointType"] == "Gateway"
    }
    assert set(gateways) == {"s3", "dynamodb"}
    for props in gateways.values():
        assert sorted(t["Ref"] for t in props["RouteTableIds"]) == tables


def test_the_services_the_functions_and_glue_call_are_private_interface_endpoints(vpc_synth: Synth) -> None:
    subnets = sorted(vpc_synth.resources("AWS::EC2::Subnet"))
    interfaces = {
        service_of(e): e["Properties"]
        for e in vpc_synth.resources("AWS::EC2::VPCEndpoint").values()
        if e["Properties"]["VpcEndpointType"] == "Interface"
    }
    assert set(interfaces) == INTERFACE_SERVICES
    group = vpc_synth.logical_id(vpc_synth.stack.network.endpoints_security_group)
    for service, props in interfaces.items():
        assert props["PrivateDnsEnabled"] is True, service
        assert sorted(s["Ref"] for s in props["SubnetIds"]) == subnets, service
        assert props["SecurityGroupIds"] == [{"Fn::GetAtt": [group, "GroupId"]}], service
    # The endpoints take HTTPS from inside the VPC only.
    rules = vpc_synth.raw["Resources"][group]["Properties"]["SecurityGroupIngress"]
    https = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443}
    assert rules == [{"CidrIp": "10.42.0.0/16", "Description": "HTTPS from the VPC", **https}]


def test_every_lambda_runs_in_the_isolated_subnets_with_its_security_group(vpc_synth: Synth) -> None:
    subnets = sorted(vpc_synth.resources("AWS::EC2::Subnet"))
    group = vpc_synth.logical_id(vpc_synth.stack.network.functions_security_group)
    for name in OUR_FUNCTIONS:
        config = vpc_synth.raw["Resources"][function_id(vpc_synth, name)]["Properties"]["VpcConfig"]
        assert sorted(s["Ref"] for s in config["SubnetIds"]) == subnets, name
        assert config["SecurityGroupIds"] == [{"Fn::GetAtt": [group, "GroupId"]}], name
    egress = vpc_synth.raw["Resources"][group]["Properties"]["SecurityGroupEgress"]
    assert [(r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in egress] == [("tcp", 443, 443)]


def test_the_glue_job_runs_through_a_network_connection_with_a_self_referencing_group(vpc_synth: Synth) -> None:
    network = vpc_synth.stack.network
    (connection,) = vpc_synth.resources("AWS::Glue::Connection").values()
    spec = connection["Properties"]["ConnectionInput"]
    assert spec["ConnectionType"] == "NETWORK"
    group = vpc_synth.logical_id(network.glue_security_group)
    requirements = spec["PhysicalConnectionRequirements"]
    assert requirements["SecurityGroupIdList"] == [{"Fn::GetAtt": [group, "GroupId"]}]
    assert requirements["SubnetId"]["Ref"] in vpc_synth.resources("AWS::EC2::Subnet")
    job = vpc_synth.raw["Resources"][vpc_synth.logical_id(vpc_synth.stack.etl.job)]["Properties"]
    assert job["Connections"] == {"Connections": [spec["Name"]]}

    # Glue requires the group to let its workers reach one another on every TCP port.
    self_reference = {"Fn::GetAtt": [group, "GroupId"]}
    ingress = [
        r["Properties"]
        for r in vpc_synth.resources("AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == self_reference
    ]
    assert [(r["SourceSecurityGroupId"], r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in ingress] == [
        (self_reference, "tcp", 0, 65535)
    ]

    # The job's role may read the connection and manage its workers' network interfaces.
    role = vpc_synth.logical_id(vpc_synth.stack.etl.role)
    actions = {a for s in statements_of_role(vpc_synth, role) for a in as_list(s["Action"])}
    assert {"glue:GetConnection", "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface"} <= actions


@pytest.mark.parametrize("mode", ["default", "vpc"])
def test_glue_jobs_install_only_staged_wheels_and_never_consult_an_index(
    synth: Synth, vpc_synth: Synth, mode: str
) -> None:
    """The isolated subnets reach S3 (its gateway endpoint) and no index: every module a Glue
    job installs is a wheel file the artifacts deployment uploads, and pip is told --no-index."""
    built = vpc_synth if mode == "vpc" else synth
    uploaded = {path.name for path in (staged_asset(built) / "wheels").glob("*.whl")}
    for job, roots in ((built.stack.etl.job, ()), (built.stack.validation.job, assets.NOTEBOOK_MODULES)):
        args = built.raw["Resources"][built.logical_id(job)]["Properties"]["DefaultArguments"]
        urls = installed_urls(built, args["--additional-python-modules"])
        assert "--no-index" in args["--python-modules-installer-option"].split()
        prefix = f"s3://{ARTIFACTS}/glue/wheels/"
        assert all(url.startswith(prefix) for url in urls)
        names = [url.removeprefix(prefix) for url in urls]
        assert set(names) <= uploaded
        assert names[0] == assets.wheel_name()
        closure = assets.runtime_closure(*assets.wheel_requirements(), *roots)
        assert dict(assets.wheel_identity(name) for name in names[1:]) == closure


def test_the_vpc_mode_synthesizes_cdk_nag_clean(vpc_synth: Synth) -> None:
    assert_no_nag_errors(vpc_synth)
    assert_no_nag_warnings(vpc_synth)
    assert_no_other_findings(vpc_synth)


def test_the_vpc_mode_template_passes_cfn_lint(vpc_synth: Synth) -> None:
    assert_cfn_lint_clean(vpc_synth.template_path)
