"""The local server under hostile or careless clients: what it refuses, and how early."""

from __future__ import annotations

import http.client
import os
import socket
import stat
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from etl_lib.jobs.models import input_key
from tests.devstack.local.stack import (
    Server,
    create_and_upload,
    create_job,
    temporary_files,
    upload,
    wait_finished,
)
from tests.jobs.support import free_port, write_parquet

# Only a hung server fails a test on these; nothing here measures speed.
SOCKET_TIMEOUT = 60


def raw_request(server: Server, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """Send ``head`` (and the start of a body) on a fresh connection; the status the server
    answers with before the client sends anything more, and the response bytes."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=SOCKET_TIMEOUT) as sock:
        sock.sendall(head + body)
        received = b""
        while True:  # bounded by the socket timeout and the server closing the connection
            head, _, body = received.partition(b"\r\n\r\n")
            if _ and len(body) >= content_length(head):
                break
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    assert received.startswith(b"HTTP/1."), received[:200]
    return int(received.split(b" ", 2)[1]), received


def content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def multipart_start(fields: dict[str, str], boundary: str = "b0undary") -> bytes:
    parts = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    )
    file_head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.parquet"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return parts + file_head


def upload_head(server: Server, path: str, length: int, boundary: str = "b0undary") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def test_every_api_response_has_exactly_one_content_type(servers: Callable[..., Server], tmp_path: Path) -> None:
    server = servers(tmp_path / "data", workers=0)
    for method, path, body in (
        ("GET", "/api/jobs", None),
        ("POST", "/api/jobs", b'{"filename": "a.parquet", "size": 100}'),
        ("GET", "/api/jobs/nope", None),
        ("GET", "/api/nothing", None),
    ):
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=SOCKET_TIMEOUT)
        connection.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
        response = connection.getresponse()
        response.read()
        assert response.headers.get_all("Content-Type") == ["application/json"], (method, path)
        connection.close()
    job_id = server.api("POST", "/jobs", json={"filename": "a.parquet", "size": 100}).json()["job"]["job_id"]
    deleted = server.api("DELETE", f"/jobs/{job_id}")
    assert deleted.status_code == 204
    assert "Content-Type" not in deleted.headers


def test_a_method_a_path_does_not_have_is_405_with_the_allowed_ones(
    servers: Callable[..., Server], tmp_path: Path
) -> None:
    server = servers(tmp_path / "data", workers=0)
    for method, path, allow in (
        ("TRACE", "/jobs", "GET, POST"),
        ("PUT", "/jobs/abc", "DELETE, GET"),
        ("POST", "/jobs/abc/download", "GET"),
    ):
        answer = server.api(method, path)
        assert answer.status_code == 405, (method, path)
        assert answer.headers["Allow"] == allow
        assert answer.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert server.api("GET", "/nothing").status_code == 404


@pytest.mark.parametrize("signature", ["é" * 64, "\u202e" + "0" * 63, "", "0" * 10_000])
def test_a_malformed_signature_is_refused_with_403(
    servers: Callable[..., Server], tmp_path: Path, signature: str
) -> None:
    server = servers(tmp_path / "data")
    data = write_parquet(tmp_path / "sales.parquet").read_bytes()
    created = create_job(server, data)
    form = created["upload"]
    refused = requests.post(
        form["url"], data={**form["fields"], "signature": signature}, files={"file": ("a", data)}, timeout=30
    )
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "ACCESS_DENIED"

    job_id, posted = create_and_upload(server, data)
    assert posted.status_code == 204
    assert wait_finished(server, job_id)["status"] == "SUCCEEDED"
    url = server.api("GET", f"/jobs/{job_id}/download").json()["url"]
    base, _, _ = url.partition("&signature=")
    tampered = requests.get(base, params={"signature": signature}, timeout=30)
    assert tampered.status_code == 403, tampered.text
    assert tampered.json()["error"]["code"] == "ACCESS_DENIED"


def test_an_unsigned_upload_is_refused_before_its_body_is_read(servers: Callable[..., Server], tmp_path: Path) -> None:
    server = servers(tmp_path / "data", workers=0)
    created = create_job(server, b"x" * 1000)
    fields = {**created["upload"]["fields"], "signature": "0" * 64}
    start = multipart_start(fields) + b"\0" * 100_000
    # Claims 1 GiB and sends 100 kB: the answer must come without the rest.
    status, response = raw_request(server, upload_head(server, "/objects/inputs", 1024**3), start)
    assert status == 403, response
    assert temporary_files(server.data_dir) == []
    assert not (server.data_dir / "objects" / "inputs" / input_key(created["job"]["job_id"])).exists()


def test_an_upload_declaring_more_than_its_policy_is_refused_before_its_body_is_read(
    servers: Callable[..., Server], tmp_path: Path
) -> None:
    server = servers(tmp_path / "data", workers=0)
    created = create_job(server, b"x" * 1000)
    start = multipart_start(created["upload"]["fields"]) + b"\0" * 100_000
    status, response = raw_request(server, upload_head(server, "/objects/inputs", 1024**3), start)
    assert status == 403, response
    assert b"1000 bytes its policy allows" in response
    assert temporary_files(server.data_dir) == []


def test_an_upload_over_the_server_limit_or_with_huge_fields_is_refused_unread(
    servers: Callable[..., Server], tmp_path: Path
) -> None:
    server = servers(tmp_path / "data", workers=0, env={"MAX_UPLOAD_BYTES": "1000000"})
    created = create_job(server, b"x" * 1000)
    status, response = raw_request(server, upload_head(server, "/objects/inputs", 2_000_000_000), b"")
    assert status == 413, response
    assert b"REQUEST_TOO_LARGE" in response
    padded = {"padding": "p" * 100_000, **created["upload"]["fields"]}
    start = multipart_start(padded)
    status, response = raw_request(server, upload_head(server, "/objects/inputs", len(start) + 1000), start)
    assert status == 413, response
    assert b"FORM_TOO_LARGE" in response
    many = {f"f{i}": "v" for i in range(40)} | created["upload"]["fields"]
    start = multipart_start(many)
    status, response = raw_request(server, upload_head(server, "/objects/inputs", len(start) + 1000), start)
    assert status == 413, response
    assert temporary_files(server.data_dir) == []


def test_an_upload_streaming_past_its_policy_is_cut_off_at_the_limit(
    servers: Callable[..., Server], tmp_path: Path
) -> None:
    """No Content-Length (chunked): the limit is enforced on the bytes as they arrive."""
    server = servers(tmp_path / "data", workers=0)
    created = create_job(server, b"x" * 1000)
    sent: list[int] = []

    def body() -> Any:
        yield multipart_start(created["upload"]["fields"])
        for _ in range(1000):  # up to 64 MB, far past the 1000 bytes allowed
            sent.append(1)
            yield b"\0" * 65536
        yield b"\r\n--b0undary--\r\n"

    try:
        answer = requests.post(
            created["upload"]["url"],
            data=body(),
            headers={"Content-Type": "multipart/form-data; boundary=b0undary"},
            timeout=SOCKET_TIMEOUT,
        )
        assert answer.status_code == 403, answer.text
    except requests.ConnectionError:
        pass  # the server closed the connection on a client still sending: refused too
    assert len(sent) < 1000
    assert temporary_files(server.data_dir) == []
    job = server.api("GET", f"/jobs/{created['job']['job_id']}").json()["job"]
    assert job["status"] == "PENDING"


def test_an_api_body_over_the_cap_is_refused_with_413(servers: Callable[..., Server], tmp_path: Path) -> None:
    server = servers(tmp_path / "data", workers=0)
    huge = b'{"filename": "a.parquet", "size": 1, "pad": "' + b"x" * (2 * 1024**2) + b'"}'
    refused = server.api("POST", "/jobs", data=huge, headers={"Content-Type": "application/json"})
    assert refused.status_code == 413
    assert refused.json()["error"]["code"] == "REQUEST_TOO_LARGE"
    assert server.api("GET", "/jobs").json()["jobs"] == []


def test_a_client_sending_its_request_too_slowly_is_disconnected(
    servers: Callable[..., Server], tmp_path: Path
) -> None:
    """Slowloris: a byte now and then keeps each single read short, never the whole head."""
    server = servers(tmp_path / "data", workers=0, args=["--request-timeout", "2"])
    with socket.create_connection(("127.0.0.1", server.port), timeout=SOCKET_TIMEOUT) as sock:
        sock.sendall(b"GET /api/jobs HTTP/1.1\r\n")
        closed = False
        for _ in range(600):  # bounded: 600 bytes at most, one every 0.5 s
            try:
                sock.sendall(b"X")
            except OSError:
                closed = True
                break
            sock.settimeout(0.5)
            try:
                sock.recv(1)  # an answer (408) or the end of the connection
                closed = True
                break
            except TimeoutError:
                continue
            except OSError:
                closed = True
                break
        assert closed, "the server kept a trickling client's connection open"
    assert server.api("GET", "/jobs").status_code == 200  # and still serves everyone else


def _read_until_closed(sock: socket.socket) -> bytes:
    received = b""
    for _ in range(10_000):  # bounded by the socket timeout and the server closing
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        received += chunk
    return received


def test_a_client_sending_its_body_too_slowly_is_cut_off_by_the_bodys_deadline(
    servers: Callable[..., Server], tmp_path: Path
) -> None:
    """A byte every half second never trips the 2 s idle timeout; the body's deadline (its
    length at the minimum rate, plus the request timeout) does."""
    server = servers(tmp_path / "data", workers=0, args=["--request-timeout", "2"])
    head = (
        f"POST /api/jobs HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=SOCKET_TIMEOUT) as sock:
        sock.sendall(head)
        answer = b""
        for _ in range(200):  # bounded: 200 bytes at most, one every 0.5 s (the body needs 1000)
            try:
                sock.sendall(b" ")
            except OSError:
                break
            sock.settimeout(0.5)
            try:
                answer = sock.recv(65536)
                break
            except TimeoutError:
                continue
            except OSError:
                break
        else:
            pytest.fail("the server kept reading a trickling body")
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert server.api("GET", "/jobs").status_code == 200


def test_after_refusing_an_api_body_the_server_reads_no_more_than_a_little_of_it_and_closes(
    servers: Callable[..., Server], tmp_path: Path
) -> None:
    """Werkzeug alone drains a refused body for up to 10 GB; a client streaming one would
    hold the thread. The rest of the body is never parsed as a request either."""
    server = servers(tmp_path / "data", workers=0)
    declared = 256 * 1024**2
    smuggled = f"DELETE /api/jobs/{'0' * 32} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode()
    head = (
        f"POST /api/jobs HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    ).encode()
    chunk = b" " * 65536
    sent = 0
    with socket.create_connection(("127.0.0.1", server.port), timeout=SOCKET_TIMEOUT) as sock:
        sock.sendall(head + smuggled)
        try:
            while sent < declared:  # bounded by the declared length
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass  # the server closed the connection on a client still sending: what is checked
        received = _read_until_closed(sock)
    assert sent < declared // 4, f"the server read {sent:,} bytes of a refused body"
    assert received.startswith(b"HTTP/1.1 413"), received[:200]
    assert received.count(b"HTTP/1.1 ") == 1, received  # the smuggled DELETE was never answered: never run


def test_connections_over_the_limit_are_answered_503_at_once_and_served_again_once_one_ends(
    servers: Callable[..., Server], tmp_path: Path
) -> None:
    server = servers(tmp_path / "data", workers=0, args=["--max-connections", "2"])
    idle = [socket.create_connection(("127.0.0.1", server.port), timeout=SOCKET_TIMEOUT) for _ in range(2)]
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=SOCKET_TIMEOUT) as third:
            third.sendall(f"GET /api/jobs HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode())
            busy = _read_until_closed(third)
        assert busy.startswith(b"HTTP/1.1 503"), busy[:200]
        assert b'"SERVER_BUSY"' in busy
    finally:
        for sock in idle:
            sock.close()
    for _ in range(100):  # bounded: the idle connections' threads see the close and end
        status = server.api("GET", "/jobs").status_code
        if status == 200:
            break
        assert status == 503
        threading.Event().wait(0.1)
    assert status == 200


@pytest.mark.parametrize(
    ("host", "status"),
    [("evil.example", 421), ("127.0.0.1.evil.example", 421), ("localhost.", 421), ("", 400)],
)
def test_a_request_for_another_host_name_is_refused(
    servers: Callable[..., Server], tmp_path: Path, host: str, status: int
) -> None:
    """DNS rebinding: a page on evil.example whose name now points at 127.0.0.1."""
    server = servers(tmp_path / "data", workers=0)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=SOCKET_TIMEOUT)
    connection.putrequest("GET", "/api/jobs", skip_host=True)
    if host:
        connection.putheader("Host", f"{host}:{server.port}")
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == status
    response.read()
    connection.close()


def test_local_names_and_allowed_hosts_are_served(servers: Callable[..., Server], tmp_path: Path) -> None:
    server = servers(tmp_path / "data", workers=0, args=["--allowed-host", "etl.test", "--allowed-host", "Other.Test"])
    for host in ("localhost", "127.0.0.1", "[::1]", "etl.test", "other.test", "LOCALHOST"):
        answer = requests.get(f"{server.url}/api/jobs", headers={"Host": f"{host}:{server.port}"}, timeout=30)
        assert answer.status_code == 200, host
    bare = requests.get(f"{server.url}/api/jobs", headers={"Host": "localhost"}, timeout=30)
    assert bare.status_code == 200


def test_a_non_loopback_bind_warns(tmp_path: Path) -> None:
    server = Server(tmp_path / "data", workers=0, args=["--host", "0.0.0.0"])
    try:
        assert "warning" in server.log.read_text().lower()
        assert "0.0.0.0" in server.log.read_text()
    finally:
        server.stop()
    quiet = Server(tmp_path / "data", workers=0)
    try:
        assert "warning" not in quiet.log.read_text().lower()
    finally:
        quiet.stop()


def test_concurrent_creates_and_reads_each_get_their_own_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The handlers' resolvers keep the current request on the resolver object: the local
    gateway must never let two threads share it. One owner per thread, so a request
    answered with another thread's event is seen (404, another owner's job)."""
    import json

    from etl_devstack.local.gateway import ApiGateway, LocalLambdaContext
    from etl_lib.jobs.settings import service
    from tests.jobs.support import api_event

    for name, value in {
        "ETL_BACKEND": "local",
        "ETL_DATA_DIR": str(tmp_path),
        "ETL_LOCAL_RUNNER": "queue",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }.items():
        monkeypatch.setenv(name, value)
    service.cache_clear()
    gateway = ApiGateway()
    context = LocalLambdaContext(function_name="jobs")
    problems: list[str] = []

    def client(n: int) -> None:
        owner = f"user-{n}"
        for i in range(30):
            name = f"c{n}-{i}.parquet"
            event = api_event("POST", "/jobs", body={"filename": name, "size": 100}, sub=owner)
            created = gateway.call("upload", event, context)
            body = json.loads(created["body"])
            if created["statusCode"] != 201 or body["job"]["filename"] != name:
                problems.append(f"POST {name}: {created['statusCode']} {created['body'][:200]}")
                continue
            job_id = body["job"]["job_id"]
            got = gateway.call("status", api_event("GET", f"/jobs/{job_id}", sub=owner), context)
            if got["statusCode"] != 200 or json.loads(got["body"])["job"]["job_id"] != job_id:
                problems.append(f"GET {job_id}: {got['statusCode']} {got['body'][:200]}")

    try:
        threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert not any(t.is_alive() for t in threads)
    finally:
        service.cache_clear()
    assert problems == []


def test_the_signing_key_is_created_once_and_private(tmp_path: Path) -> None:
    from etl_lib.jobs.local import signing_key

    old = os.umask(0)  # a careless umask must not matter: the file is 0600 from its creation
    try:
        keys: list[str] = []
        threads = [threading.Thread(target=lambda: keys.append(signing_key(tmp_path))) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        os.umask(old)
    assert len(keys) == 8
    assert len(set(keys)) == 1, "concurrent starts made different keys"
    key_file = tmp_path / "signing.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["signing.key"]
    assert signing_key(tmp_path) == keys[0]


def test_temporary_files_left_by_a_killed_server_are_removed_at_start(
    servers: Callable[..., Server], tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    first = servers(data_dir, workers=0)
    first.stop()
    objects = data_dir / "objects"
    leftovers = [
        objects / "inputs" / f".upload-{uuid.uuid4().hex}",
        objects / "outputs" / "outputs" / "j1" / ".output.jsonl.tmp-0123abcd",
        objects / "outputs" / "outputs" / "j1" / ".output.jsonl.parts-0123abcd" / "part-0",
        objects / "outputs" / "outputs" / "j2" / ".report.json.tmp-12345678",
    ]
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half written")
    keep = objects / "outputs" / "outputs" / "j1" / "output.jsonl"
    keep.write_bytes(b"{}\n")
    servers(data_dir, workers=0, port=free_port())
    assert temporary_files(data_dir) == []
    assert keep.read_bytes() == b"{}\n"


def test_a_pending_job_whose_upload_was_saved_is_converted_at_the_next_start(
    servers: Callable[..., Server], tmp_path: Path
) -> None:
    """The server was killed between saving an upload and announcing it."""
    data_dir = tmp_path / "data"
    data = write_parquet(tmp_path / "sales.parquet").read_bytes()
    idle = servers(data_dir, workers=0)
    saved = create_job(idle, data)
    never_uploaded = create_job(idle, data)
    idle.kill()
    job_id = saved["job"]["job_id"]
    target = data_dir / "objects" / "inputs" / input_key(job_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)  # exactly what the upload had stored when the server died

    restarted = servers(data_dir, workers=1, port=idle.port)  # same port: the old upload form still works
    assert wait_finished(restarted, job_id)["status"] == "SUCCEEDED"
    # A job whose upload never arrived keeps waiting for it: its form still works.
    other = never_uploaded["job"]["job_id"]
    assert restarted.api("GET", f"/jobs/{other}").json()["job"]["status"] == "PENDING"
    assert upload(never_uploaded, data).status_code == 204
    assert wait_finished(restarted, other)["status"] == "SUCCEEDED"


def test_a_body_that_is_not_json_or_not_the_documented_types_is_refused_not_crashed(
    servers: Callable[..., Server], tmp_path: Path
) -> None:
    """Found by the API fuzzing: a text/plain body crashed the handler (500); a number
    where the document says boolean was read as one."""
    server = servers(tmp_path / "data", workers=0)
    body = b'{"filename": "a.parquet", "size": 100}'
    for content_type in ("text/plain", "multipart/form-data"):
        plain = server.api("POST", "/jobs", data=body, headers={"Content-Type": content_type})
        assert plain.status_code == 415, (content_type, plain.text)
        assert plain.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    # A well-formed form is read as one (Powertools parses forms): it has none of the fields.
    form = server.api("POST", "/jobs", data=body, headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert form.status_code == 422, form.text
    for value in (0, 1, "true", "yes"):
        loose = server.api(
            "POST", "/jobs", json={"filename": "a.parquet", "size": 100, "options": {"drop_nulls": value}}
        )
        assert loose.status_code == 422, (value, loose.text)
    assert server.api("GET", "/jobs").json()["jobs"] == []


def test_without_a_configured_key_the_local_stores_sign_with_the_data_directorys_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No key anyone can read in the source: an unset ETL_SIGNING_KEY means the data
    directory's private random key, the same one `etl up` hands its processes."""
    from etl_lib.jobs.local import signing_key
    from etl_lib.jobs.settings import Settings, object_store_from_spec

    monkeypatch.delenv("ETL_SIGNING_KEY", raising=False)
    settings = Settings(backend="local", data_dir=str(tmp_path / "data"))
    assert settings.signing_key is None
    store = object_store_from_spec(str(tmp_path / "data" / "inputs"), settings=settings)
    key = signing_key(tmp_path / "data")
    assert len(key) == 64 and key != "local-development-only"
    assert (tmp_path / "data" / "signing.key").stat().st_mode & 0o777 == 0o600
    url = store.presign_get("some/key", download_name="out.jsonl", expires_in=60)
    other = object_store_from_spec(
        str(tmp_path / "data" / "inputs"), settings=Settings(backend="local", data_dir=str(tmp_path / "other"))
    )
    assert url != other.presign_get("some/key", download_name="out.jsonl", expires_in=60)


def test_everything_the_stack_writes_is_its_users_alone(servers: Callable[..., Server], tmp_path: Path) -> None:
    """Uploads, outputs, the job store and logs: files 0600 and folders 0700, though the
    test's own umask lets others read."""
    old = os.umask(0o022)
    try:
        data_dir = tmp_path / "data"
        server = servers(data_dir, workers=1)
        created = create_job(server, write_parquet(tmp_path / "sales.parquet").read_bytes())
        assert upload(created, write_parquet(tmp_path / "sales.parquet").read_bytes()).status_code == 204
        assert wait_finished(server, created["job"]["job_id"])["status"] == "SUCCEEDED"
    finally:
        os.umask(old)
    paths = [data_dir, *data_dir.rglob("*")]
    assert any(p.is_file() and p.suffix == ".jsonl" for p in paths), "the output is among them"
    shared = [f"{p.relative_to(tmp_path)} {p.stat().st_mode & 0o777:o}" for p in paths if p.stat().st_mode & 0o077]
    assert shared == []
