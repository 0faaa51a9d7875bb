"""The scheduled validation is bounded and keeps no user data: a flood of jobs is validated a
capped number per run, oldest first, each once; an output that inflates past the bound is
measured as a stream (the process stays small) and skipped unread; an input is opened with
its conversion's limits; stored messages name positions, columns and reasons, never values."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zlib
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from etl_lib.errors import ErrorCode
from etl_lib.jobs.local import SqliteJobStore
from etl_lib.jobs.models import Job, JobStatus, input_key, output_key, report_key
from etl_lib.notebook.validate_jobs import (
    BoundExceeded,
    check_input,
    output_bytes,
    scheduled_validation,
    validate_job,
)
from etl_lib.notebook.validation import ValidationError, validate_output
from etl_lib.options import ConvertOptions
from tests.hostile import deeply_nested
from tests.notebooks.conftest import FIXTURES

MIB = 1024**2


def _stored_job(data_dir: Path, store: SqliteJobStore, job_id: str, finished: datetime, output: bytes) -> Job:
    """A SUCCEEDED job of the local stack: its record, upload, output and report."""
    job = Job(job_id=job_id, owner="someone", status=JobStatus.SUCCEEDED, filename="sample.parquet",
              options=ConvertOptions(), created_at=finished, updated_at=finished, declared_bytes=1)  # fmt: skip
    store.create(job)
    objects = data_dir / "objects"
    for path, source in (
        (objects / "inputs" / input_key(job_id), FIXTURES / "sample.parquet"),
        (objects / "outputs" / report_key(job_id), FIXTURES / "sample.report.json"),
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, path)
    out = objects / "outputs" / output_key(job_id, job.options)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(output)
    return job


def test_a_flood_of_jobs_is_validated_a_capped_number_a_night_oldest_first_each_once(tmp_path: Path) -> None:
    data_dir = tmp_path / ".etl-local"
    store = SqliteJobStore(data_dir / "jobs.db")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    golden = (FIXTURES / "sample.golden.jsonl").read_bytes()
    ids = [f"{i:032x}" for i in range(120)]
    # Stored newest first: the order of the store is not the order of validation.
    for i in reversed(range(len(ids))):
        _stored_job(data_dir, store, ids[i], start + timedelta(minutes=i), golden)

    nights: list[list[str]] = []
    for night in range(6):
        now = start + timedelta(days=1 + night)
        jobs = [job for job_id in store.ids_in(frozenset({JobStatus.SUCCEEDED})) if (job := store.get(job_id))]
        summary = scheduled_validation(
            jobs, tmp_path / f"reports-{night}", input_bucket="inputs", output_bucket="outputs",
            stuck_after=timedelta(hours=3), max_jobs=25, data_dir=data_dir, now=now,
            # Every output is over this bound: each job ends "skipped" without a notebook, so
            # the flood costs no kernels; the selection and the marks are the real ones.
            max_output_bytes=1_000, mark=partial(store.mark_validated, at=int(now.timestamp())),
        )  # fmt: skip
        nights.append([job["job_id"] for job in summary["jobs"]])
        assert {job["reason"] for job in summary["jobs"]} <= {ErrorCode.OUTPUT_TOO_LARGE}
        assert summary["skipped"] == len(summary["jobs"])

    assert [len(night) for night in nights] == [25, 25, 25, 25, 20, 0]
    assert [job_id for night in nights for job_id in night] == ids, "not oldest first, each once"
    assert all(getattr(store.get(job_id), "validated_at", None) for job_id in ids)


def _gzip_bomb(path: Path, inflated: int) -> Path:
    """A .jsonl.gz of a few MB that inflates to ``inflated`` bytes of JSON Lines."""
    line = b'{"id":0,"name":"' + b"a" * 1000 + b'"}\n'
    block = line * (MIB // len(line))
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: the gzip container
    with path.open("wb") as out:
        for _ in range(inflated // len(block)):
            out.write(compressor.compress(block))
        out.write(compressor.flush())
    return path


# The peak from VmHWM, this process's own memory's high-water mark: ru_maxrss would carry the
# pytest worker's (Linux keeps it across the fork and exec that started this process).
CHILD = """
import json, re, sys
from pathlib import Path
from etl_lib.notebook.validate_jobs import validate_job
job = json.loads(sys.argv[1])
result = validate_job(job, sys.argv[2])
peak = int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1)) * 1024
print(json.dumps({"result": result, "peak_rss": peak}))
"""


def test_an_output_that_inflates_to_a_gigabyte_is_measured_as_a_stream_and_skipped_unread(tmp_path: Path) -> None:
    inflated = 1024 * MIB
    bomb = _gzip_bomb(tmp_path / "output.jsonl.gz", inflated)
    assert bomb.stat().st_size < 16 * MIB
    job = {"job_id": "bomb", "input_uri": str(FIXTURES / "sample.parquet"), "output_uri": str(bomb),
           "report_uri": str(FIXTURES / "sample.report.json"), "options": {"compression": "gzip"}}  # fmt: skip
    # A process of its own, so its peak RSS is this validation's alone.
    ran = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(job), str(tmp_path / "reports")],
        capture_output=True, text=True, check=True, timeout=600,
    )  # fmt: skip
    reported: dict[str, Any] = json.loads(ran.stdout.strip().splitlines()[-1])
    assert reported["result"]["status"] == "skipped"
    assert reported["result"]["reason"] == ErrorCode.OUTPUT_TOO_LARGE
    # Whole, the JSON alone would be a GiB; streamed, the process stays at its imports' size.
    assert reported["peak_rss"] < 400 * MIB, reported["peak_rss"]
    stored = json.loads((tmp_path / "reports" / "bomb" / "summary.json").read_text())
    assert stored["reason"] == ErrorCode.OUTPUT_TOO_LARGE
    assert not (tmp_path / "reports" / "bomb" / "03-validate-output.ipynb").exists(), "the notebook ran"


def test_the_stream_counts_an_output_exactly_below_the_bound(tmp_path: Path) -> None:
    bomb = _gzip_bomb(tmp_path / "o.jsonl.gz", 8 * MIB)
    size = output_bytes(str(bomb), limit=64 * MIB)
    assert size == len(zlib.decompress(bomb.read_bytes(), 31))
    with pytest.raises(BoundExceeded, match="larger than 1,048,576 bytes"):
        output_bytes(str(bomb), limit=MIB)


def test_an_input_is_opened_with_the_limits_of_its_conversion(tmp_path: Path) -> None:
    deep = deeply_nested(tmp_path / "deep.parquet", depth=70)  # past the 64 levels a conversion reads
    with pytest.raises(BoundExceeded) as refused:
        check_input(str(deep), engine="local")
    assert refused.value.code == "UNSUPPORTED_TYPE"
    assert "nested 70 levels deep; the limit is 64" in str(refused.value)
    check_input(str(FIXTURES / "sample.parquet"), engine="spark")  # within any engine's limits
    result = validate_job(
        {"job_id": "deep", "input_uri": str(deep), "output_uri": str(FIXTURES / "sample.golden.jsonl"),
         "report_uri": str(FIXTURES / "sample.report.json")},
        tmp_path / "reports",
    )  # fmt: skip
    assert (result["status"], result["reason"]) == ("skipped", refused.value.code)


def test_stored_mismatch_messages_name_positions_columns_and_reasons_never_values(tmp_path: Path) -> None:
    lines = (FIXTURES / "sample.golden.jsonl").read_text().splitlines(keepends=True)
    record = json.loads(lines[7])
    record["id"] = 987654321
    record["category"] = "secret-category-value"
    lines[7] = json.dumps(record, separators=(",", ":")) + "\n"
    broken = json.loads(lines[9])
    broken["id"] = "a-secret-string"
    lines[9] = json.dumps(broken, separators=(",", ":")) + "\n"
    lines[11] = '{"id": secret-not-json\n'
    output = tmp_path / "wrong.jsonl"
    output.write_text("".join(lines))
    summary_path = tmp_path / "summary.json"
    with pytest.raises(ValidationError) as failed:
        validate_output(str(FIXTURES / "sample.parquet"), str(output), str(FIXTURES / "sample.report.json"),
                        sample_size=120, summary_path=summary_path)  # fmt: skip
    stored = summary_path.read_text()
    for secret in ("987654321", "secret-category-value", "a-secret-string", "secret-not-json"):
        assert secret not in stored
        assert secret not in str(failed.value)
    errors = failed.value.summary["errors"]
    assert "record 7 does not round-trip: $.id: VALUE_MISMATCH; $.category: VALUE_MISMATCH" in errors
    assert "record 9 at id: SCHEMA_TYPE" in errors
    assert "record 11: NOT_JSON" in errors
