"""The HTTP layer of ``etl up``: bounded reads, the ``Host`` allow-list, the limits.

Werkzeug's development server has no request timeout of its own: a client that sends its
request a byte at a time holds a thread for ever, and it starts a thread for every
connection. :class:`BoundedRequestHandler` reads through :class:`DeadlineReader`, which
gives every request head one deadline and every body one deadline by its length (not a
per-read timeout, which a trickling client resets with each byte), and every read an idle
timeout; :class:`BoundedThreadedServer` serves at most a fixed number of connections at
once and answers the next ones 503 at once.
"""

from __future__ import annotations

import io
import ipaddress
import json
import socket
import threading
import time
from collections.abc import Iterable
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from etl_devstack.local.limits import ServerLimits
from etl_lib.errors import ErrorCode

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})


class DeadlineReader(io.RawIOBase):
    """A socket's bytes with a deadline for the request head and an idle timeout after."""

    def __init__(self, sock: socket.socket, idle_timeout: float) -> None:
        self.sock = sock
        self.idle_timeout = idle_timeout
        self.deadline: float | None = None
        self.budget: int | None = None  # bytes left to read before reporting the end
        self.expired = False  # the deadline passed: the request was cut off

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        if self.budget is not None:
            if self.budget <= 0:
                return 0
            view = view[: self.budget]
        timeout = self.idle_timeout
        if self.deadline is not None:
            timeout = min(timeout, self.deadline - time.monotonic())
            if timeout <= 0:
                self.expired = True
                raise TimeoutError("the request did not arrive in time")
        self.sock.settimeout(timeout)
        try:
            count = self.sock.recv_into(view)
        except TimeoutError:
            # Waited until the deadline rather than for the idle timeout: cut off by it.
            self.expired = self.deadline is not None and timeout < self.idle_timeout
            raise
        if self.budget is not None:
            self.budget -= count
        return count

    def stop_after(self, budget: int) -> None:
        """Read at most ``budget`` more bytes, then report the end of the stream."""
        self.budget = budget


READER_KEY = "etl.reader"


class ShortReads(io.BufferedReader):
    """``readinto`` returns what has arrived (one socket read) instead of waiting to fill
    the buffer: an upload is parsed, checked and refused as its bytes come, not 64 KiB later."""

    def readinto(self, buffer: Any) -> int:
        return self.readinto1(buffer)


class BoundedRequestHandler(WSGIRequestHandler):
    limits: ServerLimits = ServerLimits()

    def setup(self) -> None:
        super().setup()
        self.reader = DeadlineReader(self.connection, self.limits.request_timeout)
        self.rfile = ShortReads(self.reader)

    def handle_one_request(self) -> None:
        # The deadline covers waiting for the request line too: an idle keep-alive
        # connection is closed after it.
        self.reader.deadline = time.monotonic() + self.limits.request_timeout
        self.reader.budget = None
        self.reader.expired = False
        super().handle_one_request()

    def parse_request(self) -> bool:
        parsed = super().parse_request()
        # The body's own deadline, by its declared length (a body of unknown length, sent
        # chunked, gets the time of an empty one: only small API bodies come that way).
        declared = self.headers.get("Content-Length", "0") if parsed else "0"
        length = int(declared) if declared.isdigit() else 0
        self.reader.deadline = time.monotonic() + self.limits.body_deadline(length)
        return parsed

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        environ[READER_KEY] = self.reader
        return environ

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # requests are logged by the app, in the structured format


def handler_class(limits: ServerLimits) -> type[BoundedRequestHandler]:
    return type("LocalRequestHandler", (BoundedRequestHandler,), {"limits": limits})


# Written once at import: the accepting thread sends these bytes as they are, without the app.
_BUSY_BODY = json.dumps(
    {"error": {"code": ErrorCode.SERVER_BUSY, "message": "too many connections at once; retry shortly"}}
).encode()
BUSY_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(_BUSY_BODY), _BUSY_BODY)
)


class BoundedThreadedServer(ThreadedWSGIServer):
    """Werkzeug's threaded server with at most ``max_connections`` threads.

    Over the limit a connection is answered 503 from the accepting thread (a few bytes into
    an empty socket buffer, with a short timeout) and closed, rather than queued: a client
    holding every slot cannot make other clients wait unseen. Hand-written because
    Werkzeug's server has no such bound and ``socketserver`` offers no pool.
    """

    max_connections: int = ServerLimits.max_connections

    def __init__(self, *args: Any, max_connections: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_connections = max_connections
        self._slots = threading.BoundedSemaphore(max_connections)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            try:
                request.settimeout(1.0)
                request.sendall(BUSY_RESPONSE)
            except OSError:
                pass  # the client is gone or not reading: closing is all that is left
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def is_loopback(host: str) -> bool:
    """True when ``host`` (an address or a name) only ever means this machine."""
    if host in WILDCARD_HOSTS:
        return False
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos)


def allowed_hosts(bound_host: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """Host names a request may be addressed to: this machine's names, the bound host
    (unless a wildcard) and the ones the user allowed."""
    names = {*LOOPBACK_NAMES, *(h.strip() for h in extra if h.strip())}
    if bound_host not in WILDCARD_HOSTS:
        names.add(f"[{bound_host}]" if ":" in bound_host else bound_host)
    return frozenset(n.lower() for n in names)


def host_name(header: str) -> str | None:
    """The name in a ``Host`` header (``name``, ``name:port``, ``[v6]:port``), lower-cased;
    None when malformed. Hand-written: Werkzeug's ``host_is_trusted`` compares names
    case-sensitively and cannot hold an IPv6 literal in its list."""
    header = header.strip().lower()
    if header.startswith("["):
        name, bracket, port = header.partition("]")
        name += bracket
        port = port.removeprefix(":") if port.startswith(":") else ("x" if port else "")
    else:
        name, _, port = header.partition(":")
    if not name or (port and not (port.isdigit() and 0 < int(port) < 65536)):
        return None
    return name
