"""IPython extension: apply the git-ignored Glue session config (``etl session-config``).

The notebooks' first cell starts with ``%load_ext etl_lib.notebook.session_config``. On the
``glue_pyspark`` kernel every line that starts with ``%`` runs in the local kernel process,
before any statement reaches a session, so this extension can set what the session is
created with: it sets the config's environment (the local endpoint's AWS config file) and
runs each magic (``%region``, ``%iam_role``, ``%additional_python_modules``..., and
``%%configure`` with the rest of its line as the cell) through IPython, i.e. through
aws-glue-sessions' own magics. On the ``etl-local`` kernel the same
magics are recorded no-ops and the environment is left alone. Without a config file it
says so and changes nothing.

The file's name and where it is looked for are defined here, where the notebooks run (on
Glue too, from the deployed wheel); ``etl session-config`` (the developer stack) writes it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

CONFIG_NAME = ".glue-session.json"
CONFIG_ENV = "ETL_GLUE_SESSION_CONFIG"


def find_config(start: str | os.PathLike[str] = ".") -> Path | None:
    """``$ETL_GLUE_SESSION_CONFIG``, else :data:`CONFIG_NAME` in ``start`` or a parent."""
    if os.environ.get(CONFIG_ENV):
        path = Path(os.environ[CONFIG_ENV])
        return path if path.is_file() else None
    folder = Path(start).resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / CONFIG_NAME).is_file():
            return candidate / CONFIG_NAME
    return None


def _on_glue_kernel(ipython: Any) -> bool:
    # The kernel class is launched as __main__; its base class names the package.
    kernel = getattr(ipython, "kernel", None)
    return any(c.__module__.startswith("aws_glue_interactive_sessions_kernel") for c in type(kernel).__mro__)


def load_ipython_extension(ipython: Any) -> None:
    path = find_config(os.getcwd())
    if path is None:
        print("no Glue session config (run `make session-config`); using the kernel's defaults")
        return
    config = json.loads(path.read_text(encoding="utf-8"))
    if _on_glue_kernel(ipython):
        os.environ.update({str(k): str(v) for k, v in config.get("env", {}).items()})
    print(f"Glue session config: {path} ({config.get('source', '')})")
    for line in config.get("magics", []):
        name, _, argument = line.lstrip("%").partition(" ")
        if line.startswith("%%"):  # a cell magic (``%%configure {...}``): its argument is the cell
            ipython.run_cell_magic(name, "", argument.strip())
        else:
            ipython.run_line_magic(name, argument.strip())


def unload_ipython_extension(ipython: Any) -> None:
    """Nothing to undo: the magics configure the next session only."""
