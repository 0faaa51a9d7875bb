"""VPC isolation (``-c etl:vpc=true``): the Lambdas and the Glue job without a route to the internet.

Private isolated subnets in two Availability Zones, no NAT gateway and no internet gateway:
every AWS API the functions and the Glue job call is reached through a VPC endpoint, S3 and
DynamoDB through gateway endpoints (free, routed by the subnets' route tables), the others
through interface endpoints (private DNS, so the SDKs' default endpoints resolve to them).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

HTTPS = ec2.Port.tcp(443)

# The interface endpoints, and who needs each: Glue (the events Lambda starts and reads runs;
# a Glue run reads its connection), STS (the SDKs' credentials in a Glue run), CloudWatch Logs
# (a Glue run's logs, encrypted with the stack's key: KMS), CloudWatch (the Glue run's
# PutMetricData), X-Ray (the functions' active tracing) and Lambda (the events Lambda invokes
# the converter). Cognito is called by browsers and API Gateway, never from inside the VPC.
INTERFACE_ENDPOINTS: dict[str, ec2.InterfaceVpcEndpointAwsService] = {
    "Glue": ec2.InterfaceVpcEndpointAwsService.GLUE,
    "Sts": ec2.InterfaceVpcEndpointAwsService.STS,
    "Logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "Monitoring": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
    "XRay": ec2.InterfaceVpcEndpointAwsService.XRAY,
    "Lambda": ec2.InterfaceVpcEndpointAwsService.LAMBDA_,
    "Kms": ec2.InterfaceVpcEndpointAwsService.KMS,
}
GATEWAY_ENDPOINTS: dict[str, ec2.GatewayVpcEndpointAwsService] = {
    "S3": ec2.GatewayVpcEndpointAwsService.S3,
    "DynamoDb": ec2.GatewayVpcEndpointAwsService.DYNAMODB,
}


class Network(Construct):
    """The VPC, its endpoints, the functions' security group and the Glue job's connection."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        cidr: str,
        availability_zones: Sequence[str],
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            # Named, not looked up: synth stays offline (infra/config.py's vpc_availability_zones).
            availability_zones=list(availability_zones),
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=20)
            ],
        )
        self.subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        flow_logs = logs.LogGroup(self, "FlowLogs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY)
        self.vpc.add_flow_log("FlowLog", destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs))

        for name, gateway in GATEWAY_ENDPOINTS.items():
            self.vpc.add_gateway_endpoint(name, service=gateway, subnets=[self.subnets])
        # One security group for the interface endpoints: HTTPS from inside the VPC only.
        self.endpoints_security_group = ec2.SecurityGroup(
            self,
            "EndpointsSecurityGroup",
            vpc=self.vpc,
            description="The interface endpoints: HTTPS from the VPC",
            allow_all_outbound=False,
        )
        # The CIDR as configured, not the VPC's attribute: the same range, readable at synth
        # (cdk-nag checks the rule opens nothing beyond it).
        self.endpoints_security_group.add_ingress_rule(ec2.Peer.ipv4(cidr), HTTPS, "HTTPS from the VPC")
        for name, interface in INTERFACE_ENDPOINTS.items():
            self.vpc.add_interface_endpoint(
                name,
                service=interface,
                subnets=self.subnets,
                private_dns_enabled=True,
                security_groups=[self.endpoints_security_group],
                open=False,
            )

        # The functions call AWS APIs only (HTTPS): with no route out but the endpoints', that
        # is all they can reach.
        self.functions_security_group = ec2.SecurityGroup(
            self,
            "FunctionsSecurityGroup",
            vpc=self.vpc,
            description="The pipeline Lambda functions: HTTPS to the VPC endpoints",
            allow_all_outbound=False,
        )
        self.functions_security_group.add_egress_rule(ec2.Peer.any_ipv4(), HTTPS, "HTTPS to the VPC endpoints")

        # Glue requires its workers' security group to let them reach one another on every
        # TCP port (a self-referencing rule), and HTTPS out to S3 and the endpoints.
        self.glue_security_group = ec2.SecurityGroup(
            self,
            "GlueSecurityGroup",
            vpc=self.vpc,
            description="Glue job workers: every TCP port among themselves, HTTPS to the VPC endpoints",
            allow_all_outbound=False,
        )
        self.glue_security_group.add_ingress_rule(
            self.glue_security_group, ec2.Port.all_tcp(), "Glue workers reach one another"
        )
        self.glue_security_group.add_egress_rule(
            self.glue_security_group, ec2.Port.all_tcp(), "Glue workers reach one another"
        )
        self.glue_security_group.add_egress_rule(ec2.Peer.any_ipv4(), HTTPS, "HTTPS to S3 and the VPC endpoints")

        # A NETWORK connection puts a Glue run's workers in one subnet (Glue runs in one AZ).
        subnet = self.vpc.isolated_subnets[0]
        self.glue_connection_name = f"{name_prefix}-network"
        self.glue_connection = glue.CfnConnection(
            self,
            "GlueConnection",
            catalog_id=Stack.of(self).account,
            connection_input=glue.CfnConnection.ConnectionInputProperty(
                name=self.glue_connection_name,
                connection_type="NETWORK",
                description="The conversion job's workers in the pipeline's isolated VPC",
                physical_connection_requirements=glue.CfnConnection.PhysicalConnectionRequirementsProperty(
                    availability_zone=subnet.availability_zone,
                    subnet_id=subnet.subnet_id,
                    security_group_id_list=[self.glue_security_group.security_group_id],
                ),
            ),
        )

    def allow_glue(self, role: iam.IRole) -> None:
        """What a Glue job's role needs to run in the connection's subnet: read the connection,
        create and remove its workers' network interfaces, and read the network it joins
        (EC2's Describe calls and CreateNetworkInterface have no resource-level scoping here)."""
        stack = Stack.of(self)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["glue:GetConnection"],
                resources=[
                    stack.format_arn(service="glue", resource="catalog"),
                    stack.format_arn(service="glue", resource="connection", resource_name=self.glue_connection_name),
                ],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "ec2:CreateNetworkInterface",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeRouteTables",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeVpcAttribute",
                    "ec2:DescribeVpcEndpoints",
                ],
                resources=["*"],
            )
        )
        # Glue tags the interfaces it creates, and only those.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ec2:CreateTags", "ec2:DeleteTags"],
                resources=[stack.format_arn(service="ec2", resource="network-interface", resource_name="*")],
                conditions={"ForAllValues:StringEquals": {"aws:TagKeys": ["aws-glue-service-resource"]}},
            )
        )
