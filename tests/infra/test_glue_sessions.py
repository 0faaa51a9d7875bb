"""The Glue interactive-session role (least privilege, PassRole to itself only), the stack
outputs a session needs, and `etl session-config` on this synthesized stack's outputs."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from etl_devstack.sessions.config import (
    OUTPUT_INSTALLER_OPTION,
    OUTPUT_MODULES,
    OUTPUT_REGION,
    OUTPUT_SESSION_ROLE,
    OUTPUT_WHEEL,
)
from etl_lib.cli import main
from infra import assets
from tests.infra.conftest import Synth, installed_urls

# With the other synth tests: one worker stages build/infra/lambda-source at a time (two
# synths in two workers delete each other's staged sources mid-copy).
pytestmark = pytest.mark.xdist_group("infra")


def _statements(synth: Synth, role: Any) -> list[dict[str, Any]]:
    role_id = synth.logical_id(role)
    policies = [
        policy["Properties"]["PolicyDocument"]["Statement"]
        for policy in synth.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
    ]
    return [statement for document in policies for statement in document]


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_the_session_role_is_assumed_by_glue_and_passes_only_itself(synth: Synth) -> None:
    role = synth.stack.sessions.role
    trust = synth.raw["Resources"][synth.logical_id(role)]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "glue.amazonaws.com"}]
    statements = _statements(synth, role)
    actions = [action for s in statements for action in _listed(s["Action"])]
    assert actions, "the role has no policy"
    assert not [a for a in actions if "*" in a], "wildcard actions"
    assert all(s["Effect"] == "Allow" for s in statements)
    pass_role = [s for s in statements if "iam:PassRole" in _listed(s["Action"])]
    assert len(pass_role) == 1
    assert _listed(pass_role[0]["Action"]) == ["iam:PassRole"]
    assert _listed(pass_role[0]["Resource"]) == [{"Fn::GetAtt": [synth.logical_id(role), "Arn"]}]
    star = [s for s in statements if "*" in _listed(s["Resource"])]
    assert [_listed(s["Action"]) for s in star] == [["cloudwatch:PutMetricData"]], "only the metric has no resource"
    assert "Condition" in star[0]
    # Reads what the job reads and writes only notebook reports: no table writes, and deletes
    # only of its own Spark scratch and UI logs in the artifacts bucket.
    assert not [a for a in actions if a.startswith(("dynamodb:Put", "dynamodb:Update", "dynamodb:Delete"))]
    deletes = json.dumps([s["Resource"] for s in statements if "s3:DeleteObject" in _listed(s["Action"])])
    assert synth.logical_id(synth.stack.storage.input_bucket) not in deletes
    assert synth.logical_id(synth.stack.storage.output_bucket) not in deletes
    writes = [s for s in statements if "s3:PutObject" in _listed(s["Action"])]
    assert "validation/*" in json.dumps(writes)


def test_the_stack_outputs_the_session_role_and_the_jobs_own_wheel(synth: Synth) -> None:
    outputs = synth.raw["Outputs"]
    assert outputs[OUTPUT_SESSION_ROLE]["Value"] == {"Fn::GetAtt": [synth.logical_id(synth.stack.sessions.role), "Arn"]}
    job = synth.raw["Resources"][synth.logical_id(synth.stack.etl.job)]["Properties"]
    job_modules = installed_urls(synth, job["DefaultArguments"]["--additional-python-modules"])
    assert installed_urls(synth, outputs[OUTPUT_WHEEL]["Value"]) == job_modules[:1]
    assert f"/glue/wheels/{assets.wheel_name()}" in json.dumps(outputs[OUTPUT_WHEEL]["Value"])
    # A session installs the job's very wheels, from the bucket, with the job's pip options.
    assert installed_urls(synth, outputs[OUTPUT_MODULES]["Value"]) == job_modules
    installer_option = job["DefaultArguments"]["--python-modules-installer-option"]
    assert outputs[OUTPUT_INSTALLER_OPTION]["Value"] == installer_option == assets.PYTHON_MODULES_INSTALLER_OPTION
    assert outputs[OUTPUT_REGION]["Value"] == synth.stack.region == "eu-west-1"


def _resolve(value: Any, template: dict[str, Any], names: dict[str, str]) -> str:
    """CloudFormation's value of a stack output (Ref, GetAtt, Join) for made-up physical names."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return names[value["Ref"]]
    if "Fn::GetAtt" in value:
        logical, attribute = value["Fn::GetAtt"]
        assert attribute == "Arn"
        return f"arn:aws:iam::111111111111:role/{names[logical]}"
    separator, parts = value["Fn::Join"]
    return str(separator).join(_resolve(part, template, names) for part in parts)


def test_session_config_writes_the_magics_from_the_deployed_outputs(
    synth: Synth, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`cdk deploy --outputs-file` gives {stack: {output: value}}: built here from the template."""
    names = {
        synth.logical_id(synth.stack.artifacts.bucket): "artifacts-bucket",
        synth.logical_id(synth.stack.sessions.role): "session-role",
        "AWS::Region": "eu-west-1",
    }
    outputs = {
        key: _resolve(synth.raw["Outputs"][key]["Value"], synth.raw, names)
        for key in (OUTPUT_SESSION_ROLE, OUTPUT_WHEEL, OUTPUT_MODULES, OUTPUT_INSTALLER_OPTION, OUTPUT_REGION)
    }
    outputs_file = tmp_path / "cdk-outputs.json"
    outputs_file.write_text(json.dumps({synth.stack.stack_name: {**outputs, "ApiUrl": "https://x"}}))
    config = tmp_path / ".glue-session.json"

    assert main(["session-config", "--outputs-file", str(outputs_file), "--config", str(config)]) == 0

    written = json.loads(config.read_text())
    assert written["magics"] == [
        "%region eu-west-1",
        "%iam_role arn:aws:iam::111111111111:role/session-role",
        "%glue_version 6.0",
        f"%additional_python_modules {outputs[OUTPUT_MODULES]}",
        '%%configure {"--python-modules-installer-option": "--no-index --no-deps"}',
    ]
    modules = outputs[OUTPUT_MODULES].split(",")
    assert modules[0] == f"s3://artifacts-bucket/glue/wheels/{assets.wheel_name()}"
    closure = assets.runtime_closure(*assets.wheel_requirements())
    assert dict(assets.wheel_identity(url.rsplit("/", 1)[1]) for url in modules[1:]) == closure
    # aws-glue-sessions' %%configure reads its cell with ast.literal_eval.
    assert ast.literal_eval(written["magics"][-1].removeprefix("%%configure ")) == {
        "--python-modules-installer-option": assets.PYTHON_MODULES_INSTALLER_OPTION
    }
    assert written["env"] == {}
    assert "wrote" in capsys.readouterr().err


def test_session_config_says_what_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outputs_file = tmp_path / "cdk-outputs.json"
    outputs_file.write_text(json.dumps({"Old": {OUTPUT_SESSION_ROLE: "arn:aws:iam::1:role/x"}}))
    assert main(["session-config", "--outputs-file", str(outputs_file), "--config", str(tmp_path / "c.json")]) == 2
    assert f"lack {OUTPUT_MODULES}, {OUTPUT_INSTALLER_OPTION}" in capsys.readouterr().err
