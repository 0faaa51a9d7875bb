"""The run itself (the Glue job's body, the converter Lambda's, a local worker's): claim the
job, convert under the claim's own attempt folder, and publish by one conditional write."""

from __future__ import annotations

import contextlib
import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from etl_lib import errors
from etl_lib.errors import ConversionError
from etl_lib.jobs import endings
from etl_lib.jobs.claims import RUN_FINISH_SECONDS, claim, holding
from etl_lib.jobs.context import JobContext
from etl_lib.jobs.models import Job, JobError, JobStatus, input_key, new_attempt_id, output_key, report_key
from etl_lib.options import Compression, Engine, Limits, OutputFormat

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)


class Attempts:
    """Runs a job's conversion exactly once in effect, however often a run is started."""

    def __init__(self, context: JobContext) -> None:
        self.context = context

    def run(
        self,
        job_id: str,
        *,
        spark_factory: Callable[[], SparkSession] | None = None,
        engine: Engine | str | None = None,
        attempt: str | None = None,
        run_id: str | None = None,
        must_end_by: float | None = None,
    ) -> Job | None:
        """Convert the job's input to its output, then record SUCCEEDED or FAILED.

        Exactly once in effect, however often it is called: the run first claims the job
        (see :func:`etl_lib.jobs.claims.claim`); a run that cannot claim it returns the job
        as it is and touches nothing. The claim holder writes under its own ``attempt``
        folder and publishes by one conditional write (SUCCEEDED, only while it still holds
        the job), so a run that lost its claim meanwhile can only remove its own files.

        ``attempt`` names this execution (unique per call; a supervisor that must end a dead
        worker's job passes its own, see :func:`etl_lib.jobs.endings.fail_if_attempt`);
        ``run_id`` is the launcher's run (Glue's ``JOB_RUN_ID``). ``spark_factory`` is only
        called when the job's engine is Spark, so a local-engine run never starts a JVM.

        ``must_end_by`` (a ``time.monotonic()`` instant) is when the caller will be killed, the
        converter Lambda's own timeout: waiting for a claim and the conversion's deadline
        both fit before it, leaving :data:`RUN_FINISH_SECONDS` to record the end and clean up.
        """
        attempt = attempt or new_attempt_id()
        job = claim(self.context, job_id, attempt, run_id, must_end_by=must_end_by)
        if job is None or job.attempt != attempt or job.status is not JobStatus.RUNNING:
            return job
        with holding(self.context, job_id, attempt):
            return self._convert(job, attempt, spark_factory=spark_factory, engine=engine, must_end_by=must_end_by)

    def _convert(
        self,
        job: Job,
        attempt: str,
        *,
        spark_factory: Callable[[], SparkSession] | None,
        engine: Engine | str | None,
        must_end_by: float | None = None,
    ) -> Job | None:
        # The module, looked up at call time: importing the service stays light (no pyarrow
        # for the API Lambdas), and the conversion is the one the module holds now.
        conversion = importlib.import_module("etl_lib.conversion")
        context = self.context

        job_id = job.job_id
        dest_key = output_key(job_id, job.options, attempt)
        engine = Engine(engine or job.engine)
        if engine is Engine.AUTO:  # a job queued before routing recorded its engine
            size = job.input_bytes if job.input_bytes is not None else context.inputs.size(input_key(job_id))
            engine = context.route(engine, size or 0)
        changed = self._upload_changed(job)
        if changed is not None:
            return endings.fail(context, job_id, changed, attempt=attempt)
        limits = context.spark_limits if engine is Engine.SPARK else Limits()
        if must_end_by is not None:
            left = max(1.0, must_end_by - time.monotonic() - RUN_FINISH_SECONDS)
            limits = replace(limits, max_run_seconds=min(limits.max_run_seconds or left, left))
        try:
            spark = spark_factory() if spark_factory is not None and engine is Engine.SPARK else None
            report = conversion.convert(
                job.source or context.inputs.uri(input_key(job_id)),
                context.outputs.uri_for_write(dest_key),
                job.options,
                engine=engine,
                local_max_bytes=context.small_file_threshold_bytes,
                spark=spark,
                limits=limits,
                partition_filter=job.partition_filter,
            )
            report = self._register(job, attempt, report)
            context.outputs.put_bytes(report_key(job_id, attempt), report.to_json(indent=2).encode())
        except ConversionError as exc:
            endings.discard(context, job_id, attempt)
            error = JobError(code=exc.code, message=f"{job.filename}: {exc.message}")
            return endings.fail(context, job_id, error, attempt=attempt)
        except Exception as exc:
            endings.discard(context, job_id, attempt)
            log.exception("conversion crashed")
            endings.fail(
                context,
                job_id,
                JobError(
                    code=errors.ErrorCode.INTERNAL_ERROR,
                    message=f"the conversion failed unexpectedly ({type(exc).__name__})",
                ),
                attempt=attempt,
            )
            raise
        return self._publish(job, attempt, report)

    def _publish(self, job: Job, attempt: str, report: Any) -> Job | None:
        """End the job SUCCEEDED with ``report`` if the upload is unchanged and ``attempt``
        still holds the job; otherwise leave nothing of this attempt's."""
        context, job_id = self.context, job.job_id
        changed = self._upload_changed(job)  # written again while it was being read?
        if changed is not None:
            endings.discard(context, job_id, attempt)
            return endings.fail(context, job_id, changed, attempt=attempt)
        finished = endings.succeed(context, job, report, attempt)
        if finished is None:  # lost the claim, or deleted meanwhile: leave nothing of ours
            with contextlib.suppress(Exception):
                endings.discard(context, job_id, attempt)
            return context.jobs.get(job_id)
        return finished

    def _upload_changed(self, job: Job) -> JobError | None:
        """The upload's key was written again after the upload was checked (a second POST
        with the same form): the run must not publish what it read. Before and after the
        conversion, since pyarrow's S3 reads cannot be pinned to an ETag themselves."""
        if job.input_version is None:  # queued before versions were recorded
            return None
        if self.context.inputs.version(input_key(job.job_id)) == job.input_version:
            return None
        return JobError(
            code=errors.ErrorCode.UPLOAD_CHANGED,
            message=f"{job.filename}: the uploaded file was replaced after it was checked; upload it as a new job",
        )

    def _register(self, job: Job, attempt: str, report: Any) -> Any:
        """Register a JSON Lines output as the attempt's own table; the report, naming it.

        A catalog that refuses (an API error, a throttle) costs the table, not the job: the
        output is whole and downloadable, so the job still succeeds, with no table named.
        """
        context = self.context
        if context.catalog is None or job.options.format is not OutputFormat.JSONL:
            return report
        from etl_lib.jobs.catalog import hive_columns, table_name
        from etl_lib.jobs.ports import OutputTable

        # The folder's URI from the file's (a local store names files, not folders).
        folder = context.outputs.uri(output_key(job.job_id, job.options, attempt)).rsplit("/", 1)[0] + "/"
        try:
            table = OutputTable(
                name=table_name(job.job_id, attempt),
                location=folder,
                columns=hive_columns(report.json_schema),
                compressed=job.options.compression is Compression.GZIP,
            )
            context.catalog.register(table)
        except Exception:
            log.exception("cannot register the output in the catalog", extra={"job_id": job.job_id})
            return report
        return replace(report, catalog_table=table.name)
