"""Installing the project's Jupyter kernels into its environment (never the user's home).

``etl-local`` is ipykernel with :mod:`etl_lib.notebook.glue_local` loaded, so notebooks
written for the ``glue_pyspark`` kernel run unchanged on local Spark. The Glue kernels of
``aws-glue-sessions`` are installed next to it (their own ``install-glue-kernels`` command
writes to the user's home). ``python -m etl_lib.notebook.kernel [--glue]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

KERNEL_NAME = "etl-local"
EXTENSION = "etl_lib.notebook.glue_local"
GLUE_KERNELS = ("glue_pyspark", "glue_spark")


def kernels_dir(prefix: str | os.PathLike[str] = sys.prefix) -> Path:
    return Path(prefix) / "share" / "jupyter" / "kernels"


def kernel_spec(python: str = sys.executable) -> dict[str, object]:
    return {
        "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}", f"--ext={EXTENSION}"],
        "display_name": "Python (etl-local: local Spark, Glue magics as no-ops)",
        "language": "python",
        "metadata": {"debugger": True},
        "env": {"ETL_NOTEBOOK_CORES": "2", "PYDEVD_DISABLE_FILE_VALIDATION": "1"},
    }


def _write_atomically(path: Path, text: str) -> None:
    # Concurrent installs (pytest-xdist workers) each replace the file whole.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".kernel-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)


def install_kernel(prefix: str | os.PathLike[str] = sys.prefix, python: str = sys.executable) -> Path:
    """Install (or refresh) the ``etl-local`` kernelspec under ``prefix``; returns its file."""
    path = kernels_dir(prefix) / KERNEL_NAME / "kernel.json"
    _write_atomically(path, json.dumps(kernel_spec(python), indent=2) + "\n")
    return path


def install_glue_kernels(prefix: str | os.PathLike[str] = sys.prefix) -> list[Path]:
    """Install the ``glue_pyspark`` and ``glue_spark`` kernelspecs of aws-glue-sessions under
    ``prefix``. Returns nothing when aws-glue-sessions is not installed."""
    try:
        import aws_glue_interactive_sessions_kernel as glue
    except ImportError:
        return []
    source = Path(glue.__file__).parent
    installed = []
    for name in GLUE_KERNELS:
        target = kernels_dir(prefix) / name
        target.mkdir(parents=True, exist_ok=True)
        for item in (source / name).iterdir():
            if item.is_file() and item.suffix in {".json", ".png"}:
                shutil.copyfile(item, target / item.name)
        installed.append(target / "kernel.json")
    return installed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m etl_lib.notebook.kernel", description=__doc__)
    parser.add_argument("--glue", action="store_true", help="also install glue_pyspark and glue_spark")
    parser.add_argument("--prefix", default=sys.prefix, help="environment prefix (default: this one)")
    args = parser.parse_args(argv)
    print(f"installed {install_kernel(args.prefix)}")
    if args.glue:
        glue = install_glue_kernels(args.prefix)
        print("\n".join(f"installed {p}" for p in glue) or "aws-glue-sessions not installed: Glue kernels skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
