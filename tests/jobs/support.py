"""Helpers shared by the job and Lambda tests: Parquet files, events, moto, services."""

from __future__ import annotations

import copy
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_devstack.local.gateway import LocalLambdaContext
from etl_lib.jobs.local import DirectoryObjectStore, SqliteJobStore, UrlSigner
from etl_lib.jobs.ports import JobLauncher
from etl_lib.jobs.service import JobLimits, JobService
from etl_lib.jobs.settings import Settings
from etl_lib.platform import GLUE_VERSION

EVENTS = Path(__file__).resolve().parents[1] / "events"
REGION = "us-east-1"


def write_parquet(path: Path, rows: int = 5) -> Path:
    table = pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "name": pa.array([f"n{i}" if i % 3 else None for i in range(rows)]),
            "price": pa.array([i * 1.5 for i in range(rows)]),
        }
    )
    pq.write_table(table, path)
    return path


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return event


def s3_event(key: str, size: int | None, bucket: str = "input-bucket") -> dict[str, Any]:
    event = load_event("s3_object_created.json")
    event["detail"]["bucket"]["name"] = bucket
    event["detail"]["object"]["key"] = key
    event["detail"]["object"]["size"] = size
    return event


def glue_event(run_id: str, state: str, message: str | None = None) -> dict[str, Any]:
    event = load_event("glue_job_state_change.json")
    event["detail"].update(jobRunId=run_id, state=state, message=message)
    return event


def api_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    sub: str | None = "user-a",
    query: dict[str, str] | None = None,
    raw_body: str | None = None,
) -> dict[str, Any]:
    event = copy.deepcopy(load_event("apigw_rest_request.json"))
    event["httpMethod"] = event["requestContext"]["httpMethod"] = method
    event["path"] = path
    parts = path.strip("/").split("/")
    if len(parts) >= 2:
        event["pathParameters"] = {"job_id": parts[1]}
        event["resource"] = "/jobs/{job_id}" + ("/download" if len(parts) == 3 else "")
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
    event["body"] = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
    if sub is None:
        event["requestContext"].pop("authorizer")
    else:
        event["requestContext"]["authorizer"]["claims"]["sub"] = sub
    return event


def FakeLambdaContext(function_name: str = "test-function") -> LocalLambdaContext:
    """A Lambda context for handler tests: the local stack's, named like a test function."""
    return LocalLambdaContext(function_name=function_name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class _SerialMotoServer:
    """moto's server, applying one request at a time.

    moto's backends do not lock: two concurrent conditional writes can both pass their
    condition. DynamoDB applies each write to an item atomically; serialising requests
    gives the emulator that guarantee while clients still race for real.
    """

    def __init__(self) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        app = DomainDispatcherApplication(create_backend_app)
        lock = threading.Lock()

        def serial(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            with lock:
                return list(app(environ, start_response))

        self.server = make_server("127.0.0.1", 0, serial, threaded=True, request_handler=MotoRequestHandler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real moto server (pyarrow's S3 filesystem and Spark executors talk to it over HTTP)."""
    server = _SerialMotoServer()
    server.thread.start()
    yield server.endpoint
    server.server.shutdown()


@pytest.fixture
def aws_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_endpoint


@dataclass
class AwsResources:
    input_bucket: str
    output_bucket: str
    table: str
    glue_job: str
    idempotency_table: str


def create_idempotency_table(client: Any, name: str) -> None:
    """The table Powertools' DynamoDBPersistenceLayer uses (infra/pipeline/jobs_table.py's twin)."""
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )


@pytest.fixture
def aws_resources(aws_env: str, request: pytest.FixtureRequest) -> AwsResources:
    """Fresh buckets, table and Glue job (unique names: one moto server for the session)."""
    import uuid

    import boto3

    from etl_lib.jobs.aws import DynamoJobStore

    suffix = uuid.uuid4().hex[:10]
    res = AwsResources(
        f"in-{suffix}", f"out-{suffix}", f"jobs-{suffix}", f"parquet-to-json-{suffix}", f"idempotency-{suffix}"
    )
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=res.input_bucket)
    s3.create_bucket(Bucket=res.output_bucket)
    DynamoJobStore.create_table(boto3.client("dynamodb"), res.table)
    create_idempotency_table(boto3.client("dynamodb"), res.idempotency_table)
    boto3.client("glue").create_job(
        Name=res.glue_job,
        Role="arn:aws:iam::123456789012:role/glue",
        Command={"Name": "glueetl", "ScriptLocation": "s3://scripts/parquet_to_json.py", "PythonVersion": "3"},
        GlueVersion=GLUE_VERSION,
    )
    return res


@pytest.fixture
def local_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Configure the composition root for the local back end (inline runner, local engine)."""
    from etl_lib.jobs.settings import service

    data = tmp_path / "data"
    monkeypatch.setenv("ETL_BACKEND", "local")
    monkeypatch.setenv("ETL_DATA_DIR", str(data))
    monkeypatch.setenv("ETL_ENGINE", "local")
    monkeypatch.setenv("ETL_LOCAL_RUNNER", "inline")
    monkeypatch.setenv("ETL_SIGNING_KEY", "test-key")
    service.cache_clear()
    yield data
    service.cache_clear()


@pytest.fixture
def aws_lambda_env(aws_resources: AwsResources, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsResources]:
    from etl_lib.jobs.settings import service

    monkeypatch.setenv("ETL_BACKEND", "aws")
    monkeypatch.setenv("INPUT_BUCKET", aws_resources.input_bucket)
    monkeypatch.setenv("OUTPUT_BUCKET", aws_resources.output_bucket)
    monkeypatch.setenv("JOBS_TABLE", aws_resources.table)
    monkeypatch.setenv("GLUE_JOB_NAME", aws_resources.glue_job)
    monkeypatch.setenv("IDEMPOTENCY_TABLE", aws_resources.idempotency_table)
    service.cache_clear()
    yield aws_resources
    service.cache_clear()


def call(handler: Any, event: dict[str, Any]) -> tuple[int, Any]:
    """Invoke an API Lambda handler; returns (status, parsed JSON body or None)."""
    response = handler(event, FakeLambdaContext())
    body = response.get("body")
    return response["statusCode"], (json.loads(body) if body else None)


def create_and_upload_on_aws(data: bytes, **request: Any) -> tuple[dict[str, Any], str]:
    """POST /jobs through the upload Lambda with ``request``'s fields, then the presigned POST
    of ``data`` to moto's S3; the job as created and its input key."""
    import requests

    from lambdas.upload.handler import handler as upload_handler

    body = {"filename": "sales.parquet", "size": len(data), **request}
    status, created = call(upload_handler, api_event("POST", "/jobs", body=body))
    assert status == 201, created
    upload = created["upload"]
    response = requests.post(upload["url"], data=upload["fields"], files={"file": ("sales.parquet", data)}, timeout=30)
    assert response.status_code in {200, 201, 204}, response.text
    return created["job"], upload["fields"]["key"]


def local_upload(fields: dict[str, str], data: bytes) -> str:
    """What the local server does with a presigned form upload (over HTTP)."""
    import io

    from etl_lib.jobs.local import DirectoryObjectStore
    from etl_lib.jobs.settings import service

    inputs = service().inputs
    assert isinstance(inputs, DirectoryObjectStore)
    key = inputs.verify_post(fields, len(data))
    inputs.put_stream(key, io.BytesIO(data))
    return key


def expected_output(src: Path, tmp: Path, options: Any = None) -> bytes:
    """The contract's output for ``src``: what ``etl convert`` writes."""
    from etl_lib.conversion import convert
    from etl_lib.options import ConvertOptions

    options = options or ConvertOptions()
    dest = tmp / f"expected{options.file_extension}"
    convert(str(src), str(dest), options, engine="local")
    return dest.read_bytes()


# --- services on both stores, counted conversions, concurrent calls ------------------------


class RecordingLauncher(JobLauncher):
    """Starts nothing: the test plays the run (and its duplicates) itself."""

    def __init__(self) -> None:
        self.started: list[dict[str, str]] = []
        # What each run was sized by (a RunSpec).
        self.sized: list[Any] = []

    def start(self, arguments: Any, spec: Any = None) -> str:
        self.started.append(dict(arguments))
        self.sized.append(spec)
        return f"run-{len(self.started)}"

    def arguments_of(self, run_id: str) -> dict[str, str] | None:
        index = int(run_id.removeprefix("run-")) - 1
        return self.started[index] if 0 <= index < len(self.started) else None


def sqlite_service(root: Path) -> JobService:
    signer = UrlSigner(b"k")
    return JobService(
        jobs=SqliteJobStore(root / "jobs.db"),
        inputs=DirectoryObjectStore(root / "objects" / "inputs", bucket="inputs", signer=signer),
        outputs=DirectoryObjectStore(root / "objects" / "outputs", bucket="outputs", signer=signer),
        launcher=RecordingLauncher(),
        engine="local",
        claim_poll_seconds=0.05,
    )


def local_service(data: Path, launcher: JobLauncher) -> JobService:
    """A service on the local stores in ``data``, starting its runs with ``launcher``."""
    settings = Settings(backend="local", data_dir=str(data), input_bucket="inputs", output_bucket="outputs")
    signer = UrlSigner(b"k")
    return JobService(
        jobs=SqliteJobStore(data / "jobs.db"),
        inputs=DirectoryObjectStore(data / "objects" / "inputs", bucket="inputs", signer=signer),
        outputs=DirectoryObjectStore(data / "objects" / "outputs", bucket="outputs", signer=signer),
        launcher=launcher,
        limits=JobLimits(),
        engine="local",
        run_arguments=settings.run_arguments(),
    )


def dynamo_service(resources: AwsResources) -> JobService:
    import boto3

    from etl_lib.jobs.aws import DynamoJobStore, S3ObjectStore

    return JobService(
        jobs=DynamoJobStore(boto3.client("dynamodb"), resources.table),
        inputs=S3ObjectStore(boto3.client("s3"), resources.input_bucket),
        outputs=S3ObjectStore(boto3.client("s3"), resources.output_bucket),
        launcher=RecordingLauncher(),
        engine="local",
        claim_poll_seconds=0.05,
    )


@pytest.fixture(params=["sqlite", "dynamodb"])
def make_service(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], JobService]:
    if request.param == "sqlite":
        return lambda: sqlite_service(tmp_path / "data")
    resources: AwsResources = request.getfixturevalue("aws_resources")
    return lambda: dynamo_service(resources)


@pytest.fixture
def conversions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every real conversion the service starts (the real converter runs; it is only counted)."""
    from etl_lib import conversion

    calls: list[str] = []
    real = conversion.convert

    def counted(src: str, dest: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(dest)
        return real(src, dest, *args, **kwargs)

    monkeypatch.setattr(conversion, "convert", counted)
    return calls


def together(times: int, target: Callable[[], Any]) -> list[Any]:
    """Call ``target`` from ``times`` threads released at once; their results in order."""
    barrier = threading.Barrier(times)
    results: list[Any] = [None] * times

    def go(i: int) -> None:
        barrier.wait()
        results[i] = target()

    threads = [threading.Thread(target=go, args=(i,)) for i in range(times)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
