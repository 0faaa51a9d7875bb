"""The Spark engine on a real Spark standalone cluster: a Master and two Workers of one core
each, started from pyspark's own ``spark-class`` as separate JVMs bound to 127.0.0.1, with
moto's S3 server. The executors run in the Workers' own working directories and get nothing
from the driver's environment but what Spark sends them: what a cluster does, and a local
session never shows.

The drivers run in processes of their own (``etl convert``, and ``cluster_app.py`` for the
library), pointed at the cluster by ``ETL_SPARK_MASTER``, from a temporary working directory
that holds the relative paths they are given.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_lib.demo import contract_table
from etl_lib.errors import InputNotFoundError
from etl_lib.spark.session import MASTER_ENV
from tests.jobs.support import REGION, expected_output, free_port

# `spark`: slow, deselected by `make test-fast`; one group: two clusters at once would ask the
# shared machine for four more JVMs.
pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark-cluster"), pytest.mark.timeout(900)]

WORKERS = 2
START_SECONDS = 180  # the Master and both Workers up and registered
RUN_SECONDS = 600  # one driver process, its Spark application included
STOP_SECONDS = 30  # SIGTERM, then SIGKILL
CLUSTER_APP = Path(__file__).with_name("cluster_app.py")


@dataclass
class Cluster:
    master: str  # spark://127.0.0.1:PORT
    ui: str  # the Master's web UI, whose /json/ reports the workers
    work_dirs: list[Path]
    logs: Path


def _spark_class() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent / "bin" / "spark-class"


def _daemon_env(logs: Path) -> dict[str, str]:
    """The Workers' environment: the machine's, with credentials for S3 (as a cluster's
    instance role gives them) but nothing the driver decides: no S3 endpoint, region or
    Python, which reach the executors only through Spark."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYSPARK_", "SPARK_", "ETL_"))}
    env.update(
        SPARK_HOME=str(_spark_class().parents[1]),
        SPARK_LOCAL_IP="127.0.0.1",
        SPARK_LOG_DIR=str(logs),
        SPARK_DAEMON_MEMORY="256m",  # the Master's and Workers' heaps (1 GiB each by default)
        # No REST submission server: it would take the fixed port 6066 on a shared machine.
        SPARK_MASTER_OPTS="-Dspark.master.rest.enabled=false",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
    )
    return env


def _start(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        # A session of its own: the daemon and the executors it starts are stopped as a group.
        return subprocess.Popen(
            [str(_spark_class()), *args], stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=STOP_SECONDS)
            return
        except subprocess.TimeoutExpired:
            continue


def _master_state(ui: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{ui}/json/", timeout=5) as response:
        state: dict[str, Any] = json.load(response)
        return state


def _wait_until_registered(ui: str, processes: list[subprocess.Popen[bytes]], logs: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        dead = [p.args for p in processes if p.poll() is not None]
        assert not dead, f"a cluster daemon exited: {dead}; see {logs}"
        with contextlib.suppress(OSError, ValueError):
            if _master_state(ui)["aliveworkers"] == WORKERS:
                return
        time.sleep(0.5)
    pytest.fail(f"the cluster did not start within {START_SECONDS} s; see {logs}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A Master and two one-core Workers; stopped, executors included, whatever happens."""
    root = tmp_path_factory.mktemp("spark-cluster")
    logs = root / "logs"
    logs.mkdir()
    env = _daemon_env(logs)
    port, ui_port = free_port(), free_port()
    master = f"spark://127.0.0.1:{port}"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        master_args = ["--host", "127.0.0.1", "--port", str(port), "--webui-port", str(ui_port)]
        processes.append(_start(["org.apache.spark.deploy.master.Master", *master_args], logs / "master.log", env))
        work_dirs = [root / f"worker-{i}" for i in range(WORKERS)]
        for i, work in enumerate(work_dirs):
            work.mkdir()
            args = ["org.apache.spark.deploy.worker.Worker", master, "--host", "127.0.0.1", "--cores", "1"]
            args += ["--memory", "1g", "--webui-port", str(free_port()), "--work-dir", str(work)]
            processes.append(_start(args, logs / f"worker-{i}.log", env))
        ui = f"http://127.0.0.1:{ui_port}"
        _wait_until_registered(ui, processes, logs)
        yield Cluster(master, ui, work_dirs, logs)
    finally:
        for process in reversed(processes):  # the Workers (and their executors) first
            _stop(process)


@pytest.fixture(scope="module")
def data() -> pa.Table:
    """Every rule of the contract, in enough row groups for slices on both executors."""
    return pa.concat_tables([contract_table()] * 400)


def _write(table: pa.Table, path: Path) -> Path:
    pq.write_table(table, path, row_group_size=100)
    return path


def _drive(cluster: Cluster, args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run one driver process on the cluster from ``cwd``."""
    return subprocess.run(
        args,
        cwd=cwd,
        env={**os.environ, MASTER_ENV: cluster.master, **env},
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
        check=False,
    )


def _executors_ran(cluster: Cluster) -> bool:
    """Each Worker started an executor (an ``app-*/N`` directory) since the cluster started."""
    return all(any(work.glob("app-*/*")) for work in cluster.work_dirs)


def test_etl_convert_on_the_cluster_reads_a_relative_path(cluster: Cluster, data: pa.Table, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    src = _write(data, work / "big.parquet")
    etl = Path(sys.executable).with_name("etl")
    run = _drive(cluster, [str(etl), "convert", "--engine", "spark", "big.parquet", "out.jsonl"], work)
    assert run.returncode == 0, run.stderr
    assert (work / "out.jsonl").read_bytes() == expected_output(src, tmp_path)
    assert _executors_ran(cluster)


@dataclass
class LibraryRun:
    """What cluster_app.py did: each step's outcome, and what it left."""

    outcomes: dict[str, Any]
    work: Path
    expected: bytes  # the local engine's output
    bucket: str
    s3: Any


@pytest.fixture(scope="module")
def library_run(
    cluster: Cluster, data: pa.Table, moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> LibraryRun:
    """One driver process: a relative path, then ``s3://`` -> ``s3://``, then a file gone
    before the executors read it."""
    work = tmp_path_factory.mktemp("library")
    src = _write(data, work / "big.parquet")
    _write(data, work / "gone.parquet")
    aws = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    bucket = f"cluster-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    s3.upload_file(str(src), bucket, "in/big.parquet")
    args = [sys.executable, str(CLUSTER_APP), "big.parquet", "out.jsonl"]
    args += [f"s3://{bucket}/in/big.parquet", f"s3://{bucket}/out/big.jsonl", "gone.parquet"]
    run = _drive(cluster, args, work, **aws)
    assert run.returncode == 0, run.stderr
    assert _executors_ran(cluster)
    expected = expected_output(src, tmp_path_factory.mktemp("expected"))
    return LibraryRun(json.loads(run.stdout.splitlines()[-1]), work, expected, bucket, s3)


def test_the_library_on_the_cluster_reads_a_relative_path(library_run: LibraryRun) -> None:
    assert library_run.outcomes["relative"] == {"code": None}
    assert (library_run.work / "out.jsonl").read_bytes() == library_run.expected


def test_s3_to_s3_on_the_cluster_leaves_only_the_input_and_the_output(library_run: LibraryRun) -> None:
    assert library_run.outcomes["s3"] == {"code": None}
    s3, bucket = library_run.s3, library_run.bucket
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert sorted(keys) == ["in/big.parquet", "out/big.jsonl"]
    assert s3.get_object(Bucket=bucket, Key="out/big.jsonl")["Body"].read() == library_run.expected


def test_a_file_an_executor_cannot_open_is_reported_missing_with_its_path(library_run: LibraryRun) -> None:
    gone = library_run.outcomes["gone"]
    path = str(library_run.work / "gone.parquet")
    assert gone["slices"] >= WORKERS
    assert (
        gone["errors"]
        == [[InputNotFoundError.code, f"gone.parquet cannot be opened: {path} does not exist"]] * gone["slices"]
    )
