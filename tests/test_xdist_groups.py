"""`make test` runs `pytest -n 2 --dist loadgroup`: tests that share one resource per process
(the CDK synth's staging folders, the notebook kernels, the Glue interactive sessions) carry an
``xdist_group`` mark so that one worker runs them all. A mark only counts if it reaches xdist's
scheduler, as an ``@group`` suffix of the test id the worker sends; nothing fails when it does
not, the tests just run on both workers at once. This checks what the scheduler is sent.

(``--collect-only`` cannot show it: xdist steps aside when only collecting, so no id has a suffix.)
Ways a mark is lost: a pytest whose node ids pytest-xdist cannot suffix (9.2 with xdist 3.8), or
a mark added by a conftest's plain ``pytest_collection_modifyitems``, which runs after xdist's own
(one added there needs ``@pytest.hookimpl(tryfirst=True)``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.xdist_probe import PROBE_DIR_ENV

# It collects the whole suite in two workers (tens of seconds): `make test`, not `make test-fast`.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
WORKERS = ("gw0", "gw1")
# The fixture whose users must share one worker, and their group (tests/infra/conftest.py).
ONE_WORKER_FIXTURES = {"synth": "infra"}


@pytest.fixture(scope="module")
def scheduled(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Collect the whole suite the way `make test` does, and return what the workers send."""
    probe = tmp_path_factory.mktemp("xdist-probe")
    # Not this run's own xdist/pytest state: the inner run sets up its own workers.
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}
    env[PROBE_DIR_ENV] = str(probe)
    command = [sys.executable, "-m", "pytest", "-p", "tests.xdist_probe", "-p", "no:cacheprovider"]
    command += ["-n", str(len(WORKERS)), "--dist", "loadgroup", "-q", "tests"]
    run = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == pytest.ExitCode.NO_TESTS_COLLECTED, run.stdout[-3000:] + run.stderr[-3000:]
    sent = {worker: json.loads((probe / f"{worker}.json").read_text(encoding="utf-8")) for worker in WORKERS}
    assert sent["gw0"] == sent["gw1"], "the two workers collected different tests"
    return list(sent["gw0"])


def test_every_xdist_group_mark_reaches_the_scheduler(scheduled: list[dict[str, Any]]) -> None:
    grouped = [record for record in scheduled if record["groups"]]
    assert grouped, "no test carries an xdist_group mark: the probe saw nothing to check"
    lost = [
        f"{record['nodeid']} (groups {record['groups']})"
        for record in grouped
        if not record["nodeid"].endswith("@" + "_".join(record["groups"]))
    ]
    assert not lost, f"{len(lost)} of {len(grouped)} grouped tests reach the scheduler without their group: " + (
        ", ".join(lost[:5])
    )


def test_tests_sharing_a_one_worker_fixture_are_in_its_group(scheduled: list[dict[str, Any]]) -> None:
    for fixture, group in ONE_WORKER_FIXTURES.items():
        users = [record for record in scheduled if fixture in record["fixtures"]]
        assert users, f"no test uses the {fixture} fixture any more: update ONE_WORKER_FIXTURES"
        outside = [record["nodeid"] for record in users if group not in record["groups"]]
        assert not outside, f"tests using {fixture} outside xdist_group({group!r}): {outside[:5]}"
