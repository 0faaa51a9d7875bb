"""A pytest plugin for tests/test_xdist_groups.py: in each xdist worker it records the test ids
exactly as the worker sends them to the controller's scheduler (with `--dist loadgroup`, a test's
group travels as an ``@group`` suffix of its id), then empties the collection so nothing runs.

Loaded with ``-p tests.xdist_probe``; inert outside xdist workers and without PROBE_DIR_ENV.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

PROBE_DIR_ENV = "ETL_TEST_XDIST_PROBE_DIR"


def group_names(item: pytest.Item) -> list[str]:
    """The item's xdist_group names, read the way pytest-xdist reads them (first argument or name=)."""
    names = {
        str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
        for mark in item.iter_markers("xdist_group")
    }
    return sorted(names)


# tryfirst: after every pytest_collection_modifyitems hook (the ids are final) but before
# xdist's own pytest_collection_finish, which sends session.items to the controller.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    worker = getattr(session.config, "workerinput", {}).get("workerid")
    folder = os.environ.get(PROBE_DIR_ENV)
    if worker is None or not folder:
        return
    records = [
        {"nodeid": item.nodeid, "groups": group_names(item), "fixtures": sorted(getattr(item, "fixturenames", ()))}
        for item in session.items
    ]
    (Path(folder) / f"{worker}.json").write_text(json.dumps(records), encoding="utf-8")
    session.items.clear()  # the controller then schedules nothing: no test runs
