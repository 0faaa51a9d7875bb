"""Confused-deputy guards on every role an AWS service assumes, applied to the whole app.

An aspect rather than a condition at each ``iam.Role``: CDK creates roles of its own (each
Lambda's service role, the API's CloudWatch role, the site deployment's custom resource),
and a guard written per role would miss those.
"""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import IAspect, Stack
from aws_cdk import aws_iam as iam
from constructs import IConstruct

SOURCE_ACCOUNT = "aws:SourceAccount"


@jsii.implements(IAspect)
class ServiceTrustGuard:
    """Adds ``aws:SourceAccount`` = this account to each service-principal trust statement.

    ``StringEqualsIfExists``: a service acting for another account names that account, and
    is refused; AWS does not document for every service used here (Lambda, Glue, API
    Gateway) that it sends the key when it assumes an execution role, and a plain
    ``StringEquals`` would then refuse the service itself, which no test here can show.
    """

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, iam.CfnRole):
            return
        stack = Stack.of(node)
        document: dict[str, Any] = stack.resolve(node.assume_role_policy_document)
        changed = False
        for statement in document.get("Statement", []):
            if "Service" not in statement.get("Principal", {}):
                continue
            conditions = statement.setdefault("Condition", {})
            conditions.setdefault("StringEqualsIfExists", {})[SOURCE_ACCOUNT] = stack.account
            changed = True
        if changed:
            node.assume_role_policy_document = document
