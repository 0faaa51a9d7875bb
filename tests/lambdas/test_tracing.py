"""What the API Lambdas send to X-Ray: their traces, never a response body.

Responses hold presigned URLs (anyone holding one may upload or download until it expires)
and users' job data, so the handlers must not attach them to trace metadata, which is kept
and shown to everyone with X-Ray read access (job ids may be traced: they are no secret).
The check is real: the handlers run in a child process as in Lambda (tracing on), and the
X-Ray SDK's datagrams are caught by a UDP listener on loopback standing in for the daemon.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

_CHILD = """
import json, sys
from pathlib import Path
from tests.jobs.support import FakeLambdaContext, api_event, local_upload, s3_event, write_parquet
from lambdas.download.handler import handler as download
from lambdas.events.handler import handler as events
from lambdas.status.handler import handler as status
from lambdas.upload.handler import handler as upload

data = write_parquet(Path(sys.argv[1]) / "in.parquet").read_bytes()
request = api_event("POST", "/jobs", body={"filename": "a.parquet", "size": len(data)})
created = json.loads(upload(request, FakeLambdaContext())["body"])
events(s3_event(local_upload(created["upload"]["fields"], data), len(data)), FakeLambdaContext())
path = "/jobs/" + created["job"]["job_id"]
reads = ((status, "/jobs"), (status, path), (status, path + "/report"), (download, path + "/download"))
bodies = [created] + [json.loads(h(api_event("GET", route), FakeLambdaContext())["body"]) for h, route in reads]
print(json.dumps(bodies))
"""


def _datagrams(listener: socket.socket) -> list[str]:
    listener.settimeout(2.0)  # the SDK sends as each subsegment ends, before the child exits
    caught: list[str] = []
    while True:
        try:
            data, _ = listener.recvfrom(65536)
        except TimeoutError:
            return caught
        caught.append(data.decode("utf-8", "replace"))


def test_the_api_handlers_trace_their_work_but_not_the_presigned_urls_and_job_data_they_answer(
    tmp_path: Path,
) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    env = {
        **os.environ,
        # As in Lambda: Powertools' Tracer is on, and the X-Ray SDK takes the function's trace.
        "AWS_LAMBDA_FUNCTION_NAME": "upload",
        "LAMBDA_TASK_ROOT": str(tmp_path),
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{port}",
        "POWERTOOLS_TRACE_DISABLED": "false",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "ETL_BACKEND": "local",
        "ETL_DATA_DIR": str(tmp_path / "data"),
        "ETL_ENGINE": "local",
        "ETL_LOCAL_RUNNER": "inline",
        "ETL_SIGNING_KEY": "test-key",
    }
    try:
        argv = [sys.executable, "-c", _CHILD, str(tmp_path)]
        child = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert child.returncode == 0, child.stderr[-2000:]
        caught = _datagrams(listener)
    finally:
        listener.close()
    created, listed, job, report, download = json.loads(child.stdout.strip().splitlines()[-1])
    assert listed["jobs"][0]["job_id"] == job["job"]["job_id"] == report["job_id"]
    secrets = [
        created["upload"]["fields"]["signature"],  # the local stack signs its forms itself
        download["url"].split("?", 1)[1],
    ]
    handlers = [d for d in caught if '"## handler"' in d]
    assert len(handlers) == 6, caught  # every invocation was traced: the check below can fail
    assert not [d for d in caught for secret in secrets if secret in d]
