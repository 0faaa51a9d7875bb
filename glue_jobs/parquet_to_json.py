"""Glue job: convert one job's uploaded Parquet file to JSON and record the outcome.

Thin on purpose: parse the run arguments, build the service from them, call
``JobService.run``. Runs unchanged on AWS Glue 6.0 (``awsglue`` present) and locally
(plain ``SparkSession``), where the local runner starts it exactly as Glue would::

    parquet_to_json.py --job_id ID --jobs_store dynamodb:TABLE \\
        --input_store s3://INPUT_BUCKET --output_store s3://OUTPUT_BUCKET
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

ARGUMENTS = ["job_id", "jobs_store", "input_store", "output_store"]
# Optional: the CloudWatch namespace for the job's end metrics (a default argument of the
# Glue job in AWS; the local runner leaves it out, so nothing is published locally).
# JOB_RUN_ID (Glue's, or the local runner's) is recorded on the job with its claim, so a
# run-state event is matched to the run that holds the job; attempt_id lets a supervisor
# name this execution (else the service picks a fresh one).
# job_retention_days: how long the job it ends is kept (the deployment's JOB_RETENTION_DAYS).
# output_catalog: where a JSON Lines output is registered as a table (glue:DATABASE).
# run_role_arn: the role the run assumes with a session policy scoped to its job (a default
# argument of the Glue job in AWS; etl_lib.jobs.settings.service_for_run).
# source_buckets, source_databases: the allow-list of data engineers' sources, which the run's
# scoped session may read (default arguments, set with the allow-list: infra/pipeline/sources.py).
OPTIONAL_ARGUMENTS = [
    "metrics_namespace",
    "JOB_RUN_ID",
    "attempt_id",
    "job_retention_days",
    "output_catalog",
    "run_role_arn",
    "source_buckets",
    "source_databases",
]
# Read by pyarrow's S3 filesystem on the executors: they must reach the same endpoint
# (moto's server, LocalStack) as the driver, with the same credentials: on Glue, the run's
# credentials scoped to its job (the executors' own, the job role's, may only assume).
_EXECUTOR_ENV = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
)


def parse_arguments(argv: Sequence[str]) -> dict[str, str]:
    try:
        from awsglue.utils import getResolvedOptions
    except ImportError:
        parser = argparse.ArgumentParser(prog="parquet_to_json")
        for name in ARGUMENTS:
            parser.add_argument(f"--{name}", required=True)
        for name in OPTIONAL_ARGUMENTS:
            parser.add_argument(f"--{name}")
        # Glue adds its own (--JOB_NAME, --JOB_RUN_ID, --TempDir...): accept and ignore them.
        known, _ = parser.parse_known_args(list(argv[1:]))
        names = ARGUMENTS + [n for n in OPTIONAL_ARGUMENTS if getattr(known, n) is not None]
        return {name: str(getattr(known, name)) for name in names}
    # getResolvedOptions fails on a missing name: ask only for the optional ones present.
    present = [n for n in OPTIONAL_ARGUMENTS if f"--{n}" in argv]
    resolved: dict[str, str] = getResolvedOptions(list(argv), ARGUMENTS + present)
    return resolved


def glue_or_local_spark() -> Any:
    try:
        from awsglue.context import GlueContext
        from pyspark.context import SparkContext
    except ImportError:
        from etl_lib.spark.session import local_spark

        spark = local_spark("parquet-to-json")
    else:
        spark = GlueContext(SparkContext.getOrCreate()).spark_session
    return spark


def main(argv: Sequence[str] | None = None, *, spark_factory: Callable[[], Any] | None = None) -> int:
    """0 when the job ended SUCCEEDED or another run holds it (this run was a duplicate and
    changed nothing), 1 when it ended FAILED (its error says why)."""
    from etl_lib.jobs.models import JobStatus, new_attempt_id
    from etl_lib.jobs.settings import service_for_run

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    args = parse_arguments(sys.argv if argv is None else argv)
    service = service_for_run(args)

    def spark() -> Any:
        session = spark_factory() if spark_factory is not None else glue_or_local_spark()
        endpoint = os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL_S3")
        if endpoint or args.get("run_role_arn"):
            # Python functions created from now on carry this environment to the executors
            # (not Spark's configuration, which the Spark UI and event logs show).
            for name in _EXECUTOR_ENV:
                if name in os.environ:
                    session.sparkContext.environment[name] = os.environ[name]
        return session

    attempt = args.get("attempt_id") or new_attempt_id()
    job = service.run(args["job_id"], spark_factory=spark, attempt=attempt, run_id=args.get("JOB_RUN_ID"))
    if job is None:
        return 1
    duplicate = job.status is JobStatus.RUNNING and job.attempt != attempt
    return 0 if job.status is JobStatus.SUCCEEDED or duplicate else 1


if __name__ == "__main__":
    sys.exit(main())
