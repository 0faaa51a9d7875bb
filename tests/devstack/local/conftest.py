from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.devstack.local.stack import Server


@pytest.fixture
def servers() -> Iterator[Callable[..., Server]]:
    """Start ``etl up`` processes; each is stopped (or killed) at the end of the test."""
    started: list[Server] = []

    def start(data_dir: Path, **kwargs: Any) -> Server:
        server = Server(data_dir, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
