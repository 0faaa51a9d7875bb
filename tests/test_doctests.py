"""The ``>>>`` examples in docstrings and in the docs run, as a reader would run them: each
module's in a fresh interpreter (an example may depend on what is not imported yet) and a
temporary working directory (examples write their files there)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = {
    "etl_lib": REPO / "etl_lib",
    "lambdas": REPO / "lambdas",
    "etl_devstack": REPO / "devstack" / "etl_devstack",
}
EXAMPLE = re.compile(r"^\s*>>> ", re.M)


def _modules_with_examples() -> list[str]:
    found = []
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            if EXAMPLE.search(path.read_text(encoding="utf-8")):
                parts = path.relative_to(folder).with_suffix("").parts
                found.append(".".join((package, *parts)).removesuffix(".__init__"))
    return found


def _docs_with_examples() -> list[Path]:
    return [p for p in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))] if EXAMPLE.search(p.read_text())]


MODULES = _modules_with_examples()
DOCS = _docs_with_examples()
RUN = "import doctest, sys; r = doctest.{call}; print(r); sys.exit(1 if r.failed or not r.attempted else 0)"


def _run(call: str, cwd: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", RUN.format(call=call)], cwd=cwd, capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]


def test_the_examples_are_found() -> None:
    assert "etl_lib.conversion" in MODULES and "etl_lib.options" in MODULES
    assert REPO / "docs" / "json-contract.md" in DOCS


@pytest.mark.parametrize("module", MODULES)
def test_the_examples_of_a_module_run(module: str, tmp_path: Path) -> None:
    _run(f"testmod(__import__('importlib').import_module({module!r}), optionflags=doctest.ELLIPSIS)", tmp_path)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_the_examples_of_a_doc_run(doc: Path, tmp_path: Path) -> None:
    _run(f"testfile({str(doc)!r}, module_relative=False, optionflags=doctest.ELLIPSIS)", tmp_path)
