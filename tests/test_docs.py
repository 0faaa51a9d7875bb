"""The docs cannot go stale on what a test can check: every test they cite exists, every
``tests/`` path they name is there, and the figures they quote from the code are the code's."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

from etl_lib.options import DEFAULT_SMALL_FILE_THRESHOLD_BYTES

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
CODE_SPAN = re.compile(r"`([^`\n]+)`")
CITED_TEST = re.compile(r"^(?:(?P<file>[\w/.-]+\.py)::)?(?P<name>test_\w+)$")


def _tests_by_file() -> dict[Path, set[str]]:
    defined: dict[Path, set[str]] = defaultdict(set)
    for path in (REPO / "tests").rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_"):
                defined[path].add(node.name)
    return defined


TESTS = _tests_by_file()
ALL_TESTS = set().union(*TESTS.values())


def _resolve(cited: str) -> list[Path]:
    """The test files a citation names: a path from the repository, or a file name under tests/."""
    if "/" in cited:
        return [REPO / cited] if (REPO / cited).is_file() else []
    return [path for path in TESTS if path.name == cited]


def _problems(doc: Path) -> list[str]:
    problems = []
    for span in CODE_SPAN.findall(doc.read_text(encoding="utf-8")):
        span = span.strip()
        if span.startswith("tests/") and "::" not in span and " " not in span:
            if not (REPO / span.rstrip("/")).exists():
                problems.append(f"{span} does not exist")
            continue
        match = CITED_TEST.match(span)
        if match is None:
            continue
        name, cited = match["name"], match["file"]
        if cited is None:
            if name not in ALL_TESTS:
                problems.append(f"{name} is no test")
            continue
        files = _resolve(cited)
        if len(files) != 1:
            problems.append(f"{cited} names {len(files)} test files")
        elif name not in TESTS[files[0]]:
            problems.append(f"{cited} has no {name}")
    return problems


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_test_a_doc_cites_exists(doc: Path) -> None:
    assert _problems(doc) == []


def test_the_check_finds_a_citation_gone_stale(tmp_path: Path) -> None:
    stale = tmp_path / "stale.md"
    stale.write_text(
        "`tests/input/test_footer.py::test_no_such_test`, `test_nor_this_one`, `tests/no/such/folder/`, "
        "`test_footer.py::test_the_20000_level_footer_is_a_one_line_refusal_not_a_crash`"
    )
    assert _problems(stale) == [
        "tests/input/test_footer.py has no test_no_such_test",
        "test_nor_this_one is no test",
        "tests/no/such/folder/ does not exist",
    ]


def test_the_readme_states_the_auto_threshold_the_code_uses() -> None:
    stated = re.search(r"auto: in-process up to (\d+) MiB", (REPO / "README.md").read_text(encoding="utf-8"))
    assert stated is not None
    assert int(stated[1]) * 1024**2 == DEFAULT_SMALL_FILE_THRESHOLD_BYTES
