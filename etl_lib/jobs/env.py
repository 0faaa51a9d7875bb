"""The names of the environment variables the job service reads: one constant each.

Imported by the settings model (:mod:`etl_lib.jobs.settings`, the only reader) and by the CDK
app (``infra/pipeline/functions.py``, the writer), so a name is typed once; a test fails if
the stack sets a variable that is not here or the settings read one that is not here.
Light on purpose (no imports): the CDK app loads it.
"""

from __future__ import annotations

# Which adapters: "aws" (S3, DynamoDB, Glue, Lambda) or "local" (directories, SQLite).
ETL_BACKEND = "ETL_BACKEND"
# AWS resources (set by the stack).
INPUT_BUCKET = "INPUT_BUCKET"
OUTPUT_BUCKET = "OUTPUT_BUCKET"
JOBS_TABLE = "JOBS_TABLE"
IDEMPOTENCY_TABLE = "IDEMPOTENCY_TABLE"
GLUE_JOB_NAME = "GLUE_JOB_NAME"
CONVERTER_FUNCTION_NAME = "CONVERTER_FUNCTION_NAME"
# The Glue database where SUCCEEDED outputs are registered as tables (unset: none are).
CATALOG_DATABASE = "CATALOG_DATABASE"
# The role a run assumes with a session policy scoped to its job (the converter Lambda).
RUN_ROLE_ARN = "RUN_ROLE_ARN"
# Behaviour.
ETL_ENGINE = "ETL_ENGINE"
SMALL_FILE_THRESHOLD_BYTES = "SMALL_FILE_THRESHOLD_BYTES"
MAX_UPLOAD_BYTES = "MAX_UPLOAD_BYTES"
MULTIPART_THRESHOLD_BYTES = "MULTIPART_THRESHOLD_BYTES"
MIN_PART_BYTES = "MIN_PART_BYTES"
UPLOAD_URL_EXPIRES = "UPLOAD_URL_EXPIRES"
DOWNLOAD_URL_EXPIRES = "DOWNLOAD_URL_EXPIRES"
JOB_RETENTION_DAYS = "JOB_RETENTION_DAYS"
MAX_ACTIVE_JOBS_PER_USER = "MAX_ACTIVE_JOBS_PER_USER"
MAX_SPARK_JOBS_PER_USER = "MAX_SPARK_JOBS_PER_USER"
RUN_LEASE_SECONDS = "RUN_LEASE_SECONDS"
# The reconciler (etl_lib.jobs.reconcile): when a job with no live run is relaunched or failed.
RECONCILE_RELAUNCH_AFTER_SECONDS = "RECONCILE_RELAUNCH_AFTER_SECONDS"
RECONCILE_MAX_RELAUNCHES = "RECONCILE_MAX_RELAUNCHES"
RECONCILE_START_TIMEOUT_SECONDS = "RECONCILE_START_TIMEOUT_SECONDS"
# Sizing each Glue run by its input (etl_lib.jobs.sizing), and the prices its cost is estimated at.
GLUE_WORKER_TYPES = "GLUE_WORKER_TYPES"
GLUE_MIN_WORKERS = "GLUE_MIN_WORKERS"
GLUE_MAX_WORKERS = "GLUE_MAX_WORKERS"
GLUE_TARGET_SECONDS = "GLUE_TARGET_SECONDS"
GLUE_DPU_HOUR_USD = "GLUE_DPU_HOUR_USD"
GLUE_FLEX_DPU_HOUR_USD = "GLUE_FLEX_DPU_HOUR_USD"
LAMBDA_GB_SECOND_USD = "LAMBDA_GB_SECOND_USD"
# Data engineers' sources read in place (comma-separated): S3 buckets, Glue catalog databases.
SOURCE_BUCKETS = "SOURCE_BUCKETS"
SOURCE_DATABASES = "SOURCE_DATABASES"
ALLOWED_ORIGINS = "ALLOWED_ORIGINS"
# The local stack.
ETL_DATA_DIR = "ETL_DATA_DIR"
ETL_PUBLIC_URL = "ETL_PUBLIC_URL"
ETL_SIGNING_KEY = "ETL_SIGNING_KEY"
ETL_LOCAL_RUNNER = "ETL_LOCAL_RUNNER"
# Read by Powertools itself; the stack sets them, the settings read the namespace too.
POWERTOOLS_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"
POWERTOOLS_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
POWERTOOLS_LOG_LEVEL = "POWERTOOLS_LOG_LEVEL"
# Set by the Lambda runtime: settings are validated at cold start when it is present.
AWS_LAMBDA_FUNCTION_NAME = "AWS_LAMBDA_FUNCTION_NAME"

# Read by Powertools, not by the settings model.
POWERTOOLS_OWN = frozenset({POWERTOOLS_SERVICE_NAME, POWERTOOLS_LOG_LEVEL})
