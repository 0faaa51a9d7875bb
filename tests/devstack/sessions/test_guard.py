"""A web page cannot drive the local sessions endpoint: each check of the guard refuses for
real, over HTTP, on the endpoint the kernel tests use (the kernel passing every check is
tests/devstack/sessions/test_glue_kernel_notebooks.py). No Spark is started here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from werkzeug.test import Client

from etl_devstack.sessions.config import ENDPOINT_STATE
from etl_devstack.sessions.guard import REFUSED_BROWSER, REFUSED_TOKEN, Guard
from etl_devstack.sessions.manager import SessionManager
from etl_devstack.sessions.server import Endpoint, SessionsApp, start
from tests.devstack.sessions.conftest import REGION, ROLE

pytestmark = pytest.mark.xdist_group("glue-sessions")
EVIL = "https://evil.example"
CREATE: dict[str, Any] = {"Role": ROLE, "Command": {"Name": "glueetl", "PythonVersion": "3"}}
STS_CALL = "Action=GetCallerIdentity&Version=2011-06-15"


def _authorization(key: str, service: str = "glue") -> str:
    """A SigV4 Authorization header naming ``key`` (the endpoint checks the key id only)."""
    return (
        f"AWS4-HMAC-SHA256 Credential={key}/20261205/{REGION}/{service}/aws4_request, SignedHeaders=host, Signature=0"
    )


def _glue(endpoint: Endpoint, operation: str, body: dict[str, Any], **headers: str) -> requests.Response:
    headers = {
        "X-Amz-Target": f"AWSGlue.{operation}",
        "Content-Type": "application/x-amz-json-1.1",
        "Authorization": _authorization(endpoint.access_key_id),
        **headers,
    }
    return requests.post(endpoint.url, data=json.dumps(body), headers=headers, timeout=30)


def _refused(response: requests.Response, reason: str) -> None:
    assert response.status_code == 403, response.text
    assert response.json() == {"__type": "AccessDeniedException", "message": reason}
    assert not any(name.lower().startswith("access-control-") for name in response.headers), response.headers


def _session_ids(endpoint: Endpoint) -> set[str]:
    return {session.id for session in endpoint.manager.sessions()}


def test_a_cors_preflight_from_another_origin_is_refused_without_grants(glue_endpoint: Endpoint) -> None:
    preflight = requests.options(
        glue_endpoint.url,
        headers={
            "Origin": EVIL,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-amz-target,content-type",
        },
        timeout=30,
    )
    _refused(preflight, REFUSED_BROWSER)


def test_create_session_carrying_an_origin_is_refused_even_with_the_key(glue_endpoint: Endpoint) -> None:
    """What a page would send could it learn the key: still refused, and no session starts."""
    _refused(_glue(glue_endpoint, "CreateSession", {"Id": "from-a-page", **CREATE}, Origin=EVIL), REFUSED_BROWSER)
    # A same-origin page (a rebound name) sends Sec-Fetch-* even where it sends no Origin.
    no_origin = _glue(glue_endpoint, "CreateSession", {"Id": "from-a-page", **CREATE}, **{"Sec-Fetch-Site": "none"})
    _refused(no_origin, REFUSED_BROWSER)
    assert "from-a-page" not in _session_ids(glue_endpoint)


def test_a_host_that_is_not_the_endpoints_is_refused(glue_endpoint: Endpoint) -> None:
    """DNS rebinding: the page's own name resolving to 127.0.0.1 still names its host."""
    port = glue_endpoint.url.rsplit(":", 1)[1]
    rebound = _glue(glue_endpoint, "CreateSession", {"Id": "rebound", **CREATE}, Host=f"evil.example:{port}")
    assert rebound.status_code == 403
    assert rebound.json()["message"].startswith(f"Host evil.example:{port} is not this endpoint's")
    assert "rebound" not in _session_ids(glue_endpoint)
    # Loopback names, as a developer may type them, pass.
    listed = _glue(glue_endpoint, "ListSessions", {}, Host=f"localhost:{port}")
    assert listed.status_code == 200, listed.text


@pytest.mark.parametrize(
    "authorization",
    [None, _authorization("ETLLOCALWRONG0000000000000000000000"), "AWS4-HMAC-SHA256 Credential=/x"],
    ids=["no key", "another key", "malformed"],
)
def test_glue_requests_without_this_starts_key_are_refused(glue_endpoint: Endpoint, authorization: str | None) -> None:
    headers = {"X-Amz-Target": "AWSGlue.CreateSession", "Content-Type": "application/x-amz-json-1.1"}
    if authorization is not None:
        headers["Authorization"] = authorization
    body = json.dumps({"Id": "no-key", **CREATE})
    _refused(requests.post(glue_endpoint.url, data=body, headers=headers, timeout=30), REFUSED_TOKEN)
    assert "no-key" not in _session_ids(glue_endpoint)


def test_motos_services_need_the_key_too(glue_endpoint: Endpoint) -> None:
    unsigned = requests.post(glue_endpoint.url, data=STS_CALL, headers={"Host": glue_endpoint.url[7:]}, timeout=30)
    _refused(unsigned, REFUSED_TOKEN)
    anonymous_s3 = requests.get(f"{glue_endpoint.url}/any-bucket/any-key", timeout=30)
    _refused(anonymous_s3, REFUSED_TOKEN)
    sts = boto3.client("sts", endpoint_url=glue_endpoint.url, region_name=REGION, **glue_endpoint.credentials())
    assert sts.get_caller_identity()["Account"] == "123456789012"


def test_a_presigned_url_with_the_key_passes_and_one_without_is_refused(glue_endpoint: Endpoint) -> None:
    s3 = boto3.client("s3", endpoint_url=glue_endpoint.url, region_name=REGION, **glue_endpoint.credentials())
    s3.create_bucket(Bucket="presigned")
    s3.put_object(Bucket="presigned", Key="k", Body=b"body")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "presigned", "Key": "k"}, ExpiresIn=60)
    assert requests.get(url, timeout=30).content == b"body"
    forged = url.replace(glue_endpoint.access_key_id, "ETLLOCALWRONG0000000000000000000000")
    _refused(requests.get(forged, timeout=30), REFUSED_TOKEN)


def test_each_start_draws_its_own_key_and_refuses_the_others(tmp_path: Path) -> None:
    with start(work_dir=str(tmp_path / "a")) as first, start(work_dir=str(tmp_path / "b")) as second:
        assert first.access_key_id != second.access_key_id
        state = json.loads((tmp_path / "a" / ENDPOINT_STATE).read_text())
        assert state == {"url": first.url, "access_key_id": first.access_key_id}
        assert (tmp_path / "a" / ENDPOINT_STATE).stat().st_mode & 0o777 == 0o600
        glue = boto3.client("glue", endpoint_url=first.url, region_name=REGION, **second.credentials())
        with pytest.raises(ClientError) as refused:
            glue.list_sessions()
        assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
        assert refused.value.response["Error"]["Message"] == REFUSED_TOKEN
    assert not (tmp_path / "a" / ENDPOINT_STATE).exists(), "the key outlived the endpoint"


def test_motos_global_cors_is_off_behind_the_guard(tmp_path: Path) -> None:
    """Straight to the moto part of the app (past the guard): no CORS grant to any origin,
    where moto's stock backend app grants one."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    manager = SessionManager(tmp_path)
    try:
        app = SessionsApp(manager, Guard.for_server("127.0.0.1", 1))
        headers = {"Origin": EVIL, "Content-Type": "application/x-www-form-urlencoded"}
        headers["Authorization"] = _authorization("any", service="sts")
        ours = Client(app.moto).post("/", data=STS_CALL, headers=headers)
        stock = Client(DomainDispatcherApplication(create_backend_app)).post("/", data=STS_CALL, headers=headers)
    finally:
        manager.close()
    assert ours.status_code == stock.status_code == 200
    assert stock.headers.get("Access-Control-Allow-Origin") in {EVIL, "*"}, "the control: stock moto grants CORS"
    assert "Access-Control-Allow-Origin" not in ours.headers


def test_the_guard_reads_keys_and_hosts_as_clients_send_them() -> None:
    guard = Guard.for_server("0.0.0.0", 8998, allowed=["devbox.internal"], access_key_id="ETLLOCALKEY")
    signed = {"HTTP_AUTHORIZATION": _authorization("ETLLOCALKEY")}
    for host in ("127.0.0.1:8998", "localhost:8998", "[::1]:8998", "devbox.internal:8998", "LOCALHOST:8998"):
        assert guard.refusal({**signed, "HTTP_HOST": host}) is None, host
    for host in ("0.0.0.0:8998", "127.0.0.1:8999", "127.0.0.1", "evil.example:8998", ""):
        assert guard.refusal({**signed, "HTTP_HOST": host}) is not None, host
    local = {"HTTP_HOST": "127.0.0.1:8998"}
    for query in ("X-Amz-Credential=ETLLOCALKEY%2F20261205%2Fus-east-1", "AWSAccessKeyId=ETLLOCALKEY&Expires=1"):
        assert guard.refusal({**local, "QUERY_STRING": query}) is None, query
        assert guard.refusal({**local, "QUERY_STRING": query.replace("KEY", "KEX")}) == REFUSED_TOKEN, query
    assert guard.refusal({**local, "HTTP_AUTHORIZATION": "AWS ETLLOCALKEY:c2lnbmF0dXJl"}) is None
    assert guard.refusal({**local, "HTTP_AUTHORIZATION": "AWS ETLLOCALKEX:c2lnbmF0dXJl"}) == REFUSED_TOKEN
    bound = Guard.for_server("::1", 8998, access_key_id="K")
    assert "[::1]:8998" in bound.hosts
