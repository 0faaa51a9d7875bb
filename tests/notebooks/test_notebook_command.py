"""`etl notebook run` on the etl-local kernel: parameters typed as papermill types them, exit
status 1 with the failing cell's line and error, 0 when every cell ran."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from etl_lib.cli import main

pytestmark = [pytest.mark.xdist_group("notebook-kernels"), pytest.mark.timeout(600)]


def _notebook(tmp_path: Path, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "etl-local", "display_name": "etl-local", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nb.cells[0].metadata["tags"] = ["parameters"]
    path = tmp_path / "cells.ipynb"
    nbformat.write(nb, path)
    return path


def test_a_cell_error_exits_1_naming_the_cell_line_and_the_error(
    etl_kernel: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _notebook(tmp_path, "count = 1", "print('before')", "# the division\ntotal = count / 0", "print('after')")

    assert main(["notebook", "run", str(source), str(tmp_path / "out.ipynb"), "-k", etl_kernel]) == 1

    err = capsys.readouterr().err
    assert "total = count / 0\n    ZeroDivisionError: division by zero" in err
    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert executed.cells[-1].execution_count is None, "a cell after the failure ran"


def test_parameters_are_typed_as_papermill_types_them_and_a_clean_run_exits_0(
    etl_kernel: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _notebook(tmp_path, "count = 1\nname = ''", "assert isinstance(count, int) and count == 120, count\nname")
    out = tmp_path / "out.ipynb"

    assert main(["notebook", "run", str(source), str(out), "-p", "count", "120", "-p", "name", "{}"]) == 0

    # Its two cells and the one papermill injects with the parameters.
    assert "3 cells ran on kernel etl-local, no error" in capsys.readouterr().err
    executed = nbformat.read(out, as_version=4)
    assert executed.cells[-1].outputs[0]["data"]["text/plain"] == "'{}'"


def test_a_missing_notebook_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["notebook", "run", str(tmp_path / "none.ipynb"), str(tmp_path / "out.ipynb")]) == 2
    missing = tmp_path / "none.ipynb"
    assert capsys.readouterr().err.strip() == f"etl notebook run: error: {missing} is not a notebook file"
