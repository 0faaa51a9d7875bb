"""Strip outputs before committing: ``python -m etl_lib.notebook.strip notebooks/*.ipynb``.

Clears outputs, execution counts and papermill metadata, and keeps (or restores) the
``glue_pyspark`` kernelspec, so a notebook saved from the ``etl-local`` kernel is
committed as the Glue notebook it is (tests/notebooks checks both).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

GLUE_KERNELSPEC = {"name": "glue_pyspark", "display_name": "Glue PySpark", "language": "python"}
GLUE_LANGUAGE_INFO = {
    "name": "Python_Glue_Session",
    "mimetype": "text/x-python",
    "codemirror_mode": {"name": "python", "version": 3},
    "pygments_lexer": "python3",
    "file_extension": ".py",
}


def strip(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.metadata.get("tags") == []:
            del cell.metadata["tags"]
    nb.metadata.pop("papermill", None)
    nb.metadata["kernelspec"] = dict(GLUE_KERNELSPEC)
    nb.metadata["language_info"] = dict(GLUE_LANGUAGE_INFO)
    return nb


def main(argv: list[str] | None = None) -> int:
    paths = [Path(p) for p in (sys.argv[1:] if argv is None else argv)]
    for path in paths:
        before = path.read_text(encoding="utf-8")
        nb = strip(nbformat.reads(before, as_version=4))
        after = nbformat.writes(nb) + "\n"
        if after != before:
            path.write_text(after, encoding="utf-8")
            print(f"stripped {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
