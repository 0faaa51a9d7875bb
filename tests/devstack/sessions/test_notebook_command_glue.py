"""`etl notebook run -k glue_pyspark` tells the truth: with the sessions endpoint down every
cell's failure is only a line on stderr and papermill exits 0; the command exits 1 and
names the failing cell's line and the kernel's error."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from etl_devstack.sessions.config import local_config, write_config
from etl_lib.notebook.session_config import CONFIG_ENV
from tests.devstack.sessions.conftest import ENV
from tests.notebooks.conftest import NOTEBOOKS

pytestmark = [pytest.mark.xdist_group("glue-sessions"), pytest.mark.timeout(900)]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_run_with_the_endpoint_down_exits_1_with_the_failing_cell_and_error(
    glue_kernel: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = local_config(f"http://127.0.0.1:{_closed_port()}", tmp_path, access_key_id="ETLLOCALDOWN")
    monkeypatch.setenv(CONFIG_ENV, str(write_config(config, tmp_path / ".glue-session.json")))
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "out.ipynb"
    etl = Path(sys.executable).parent / "etl"

    done = subprocess.run(
        [str(etl), "notebook", "run", str(NOTEBOOKS / "03-validate-output.ipynb"), str(out), "-k", glue_kernel],
        capture_output=True, text=True, check=False, timeout=800,
    )  # fmt: skip

    assert done.returncode == 1, done.stderr
    executed = nbformat.read(out, as_version=4)
    assert all(c.metadata.papermill.status == "completed" for c in executed.cells), "papermill saw no failure"
    parameters = next(c for c in executed.cells if "parameters" in c.metadata.get("tags", []))
    assert f"  cell 2: {parameters.source.splitlines()[0]}\n" in done.stderr
    assert "    Exception encountered while creating session: Could not connect to the endpoint URL" in done.stderr
