"""A local SparkSession configured like the Glue job's, for the CLI, tests and notebooks.

On Glue the session comes from ``GlueContext``; everywhere else this builds one that
needs no network: driver bound to loopback, no UI, Python workers from this interpreter.
``ETL_SPARK_MASTER`` points it at a Spark standalone cluster on this machine instead of
``local[cores]`` (its executors then run in their Workers' directories, with their Workers'
environment).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from etl_lib._runtime import fs

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MASTER_ENV = "ETL_SPARK_MASTER"
"""The Spark master the session connects to (e.g. ``spark://host:7077``); default ``local[cores]``."""
LOG_LEVEL_ENV = "ETL_SPARK_LOG_LEVEL"
"""Spark's log level once the session runs; default ``ERROR``."""
LEAN_JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
"""The JVMs' options when the JVM only carries the work (:func:`local_spark`, ``lean_jvm``).

The conversion's JVM moves a few rows a slice (the slices, the pieces' summaries) between
Python processes: it runs little code, and no loop long enough to repay C2's compilations. Its
C2 compiler threads were half of a 1-row conversion's CPU; compiling with C1 only, and one
collector thread, more than halves the JVM's CPU (docs/benchmarks.md, "Measurements behind
design choices")."""
DAEMON_MODULE = "etl_lib.spark.daemon"
"""The executors' Python daemon (``spark.python.daemon.module``): pyspark's, started lighter."""


def local_spark(app_name: str = "etl", *, cores: str = "*", lean_jvm: bool = True, ui: bool = False) -> SparkSession:
    """The session of this process (started on first use): ``local[cores]``, or the master
    ``ETL_SPARK_MASTER`` names, its executors told where S3 is as this process knows it.

    Its executors' Python workers start from :mod:`etl_lib.spark.daemon`. With ``lean_jvm``
    (the default: the conversion, where Python does the work) its JVMs run with
    :data:`LEAN_JVM_OPTIONS`; pass ``False`` for a session whose work runs in the JVM (Spark's
    own readers and writers), which C2 speeds up. Only the first session of a process chooses.
    ``ui``: serve the Spark UI on a free port of 127.0.0.1 (``sparkContext.uiWebUrl``).
    """
    from pyspark.sql import SparkSession

    # Executors must run the same interpreter (and so the same etl_lib) as the driver.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # Spark reads log4j2.properties from SPARK_CONF_DIR when it starts the JVM.
    os.environ.setdefault("SPARK_CONF_DIR", os.path.join(os.path.dirname(__file__), "conf"))
    builder = (
        SparkSession.builder.appName(app_name)
        .master(os.environ.get(MASTER_ENV, f"local[{cores}]"))
        .config("spark.ui.enabled", "true" if ui else "false")
        .config("spark.ui.port", "0")  # any free port: several sessions run side by side
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.python.worker.reuse", "true")
        .config("spark.sql.execution.pyspark.udf.faulthandler.enabled", "true")
        .config("spark.python.daemon.module", DAEMON_MODULE)
    )
    if lean_jvm:
        builder = builder.config("spark.driver.extraJavaOptions", LEAN_JVM_OPTIONS).config(
            "spark.executor.extraJavaOptions", LEAN_JVM_OPTIONS
        )
    # The executors must read and write the S3 the driver plans and publishes on (moto, MinIO,
    # a region): on a cluster their environment is their Worker's, not this process's.
    # Credentials are not passed on: Spark shows its configuration (UI, event logs), and a
    # cluster's executors have their own (an instance role, their Worker's environment).
    for name in (*fs.ENDPOINT_ENV, *fs.REGION_ENV):
        if os.environ.get(name):
            builder = builder.config(f"spark.executorEnv.{name}", os.environ[name])
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(os.environ.get(LOG_LEVEL_ENV, "ERROR"))
    return spark
