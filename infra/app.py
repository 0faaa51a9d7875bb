"""The CDK app: the one composition root. ``cdk.json`` runs ``python -m infra.app``.

Settings come from CDK context (cdk.json's ``context``, or ``-c etl:key=value``): see
infra/config.py and docs/deploy.md. cdk-nag's AwsSolutions pack checks the whole app on every
synth; its findings are printed as errors/warnings, and the tests require there be none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import App, Aspects, Environment
from cdk_nag import AwsSolutionsChecks

from infra.config import InfraConfig
from infra.stack import PipelineStack


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
    Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    return app, stack


def main() -> None:
    app, _stack = build_app()
    app.synth()


if __name__ == "__main__":
    main()
