"""One offline synthesis of the CDK app per test session (it takes tens of seconds).

No credentials, no network: account and region are InfraConfig's dummy defaults,
nothing is looked up, and the Lambda asset is the source-only directory.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CDK_JSON = REPO / "cdk.json"

# Before aws_cdk starts its jsii runtime (imported lazily in the fixture).
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def infra_context(**overrides: Any) -> dict[str, Any]:
    context: dict[str, Any] = json.loads(CDK_JSON.read_text(encoding="utf-8"))["context"]
    context["etl:lambdaBundle"] = "source"
    context.update(overrides)
    return context


@dataclass(frozen=True)
class Synth:
    stack: Any
    template: Any  # aws_cdk.assertions.Template
    raw: dict[str, Any]  # the template as a dict
    template_path: Path
    outdir: Path
    seconds: float

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.raw["Resources"].items() if v["Type"] == kind}

    def logical_id(self, construct: Any) -> str:
        from aws_cdk import CfnElement

        element = construct if isinstance(construct, CfnElement) else construct.node.default_child
        return str(self.stack.get_logical_id(element))


def synthesize(outdir: Path, **context: Any) -> Iterator[Synth]:
    """Synthesize the app offline into ``outdir``, with ``context`` over cdk.json's."""
    with pytest.MonkeyPatch.context() as env:
        # Make any accidental AWS call fail fast instead of searching for credentials.
        for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            env.delenv(name, raising=False)
        env.setenv("AWS_EC2_METADATA_DISABLED", "true")
        env.setenv("CDK_DISABLE_VERSION_CHECK", "1")
        from aws_cdk.assertions import Template

        from infra.app import build_app

        started = time.perf_counter()
        app, stack = build_app(infra_context(**context), outdir=str(outdir))
        assembly = app.synth()
        seconds = time.perf_counter() - started
        template_path = Path(assembly.get_stack_by_name(stack.stack_name).template_full_path)
        yield Synth(
            stack=stack,
            template=Template.from_stack(stack),
            raw=json.loads(template_path.read_text(encoding="utf-8")),
            template_path=template_path,
            outdir=outdir,
            seconds=seconds,
        )


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synth]:
    yield from synthesize(tmp_path_factory.mktemp("cdk.out"))


ARTIFACTS = "ARTIFACTS-BUCKET"
"""What :func:`installed_urls` puts for the artifacts bucket's name."""


def installed_urls(synth: Synth, value: Any) -> list[str]:
    """The URLs of an ``--additional-python-modules`` value (a Join over the artifacts bucket)."""
    bucket = {"Ref": synth.logical_id(synth.stack.artifacts.bucket)}
    separator, parts = value["Fn::Join"]
    assert all(isinstance(part, str) or part == bucket for part in parts), "only the artifacts bucket is referred to"
    return str(separator).join(part if isinstance(part, str) else ARTIFACTS for part in parts).split(",")


def staged_asset(synth: Synth) -> Path:
    """The directory the Glue artifacts' BucketDeployment uploads, as synth staged it in cdk.out."""
    bucket = {"Ref": synth.logical_id(synth.stack.artifacts.bucket)}
    (deployment,) = [
        resource["Properties"]
        for resource in synth.resources("Custom::CDKBucketDeployment").values()
        if resource["Properties"]["DestinationBucketName"] == bucket
    ]
    (key,) = deployment["SourceObjectKeys"]
    return synth.outdir / f"asset.{str(key).removesuffix('.zip')}"
