"""The HTTP layer of ``etl up``: bounded reads, the ``Host`` allow-list, the limits.

Werkzeug's development server has no request timeout of its own: a client that sends its
request head a byte at a time holds a thread for ever. :class:`BoundedRequestHandler`
reads through :class:`DeadlineReader`, which gives every request head one deadline (not
a per-read timeout, which a trickling client resets with each byte) and every later read
an idle timeout.
"""

from __future__ import annotations

import io
import ipaddress
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from werkzeug.serving import WSGIRequestHandler

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})


@dataclass(frozen=True)
class ServerLimits:
    """What one request may cost the local server. Defaults are documented in docs/reliability.md."""

    # The whole request head (request line and headers) must arrive within this; each
    # later read of the body (and each write of a response) may wait this long.
    request_timeout: float = 30.0
    # JSON bodies of the API: API Gateway's own cap is 10 MB; ours are a few hundred bytes.
    max_api_body_bytes: int = 1024**2
    # The form fields of an upload (key, policy, signature...), all together; the file is
    # streamed to disk and bounded by its signed policy instead.
    max_form_field_bytes: int = 64 * 1024
    max_form_parts: int = 16
    # What a form adds around the file: boundaries, part headers, the fields.
    form_overhead_bytes: int = 128 * 1024
    # What is read and thrown away after an upload was refused part way, so that the
    # client sees the refusal; past it the connection is closed.
    drain_bytes: int = 256 * 1024


class DeadlineReader(io.RawIOBase):
    """A socket's bytes with a deadline for the request head and an idle timeout after."""

    def __init__(self, sock: socket.socket, idle_timeout: float) -> None:
        self.sock = sock
        self.idle_timeout = idle_timeout
        self.deadline: float | None = None
        self.budget: int | None = None  # bytes left to read before reporting the end

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
                raise TimeoutError("the request head did not arrive in time")
        self.sock.settimeout(timeout)
        count = self.sock.recv_into(view)
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
    request_timeout: float = ServerLimits.request_timeout

    def setup(self) -> None:
        super().setup()
        self.reader = DeadlineReader(self.connection, self.request_timeout)
        self.rfile = ShortReads(self.reader)

    def handle_one_request(self) -> None:
        # The deadline covers waiting for the request line too: an idle keep-alive
        # connection is closed after it.
        self.reader.deadline = time.monotonic() + self.request_timeout
        self.reader.budget = None
        super().handle_one_request()

    def parse_request(self) -> bool:
        parsed = super().parse_request()
        self.reader.deadline = None
        return parsed

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        environ[READER_KEY] = self.reader
        return environ

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # requests are logged by the app, in the structured format


def handler_class(limits: ServerLimits) -> type[BoundedRequestHandler]:
    return type("LocalRequestHandler", (BoundedRequestHandler,), {"request_timeout": limits.request_timeout})


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
