"""Run a notebook with papermill and fail on *any* error output.

The Glue kernels report a failed statement with status ``ok`` and print the error as a
stream, so papermill's own check (the execute reply status) is not enough: after the run,
:func:`run_notebook` scans every cell's outputs (:func:`find_errors`) and raises
:class:`NotebookFailed` if one shows an error, whatever the kernel said.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

KERNEL = "etl-local"
_TRACEBACK = "Traceback (most recent call last)"
# "ValueError: ...", "pyspark.errors.AnalysisException: ..." at the start of a line.
_ERROR_LINE = re.compile(r"^(?:[A-Za-z_][\w]*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit): ", re.MULTILINE)
# How aws-glue-sessions 1.0.9 (BaseKernel, KernelGateway) reports a session that could not be
# created, reached a terminal state or timed out: a line on stderr, and "ok" for the cell.
_GLUE_KERNEL_FAILURE = re.compile(
    r"^(?:Session failed to reach|Current session is in an unhealthy terminal state|Exception encountered"
    r"|Unknown exception encountered|Following exception encountered|Timed out after|Timeout occurred with statement"
    r"|Failed to retrieve session|Failed to cancel the statement|session_id=\S+ has reached)",
    re.MULTILINE,
)


@dataclass(frozen=True)
class CellError:
    """One error output: the cell's index in the executed notebook, the output's kind, its
    text and the cell's source."""

    cell: int
    kind: str
    text: str
    source: str = ""

    @property
    def message(self) -> str:
        """The line that says what went wrong: the Glue kernel's own failure line, else the
        last ``XxxError: ...`` line, else the last line."""
        for pattern in (_GLUE_KERNEL_FAILURE, _ERROR_LINE):
            found = [m.start() for m in pattern.finditer(self.text)]
            if found:
                start = found[0] if pattern is _GLUE_KERNEL_FAILURE else found[-1]
                return self.text[start:].splitlines()[0].strip()[:300]
        lines = self.text.strip().splitlines()
        return lines[-1][:300] if lines else self.kind

    @property
    def source_line(self) -> str:
        """The cell's first line that is code (not blank, not a comment)."""
        lines = [line for line in self.source.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        return lines[0].strip()[:200] if lines else ""


@dataclass
class NotebookFailed(Exception):
    """A run that errored: every error output found (``errors``), or papermill's ``cause``."""

    notebook: str
    errors: list[CellError] = field(default_factory=list)
    cause: str = ""

    def __str__(self) -> str:
        first = self.errors[0] if self.errors else None
        where = f"cell {first.cell} `{first.source_line}`: {first.message}" if first else self.cause
        return f"{self.notebook} failed: {where}"


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def find_errors(nb: nbformat.NotebookNode) -> list[CellError]:
    """Error outputs of every code cell: ``error`` outputs, and streams or results that
    carry a traceback, an ``XxxError: message`` line, or one of the Glue kernel's own
    failure messages (a session that never became READY is only a line on stderr)."""
    found: list[CellError] = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            kind = output.get("output_type")
            if kind == "error":
                found.append(CellError(index, "error", f"{output.get('ename')}: {output.get('evalue')}", cell.source))
                continue
            if kind == "stream":
                text = _text(output.get("text"))
            elif kind in {"execute_result", "display_data"}:
                text = _text(output.get("data", {}).get("text/plain"))
            else:
                continue
            if _TRACEBACK in text or _ERROR_LINE.search(text) or _GLUE_KERNEL_FAILURE.search(text):
                found.append(CellError(index, f"{kind}:{output.get('name', '')}".rstrip(":"), text, cell.source))
    return found


def run_notebook(
    notebook: str | os.PathLike[str],
    output: str | os.PathLike[str],
    parameters: Mapping[str, Any] | None = None,
    *,
    kernel: str = KERNEL,
    cwd: str | os.PathLike[str] | None = None,
    timeout: int = 600,
) -> nbformat.NotebookNode:
    """Execute ``notebook`` into ``output``; raise :class:`NotebookFailed` on a failed cell
    or any error output. Returns the executed notebook."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from etl_lib.notebook import papermill_glue

    papermill_glue.register()  # also done by the entry point; explicit for clarity
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    try:
        papermill.execute_notebook(
            str(notebook), str(output), parameters=dict(parameters or {}), kernel_name=kernel,
            cwd=str(cwd) if cwd is not None else None, execution_timeout=timeout, progress_bar=False,
        )  # fmt: skip
    except PapermillExecutionError as exc:
        executed = nbformat.read(str(output), as_version=4) if Path(output).exists() else None
        errors = find_errors(executed) if executed is not None else []
        raise NotebookFailed(str(notebook), errors, f"{exc.ename}: {exc.evalue}") from exc
    executed = nbformat.read(str(output), as_version=4)
    errors = find_errors(executed)
    if errors:
        raise NotebookFailed(str(notebook), errors)
    return executed
