"""What one request may cost ``etl up``: read by the command line (its defaults) and the
HTTP layer (:mod:`etl_devstack.local.http`), and kept apart from both so that building the
command line imports no web server."""

from __future__ import annotations

from dataclasses import dataclass


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
    # A body must arrive within request_timeout plus its length at this rate: a 100 MiB part
    # may take 27 minutes, a JSON body of a few hundred bytes 30 s; a client trickling a byte
    # now and then is cut off then, whatever the idle timeout.
    min_body_bytes_per_second: int = 64 * 1024
    # Connections served at once (one thread each); the next ones are answered 503.
    max_connections: int = 64

    def body_deadline(self, content_length: int) -> float:
        """Seconds a body of ``content_length`` bytes may take to arrive."""
        return self.request_timeout + content_length / self.min_body_bytes_per_second
