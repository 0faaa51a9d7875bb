"""API fuzzing: schemathesis derives requests from docs/openapi.json (every phase,
stateful included, every check) and sends them to a running ``etl up``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.devstack.local.stack import ROOT, Server

CONFIG = Path(__file__).with_name("schemathesis.toml")


def test_the_api_holds_to_its_openapi_document_under_fuzzing(servers: Callable[..., Server], tmp_path: Path) -> None:
    server = servers(tmp_path / "data", workers=1)
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("schemathesis")),
            "--no-color",
            "--config-file",
            str(CONFIG),
            "run",
            str(ROOT / "docs" / "openapi.json"),
            "--url",
            f"{server.url}/api",
            "--checks",
            "all",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--report-dir",
            str(tmp_path / "report"),
        ],
        cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.devstack.local.fuzz_hooks", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
    assert "Stateful" in result.stdout
    log = server.log.read_text()
    assert "Traceback" not in log, log[-5000:]
