"""``etl up``: one process serving the API, the object store URLs and the web app.

The composition root: :class:`LocalStack` checks the data directory and binds the port,
configures the handlers, then joins the two halves, the WSGI app
(:mod:`etl_devstack.local.app`: requests) and the process lifecycle
(:mod:`etl_devstack.local.lifecycle`: workers, sweeps, recovery after a stop).
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import signal
import socket
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from etl_devstack.local import import_lambdas
from etl_devstack.local.app import FRONTEND_DIST, LocalApp, send_event
from etl_devstack.local.http import WILDCARD_HOSTS, BoundedThreadedServer, allowed_hosts, handler_class, is_loopback
from etl_devstack.local.lifecycle import (
    SWEEP_INTERVAL_SECONDS,
    Lifecycle,
    StartupError,
    check_data_dir,
    environment,
    listen,
    remove_temporary_files,
)
from etl_devstack.local.limits import ServerLimits
from etl_lib.jobs.local import signing_key
from etl_lib.platform import DEFAULT_DATA_DIR


@dataclass
class LocalStack:
    """One ``etl up``: after :meth:`prepare`, ``app`` answers requests and ``lifecycle``
    runs the workers."""

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    workers: int = 1
    engine: str = "spark"
    frontend: Path = FRONTEND_DIST
    extra_hosts: tuple[str, ...] = ()
    limits: ServerLimits = field(default_factory=ServerLimits)
    sweep_interval: float = SWEEP_INTERVAL_SECONDS
    # The two halves, built by prepare (they need the handlers configured first).
    app: LocalApp = field(init=False, repr=False)
    lifecycle: Lifecycle = field(init=False, repr=False)
    _server: BoundedThreadedServer | None = None
    _listener: socket.socket | None = None

    def prepare(self) -> None:
        """Check the data directory, bind the port, configure the composition root."""
        self.data_dir = self.data_dir.resolve()
        check_data_dir(self.data_dir)
        listener = listen(self.host, self.port)
        self._listener = listener
        self.port = int(listener.getsockname()[1])
        self.removed = remove_temporary_files(self.data_dir)
        url = self.url
        os.environ.update(
            environment(data_dir=self.data_dir, engine=self.engine, url=url, signing_key=signing_key(self.data_dir))
        )
        import_lambdas()
        from etl_lib.jobs.settings import service

        service.cache_clear()
        from aws_lambda_powertools import Logger

        from etl_devstack.local.gateway import ApiGateway

        logger = Logger(service="etl-local")
        gateway = ApiGateway()
        events = functools.partial(send_event, gateway)
        self.lifecycle = Lifecycle(
            data_dir=self.data_dir,
            workers=self.workers,
            engine=self.engine,
            events=events,
            logger=logger,
            sweep_interval=self.sweep_interval,
        )
        self.app = LocalApp(
            gateway=gateway,
            events=events,
            logger=logger,
            status=self.lifecycle.health,
            hosts=allowed_hosts(self.host, self.extra_hosts),
            limits=self.limits,
            frontend=self.frontend,
        )
        self._server = BoundedThreadedServer(
            self.host,
            self.port,
            self.app,
            handler_class(self.limits),
            fd=listener.fileno(),
            max_connections=self.limits.max_connections,
        )

    @property
    def url(self) -> str:
        """Where clients reach this server (presigned URLs point here)."""
        host = self.host
        if host in WILDCARD_HOSTS:
            host = self.extra_hosts[0] if self.extra_hosts else "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def warnings(self) -> list[str]:
        """What the person starting the server should know (one line each)."""
        if is_loopback(self.host):
            return []
        return [
            f"listening on {self.host}, not only on this machine: anyone who can reach this port can list, "
            "upload, download and delete jobs (the local stack has no sign-in). Name the host clients use "
            "with --allowed-host; requests for any other name are refused."
        ]

    def serve(self) -> None:
        """Answer requests until interrupted."""
        assert self._server is not None
        self._server.serve_forever()

    def shutdown(self) -> None:
        """Stop the workers, then close the listening socket."""
        if hasattr(self, "lifecycle"):  # prepared
            self.lifecycle.stop()
        if self._server is not None:
            self._server.server_close()


def run(args: argparse.Namespace) -> int:
    """``etl up``: returns the exit status; problems at start-up are one line on stderr."""
    # Everything the stack writes (uploads, outputs, the job store, logs, its workers' files:
    # they inherit it) is its user's alone: files 0600, folders 0700, whatever the shell's umask.
    os.umask(0o077)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # Metrics are off locally (POWERTOOLS_METRICS_DISABLED); do not warn on every request.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    stack = LocalStack(
        host=args.host,
        port=args.port,
        data_dir=Path(args.data_dir),
        workers=args.workers,
        engine=args.engine,
        extra_hosts=tuple(args.allowed_host or ()),
        limits=ServerLimits(request_timeout=args.request_timeout, max_connections=args.max_connections),
    )
    try:
        stack.prepare()
    except StartupError as exc:
        print(f"etl up: error: {exc}", file=sys.stderr)
        return 1
    for warning in stack.warnings():
        print(f"etl up: warning: {warning}", file=sys.stderr, flush=True)

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        stack.lifecycle.recover()
        stack.lifecycle.start()
        print(
            f"etl up: serving {stack.url} (data in {stack.data_dir}, {args.workers} worker(s), "
            f"{args.engine} engine); Ctrl-C stops",
            file=sys.stderr,
            flush=True,
        )
        stack.serve()
    except KeyboardInterrupt:
        pass
    finally:
        stack.shutdown()
    return 0
