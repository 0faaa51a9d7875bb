"""The local stack (``etl up``): the whole product on one machine.

``server`` serves the API (the very same Lambda handlers behind an API Gateway event
adapter, ``gateway``), signed upload/download URLs for the local object store and the
built web app; ``runs`` is the durable run queue and ``worker`` the processes that run
the Glue job script on it with a warm Spark session.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def import_lambdas() -> None:
    """Make the ``lambdas`` package importable: it ships next to ``etl_lib``, not inside it."""
    try:
        import lambdas  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(REPO_ROOT))
