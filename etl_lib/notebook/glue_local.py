"""IPython extension: run notebooks written for the Glue kernel on a local kernel.

``%load_ext etl_lib.notebook.glue_local`` (the ``etl-local`` kernel loads it at start-up)
registers the magics of the ``aws-glue-sessions`` kernels (the list is read from
``aws_glue_interactive_sessions_kernel/glue_kernel_utils/KernelMagics.py``, version
1.0.9) and gives the notebook the names a Glue session predefines:

- ``spark``: a local SparkSession (:func:`etl_lib.spark.session.local_spark`, started on
  first use, so notebooks that never touch Spark start no JVM);
- ``sc``: its SparkContext (also started on first use);
- ``glueContext``: a *minimal stand-in*, not ``awsglue.context.GlueContext``: it only
  has ``spark_session``, ``getSparkSession()`` and ``sparkContext``. DynamicFrames,
  catalog and connection readers do not exist locally; notebooks in this project use
  ``spark`` and ``etl_lib`` only.

Session-configuration magics (``%glue_version``, ``%worker_type``, ``%%configure``...)
do nothing locally except record their argument in :data:`SETTINGS`. ``%%sql`` runs the
cell with ``spark.sql`` and shows the result, as the Glue kernel does.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

# Line and cell magics of aws-glue-sessions 1.0.9 (KernelMagics).
GLUE_LINE_MAGICS = (
    "iam_role", "idle_timeout", "timeout", "profile", "status", "list_sessions", "stop_session",
    "session_id", "reconnect", "session_id_prefix", "extra_py_files", "additional_python_modules",
    "extra_jars", "connections", "glue_version", "endpoint", "region", "number_of_workers",
    "worker_type", "streaming", "etl", "security_config", "session_type", "spark_conf", "help",
)  # fmt: skip
GLUE_CELL_MAGICS = ("configure", "tags", "assume_role")

SETTINGS: dict[str, str] = {}
"""What the session-configuration magics were given, by magic name (for inspection)."""

_INFO_MAGICS = {"status", "list_sessions", "help"}


class Lazy:
    """Forwards attribute access to an object built on first use (so a notebook or a Glue
    session that never touches Spark starts no JVM)."""

    def __init__(self, factory: Callable[[], Any], description: str) -> None:
        self._factory = factory
        self._description = description
        self._target: Any = None

    def _get(self) -> Any:
        if self._target is None:
            self._target = self._factory()
        return self._target

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._get(), name)

    def __repr__(self) -> str:
        return repr(self._target) if self._target is not None else f"<{self._description}, started on first use>"


def spark_factory(app_name: str = "etl-notebook") -> Callable[[], Any]:
    """Builds the local SparkSession of a notebook kernel or local Glue session (2 cores
    unless ``ETL_NOTEBOOK_CORES`` says otherwise)."""

    def build() -> Any:
        from etl_lib.spark.session import local_spark

        return local_spark(app_name, cores=os.environ.get("ETL_NOTEBOOK_CORES", "2"))

    return build


class LocalGlueContext:
    """Stand-in for ``awsglue.context.GlueContext`` on a local kernel: the Spark session only."""

    def __init__(self, spark: Any) -> None:
        self._spark = spark

    @property
    def spark_session(self) -> Any:
        return self._spark

    @property
    def sparkContext(self) -> Any:
        return self._spark.sparkContext

    def getSparkSession(self) -> Any:
        return self._spark


def _line_magic(name: str) -> Callable[[str], None]:
    def magic(line: str = "") -> None:
        if name in _INFO_MAGICS:
            print(f"%{name}: local kernel (etl-local), no Glue session; settings: {SETTINGS}")
        else:
            SETTINGS[name] = line.strip()

    magic.__doc__ = f"Glue magic %{name}: no-op on the local kernel (records its argument)."
    return magic


def _cell_magic(name: str) -> Callable[[str, str], None]:
    def magic(line: str = "", cell: str = "") -> None:
        SETTINGS[name] = cell.strip()

    magic.__doc__ = f"Glue cell magic %%{name}: no-op on the local kernel (records its body)."
    return magic


def load_ipython_extension(ipython: Any) -> None:
    for name in GLUE_LINE_MAGICS:
        ipython.register_magic_function(_line_magic(name), "line", name)
    for name in GLUE_CELL_MAGICS:
        ipython.register_magic_function(_cell_magic(name), "cell", name)

    spark = Lazy(spark_factory(), "local SparkSession")
    user_ns = ipython.user_ns

    def sql(line: str = "", cell: str = "") -> Any:
        """%%sql: run the cell with spark.sql and show the first rows (as the Glue kernel)."""
        df = user_ns["spark"].sql(cell)
        df.show(int(line) if line.strip().isdigit() else 20, truncate=False)

    ipython.register_magic_function(sql, "cell", "sql")
    ipython.push({
        "spark": spark,
        "sc": Lazy(lambda: spark.sparkContext, "local SparkContext"),
        "glueContext": LocalGlueContext(spark),
    })  # fmt: skip


def unload_ipython_extension(ipython: Any) -> None:
    """Nothing to undo: the magics stay registered until the kernel exits."""
