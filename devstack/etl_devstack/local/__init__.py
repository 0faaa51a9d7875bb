"""The local stack (``etl up``): the whole product on one machine.

``server`` composes the WSGI app (``app``: the API, the very same Lambda handlers behind an
API Gateway event adapter, ``gateway``; signed upload/download URLs for the local object
store; the built web app) with the process lifecycle (``lifecycle``: the workers under their
``supervisor``, the periodic sweeps, recovery after a stop); ``worker`` is the processes
that run the Glue job script with a warm Spark session on the durable run queue
(:mod:`etl_lib.jobs.runs`, where the job service's local backend queues each run).
"""

from __future__ import annotations

import sys
from pathlib import Path

# devstack/etl_devstack/local/__init__.py: the repository is three folders up.
REPO_ROOT = Path(__file__).resolve().parents[3]


def import_lambdas() -> None:
    """Make the ``lambdas`` package importable: it lives at the repository's root, next to
    ``etl_lib`` and ``devstack/``, and is installed by neither distribution."""
    try:
        import lambdas  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(REPO_ROOT))
