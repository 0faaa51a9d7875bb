"""The repository's own modules import each other without a circle.

The graph is read from the sources (no module is executed): the imports a module runs when it
is imported, that is its module-level ``import`` statements, also inside a module-level ``if``,
``try`` or ``with``, but neither those under ``if TYPE_CHECKING:`` (for the type checker only)
nor those inside a function (run when it is called). Importing ``a.b.c`` also runs ``a`` and
``a.b``, so a module depends on the packages above what it imports too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Where each top-level name's sources are: the packages the project runs or deploys.
ROOTS = {
    "etl_lib": REPO / "etl_lib",
    "etl_devstack": REPO / "devstack" / "etl_devstack",
    "lambdas": REPO / "lambdas",
    "infra": REPO / "infra",
    "glue_jobs": REPO / "glue_jobs",
}


def modules(roots: Mapping[str, Path]) -> dict[str, Path]:
    """Every module under ``roots``, by dotted name (a package by its ``__init__.py``)."""
    found: dict[str, Path] = {}
    for top, folder in roots.items():
        for path in sorted(folder.rglob("*.py")):
            parts = [top, *path.relative_to(folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_level(statements: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    for statement in statements:
        if isinstance(statement, ast.Import | ast.ImportFrom):
            yield statement
        elif isinstance(statement, ast.If):
            if not _is_type_checking(statement.test):
                yield from _module_level(statement.body)
            yield from _module_level(statement.orelse)
        elif isinstance(statement, ast.Try):
            for block in (statement.body, *(h.body for h in statement.handlers), statement.orelse, statement.finalbody):
                yield from _module_level(block)
        elif isinstance(statement, ast.With | ast.ClassDef):
            yield from _module_level(statement.body)


def _with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def imports(name: str, path: Path, known: Mapping[str, Path]) -> set[str]:
    """The modules of ``known`` that importing ``name`` (at ``path``) runs."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: list[str] = []
    for node in _module_level(ast.parse(path.read_text(encoding="utf-8"), str(path)).body):
        if isinstance(node, ast.Import):
            targets += [alias.name for alias in node.names]
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        targets.append(base)
        targets += [f"{base}.{alias.name}" for alias in node.names]  # a submodule, when it is one
    return {dep for target in targets for dep in _with_parents(target) if dep in known and dep != name}


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in sorted(graph.get(node, ())):
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def import_graph(roots: Mapping[str, Path]) -> dict[str, set[str]]:
    known = modules(roots)
    return {name: imports(name, path, known) for name, path in known.items()}


def test_the_repository_s_modules_import_each_other_without_a_circle() -> None:
    graph = import_graph(ROOTS)
    assert len(graph) > 50, sorted(graph)  # the walk found the sources
    assert graph["infra.app"] >= {"infra.nag", "infra.stack"}
    assert cycles(graph) == []


def test_the_walk_finds_a_circle_and_ignores_type_checking_and_function_imports(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "a.py").write_text("from pkg import b\n")
    (tmp_path / "pkg" / "b.py").write_text("try:\n    from . import c\nexcept ImportError:\n    pass\n")
    (tmp_path / "pkg" / "c.py").write_text("import pkg.a\n")
    (tmp_path / "pkg" / "d.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import e\n"
        "def late() -> None:\n    from pkg import e\n"
    )
    (tmp_path / "pkg" / "e.py").write_text("from pkg.d import late\n")
    graph = import_graph({"pkg": tmp_path / "pkg"})
    assert graph["pkg.b"] == {"pkg", "pkg.c"}
    assert graph["pkg.d"] == set()
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"]]
