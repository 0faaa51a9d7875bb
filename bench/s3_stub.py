"""A lean S3 stand-in for timing the publish of many pieces: the calls a publish makes, S3's
rules for them, a latency added to every call, and little else.

    python bench/s3_stub.py --latency-ms 20 [--min-part-bytes N]

prints ``http://127.0.0.1:PORT`` on its first line once it serves, and serves until killed.
``POST /_slow_s3/latency?ms=N`` changes the latency, as bench/slow_s3.py's does.

Why by hand, next to moto: moto's server spends about 2.2 ms of CPU on each call, in Python,
one call at a time (bench/slow_s3.py, measured with py-spy: its Flask dispatch, its response
serializer, werkzeug's connection per call). 20,000 copies then take moto 44 s of CPU, so the
publish benchmark timed moto, not the publish. This server keeps connections open (HTTP/1.1,
as S3 does) and does only what the publish asks for, so its own CPU is a small part of the
figure. It implements:

- ``PUT /bucket`` (create), ``PUT``/``GET`` (with ``Range``)/``HEAD``/``DELETE`` of an object;
- ``CreateMultipartUpload``, ``UploadPart``, ``UploadPartCopy`` (with ``x-amz-copy-source-range``),
  ``CompleteMultipartUpload``, ``AbortMultipartUpload``;

with S3's rules on them: part numbers 1 to 10,000, a copy range inside its source, parts listed
in ascending order with their ETags, every part but the last at least the minimum part size
(``--min-part-bytes``, S3's 5 MiB by default, lowered like moto's ``S3_UPLOAD_PART_MIN_SIZE``),
and S3's error codes for each refusal. tests/bench/test_s3_stub.py runs the same calls, good
and bad, against moto's server and this one and requires the same answers, but for four
refusals where moto is laxer than S3 and this stub answers as S3 does: it accepts nothing
moto refuses.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import re
import sys
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.etree import ElementTree

sys.path.insert(0, str(Path(__file__).resolve().parent))
from slow_s3 import LATENCY_PATH, Server, running_script

S3_MIN_PART = 5 * 1024 * 1024
MAX_PART_NUMBER = 10_000
_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
_RANGE = re.compile(r"bytes=(\d+)-(\d+)$")


class S3Error(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Upload:
    bucket: str
    key: str
    parts: dict[int, tuple[str, bytes]] = field(default_factory=dict)


def _etag(data: bytes) -> str:
    return f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"'


class Store:
    """The buckets, objects and uploads, changed one call at a time."""

    def __init__(self, min_part: int) -> None:
        self.min_part = min_part
        self.buckets: set[str] = set()
        self.objects: dict[tuple[str, str], tuple[bytes, str]] = {}
        self.uploads: dict[str, Upload] = {}

    def bucket(self, name: str) -> None:
        if name not in self.buckets:
            raise S3Error(404, "NoSuchBucket", "The specified bucket does not exist")

    def get(self, bucket: str, key: str) -> tuple[bytes, str]:
        """An object's bytes and ETag."""
        self.bucket(bucket)
        try:
            return self.objects[bucket, key]
        except KeyError:
            raise S3Error(404, "NoSuchKey", "The specified key does not exist.") from None

    def upload(self, upload_id: str) -> Upload:
        try:
            return self.uploads[upload_id]
        except KeyError:
            raise S3Error(404, "NoSuchUpload", "The specified upload does not exist.") from None

    def part_number(self, text: str) -> int:
        number = int(text) if text.isdigit() else 0
        if not 1 <= number <= MAX_PART_NUMBER:
            raise S3Error(400, "InvalidArgument", f"Part number must be an integer between 1 and {MAX_PART_NUMBER}")
        return number

    def copy_source(self, source: str, copy_range: str | None) -> bytes:
        bucket, _, key = urllib.parse.unquote(source).lstrip("/").partition("/")
        data, _ = self.get(bucket, key)
        if copy_range is None:
            return data
        match = _RANGE.match(copy_range)
        if match is None:
            raise S3Error(
                400, "InvalidArgument", "The x-amz-copy-source-range value must be of the form bytes=first-last"
            )
        if int(match[1]) > int(match[2]) or int(match[2]) >= len(data):
            # S3's answer; moto copies what there is (tests/bench/test_s3_stub.py).
            raise S3Error(
                400, "InvalidArgument", f"Range specified is not valid for source object of size: {len(data)}"
            )
        return data[int(match[1]) : int(match[2]) + 1]

    def complete(self, upload_id: str, body: bytes) -> tuple[Upload, str]:
        upload = self.upload(upload_id)
        listed = [
            (int(part.findtext(f"{{{_XMLNS}}}PartNumber") or 0), part.findtext(f"{{{_XMLNS}}}ETag") or "")
            for part in ElementTree.fromstring(body).iter(f"{{{_XMLNS}}}Part")
        ]
        if not listed:
            raise S3Error(400, "MalformedXML", "The XML you provided was not well-formed")
        if [number for number, _ in listed] != sorted({number for number, _ in listed}):
            raise S3Error(400, "InvalidPartOrder", "The list of parts was not in ascending order.")
        chunks = []
        for index, (number, etag) in enumerate(listed):
            stored = upload.parts.get(number)
            if stored is None or stored[0].strip('"') != etag.strip('"'):
                raise S3Error(400, "InvalidPart", "One or more of the specified parts could not be found.")
            if index < len(listed) - 1 and len(stored[1]) < self.min_part:
                raise S3Error(
                    400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size."
                )
            chunks.append(stored[1])
        digest = hashlib.md5(
            b"".join(bytes.fromhex(upload.parts[n][0].strip('"')) for n, _ in listed), usedforsecurity=False
        )
        etag = f'"{digest.hexdigest()}-{len(listed)}"'
        self.objects[upload.bucket, upload.key] = (b"".join(chunks), etag)
        del self.uploads[upload_id]
        return upload, etag


def _xml(root: str, **fields: str) -> bytes:
    inner = "".join(f"<{name}>{value}</{name}>" for name, value in fields.items())
    namespace = "" if root == "Error" else f' xmlns="{_XMLNS}"'  # S3's errors have none
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<{root}{namespace}>{inner}</{root}>'.encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as S3 and every S3 client
    # The headers and the body go out in two writes: with Nagle's algorithm the second waits
    # for the client's delayed ACK of the first, 40 ms a call that S3 never adds.
    disable_nagle_algorithm = True
    store: Store
    lock: threading.Lock
    latency: list[float]

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _body(self) -> bytes:
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if "aws-chunked" in (self.headers.get("Content-Encoding") or ""):
            data = _unchunk(data)
        return data

    def _handle(self) -> None:
        split = urllib.parse.urlsplit(self.path)
        body = self._body()
        if split.path == LATENCY_PATH:
            self.latency[0] = float(urllib.parse.parse_qs(split.query)["ms"][0]) / 1000
            return self._answer(204)
        time.sleep(self.latency[0])  # outside the lock: calls wait together, as on a network
        bucket, _, key = urllib.parse.unquote(split.path).lstrip("/").partition("/")
        query = {name: values[0] for name, values in urllib.parse.parse_qs(split.query, keep_blank_values=True).items()}
        try:
            with self.lock:
                status, answer, headers = self._dispatch(bucket, key, query, body)
        except S3Error as exc:
            return self._answer(exc.status, _xml("Error", Code=exc.code, Message=exc.message))
        self._answer(status, answer, headers)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

    def _dispatch(self, bucket: str, key: str, query: dict[str, str], body: bytes) -> tuple[int, bytes, dict[str, str]]:
        store, method = self.store, self.command
        if not key:
            if method != "PUT":
                raise S3Error(405, "MethodNotAllowed", "The specified method is not allowed against this resource.")
            store.buckets.add(bucket)
            return 200, b"", {}
        if "uploads" in query and method == "POST":
            store.bucket(bucket)
            upload_id = uuid.uuid4().hex
            store.uploads[upload_id] = Upload(bucket, key)
            return 200, _xml("InitiateMultipartUploadResult", Bucket=bucket, Key=key, UploadId=upload_id), {}
        if "uploadId" in query:
            return self._multipart(bucket, key, query, body)
        if method == "PUT":
            store.bucket(bucket)
            store.objects[bucket, key] = (body, _etag(body))
            return 200, b"", {"ETag": store.objects[bucket, key][1]}
        if method == "DELETE":
            store.bucket(bucket)
            store.objects.pop((bucket, key), None)
            return 204, b"", {}
        data, etag = store.get(bucket, key)
        headers = {"ETag": etag, "Accept-Ranges": "bytes"}
        wanted = self.headers.get("Range")
        match = _RANGE.match(wanted or "")
        if wanted is not None and match is not None and int(match[1]) < len(data):
            first, last = int(match[1]), min(int(match[2]), len(data) - 1)
            headers["Content-Range"] = f"bytes {first}-{last}/{len(data)}"
            return 206, data[first : last + 1], headers
        if wanted is not None:
            raise S3Error(416, "InvalidRange", "The requested range is not satisfiable")
        return 200, data, headers

    def _multipart(
        self, bucket: str, key: str, query: dict[str, str], body: bytes
    ) -> tuple[int, bytes, dict[str, str]]:
        store, method, upload_id = self.store, self.command, query["uploadId"]
        if method == "DELETE":
            store.upload(upload_id)
            del store.uploads[upload_id]
            return 204, b"", {}
        if method == "POST":
            upload, etag = store.complete(upload_id, body)
            fields = {"Location": f"http://{upload.bucket}/{upload.key}", "Bucket": bucket, "Key": key, "ETag": etag}
            return 200, _xml("CompleteMultipartUploadResult", **fields), {}
        upload = store.upload(upload_id)
        number = store.part_number(query.get("partNumber", ""))
        source = self.headers.get("x-amz-copy-source")
        data = body if source is None else store.copy_source(source, self.headers.get("x-amz-copy-source-range"))
        etag = _etag(data)
        upload.parts[number] = (etag, data)
        if source is None:
            return 200, b"", {"ETag": etag}
        modified = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        return 200, _xml("CopyPartResult", ETag=etag.replace('"', "&quot;"), LastModified=modified), {}


def _unchunk(data: bytes) -> bytes:
    """The payload of an ``aws-chunked`` body: ``size;ext\\r\\nbytes\\r\\n`` chunks, then trailers."""
    out, at = bytearray(), 0
    while True:
        end = data.index(b"\r\n", at)
        size = int(data[at:end].split(b";")[0], 16)
        if size == 0:
            return bytes(out)
        out += data[end + 2 : end + 2 + size]
        at = end + 2 + size + 2


def serve(latency_s: float, min_part_bytes: int) -> None:
    Handler.store = Store(min_part_bytes)
    Handler.lock = threading.Lock()
    Handler.latency = [latency_s]
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    print(f"http://{host!s}:{port}", flush=True)
    server.serve_forever()


def running(latency_ms: float = 0.0, min_part_bytes: int | None = None) -> contextlib.AbstractContextManager[Server]:
    """This server in a process of its own, killed when the block ends (as slow_s3.running)."""
    return running_script(__file__, latency_ms, min_part_bytes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-ms", type=float, default=20.0, help="added to every call (default 20)")
    parser.add_argument("--min-part-bytes", type=int, default=S3_MIN_PART, help="the minimum part (default 5 MiB)")
    args = parser.parse_args(argv)
    serve(args.latency_ms / 1000, args.min_part_bytes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
