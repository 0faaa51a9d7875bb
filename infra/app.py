"""The CDK app: the one composition root. ``cdk.json`` runs ``python -m infra.app``.

Settings come from CDK context (cdk.json's ``context``, or ``-c etl:key=value``): see
infra/config.py and docs/deploy.md. cdk-nag's AwsSolutions pack checks the whole app on every
synth; its findings are printed as errors/warnings, and the tests require there be none.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import App, Aspects, Environment
from cdk_nag import AwsSolutionsChecks

from infra.config import InfraConfig
from infra.nag import acknowledge_findings
from infra.stack import PipelineStack
from infra.trust import ServiceTrustGuard

REPO = Path(__file__).resolve().parents[1]


def build_app(context: Mapping[str, Any] | None = None, outdir: str | None = None) -> tuple[App, PipelineStack]:
    app = App(context=dict(context or {}), outdir=outdir)
    config = InfraConfig.from_node(app.node)
    stack = PipelineStack(
        app,
        "Pipeline",
        stack_name=config.stack_name,
        description="Parquet to JSON ETL: API, Lambdas, Glue 6.0 job, web app hosting and monitoring",
        # Explicit account/region from context: synth never looks anything up in AWS.
        env=Environment(account=config.account, region=config.region),
        config=config,
    )
    # cdk-nag: the AwsSolutions pack over the whole app, and the findings accepted (infra/nag.py).
    acknowledge_findings(stack)
    Aspects.of(app).add(ServiceTrustGuard())
    Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    return app, stack


def standalone_context() -> dict[str, Any]:
    """cdk.json's context (and cdk.context.json's), for runs without the CDK CLI.

    The CLI hands the app its context in CDK_CONTEXT_JSON; `make synth` runs the app directly
    (no Node CLI needed), so the same settings are read here.
    """
    if "CDK_CONTEXT_JSON" in os.environ:
        return {}
    context: dict[str, Any] = {}
    for name in ("cdk.json", "cdk.context.json"):
        path = REPO / name
        if path.is_file():
            data = json.loads(path.read_text(encoding="utf-8"))
            context.update(data.get("context", {}) if name == "cdk.json" else data)
    return context


def main() -> None:
    app, _stack = build_app(standalone_context(), outdir=os.environ.get("CDK_OUTDIR", str(REPO / "cdk.out")))
    app.synth()


if __name__ == "__main__":
    main()
