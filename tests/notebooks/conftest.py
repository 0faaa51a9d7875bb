"""Notebook tests: the etl-local kernel is installed into this environment once per session,
so ``make test`` works on a fresh clone (no manual ``make kernel``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl_lib.notebook.kernel import install_kernel

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
FIXTURES = NOTEBOOKS / "fixtures"


@pytest.fixture(scope="session")
def etl_kernel() -> str:
    install_kernel()  # atomic: safe when several xdist workers do it at once
    return "etl-local"
