"""IPython extension: run notebooks written for the Glue kernel on a local kernel.

``%load_ext etl_lib.notebook.glue_local`` (the ``etl-local`` kernel loads it at start-up)
registers the magics of the ``aws-glue-sessions`` kernels (the list is read from
``aws_glue_interactive_sessions_kernel/glue_kernel_utils/KernelMagics.py``, version
1.0.9) and gives the notebook the names a Glue session predefines:

- ``spark``: a local SparkSession (:func:`etl_lib.spark.session.local_spark`, started on
  first use, so notebooks that never touch Spark start no JVM);
- ``sc``: its SparkContext (also started on first use);
- ``glueContext``: a *minimal stand-in*, not ``awsglue.context.GlueContext``: it has
  ``spark_session``, ``getSparkSession()``, ``sparkContext`` and the Data Catalog reads
  ``create_dynamic_frame.from_catalog`` / ``create_data_frame.from_catalog`` (and their
  ``create_*_from_catalog`` spellings): ``GetTable`` (and ``GetPartitions`` for a
  partitioned table) through boto3, so ``AWS_ENDPOINT_URL`` (the sessions endpoint's moto),
  then a Spark read of the table's (or each partition's) location. Its DynamicFrame is a
  stand-in too (:class:`LocalDynamicFrame`: ``toDF``, ``count``, ``show``,
  ``printSchema``); connection readers and transforms do not exist locally.
- ``s3://`` paths of ``spark.read`` / ``df.write`` go through :mod:`etl_lib.notebook.s3_local`
  (no S3A jars here: that module says why).
- ``%matplot plt`` at the end of a cell shows the current figure, as on the Glue kernel
  (where the session renders it as ``image/png``).

Session-configuration magics (``%glue_version``, ``%worker_type``, ``%%configure``...)
do nothing locally except record their argument in :data:`SETTINGS`. ``%%sql`` runs the
cell with ``spark.sql`` and shows the result, as the Glue kernel does.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from etl_lib.notebook import s3_local

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


def spark_factory(
    app_name: str = "etl-notebook", *, ui: bool = False, on_start: Callable[[Any], None] | None = None,
    s3_mirror: str | os.PathLike[str] | None = None,
) -> Callable[[], Any]:  # fmt: skip
    """Builds the local SparkSession of a notebook kernel or local Glue session (2 cores
    unless ``ETL_NOTEBOOK_CORES`` says otherwise) with ``s3://`` reads and writes through
    ``s3_mirror`` (:mod:`etl_lib.notebook.s3_local`); ``ui`` serves the Spark UI, ``on_start``
    is called with the session once it runs (e.g. to log the UI's address)."""

    def build() -> Any:
        from etl_lib.spark.session import local_spark

        s3_local.install(s3_mirror)

        spark = local_spark(app_name, cores=os.environ.get("ETL_NOTEBOOK_CORES", "2"), ui=ui)
        if on_start is not None:
            on_start(spark)
        return spark

    return build


# Hive column types of the catalog as Spark SQL types (the rest are spelled the same).
_HIVE_TYPES = {"integer": "int", "long": "bigint", "short": "smallint", "byte": "tinyint"}


def _spark_type(hive_type: str) -> str:
    return _HIVE_TYPES.get(hive_type.lower(), hive_type)


def _table_format(table: dict[str, Any]) -> str:
    """The Spark data source of a catalog table: its ``classification``, else what its
    input format or SerDe names (Parquet, ORC, JSON, CSV)."""
    storage = table.get("StorageDescriptor") or {}
    named = [str((table.get("Parameters") or {}).get("classification", "")), str(storage.get("InputFormat", "")),
             str((storage.get("SerdeInfo") or {}).get("SerializationLibrary", ""))]  # fmt: skip
    for text in named:
        for source in ("parquet", "orc", "json", "csv", "avro"):
            if source in text.lower():
                return source
    if any("LazySimpleSerDe" in text or "OpenCSVSerde" in text for text in named):
        return "csv"
    raise ValueError(f"table {table.get('DatabaseName')}.{table.get('Name')}: no data format Spark reads ({named})")


class LocalDynamicFrame:
    """Stand-in for ``awsglue.dynamicframe.DynamicFrame``: a DataFrame and the methods the
    notebooks use (``toDF``, ``count``, ``show``, ``printSchema``, ``schema``)."""

    def __init__(self, df: Any, name: str = "") -> None:
        self._df = df
        self.name = name

    @classmethod
    def fromDF(cls, dataframe: Any, glue_ctx: Any = None, name: str = "") -> LocalDynamicFrame:
        return cls(dataframe, name)

    def toDF(self) -> Any:
        return self._df

    def count(self) -> int:
        return int(self._df.count())

    def show(self, num_rows: int = 20) -> None:
        self._df.show(num_rows, truncate=False)

    def printSchema(self) -> None:
        self._df.printSchema()

    def schema(self) -> Any:
        return self._df.schema


class _CatalogSource:
    """``glueContext.create_dynamic_frame`` / ``create_data_frame``: ``from_catalog``."""

    def __init__(self, context: LocalGlueContext, dynamic: bool) -> None:
        self._context = context
        self._dynamic = dynamic

    def from_catalog(self, database: str, table_name: str, push_down_predicate: str = "", **options: Any) -> Any:
        """Read a Data Catalog table (``push_down_predicate``: a Glue partition expression,
        passed to ``GetPartitions``). Other Glue options are accepted and ignored."""
        df = self._context.read_catalog_table(database, table_name, push_down_predicate)
        return LocalDynamicFrame(df, table_name) if self._dynamic else df


class LocalGlueContext:
    """Stand-in for ``awsglue.context.GlueContext`` on a local kernel: the Spark session and
    Data Catalog reads (see the module's doc)."""

    def __init__(self, spark: Any, glue: Any = None) -> None:
        self._spark = spark
        self._glue = glue
        self.create_dynamic_frame = _CatalogSource(self, dynamic=True)
        self.create_data_frame = _CatalogSource(self, dynamic=False)

    def create_dynamic_frame_from_catalog(self, database: str, table_name: str, **options: Any) -> Any:
        return self.create_dynamic_frame.from_catalog(database, table_name, **options)

    def create_data_frame_from_catalog(self, database: str, table_name: str, **options: Any) -> Any:
        return self.create_data_frame.from_catalog(database, table_name, **options)

    @property
    def glue(self) -> Any:
        if self._glue is None:
            import boto3

            self._glue = boto3.client("glue")
        return self._glue

    def _read(self, table: dict[str, Any], location: str) -> Any:
        source = _table_format(table)
        reader = self._spark.read.format(source)
        if source == "csv":
            serde = (table.get("StorageDescriptor") or {}).get("SerdeInfo") or {}
            parameters = {**(table.get("Parameters") or {}), **(serde.get("Parameters") or {})}
            reader = reader.option("sep", parameters.get("field.delim", parameters.get("separatorChar", ",")))
            reader = reader.option("header", str(parameters.get("skip.header.line.count", "0")) != "0")
        return reader.load(location)

    def read_catalog_table(self, database: str, table_name: str, predicate: str = "") -> Any:
        """A DataFrame of a catalog table: ``GetTable``; unpartitioned, its location; else
        every partition ``GetPartitions`` returns (filtered by ``predicate``), each read from
        its own location with the partition values as columns typed as the catalog declares."""
        from pyspark.sql import functions as F

        table = self.glue.get_table(DatabaseName=database, Name=table_name)["Table"]
        keys = table.get("PartitionKeys") or []
        if not keys:
            return self._read(table, table["StorageDescriptor"]["Location"])
        pages = self.glue.get_paginator("get_partitions").paginate(
            DatabaseName=database, TableName=table_name, **({"Expression": predicate} if predicate else {})
        )
        partitions = sorted((p for page in pages for p in page["Partitions"]), key=lambda p: p["Values"])
        frames = []
        for partition in partitions:
            df = self._read(table, partition["StorageDescriptor"]["Location"])
            for key, value in zip(keys, partition["Values"], strict=True):
                df = df.withColumn(key["Name"], F.lit(value).cast(_spark_type(key["Type"])))
            frames.append(df)
        if not frames:
            columns = [*(table["StorageDescriptor"].get("Columns") or []), *keys]
            ddl = ", ".join(f"`{c['Name']}` {_spark_type(c['Type'])}" for c in columns)
            return self._spark.createDataFrame([], ddl)
        result = frames[0]
        for df in frames[1:]:
            result = result.unionByName(df, allowMissingColumns=True)
        return result

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

    def matplot(line: str = "") -> None:
        """%matplot plt: show the current figure of ``plt`` (the Glue session's magic)."""
        from IPython.display import display

        figure = user_ns[line.strip() or "plt"].gcf()
        display(figure)
        user_ns[line.strip() or "plt"].close(figure)

    ipython.register_magic_function(sql, "cell", "sql")
    ipython.register_magic_function(matplot, "line", "matplot")
    ipython.push({
        "spark": spark,
        "sc": Lazy(lambda: spark.sparkContext, "local SparkContext"),
        "glueContext": LocalGlueContext(spark),
    })  # fmt: skip


def unload_ipython_extension(ipython: Any) -> None:
    """Nothing to undo: the magics stay registered until the kernel exits."""
