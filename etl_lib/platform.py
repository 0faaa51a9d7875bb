"""The platform the project targets, one constant each: AWS Glue 6.0, which is Spark 4.1.1
on Python 3.13 and Java 17; the Lambdas run the same Python. And on a developer's machine,
where the local stack keeps its state.

Read by the CDK app (the Glue jobs' version, the Lambda runtime, the Glue Python markers),
the developer stack (the sessions' ``%glue_version``) and the tests. The copies that cannot
import it (``pyproject.toml``'s ``requires-python`` and pyspark pin, ``environment.yml``,
``mk/infra.mk``'s wheel download) are checked against it by ``tests/test_platform.py``.
Light on purpose (no imports): the CDK app and ``etl --help`` load it.
"""

from __future__ import annotations

GLUE_VERSION = "6.0"
SPARK_VERSION = "4.1.1"
PYTHON_VERSION = "3.13"
JAVA_VERSION = "17"

DEFAULT_DATA_DIR = ".etl-local"
"""``ETL_DATA_DIR``'s default: where ``etl up``, ``etl validate``, ``etl sessions`` and the
notebooks' storage helper find the local stack's jobs and files."""
