"""Committed notebooks are stripped, keep the Glue kernelspec and start with the Glue magics."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from tests.notebooks.conftest import NOTEBOOKS

COMMITTED = sorted(NOTEBOOKS.glob("*.ipynb"))
# The session config (etl session-config) first: it sets %region, %iam_role, the wheel.
GLUE_MAGICS = [
    "%load_ext etl_lib.notebook.session_config",
    "%glue_version 6.0",
    "%worker_type G.1X",
    "%number_of_workers 2",
    "%idle_timeout 30",
]


def test_the_three_steps_are_there() -> None:
    assert [p.name for p in COMMITTED] == [
        "01-explore.ipynb", "02-develop-transformation.ipynb", "03-validate-output.ipynb"]  # fmt: skip


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.stem)
def test_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {index} of {path.name} has outputs: strip them"
            assert cell.execution_count is None, f"cell {index} of {path.name} has an execution count"
        assert "papermill" not in cell.metadata, f"cell {index} of {path.name} has papermill metadata"
    assert "papermill" not in nb.metadata


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.stem)
def test_glue_kernelspec_and_magics(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata.kernelspec == {"name": "glue_pyspark", "display_name": "Glue PySpark", "language": "python"}
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert first_code.source.splitlines() == GLUE_MAGICS
    assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells), "no papermill parameters cell"
