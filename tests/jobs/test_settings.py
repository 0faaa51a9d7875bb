"""One typed settings model: one name per variable (etl_lib.jobs.env), one default per
setting, strict parsing everywhere, checked at cold start in a Lambda."""

from __future__ import annotations

import importlib
import typing

import pytest

from etl_lib.errors import SettingsError
from etl_lib.jobs import env
from etl_lib.jobs.service import REQUESTABLE_ENGINES
from etl_lib.jobs.settings import RunSettings, Settings, service_for_run
from etl_lib.options import DEFAULT_SMALL_FILE_THRESHOLD_BYTES, Engine

AWS = {env.INPUT_BUCKET: "i", env.OUTPUT_BUCKET: "o", env.JOBS_TABLE: "t", env.IDEMPOTENCY_TABLE: "k"}


def env_names() -> set[str]:
    return {v for k, v in vars(env).items() if k.isupper() and isinstance(v, str)}


def test_every_setting_is_read_from_a_variable_named_in_the_constants_module() -> None:
    aliases = {field.validation_alias for field in Settings.model_fields.values()}
    assert all(isinstance(a, str) for a in aliases)
    assert aliases <= env_names()
    # ...and every name there is read by the settings, by Powertools or by the runtime check.
    read_elsewhere = env.POWERTOOLS_OWN | {env.ALLOWED_ORIGINS, env.AWS_LAMBDA_FUNCTION_NAME}
    assert env_names() - aliases == read_elsewhere


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        (env.SMALL_FILE_THRESHOLD_BYTES, "big", "valid integer"),
        (env.SMALL_FILE_THRESHOLD_BYTES, "12.5", "valid integer"),
        (env.SMALL_FILE_THRESHOLD_BYTES, "0", "greater than 0"),
        (env.MAX_ACTIVE_JOBS_PER_USER, "-1", "greater than or equal to 0"),
        (env.ETL_ENGINE, "duckdb", "'auto', 'spark' or 'local'"),
        (env.ETL_LOCAL_RUNNER, "threads", "'subprocess', 'inline' or 'queue'"),
        (env.RUN_LEASE_SECONDS, "1", "greater than or equal to 3"),
    ],
)
def test_a_malformed_value_is_refused_in_one_line_naming_the_variable(name: str, value: str, words: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({**AWS, name: value})
    message = str(refused.value)
    assert name in message
    assert words in message
    assert repr(value) in message
    assert "\n" not in message


def test_a_glue_run_parses_the_threshold_as_strictly_as_the_lambdas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env.SMALL_FILE_THRESHOLD_BYTES, "64MiB")
    arguments = {"jobs_store": "sqlite:/tmp/unused.db", "input_store": "/tmp/in", "output_store": "/tmp/out"}
    with pytest.raises(SettingsError, match=env.SMALL_FILE_THRESHOLD_BYTES):
        service_for_run(arguments)
    monkeypatch.setenv(env.SMALL_FILE_THRESHOLD_BYTES, "1000")
    assert RunSettings.from_env().small_file_threshold_bytes == 1000


def test_one_default_for_the_small_file_threshold_everywhere() -> None:
    from etl_lib.conversion import choose_engine
    from etl_lib.jobs.service import JobService

    assert Settings.from_env(AWS).small_file_threshold_bytes == DEFAULT_SMALL_FILE_THRESHOLD_BYTES
    assert RunSettings.from_env({}).small_file_threshold_bytes == DEFAULT_SMALL_FILE_THRESHOLD_BYTES
    import inspect

    assert (
        inspect.signature(JobService).parameters["small_file_threshold_bytes"].default
        == DEFAULT_SMALL_FILE_THRESHOLD_BYTES
    )
    assert choose_engine("auto", DEFAULT_SMALL_FILE_THRESHOLD_BYTES) is Engine.LOCAL
    assert choose_engine("auto", DEFAULT_SMALL_FILE_THRESHOLD_BYTES + 1) is Engine.SPARK


def test_empty_values_mean_the_default_and_the_engine_is_the_enum() -> None:
    settings = Settings.from_env({**AWS, env.ETL_ENGINE: "", env.MAX_UPLOAD_BYTES: ""})
    assert settings.engine is Engine.AUTO
    assert Settings.from_env({**AWS, env.ETL_ENGINE: "spark"}).engine is Engine.SPARK


def test_the_requestable_engines_are_the_request_models() -> None:
    from lambdas.common.models import CreateJobRequest

    allowed = typing.get_args(CreateJobRequest.model_fields["engine"].annotation)
    assert set(allowed) == REQUESTABLE_ENGINES


@pytest.mark.parametrize("handler", ["upload", "status", "download", "events", "converter"])
def test_a_lambda_with_bad_settings_fails_at_cold_start(handler: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module = importlib.import_module(f"lambdas.{handler}.handler")
    monkeypatch.setenv(env.AWS_LAMBDA_FUNCTION_NAME, f"jobs-{handler}")
    monkeypatch.setenv(env.ETL_BACKEND, "aws")
    for name in AWS:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SettingsError, match="missing environment variables: INPUT_BUCKET"):
        importlib.reload(module)
    for name, value in AWS.items():
        monkeypatch.setenv(name, value)
    importlib.reload(module)  # configured: the container starts


def test_a_run_keeps_its_job_as_long_as_the_deployment_says(monkeypatch: pytest.MonkeyPatch) -> None:
    """The events Lambda passes JOB_RETENTION_DAYS with each run: a Glue run has no env of ours."""
    settings = Settings.from_env({**AWS, env.JOB_RETENTION_DAYS: "7"})
    assert settings.run_arguments()["--job_retention_days"] == "7"
    arguments = {"jobs_store": "sqlite:/tmp/unused.db", "input_store": "/tmp/in", "output_store": "/tmp/out"}
    assert service_for_run({**arguments, "job_retention_days": "7"}).limits.job_retention_seconds == 7 * 86_400
    with pytest.raises(SettingsError, match="job_retention_days"):
        service_for_run({**arguments, "job_retention_days": "seven"})


def test_settings_require_the_aws_names_and_positive_numbers() -> None:
    with pytest.raises(ValueError, match="INPUT_BUCKET, OUTPUT_BUCKET, JOBS_TABLE, IDEMPOTENCY_TABLE"):
        Settings.from_env({})
    with pytest.raises(ValueError, match="MAX_UPLOAD_BYTES: Input should be greater than 0"):
        Settings.from_env({"ETL_BACKEND": "local", "MAX_UPLOAD_BYTES": "0"})
    with pytest.raises(ValueError, match="ETL_BACKEND"):
        Settings.from_env({"ETL_BACKEND": "azure"})
    settings = Settings.from_env(
        {"INPUT_BUCKET": "i", "OUTPUT_BUCKET": "o", "JOBS_TABLE": "t", "IDEMPOTENCY_TABLE": "k"}
    )
    assert settings.max_upload_bytes == 1024**4
    assert (settings.multipart_threshold_bytes, settings.min_part_bytes) == (100 * 1024**2, 16 * 1024**2)
    # S3 refuses parts under 5 MiB (but the last): a deployment cannot plan smaller ones.
    with pytest.raises(ValueError, match="MIN_PART_BYTES must be at least 5242880"):
        Settings.from_env(
            {
                "INPUT_BUCKET": "i",
                "OUTPUT_BUCKET": "o",
                "JOBS_TABLE": "t",
                "IDEMPOTENCY_TABLE": "k",
                "MIN_PART_BYTES": "1024",
            }
        )
    # The local stack's store has no such minimum (its tests upload small parts).
    assert Settings.from_env({"ETL_BACKEND": "local", "MIN_PART_BYTES": "1024"}).min_part_bytes == 1024
    assert settings.run_arguments() == {
        "--jobs_store": "dynamodb:t",
        "--input_store": "s3://i",
        "--output_store": "s3://o",
        "--job_retention_days": "30",
    }


def test_settings_refuse_an_unknown_engine() -> None:
    with pytest.raises(ValueError, match="ETL_ENGINE"):
        Settings.from_env({"ETL_BACKEND": "local", "ETL_ENGINE": "duckdb"})
    with pytest.raises(ValueError, match="SMALL_FILE_THRESHOLD_BYTES"):
        Settings.from_env({"ETL_BACKEND": "local", "SMALL_FILE_THRESHOLD_BYTES": "big"})
