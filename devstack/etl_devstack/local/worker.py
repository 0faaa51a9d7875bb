"""A worker process of the local stack: runs queued jobs with the Glue job script.

The engine of each job was chosen when its upload was accepted (``JobService.route``: the
same SMALL_FILE_THRESHOLD_BYTES as the AWS routing to the converter Lambda), and the run
reads it from the job: a "local" job converts in this process and never starts a JVM.
For Spark jobs each worker keeps one Spark session warm for its lifetime, started on
first use (at start-up with ``--engine spark``), so only the first pays the JVM start.

When a run ends, the worker sends the events Lambda the
"Glue Job State Change" event EventBridge would, so a crashed run ends FAILED as in AWS.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

STATE_EVENT = "Glue Job State Change"


def glue_state_event(run_id: str, state: str, message: str | None) -> dict[str, Any]:
    import uuid
    from datetime import UTC, datetime

    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": STATE_EVENT,
        "source": "aws.glue",
        "account": "000000000000",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "local",
        "resources": [],
        "detail": {"jobName": "parquet-to-json", "state": state, "jobRunId": run_id, "message": message},
    }


def worker_id(slot: str, pid: int) -> str:
    """The name a worker claims runs under: its slot and process id, so the supervisor
    finds exactly the runs of a process that died, not those of its replacement."""
    return f"{slot}-{pid}"


def _exit_with_parent(parent_pid: int, interval: float = 0.5) -> None:
    """Die soon after the server does, even mid-conversion (SIGKILLed servers included).

    An orphaned worker would go on converting a run the restarted server re-queues, and
    on claiming new runs next to the new server's own workers. Polling the parent id in a
    thread is portable and independent of which server thread started this process
    (Linux's PR_SET_PDEATHSIG fires when that *thread* ends).
    """

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def worker_main(env: dict[str, str], slot: str, parent_pid: int) -> None:
    """Process entry point (spawned): claim runs until SIGTERM (after the current run) or
    until the server is gone.

    Stopping is a signal, not a shared ``multiprocessing.Event``: a worker killed while
    holding that event's lock would block the server and every other worker on it.
    """
    _exit_with_parent(parent_pid)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the server decides
    os.environ.update(env)
    import warnings

    warnings.filterwarnings("ignore", message="No application metrics to publish")
    from aws_lambda_powertools import Logger

    from etl_devstack.local.gateway import LocalLambdaContext, load_handler
    from etl_lib.jobs.local import argv_of, load_glue_script
    from etl_lib.jobs.runs import RunQueue
    from etl_lib.jobs.settings import Settings

    name = worker_id(slot, os.getpid())
    logger = Logger(service="etl-local-worker")
    logger.append_keys(worker=name)
    settings = Settings.from_env()
    queue = RunQueue(os.path.join(settings.data_dir, "runs.db"))
    events = load_handler("events")
    script = load_glue_script()
    lock = threading.Lock()
    session: list[Any] = []

    def spark() -> Any:
        with lock:
            if not session:
                from etl_lib.spark.session import local_spark

                session.append(local_spark(f"etl-local-{name}"))
            return session[0]

    if settings.engine == "spark":
        spark()  # warm up before the first job arrives
    logger.info(
        "worker ready",
        extra={"engine": settings.engine, "small_file_threshold_bytes": settings.small_file_threshold_bytes},
    )
    while not stop.is_set():
        run = queue.claim(name)
        if run is None:
            stop.wait(0.2)
            continue
        logger.append_keys(job_id=run.job_id, run_id=run.run_id)
        message: str | None = None
        try:
            arguments = {**run.arguments, "--attempt_id": run.attempt}
            code = script.main(["parquet_to_json.py", *argv_of(arguments)], spark_factory=spark)
            state = "SUCCEEDED" if code == 0 else "FAILED"
        except Exception as exc:  # the script already recorded what it could
            logger.exception("run crashed")
            state, message = "FAILED", f"{type(exc).__name__}: {exc}".splitlines()[0]
        queue.finish(run.run_id, state)
        events(glue_state_event(run.run_id, state, message), LocalLambdaContext(function_name="jobs-events"))
        logger.info("run finished", extra={"state": state})
        logger.remove_keys(["job_id", "run_id"])
