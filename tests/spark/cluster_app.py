"""A Spark driver for tests/spark/test_standalone_cluster.py, run in a process of its own.

A process holds one SparkContext, and the test's process may already hold a local one (the
session ``spark`` fixture), so the conversions that must run on the cluster named by
``ETL_SPARK_MASTER`` run here, through the library as a user calls it. Each step's outcome is
printed in one JSON object on stdout (an error as its code and message, any other exception
as its type and last line), so that the test sees every step even when one fails.

``python cluster_app.py SRC DEST S3_SRC S3_DEST GONE``: ``SRC`` and ``DEST`` relative to the
working directory; ``GONE`` a Parquet file this driver plans, then deletes before the executors
read it (each slice's task reports what it saw).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

import etl_lib
from etl_lib.errors import ConversionError


def _outcome(step: Callable[[], Any]) -> dict[str, Any]:
    try:
        step()
    except ConversionError as exc:
        return {"code": exc.code, "message": exc.message}
    except Exception as exc:  # a bug: its last line (a Python worker's error, for Spark's), then the next step
        return {"code": type(exc).__name__, "message": str(exc).strip().splitlines()[-1]}
    return {"code": None}


def _read_gone(gone: str, staging: str) -> dict[str, Any]:
    """Plan ``gone`` on the driver, delete it, then let the executors try to read it: what
    each slice's task reports."""
    from etl_lib.input.planning import open_input
    from etl_lib.options import ConvertOptions
    from etl_lib.output import sink
    from etl_lib.spark.session import local_spark
    from etl_lib.spark.transform import slices_frame, with_written_pieces

    plan = open_input(gone).plan(min_slices=2)
    os.remove(gone)
    try:
        rows = slices_frame(local_spark(), plan).transform(with_written_pieces(ConvertOptions(), staging)).collect()
    finally:
        sink.remove_tree(staging)
    return {"slices": len(plan), "errors": [[row["error_code"], row["error_message"]] for row in rows]}


def main(argv: list[str]) -> int:
    src, dest, s3_src, s3_dest, gone = argv
    outcomes = {
        "relative": _outcome(lambda: etl_lib.convert(src, dest, engine="spark")),
        "s3": _outcome(lambda: etl_lib.convert(s3_src, s3_dest, engine="spark")),
        "gone": _read_gone(gone, os.path.abspath("gone-staging")),
    }
    print(json.dumps(outcomes))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
