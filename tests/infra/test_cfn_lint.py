"""cfn-lint on the synthesized template: no errors (warnings are reported, not fatal)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.conftest import Synth

pytestmark = pytest.mark.xdist_group("infra")


def test_cfn_lint_finds_no_errors(synth: Synth) -> None:
    assert_cfn_lint_clean(synth.template_path)


def assert_cfn_lint_clean(template_path: Path) -> None:
    """cfn-lint reports no error in the template (and ran to its end)."""
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run(
        [str(cfn_lint), "--format", "json", "--regions", "eu-west-1", "--", str(template_path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    findings = json.loads(result.stdout or "[]")
    errors = [f for f in findings if f["Level"] == "Error"]
    assert errors == [], json.dumps(errors, indent=2)
    # Exit status bit 2 is "errors found"; anything above 31 means cfn-lint itself failed.
    assert result.returncode & 2 == 0, result.stderr
    assert result.returncode < 32, result.stderr
