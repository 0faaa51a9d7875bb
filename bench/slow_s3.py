"""moto's S3 server with a latency added to every call, for the publish tests and benchmark.

    python bench/slow_s3.py --latency-ms 20 [--min-part-bytes N]

prints ``http://127.0.0.1:PORT`` on its first line once it serves, and serves until killed.
``POST /_slow_s3/latency?ms=N`` changes the latency (set up objects fast, then slow down).

The latency is added in the server, by a WSGI wrapper that sleeps before moto answers each
request: the client's connection is held and its call outstanding for the whole delay, as
over a real network, and calls overlap only as far as the client sends them at once. A
botocore hook sleeping before each send would delay the caller before it takes a connection,
so a client with fewer pooled connections than threads would not pay for it as it does
against S3. moto answers one request at a time (its backends do not lock), while the delays
overlap.

``--min-part-bytes`` lowers moto's own minimum part size (``S3_UPLOAD_PART_MIN_SIZE``, read
when moto is imported, hence a process of its own): 20,000 pieces that a publish must copy
rather than download cannot be 5 MiB each on one machine. Every other rule stays moto's,
the 10,000-part maximum of ``UploadPart`` included.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterable, Iterator
from typing import Any

LATENCY_PATH = "/_slow_s3/latency"
"""``POST`` here with ``?ms=N`` to change the latency (no bucket is named that)."""


def serve(latency_s: float, min_part_bytes: int | None) -> None:
    if min_part_bytes is not None:
        os.environ["S3_UPLOAD_PART_MIN_SIZE"] = str(min_part_bytes)
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    moto = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()
    latency = [latency_s]

    def slow(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ["PATH_INFO"] == LATENCY_PATH:  # a test sets up its objects, then slows down
            latency[0] = float(environ["QUERY_STRING"].removeprefix("ms=")) / 1000
            start_response("204 No Content", [])
            return []
        time.sleep(latency[0])
        with lock:
            return list(moto(environ, start_response))

    class Quiet(MotoRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass

    server = make_server("127.0.0.1", 0, slow, threaded=True, request_handler=Quiet)
    host, port = server.server_address[:2]
    print(f"http://{host!s}:{port}", flush=True)
    server.serve_forever()


class Server:
    """A running slow_s3 process: its ``endpoint``, and its latency to change."""

    def __init__(self, process: subprocess.Popen[str], endpoint: str) -> None:
        self.process, self.endpoint = process, endpoint

    def set_latency(self, ms: float) -> None:
        request = urllib.request.Request(f"{self.endpoint}{LATENCY_PATH}?ms={ms:g}", method="POST")
        urllib.request.urlopen(request).close()


def running(latency_ms: float = 0.0, min_part_bytes: int | None = None) -> contextlib.AbstractContextManager[Server]:
    """This server in a process of its own, killed when the block ends."""
    return running_script(__file__, latency_ms, min_part_bytes)


@contextlib.contextmanager
def running_script(script: str, latency_ms: float, min_part_bytes: int | None) -> Iterator[Server]:
    """The server ``script`` runs (this one, or bench/s3_stub.py: the same command line), in a
    process of its own, killed when the block ends."""
    command = [sys.executable, script, "--latency-ms", f"{latency_ms:g}"]
    if min_part_bytes is not None:
        command += ["--min-part-bytes", str(min_part_bytes)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        yield Server(process, process.stdout.readline().strip())
    finally:
        process.kill()
        process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-ms", type=float, default=20.0, help="added to every call (default 20)")
    parser.add_argument("--min-part-bytes", type=int, help="moto's minimum part size (default: S3's 5 MiB)")
    args = parser.parse_args(argv)
    serve(args.latency_ms / 1000, args.min_part_bytes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
