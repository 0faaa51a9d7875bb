"""The gates a developer runs before committing (.pre-commit-config.yaml) are the gates CI runs
(.ci/run and `make check`: lint, types, then test): same commands, none missing on either side."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
MAKEFILES = [REPO / "Makefile", *sorted((REPO / "mk").glob("*.mk"))]
# How the Makefiles spell what the hooks spell out.
MAKE_SPELLING = {"$(BIN)/": ".venv/bin/", "$(PY)": ".venv/bin/python", "$(FRONTEND)": "frontend", "$$": "$"}


def _makefile_text() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in MAKEFILES)


def _lines() -> list[str]:
    """Makefile lines with backslash continuations joined."""
    return _makefile_text().replace("\\\n", " ").splitlines()


def prerequisites(target: str) -> list[str]:
    for line in _lines():
        match = re.match(rf"^{re.escape(target)}:(?!=)([^#]*)", line)
        if match:
            return match.group(1).split()
    raise AssertionError(f"no rule for {target} in the Makefiles")


def variable(name: str) -> list[str]:
    values: list[str] = []
    for line in _lines():
        match = re.match(rf"^{name}\s*(:=|\+=|=)\s*(.*)$", line)
        if match:
            values = values + match.group(2).split() if match.group(1) == "+=" else match.group(2).split()
    return values


def recipe(target: str) -> list[str]:
    """The commands of ``target``'s recipe, in the hooks' spelling."""
    commands: list[str] = []
    inside = False
    for line in _lines():
        if re.match(rf"^{re.escape(target)}:(?!=)", line):
            inside = True
            continue
        if inside and line.startswith("\t"):
            command = line.strip().lstrip("@")
            for make, plain in MAKE_SPELLING.items():
                command = command.replace(make, plain)
            commands.append(command)
        elif inside:
            break
    return commands


def gate_targets() -> list[str]:
    expanded = [
        t
        for target in prerequisites("lint")
        for t in (variable("LINT_TARGETS") if target == "$(LINT_TARGETS)" else [target])
    ]
    return [*expanded, "types"]


def hooks() -> list[dict[str, object]]:
    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    return [hook for repo in config["repos"] for hook in repo["hooks"]]


def hook_entries() -> dict[str, str]:
    return {str(hook["id"]): str(hook["entry"]) for hook in hooks()}


# A tool's run, as opposed to the shell around it (a variable, a test, an echo).
TOOL_RUN = re.compile(r"^(\.venv/bin/|npm |npx )")


def tool_runs(command: str) -> list[str]:
    """The statements of a recipe line that run a tool, split at ``;``, ``&&`` and ``||``."""
    return [part.strip() for part in re.split(r";|&&|\|\|", command) if TOOL_RUN.match(part.strip())]


def runs_as_hook(statement: str, hook: Mapping[str, object]) -> bool:
    """Whether ``statement`` is exactly what ``hook`` runs: its entry alone (a whole-repo hook),
    or its entry given files its ``files`` pattern takes (a hook that is passed file names)."""
    entry = str(hook["entry"])
    if hook.get("pass_filenames", True) is False:
        return statement == entry
    if not statement.startswith(entry + " "):
        return False
    pattern = re.compile(str(hook.get("files", ".")))
    return all(pattern.search(arg.replace("*", "x")) for arg in statement[len(entry) + 1 :].split())


def test_ci_runs_the_gates_of_make_check_then_the_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    commands = [line for line in ci.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert commands[-2:] == ["make lint types", "exec make test"]
    assert "make test" in (REPO / "README.md").read_text(encoding="utf-8")
    assert prerequisites("check") == ["lint", "types", "test"]


def test_every_gate_command_of_the_makefile_is_a_pre_commit_hook() -> None:
    """Exactly the same command: a hook that ran less than CI (fewer flags, fewer files)
    would let a commit through that CI then refuses."""
    for target in gate_targets():
        statements = [statement for command in recipe(target) for statement in tool_runs(command)]
        assert statements, f"make {target} runs nothing"
        for statement in statements:
            assert any(runs_as_hook(statement, hook) for hook in hooks()), (
                f"`{statement}` (make {target}) is no hook of .pre-commit-config.yaml, to the letter"
            )


def test_every_pre_commit_hook_is_a_gate_of_the_makefile() -> None:
    statements = [s for target in gate_targets() for command in recipe(target) for s in tool_runs(command)]
    for hook in hooks():
        assert any(runs_as_hook(statement, hook) for statement in statements), (
            f"hook {hook['id']} runs `{hook['entry']}`, which no gate of `make lint types` runs to the letter"
        )


def test_a_hook_weaker_than_its_gate_is_caught() -> None:
    ruff = {"entry": ".venv/bin/ruff check .", "pass_filenames": False}
    assert runs_as_hook(".venv/bin/ruff check .", ruff)
    assert not runs_as_hook(".venv/bin/ruff check . --select ALL", ruff)
    strip = {"entry": ".venv/bin/python -m etl_lib.notebook.strip", "files": "^notebooks/.*\\.ipynb$"}
    assert runs_as_hook(".venv/bin/python -m etl_lib.notebook.strip notebooks/*.ipynb", strip)
    assert not runs_as_hook(".venv/bin/python -m etl_lib.notebook.strip --check notebooks/*.ipynb", strip)
    assert not runs_as_hook(".venv/bin/python -m etl_lib.notebook.strip other/*.ipynb", strip)


def test_the_gates_cover_ruff_format_notebooks_eslint_and_mypy() -> None:
    assert set(hook_entries()) == {"ruff", "ruff-format", "notebooks-strip", "mypy", "eslint"}
    assert recipe("lint-python") == [".venv/bin/ruff check .", ".venv/bin/ruff format --check ."]
    assert recipe("types") == [".venv/bin/mypy"]


ISSUE_CITATION = re.compile(r"\bissues?\s*#?\d+|\bissues/\d+", re.IGNORECASE)


def test_no_comment_or_doc_cites_an_issue_number() -> None:
    """Say what the code is for: an issue number means nothing to a reader of the code."""
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    citing = []
    for name in tracked:
        if name.endswith(("package-lock.json", ".parquet", ".png")):
            continue
        try:
            text = (REPO / name).read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue
        citing += [f"{name}:{n}" for n, line in enumerate(text.splitlines(), 1) if ISSUE_CITATION.search(line)]
    assert citing == []
