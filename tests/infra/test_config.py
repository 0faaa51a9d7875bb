"""Environment settings come from CDK context, typed and validated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import App

from infra.config import InfraConfig
from infra.stack import _retention

pytestmark = pytest.mark.xdist_group("infra")


def test_defaults_without_context() -> None:
    config = InfraConfig.from_node(App().node)
    assert config == InfraConfig()
    assert config.powertools_layer.startswith("arn:aws:lambda:eu-west-1:")


def test_context_values_override_defaults_and_command_line_strings_are_coerced() -> None:
    app = App(
        context={
            "etl:account": "222222222222",
            "etl:region": "us-east-1",
            "etl:glueNumberOfWorkers": "12",  # -c etl:glueNumberOfWorkers=12 arrives as a string
            "etl:glueWorkerTypes": '["G.2X"]',
            "etl:glueDpuHourUsd": "0.5",
            "etl:vpc": "true",
            "etl:apiThrottleRate": "5.5",
            "etl:extraAllowedOrigins": '["http://localhost:5173"]',
            "etl:alarmEmails": ["ops@example.com"],
            "etl:tags": {"team": "data"},
            "etl:inputRetentionDays": 3,
        }
    )
    config = InfraConfig.from_node(app.node)
    assert config.account == "222222222222"
    assert config.region == "us-east-1"
    assert config.glue_number_of_workers == 12
    assert config.glue_worker_types == ("G.2X",)
    assert config.glue_sizing.max_workers == 12
    assert config.prices.glue_dpu_hour == 0.5
    assert config.vpc is True
    assert config.availability_zones == ("us-east-1a", "us-east-1b")
    assert config.api_throttle_rate == 5.5
    assert config.extra_allowed_origins == ("http://localhost:5173",)
    assert config.alarm_emails == ("ops@example.com",)
    assert config.tags == {"team": "data"}
    assert config.input_retention_days == 3
    assert "us-east-1" in config.powertools_layer


def test_cdk_json_sets_only_what_differs_from_the_defaults() -> None:
    """The defaults live once, in InfraConfig: cdk.json may override a setting for an
    environment, never restate it (a restated copy would hide a changed default)."""
    context = json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())["context"]
    ours = {k: v for k, v in context.items() if k.startswith("etl:")}
    assert set(ours) <= set(InfraConfig.context_keys())
    defaults = InfraConfig()
    restated = [k for k in ours if InfraConfig.from_node(App(context={k: ours[k]}).node) == defaults]
    assert restated == [], f"cdk.json restates these defaults of infra/config.py: {restated}"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("etl:lambdaBundle", "docker"),
        ("etl:removalPolicy", "snapshot"),
        ("etl:cognitoMfa", "SOMETIMES"),
        ("etl:smallFileThresholdBytes", 10 * 1024**4),
        ("etl:glueJobRunQueuing", "maybe"),
        ("etl:maxActiveJobsPerUser", -1),
    ],
)
def test_invalid_values_are_rejected(key: str, value: object) -> None:
    with pytest.raises(ValueError, match=key):
        InfraConfig.from_node(App(context={key: value}).node)


def test_log_retention_rounds_up_to_an_allowed_period() -> None:
    from aws_cdk import aws_logs as logs

    assert _retention(30) == logs.RetentionDays.ONE_MONTH
    assert _retention(31) == logs.RetentionDays.TWO_MONTHS
    assert _retention(1) == logs.RetentionDays.ONE_DAY
    assert _retention(100_000) == logs.RetentionDays.TEN_YEARS


def test_glue_run_queuing_needs_runs_without_retries() -> None:
    with pytest.raises(ValueError, match="etl:glueMaxRetries"):
        InfraConfig.from_node(App(context={"etl:glueMaxRetries": 1}).node)
    config = InfraConfig.from_node(App(context={"etl:glueMaxRetries": 1, "etl:glueJobRunQueuing": "false"}).node)
    assert (config.glue_job_run_queuing, config.glue_max_retries) == (False, 1)


def test_the_stack_defaults_are_the_runtimes() -> None:
    """One default per setting: a deployment without context behaves like the runtime's defaults."""
    from etl_lib.jobs.models import DEFAULT_MAX_UPLOAD_BYTES
    from etl_lib.jobs.service import DEFAULT_JOB_RETENTION_DAYS
    from etl_lib.options import DEFAULT_SMALL_FILE_THRESHOLD_BYTES

    config = InfraConfig()
    assert config.small_file_threshold_bytes == DEFAULT_SMALL_FILE_THRESHOLD_BYTES
    assert config.max_upload_bytes == DEFAULT_MAX_UPLOAD_BYTES
    assert config.output_retention_days == DEFAULT_JOB_RETENTION_DAYS


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"etl:glueWorkerTypes": '["G.9X"]'}, "worker types must be some of"),
        ({"etl:glueNumberOfWorkers": "1"}, "glueNumberOfWorkers"),
        ({"etl:glueMinWorkers": "6", "etl:glueNumberOfWorkers": "4"}, "minimum"),
        ({"etl:glueFlexDpuHourUsd": "-1"}, "must not be negative"),
        ({"etl:vpcAvailabilityZones": '["eu-west-1a"]'}, "two Availability Zones"),
    ],
)
def test_sizing_prices_and_vpc_settings_glue_or_ec2_would_refuse_fail_the_synth_in_one_line(
    context: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        InfraConfig.from_node(App(context=context).node)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("etl:glueWorkerType", r"etl:glueWorkerType is not a setting; did you mean etl:glueWorkerTypes\?"),
        ("etl:noSuchThingAtAll", r"etl:noSuchThingAtAll is not a setting \(see infra/config.py\)"),
    ],
)
def test_a_context_key_that_names_no_setting_fails_the_synth_in_one_line(key: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        InfraConfig.from_node(App(context={key: "G.1X"}).node)


def test_context_keys_of_cdk_itself_are_not_settings_and_pass() -> None:
    context = {"@aws-cdk/core:enablePartitionLiterals": True, "etl:glueNumberOfWorkers": 4}
    assert InfraConfig.from_node(App(context=context).node).glue_number_of_workers == 4


def test_every_setting_the_docs_name_exists() -> None:
    """A renamed setting would otherwise live on in the docs, and fail a deployment that
    follows them (a key that names no setting fails the synth)."""
    import re

    root = Path(__file__).resolve().parents[2]
    texts = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    placeholders = {"etl:key", "etl:camelCase"}
    named = {
        (path.name, key)
        for path in texts
        for key in re.findall(r"etl:[A-Za-z]+", path.read_text(encoding="utf-8"))
        if key not in placeholders
    }
    assert named, "the docs name settings"
    assert sorted((doc, key) for doc, key in named if key not in InfraConfig.context_keys()) == []
