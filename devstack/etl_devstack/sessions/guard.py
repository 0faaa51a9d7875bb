"""Who may talk to the local sessions endpoint: the Glue kernel and the sessions on this
machine, never a web page.

``RunStatement`` executes any Python and a session pip-installs what it is given, so a
request that reaches the endpoint is code execution on the developer's machine (with
``--real-aws``, holding their AWS credentials). A browser can send requests to
``127.0.0.1`` from any page it shows, so every request must pass three checks before it is
dispatched, to the session manager or to moto:

1. **No browser headers.** Browsers add ``Origin`` to every cross-origin request and to
   every CORS preflight, and ``Sec-Fetch-*`` to every request; botocore never sends them.
2. **A Host of this endpoint.** A page served from an attacker's domain that re-resolves
   to 127.0.0.1 (DNS rebinding) is same-origin to the browser, but its requests still
   carry the attacker's host name.
3. **This start's token.** Each start draws a random access key id; clients sign with it
   (``Credential=<key id>/...`` in the SigV4 ``Authorization`` header, or the key id in
   a presigned URL's query). ``etl session-config --local`` writes it into
   the kernel's AWS profile; the endpoint writes it to a file only its user can read. The
   key id is checked, not the signature: a page can neither read that file nor guess 128
   random bits, and re-deriving SigV4 for every protocol moto serves (S3's streaming
   payloads included) would be a second implementation of AWS's signer for no gain here.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

# Request headers only a browser sends (WSGI environ names).
BROWSER_HEADERS = ("HTTP_ORIGIN", "HTTP_SEC_FETCH_SITE", "HTTP_SEC_FETCH_MODE", "HTTP_SEC_FETCH_DEST")
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
WILDCARD_ADDRESSES = ("0.0.0.0", "::", "")
ACCESS_KEY_PREFIX = "ETLLOCAL"
# Clients must sign with some secret; the endpoint does not check it (see the module's doc).
SECRET_ACCESS_KEY = "etl-local-sessions"
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")  # SigV4
_SIGV2 = re.compile(r"^AWS ([^:\s]+):")  # S3 still accepts it; some clients send it
REFUSED_BROWSER = "requests from web pages are refused: the local Glue sessions endpoint serves the Glue kernel only"
REFUSED_TOKEN = (
    "missing or wrong local sessions key: run `make session-config LOCAL=1` after each `make sessions` "
    "(each start draws a new key)"
)


def new_access_key_id() -> str:
    """A fresh access key id: the token of one start of the endpoint."""
    return ACCESS_KEY_PREFIX + secrets.token_hex(16).upper()


def url_host(host: str) -> str:
    """``host`` as it stands in a URL or a Host header (IPv6 literals bracketed)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def client_host(bound: str) -> str:
    """The address clients on this machine use for a server bound to ``bound``."""
    return "127.0.0.1" if bound in WILDCARD_ADDRESSES else bound


def _presented_key(environ: Mapping[str, Any]) -> str | None:
    """The access key id a request is signed with: in its Authorization header, or in its
    query for a presigned URL (SigV4's ``X-Amz-Credential``, S3's SigV2 ``AWSAccessKeyId``,
    which boto3 still presigns S3 URLs with)."""
    authorization = str(environ.get("HTTP_AUTHORIZATION", ""))
    match = _CREDENTIAL.search(authorization) or _SIGV2.match(authorization)
    if match:
        return match.group(1)
    query = parse_qs(str(environ.get("QUERY_STRING", "")))
    if "X-Amz-Credential" in query:
        return query["X-Amz-Credential"][0].split("/", 1)[0]
    return query["AWSAccessKeyId"][0] if "AWSAccessKeyId" in query else None


@dataclass(frozen=True)
class Guard:
    """The three checks, for one start of the endpoint (see the module's doc)."""

    access_key_id: str
    hosts: frozenset[str]

    @classmethod
    def for_server(cls, bound: str, port: int, allowed: Iterable[str] = (), access_key_id: str | None = None) -> Guard:
        """The guard of a server bound to ``bound``:``port``: Host may name a loopback
        address, the bound address (when it is not a wildcard) or a name in ``allowed``."""
        names = {*LOOPBACK_NAMES, *allowed}
        if bound not in WILDCARD_ADDRESSES:
            names.add(url_host(bound))
        return cls(access_key_id or new_access_key_id(), frozenset(f"{name}:{port}" for name in names))

    def refusal(self, environ: Mapping[str, Any]) -> str | None:
        """Why the request of ``environ`` (WSGI) is refused, or ``None`` when it may pass."""
        if any(name in environ for name in BROWSER_HEADERS):
            return REFUSED_BROWSER
        host = str(environ.get("HTTP_HOST", "")).lower()
        if host not in self.hosts:
            return f"Host {host or '(none)'} is not this endpoint's: it answers on {', '.join(sorted(self.hosts))}"
        presented = _presented_key(environ)
        if presented is None or not hmac.compare_digest(presented.encode(), self.access_key_id.encode()):
            return REFUSED_TOKEN
        return None
