"""A process that dies for real at a chosen point of a job's life (the reconciler's tests).

``python -m tests.jobs.dying_process MODE SPEC MARKER`` builds the job service SPEC (JSON)
describes, on SQLite and directories or on DynamoDB and S3 (moto's server, through
``AWS_ENDPOINT_URL``), then:

* ``queue JOB_ID SIZE``: handles the job's upload event, and hangs inside StartJobRun, before
  it starts anything, after writing MARKER: killed there, the job stays QUEUED with no run;
* ``run JOB_ID ATTEMPT``: claims the job as ATTEMPT and starts converting; the conversion writes
  a staging file under the attempt's folder, then MARKER, then hangs: killed there, the job
  stays RUNNING under a lease nobody renews, with the dead attempt's file left behind.

The test sends SIGKILL once MARKER exists: nothing of this process runs after it.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from etl_lib.jobs.models import attempt_prefix
from etl_lib.jobs.ports import JobLauncher, RunSpec
from etl_lib.jobs.service import JobService

HANG_SECONDS = 600  # far longer than any test waits: the test kills it first


def build(spec: Mapping[str, Any], launcher: JobLauncher | None = None) -> JobService:
    """The service ``spec`` describes (see :func:`spec_of`)."""
    if spec["kind"] == "sqlite":
        from etl_lib.jobs.local import DirectoryObjectStore, SqliteJobStore, UrlSigner

        root = Path(spec["root"])
        signer = UrlSigner(b"k")
        jobs: Any = SqliteJobStore(root / "jobs.db")
        inputs: Any = DirectoryObjectStore(root / "objects" / "inputs", bucket="inputs", signer=signer)
        outputs: Any = DirectoryObjectStore(root / "objects" / "outputs", bucket="outputs", signer=signer)
    else:
        import boto3

        from etl_lib.jobs.aws import DynamoJobStore, S3ObjectStore

        jobs = DynamoJobStore(boto3.client("dynamodb"), spec["table"])
        inputs = S3ObjectStore(boto3.client("s3"), spec["input_bucket"])
        outputs = S3ObjectStore(boto3.client("s3"), spec["output_bucket"])
    return JobService(
        jobs=jobs, inputs=inputs, outputs=outputs, launcher=launcher, engine="local", lease_seconds=spec["lease"]
    )


def spec_of(service: JobService) -> dict[str, Any]:
    """What :func:`build` needs to build a twin of ``service`` in another process."""
    from etl_lib.jobs.aws import DynamoJobStore, S3ObjectStore
    from etl_lib.jobs.local import SqliteJobStore

    if isinstance(service.jobs, SqliteJobStore):
        return {"kind": "sqlite", "root": str(Path(service.jobs.path).parent), "lease": service.lease_seconds}
    assert isinstance(service.jobs, DynamoJobStore)
    assert isinstance(service.inputs, S3ObjectStore) and isinstance(service.outputs, S3ObjectStore)
    return {
        "kind": "dynamodb",
        "table": service.jobs.table,
        "input_bucket": service.inputs.bucket,
        "output_bucket": service.outputs.bucket,
        "lease": service.lease_seconds,
    }


class HangingLauncher(JobLauncher):
    """StartJobRun that never returns: the process is killed inside it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def start(self, arguments: Mapping[str, str], spec: RunSpec | None = None) -> str:
        self.marker.write_text("in StartJobRun")
        time.sleep(HANG_SECONDS)
        raise AssertionError("should have been killed")

    def arguments_of(self, run_id: str) -> dict[str, str] | None:
        return None


def main(argv: list[str]) -> None:
    mode, spec, marker = argv[0], json.loads(argv[1]), Path(argv[2])
    if mode == "queue":
        job_id, size = argv[3], int(argv[4])
        build(spec, HangingLauncher(marker)).on_object_created(f"inputs/{job_id}/input.parquet", size)
        return
    job_id, attempt = argv[3], argv[4]
    service = build(spec)
    from etl_lib import conversion

    def hang(*args: Any, **kwargs: Any) -> Any:
        service.outputs.put_bytes(f"{attempt_prefix(job_id, attempt)}staging/piece-0", b'{"half": ')
        marker.write_text("converting")
        time.sleep(HANG_SECONDS)
        raise AssertionError("should have been killed")

    conversion.convert = hang
    service.run(job_id, attempt=attempt)


if __name__ == "__main__":
    main(sys.argv[1:])
