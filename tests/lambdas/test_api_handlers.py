"""The API Lambdas through API Gateway REST events, on the local back end (SQLite + directory)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest

from lambdas.download.handler import handler as download_handler
from lambdas.events.handler import handler as events_handler
from lambdas.status.handler import handler as status_handler
from lambdas.upload.handler import handler as upload_handler
from tests.jobs.support import FakeLambdaContext, api_event, call, local_upload, s3_event, write_parquet

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

pytestmark = pytest.mark.usefixtures("local_env")


def create(sub: str = "user-a", **body: Any) -> dict[str, Any]:
    status, payload = call(
        upload_handler, api_event("POST", "/jobs", body={"filename": "sales.parquet", "size": 10, **body}, sub=sub)
    )
    assert status == 201, payload
    return payload


def finished_job(tmp_path: Path, sub: str = "user-a", options: dict[str, Any] | None = None) -> dict[str, Any]:
    data = write_parquet(tmp_path / "in.parquet").read_bytes()
    created = create(sub, size=len(data), options=options or {})
    key = local_upload(created["upload"]["fields"], data)
    result = events_handler(s3_event(key, len(data)), FakeLambdaContext())
    assert result["status"] == "SUCCEEDED"
    return created["job"]


def test_creating_a_job_returns_it_pending_with_an_upload_form_for_a_server_chosen_key() -> None:
    payload = create(options={"format": "json", "compression": "gzip"})
    job = payload["job"]
    assert job["status"] == "PENDING"
    assert job["filename"] == "sales.parquet"
    assert job["options"]["format"] == "json"
    assert job["error"] is None
    assert set(job) >= {
        "job_id",
        "created_at",
        "updated_at",
        "input_bytes",
        "output_bytes",
        "rows_in",
        "rows_out",
        "duration_ms",
    }
    assert "owner" not in job
    assert payload["upload"]["fields"]["key"] == f"inputs/{job['job_id']}/input.parquet"
    assert "sales" not in payload["upload"]["fields"]["key"]


def test_a_file_over_the_size_limit_is_refused_with_413(monkeypatch: pytest.MonkeyPatch) -> None:
    """Over the documented maximum a request breaks the schema (422); over a deployment's own
    lower limit it is a file too large (413)."""
    from etl_lib.jobs.settings import service

    status, payload = call(
        upload_handler, api_event("POST", "/jobs", body={"filename": "a.parquet", "size": 1024**4 + 1})
    )
    assert status == 422
    assert payload["error"]["code"] == "INVALID_REQUEST"
    assert "size" in payload["error"]["message"]
    monkeypatch.setenv("MAX_UPLOAD_BYTES", "100")
    service.cache_clear()
    status, payload = call(upload_handler, api_event("POST", "/jobs", body={"filename": "a.parquet", "size": 101}))
    assert status == 413


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("{not json", 400, "MALFORMED_JSON"),
        ('{"size": 10}', 422, "INVALID_REQUEST"),
        ('{"filename": "a.parquet", "size": 0}', 422, "INVALID_REQUEST"),
        ('{"filename": "a.parquet", "size": "big"}', 422, "INVALID_REQUEST"),
        ('{"filename": "../etc/passwd", "size": 10}', 422, "INVALID_REQUEST"),
        ('{"filename": "a.parquet", "size": 10, "options": {"format": "xml"}}', 422, "INVALID_REQUEST"),
        ('{"filename": "a.parquet", "size": 10, "options": {"colour": "red"}}', 422, "INVALID_REQUEST"),
        ('{"filename": "a.parquet", "size": 10, "options": {"drop_nulls": 0}}', 422, "INVALID_REQUEST"),
        ('{"filename": "a.parquet", "size": 10, "options": {"nan_as_string": "yes"}}', 422, "INVALID_REQUEST"),
        ('{"filename": "a.parquet", "size": 10, "owner": "someone-else"}', 422, "INVALID_REQUEST"),
        ('{"filename": "a.parquet", "size": 10, "engine": "local"}', 422, "INVALID_REQUEST"),
        ('{"filename": "a.parquet", "size": 10, "engine": "duckdb"}', 422, "INVALID_REQUEST"),
        ("[]", 422, "INVALID_REQUEST"),
    ],
)
def test_bad_requests_are_400_or_422_with_a_json_error(body: str, status: int, code: str) -> None:
    got, payload = call(upload_handler, api_event("POST", "/jobs", raw_body=body))
    assert got == status, payload
    assert payload["error"]["code"] == code
    assert payload["error"]["message"]


def test_a_request_without_identity_is_401() -> None:
    status, payload = call(status_handler, api_event("GET", "/jobs", sub=None))
    assert status == 401
    assert payload["error"]["code"] == "UNAUTHORIZED"


def test_an_unknown_route_is_a_json_404() -> None:
    status, payload = call(status_handler, api_event("PATCH", "/nothing"))
    assert status == 404
    assert payload["error"]["code"] == "NOT_FOUND"


def test_listing_shows_only_my_jobs_newest_first_in_pages() -> None:
    mine = [create()["job"]["job_id"] for _ in range(3)]
    create("user-b")
    status, first = call(status_handler, api_event("GET", "/jobs", query={"limit": "2"}))
    assert status == 200
    assert [j["job_id"] for j in first["jobs"]] == mine[::-1][:2]
    status, second = call(
        status_handler, api_event("GET", "/jobs", query={"limit": "2", "next_token": first["next_token"]})
    )
    assert [j["job_id"] for j in second["jobs"]] == mine[:1]
    assert second["next_token"] is None


def test_bad_listing_parameters_are_refused() -> None:
    assert call(status_handler, api_event("GET", "/jobs", query={"limit": "0"}))[0] == 422
    assert call(status_handler, api_event("GET", "/jobs", query={"limit": "many"}))[0] == 422
    # A next_token not of the documented form breaks the schema; any of that form is a position.
    status, payload = call(status_handler, api_event("GET", "/jobs", query={"next_token": "garbage"}))
    assert status == 422
    assert payload["error"]["code"] == "INVALID_REQUEST"
    made_up = "2999-01-01T00:00:00.000000Z#" + "f" * 32
    status, payload = call(status_handler, api_event("GET", "/jobs", query={"next_token": made_up}))
    assert status == 200


def test_getting_a_job_returns_it_and_a_missing_one_is_404() -> None:
    job = create()["job"]
    status, payload = call(status_handler, api_event("GET", f"/jobs/{job['job_id']}"))
    assert status == 200
    assert payload["job"] == job
    status, payload = call(status_handler, api_event("GET", "/jobs/0123456789abcdef0123456789abcdef"))
    assert status == 404
    assert payload["error"]["code"] == "JOB_NOT_FOUND"


@pytest.mark.parametrize(
    "job_id", ["x" * 2000, "0123456789ABCDEF0123456789ABCDEF", "abc", "0123456789abcdef0123456789abcde%25"]
)
@pytest.mark.parametrize(
    ("handler", "method", "suffix"),
    [
        (status_handler, "GET", ""),
        (status_handler, "DELETE", ""),
        (status_handler, "GET", "/report"),
        (download_handler, "GET", "/download"),
        (upload_handler, "GET", "/upload/parts"),
        (upload_handler, "POST", "/upload/complete"),
    ],
)
def test_a_malformed_job_id_in_any_path_is_400_before_a_store_is_asked(
    handler: Any, method: str, suffix: str, job_id: str
) -> None:
    status, payload = call(handler, api_event(method, f"/jobs/{job_id}{suffix}"))
    assert status == 400, payload
    assert payload["error"]["code"] == "INVALID_JOB_ID"


def test_an_upload_written_again_while_it_is_converted_fails_its_job_and_publishes_nothing(
    tmp_path: Path, local_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The presigned form stays valid until it expires: a second POST with it replaces the
    checked upload. The run must not publish a conversion of what nobody checked."""
    from etl_lib import conversion

    data = write_parquet(tmp_path / "in.parquet").read_bytes()
    created = create(size=len(data))
    real_convert = conversion.convert

    def convert_while_the_form_is_posted_again(*args: Any, **kwargs: Any) -> Any:
        local_upload(created["upload"]["fields"], data)  # same size, same bytes, a new object
        return real_convert(*args, **kwargs)

    monkeypatch.setattr(conversion, "convert", convert_while_the_form_is_posted_again)
    key = local_upload(created["upload"]["fields"], data)
    result = events_handler(s3_event(key, len(data)), FakeLambdaContext())
    assert result["status"] == "FAILED"
    got, payload = call(status_handler, api_event("GET", f"/jobs/{created['job']['job_id']}"))
    assert got == 200
    assert payload["job"]["error"]["code"] == "UPLOAD_CHANGED"
    assert "replaced after it was checked" in payload["job"]["error"]["message"]
    outputs = local_env / "outputs" / created["job"]["job_id"]
    assert not outputs.exists() or not any(p.is_file() for p in outputs.rglob("*"))


def test_download_is_409_until_the_job_has_succeeded() -> None:
    job = create()["job"]
    status, payload = call(download_handler, api_event("GET", f"/jobs/{job['job_id']}/download"))
    assert status == 409
    assert payload["error"]["code"] == "JOB_NOT_FINISHED"


def test_a_finished_job_downloads_under_the_input_name_with_the_output_extension(tmp_path: Path) -> None:
    job = finished_job(tmp_path, options={"format": "json", "compression": "gzip"})
    status, payload = call(download_handler, api_event("GET", f"/jobs/{job['job_id']}/download"))
    assert status == 200
    assert payload["filename"] == "sales.json.gz"
    assert "filename=sales.json.gz" in payload["url"]
    assert payload["expires_at"]


def test_a_finished_jobs_report_gives_its_summary_and_the_schema_of_the_files_columns(tmp_path: Path) -> None:
    job = finished_job(tmp_path)
    status, payload = call(status_handler, api_event("GET", f"/jobs/{job['job_id']}/report"))
    assert status == 200, payload
    assert payload["job_id"] == job["job_id"]
    report = payload["report"]
    assert list(report["json_schema"]["properties"]) == ["id", "name", "price"]
    assert report["json_schema"]["properties"]["name"]["type"] == ["string", "null"]
    assert (report["rows_in"], report["rows_out"], report["engine"]) == (5, 5, "local")
    # One part per row group, adding up to the whole file.
    assert report["parts"] and sum(part["rows"] for part in report["parts"]) == 5
    assert all(part["bytes"] > 0 and part["file"] == "input.parquet" for part in report["parts"])
    # Storage paths stay server-side.
    assert not {"input", "output"} & set(report)


def test_a_report_too_large_for_a_response_is_served_by_a_short_lived_link_to_the_same_json(tmp_path: Path) -> None:
    """Lambda answers 6 MB at most: a report over the inline limit comes as a link."""
    import dataclasses
    import json
    from urllib.parse import parse_qsl, unquote, urlparse

    from etl_lib.jobs.local import DirectoryObjectStore
    from etl_lib.jobs.settings import service

    job = finished_job(tmp_path)
    status, inline = call(status_handler, api_event("GET", f"/jobs/{job['job_id']}/report"))
    assert status == 200 and inline["report"] is not None and inline["report_url"] is None
    svc = service()
    svc.limits = dataclasses.replace(svc.limits, report_inline_max_bytes=100)  # this report is larger
    status, linked = call(status_handler, api_event("GET", f"/jobs/{job['job_id']}/report"))
    assert status == 200, linked
    assert linked["report"] is None and linked["report_expires_at"]
    url = linked["report_url"]
    assert "filename=sales-report.json" in url
    # The link is validly signed for the stored report, the same JSON the inline answer gave.
    outputs = svc.outputs
    assert isinstance(outputs, DirectoryObjectStore)
    parsed = urlparse(url)
    key = unquote(parsed.path.split(f"/objects/{outputs.bucket}/", 1)[1])
    assert key.startswith(f"outputs/{job['job_id']}/") and key.endswith("/report.json")
    outputs.verify_get(key, dict(parse_qsl(parsed.query)))
    stored = json.loads(outputs.path(key).read_bytes())
    assert stored["json_schema"] == inline["report"]["json_schema"]
    assert stored["rows_out"] == inline["report"]["rows_out"]


def test_the_report_is_409_until_the_job_has_succeeded_and_404_for_another_user(tmp_path: Path) -> None:
    pending = create()["job"]
    status, payload = call(status_handler, api_event("GET", f"/jobs/{pending['job_id']}/report"))
    assert (status, payload["error"]["code"]) == (409, "JOB_NOT_FINISHED")
    done = finished_job(tmp_path)
    status, payload = call(status_handler, api_event("GET", f"/jobs/{done['job_id']}/report", sub="user-b"))
    assert (status, payload["error"]["code"]) == (404, "JOB_NOT_FOUND")


def test_a_succeeded_job_whose_report_is_gone_answers_404_report_missing(tmp_path: Path, local_env: Path) -> None:
    job = finished_job(tmp_path)
    (report,) = (local_env / "objects" / "outputs" / "outputs" / job["job_id"]).rglob("report.json")
    report.unlink()
    status, payload = call(status_handler, api_event("GET", f"/jobs/{job['job_id']}/report"))
    assert (status, payload["error"]["code"]) == (404, "REPORT_MISSING")


def test_another_user_can_neither_read_download_nor_delete_my_job(tmp_path: Path) -> None:
    job = finished_job(tmp_path)
    path = f"/jobs/{job['job_id']}"
    for handler, method, route in (
        (status_handler, "GET", path),
        (download_handler, "GET", f"{path}/download"),
        (status_handler, "GET", f"{path}/report"),
        (status_handler, "DELETE", path),
    ):
        status, payload = call(handler, api_event(method, route, sub="user-b"))
        assert status == 404, (method, route)
        assert payload["error"]["code"] == "JOB_NOT_FOUND"
    assert call(status_handler, api_event("GET", "/jobs", sub="user-b"))[1]["jobs"] == []
    assert call(status_handler, api_event("GET", path))[0] == 200


def test_deleting_a_job_removes_its_record_and_files(tmp_path: Path, local_env: Path) -> None:
    job = finished_job(tmp_path)
    assert list((local_env / "objects" / "outputs" / "outputs" / job["job_id"]).iterdir())
    status, payload = call(status_handler, api_event("DELETE", f"/jobs/{job['job_id']}"))
    assert (status, payload) == (204, None)
    assert not (local_env / "objects" / "outputs" / "outputs" / job["job_id"]).exists()
    assert not (local_env / "objects" / "inputs" / "inputs" / job["job_id"]).exists()
    assert call(status_handler, api_event("GET", f"/jobs/{job['job_id']}"))[0] == 404
    assert call(status_handler, api_event("DELETE", f"/jobs/{job['job_id']}"))[0] == 404


def test_responses_carry_cors_headers_for_the_configured_web_app_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdas.common.api import build_resolver
    from lambdas.status.handler import logger, router

    monkeypatch.setenv("ALLOWED_ORIGINS", "https://app.example.com, https://admin.example.com")
    app = build_resolver(router, logger=logger)
    event = api_event("GET", "/jobs/0123456789abcdef0123456789abcdef")
    event["headers"]["Origin"] = event["multiValueHeaders"]["Origin"] = "https://app.example.com"
    event["multiValueHeaders"]["Origin"] = ["https://app.example.com"]
    # The local stack's context has every attribute of Powertools' LambdaContext.
    response = app.resolve(event, cast("LambdaContext", FakeLambdaContext()))
    assert response["statusCode"] == 404
    headers = {**response.get("headers", {}), **{k: v[0] for k, v in response.get("multiValueHeaders", {}).items()}}
    assert headers["Access-Control-Allow-Origin"] == "https://app.example.com"


@pytest.mark.parametrize(
    "name",
    [
        "\u202egnp.exe",  # RIGHT-TO-LEFT OVERRIDE: shows as "exe.png"
        "a\u202ab.parquet",
        "a\u2066b.parquet",
        "a\u2069.parquet",
        "a\u0085b.parquet",  # C1: NEXT LINE
        "a\x9bb.parquet",  # C1: CONTROL SEQUENCE INTRODUCER
        "a\x7f.parquet",
        "\x01",
        "a\nb",
        "..",
        ".",
        "   ",
        "a/b.parquet",
        "a\\b.parquet",
        "x" * 256,
    ],
)
def test_file_names_with_controls_bidi_overrides_or_paths_are_refused_with_422(name: str) -> None:
    status, payload = call(upload_handler, api_event("POST", "/jobs", body={"filename": name, "size": 10}))
    assert status == 422, payload
    assert payload["error"]["code"] == "INVALID_REQUEST"
    assert payload["error"]["message"].startswith("filename:")


@pytest.mark.parametrize("name", ["résumé.parquet", "日本語.parquet", "a b.parquet", ".hidden", "x" * 255])
def test_ordinary_file_names_are_accepted(name: str) -> None:
    status, payload = call(upload_handler, api_event("POST", "/jobs", body={"filename": name, "size": 10}))
    assert status == 201, payload
    assert payload["job"]["filename"] == name


def test_the_request_schema_states_the_file_name_rule_the_handler_applies() -> None:
    """Fuzzers generate from the schema: a name it allows must be accepted, one it forbids refused."""
    import re

    from hypothesis import given, settings
    from hypothesis import strategies as st
    from pydantic import TypeAdapter, ValidationError

    from etl_lib.jobs.models import Filename
    from lambdas.common.models import CreateJobRequest

    rule = CreateJobRequest.model_json_schema()["properties"]["filename"]
    # JSON Schema patterns are ECMA-262: "$" is the end of the string, where Python's "$"
    # also matches before a final newline; "\Z" is Python's spelling of the ECMA meaning.
    assert rule["pattern"].endswith("$")
    pattern = re.compile(rule["pattern"][:-1] + r"\Z")
    adapter = TypeAdapter(Filename)

    def schema_allows(name: str) -> bool:
        return rule["minLength"] <= len(name) <= rule["maxLength"] and pattern.search(name) is not None

    def handler_allows(name: str) -> bool:
        try:
            adapter.validate_python(name)
        except ValidationError:
            return False
        return True

    # Names a UTF-8 JSON body can carry (no lone surrogates, which the handler refuses too).
    @settings(max_examples=300, deadline=None)
    @given(
        st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
        | st.sampled_from(["\u202e", "..", " .", "a\u0085", "0\n", "a\r"])
    )
    def agree(name: str) -> None:
        assert schema_allows(name) == handler_allows(name), repr(name)

    agree()


def test_an_expired_job_gets_no_download_link(tmp_path: Path) -> None:
    import time

    from etl_lib.jobs.settings import service

    job = finished_job(tmp_path)
    assert call(download_handler, api_event("GET", f"/jobs/{job['job_id']}/download"))[0] == 200
    service().clock = lambda: time.time() + 31 * 86_400  # past the 30 days its output is kept
    status, payload = call(download_handler, api_event("GET", f"/jobs/{job['job_id']}/download"))
    assert status == 410
    assert payload["error"]["code"] == "JOB_EXPIRED"
    assert "url" not in payload
