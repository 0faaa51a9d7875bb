"""The Python daemon of the Spark engine's executors: pyspark's own, started lighter.

Spark runs ``python -m <spark.python.daemon.module> pyspark.worker`` on each executor; the
daemon forks a worker for each task slot. Run as is, pyspark's daemon costs more CPU than a
1-row conversion's whole encoding (measured in docs/benchmarks.md, "Measurements behind
design choices"), for two reasons this module removes before it hands over to it:

- Spark puts ``SPARK_HOME/python/lib/pyspark.zip`` (and py4j's zip) first on the workers'
  ``PYTHONPATH``. Python caches no bytecode for modules imported from a zip, so every daemon
  and every worker compiled pyspark's sources again. Where pyspark is pip-installed (the
  local session: ``SPARK_HOME`` is the installed package) the very same files are importable,
  compiled, from site-packages: the zips leave ``sys.path``.
- Each forked worker imported pyarrow and the conversion's modules on its first task. They are
  imported here, once, before the daemon forks, and the workers inherit them; Arrow's memory
  pool is jemalloc, as in the local engine (:mod:`etl_lib._runtime.arrow_memory`).

Nothing runs before the fork but imports: no Arrow thread pool or allocation is started.
"""

from __future__ import annotations

import os
import sys

ZIPS = ("pyspark.zip", "py4j-")


def installed_pyspark_zips(path: list[str]) -> list[str]:
    """The entries of ``path`` that are the zips of a pip-installed pyspark whose package
    directory is importable from the rest of ``path`` (so the same files, compiled)."""
    found = []
    for entry in path:
        name = os.path.basename(entry)
        if not (entry.endswith(".zip") and name.startswith(ZIPS)):
            continue
        lib = os.path.dirname(entry)  # <site-packages>/pyspark/python/lib
        package = os.path.dirname(os.path.dirname(lib))
        if os.path.basename(package) == "pyspark" and os.path.dirname(package) in path:
            found.append(entry)
    return found


def _preload() -> None:
    from etl_lib._runtime.arrow_memory import use_jemalloc

    use_jemalloc()
    import pyarrow  # noqa: F401  # what every task decodes and encodes with

    import etl_lib.contract.reference
    import etl_lib.input.budget
    import etl_lib.input.planning
    import etl_lib.output.sink
    import etl_lib.output.writer
    import etl_lib.spark.transform  # noqa: F401
    from etl_lib.contract import native

    native.selected()  # loads the native encoder (and logs which runs) once


def main() -> None:
    """Run pyspark's daemon, its zips off ``sys.path`` and the conversion's modules loaded."""
    for entry in installed_pyspark_zips(sys.path):
        sys.path.remove(entry)
    _preload()
    import pyspark.daemon  # imports the worker module named by sys.argv[1]

    pyspark.daemon.manager()


if __name__ == "__main__":
    main()
