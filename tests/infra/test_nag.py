"""cdk-nag's AwsSolutions pack: no unacknowledged finding; every acknowledgement is specific."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Annotations, Match

from tests.infra.conftest import Synth

pytestmark = pytest.mark.xdist_group("infra")


def messages(synth: Synth, kind: str) -> list[str]:
    annotations = Annotations.from_stack(synth.stack)
    found = getattr(annotations, kind)("*", Match.string_like_regexp("AwsSolutions-.*"))
    return [f"{m.id}: {str(m.entry.data)[:160]}" for m in found]


def test_no_unacknowledged_errors(synth: Synth) -> None:
    assert messages(synth, "find_error") == []


def test_no_unacknowledged_warnings(synth: Synth) -> None:
    assert messages(synth, "find_warning") == []


def every_warning_or_error(synth: Synth) -> list[str]:
    """Every error and warning of the synth, cdk-nag's and CDK's own."""
    annotations = Annotations.from_stack(synth.stack)
    return [
        f"{m.id}: {m.entry.data}"
        for kind in ("find_error", "find_warning")
        for m in getattr(annotations, kind)("*", Match.any_value())
    ]


def test_no_other_synth_warnings_or_errors(synth: Synth) -> None:
    """Nothing else CDK warns about either (e.g. a missing Glue script, ignored settings)."""
    assert every_warning_or_error(synth) == []


def suppressions(synth: Synth) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for logical, resource in synth.raw["Resources"].items():
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
            found.append((logical, rule))
    return found


def test_acknowledgements_are_per_resource_with_reasons(synth: Synth) -> None:
    # Never stack-wide: the template's own metadata holds no cdk-nag suppressions.
    assert "cdk_nag" not in synth.raw.get("Metadata", {})
    found = suppressions(synth)
    assert found, "the acknowledgements are written to the resources they concern"
    for logical, rule in found:
        assert rule["id"].startswith("AwsSolutions-"), (logical, rule)
        assert len(rule["reason"]) >= 40, (logical, rule)
        if rule["id"] in ("AwsSolutions-IAM4", "AwsSolutions-IAM5"):
            # Which managed policy / which wildcard: never the whole rule.
            assert rule.get("applies_to"), (logical, rule)


def test_acknowledged_rules_are_the_expected_few(synth: Synth) -> None:
    # No APIG3 (a web ACL on the stage): the API has one by default (tests/infra/test_protection.py).
    rules = {rule["id"] for _logical, rule in suppressions(synth)}
    assert rules == {
        "AwsSolutions-IAM4",
        "AwsSolutions-IAM5",
        "AwsSolutions-L1",
        "AwsSolutions-SQS3",
        "AwsSolutions-COG2",
        "AwsSolutions-COG8",
        "AwsSolutions-CFR1",
        "AwsSolutions-CFR2",
        "AwsSolutions-CFR4",
    }
