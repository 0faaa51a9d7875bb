"""Publishing staged pieces to S3 (etl_lib.output.s3_publish) against moto's server: its real
multipart rules (5 MiB minimum part, 10,000 parts), the bytes in order, no HeadObject per
piece, nothing left behind after a failure; and with a latency on every call."""

from __future__ import annotations

import importlib
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from etl_lib.errors import OutputError
from etl_lib.output import sink
from etl_lib.output.parts import MIB, PartLimits
from etl_lib.output.s3_publish import PUBLISH_CALLS, publish_s3

ROOT = Path(__file__).resolve().parents[2]
MISSING = r"NoSuchKey|\(404\)"  # S3 names the error; moto answers a copy of no object with a bare 404


class Calls:
    """The S3 operations a client made, and the parameters of each (botocore's own events)."""

    def __init__(self, s3: Any) -> None:
        self.made: list[tuple[str, dict[str, Any]]] = []
        s3.meta.events.register("provide-client-params.s3.*", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.made.append((model.name, dict(params)))

    def named(self, name: str) -> list[dict[str, Any]]:
        return [params for operation, params in self.made if operation == name]


def _client(endpoint: str | None = None) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, config=Config(max_pool_connections=PUBLISH_CALLS))


def _stage(s3: Any, bucket: str, sizes: list[int]) -> tuple[list[str], bytes]:
    """Pieces of ``sizes`` bytes, each of its own byte values, and their concatenation."""
    datas = [
        bytes((seq * 7 + k) % 251 for k in range(min(size, 251))) * (size // 251 + 1) for seq, size in enumerate(sizes)
    ]
    datas = [data[:size] for data, size in zip(datas, sizes, strict=True)]
    uris = [f"s3://{bucket}/staging/piece-{seq:06d}" for seq in range(len(sizes))]
    with ThreadPoolExecutor(PUBLISH_CALLS) as pool:
        list(
            pool.map(
                lambda i: s3.put_object(Bucket=bucket, Key=uris[i].split("/", 3)[3], Body=datas[i]), range(len(sizes))
            )
        )
    return uris, b"".join(datas)


def _parts_of(s3: Any, bucket: str, key: str) -> int:
    """The number of parts the object was completed from (1 for a plain PUT): S3's ETag of a
    multipart object ends with ``-N``."""
    etag = s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
    return int(etag.rsplit("-", 1)[1]) if "-" in etag else 1


def _keys(s3: Any, bucket: str) -> set[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


@pytest.fixture
def bucket(aws_env: str) -> tuple[Any, str]:
    s3 = _client()
    name = f"publish-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return s3, name


def test_a_mix_of_pieces_publishes_byte_identical_without_asking_any_piece_its_size(bucket: tuple[Any, str]) -> None:
    s3, name = bucket
    sizes = [3 * MIB, 7 * MIB, 1024, 6 * MIB, 2, 5 * MIB, 0, 7 * MIB, 1]
    uris, expected = _stage(s3, name, sizes)
    calls = Calls(s3)
    assert sink.publish(uris, f"s3://{name}/out.jsonl", sizes=sizes, s3_client=s3) == len(expected)
    assert s3.get_object(Bucket=name, Key="out.jsonl")["Body"].read() == expected
    assert calls.named("HeadObject") == []
    # 3+2 MiB gathered; 5 MiB of the 7 copied; 1 KiB + 6 MiB gathered; 2 B + 5 MiB gathered;
    # 7 MiB copied; the last byte copied as the last part.
    assert len(calls.named("UploadPartCopy")) == 3 and len(calls.named("UploadPart")) == 3
    assert _parts_of(s3, name, "out.jsonl") == 6
    assert s3.list_multipart_uploads(Bucket=name).get("Uploads", []) == []


def test_a_piece_larger_than_the_largest_part_is_copied_in_ranges(bucket: tuple[Any, str]) -> None:
    s3, name = bucket
    sizes = [25 * MIB + 3]
    uris, expected = _stage(s3, name, sizes)
    calls = Calls(s3)
    # S3's 5 GiB largest part, scaled to 10 MiB so that the piece fits in moto's memory.
    publish_s3(uris, sizes, f"s3://{name}/out.jsonl", s3, limits=PartLimits(max_part=10 * MIB))
    assert s3.get_object(Bucket=name, Key="out.jsonl")["Body"].read() == expected
    ranges = [p["CopySourceRange"] for p in calls.named("UploadPartCopy")]
    third = (25 * MIB + 3) // 3
    assert sorted(ranges) == sorted(
        [f"bytes=0-{third - 1}", f"bytes={third}-{2 * third - 1}", f"bytes={2 * third}-{25 * MIB + 2}"]
    )


def test_past_the_most_parts_neighbours_are_merged_into_objects_that_are_then_deleted(
    bucket: tuple[Any, str],
) -> None:
    s3, name = bucket
    sizes = [5 * MIB] * 6 + [100]
    uris, expected = _stage(s3, name, sizes)
    # S3's 10,000 parts scaled to 3: seven parts must become at most three.
    publish_s3(uris, sizes, f"s3://{name}/out.jsonl", s3, limits=PartLimits(max_parts=3))
    assert s3.get_object(Bucket=name, Key="out.jsonl")["Body"].read() == expected
    assert _parts_of(s3, name, "out.jsonl") <= 3
    assert _keys(s3, name) == {"out.jsonl", *(uri.split("/", 3)[3] for uri in uris)}
    assert s3.list_multipart_uploads(Bucket=name).get("Uploads", []) == []


def test_a_small_output_is_one_put(bucket: tuple[Any, str]) -> None:
    s3, name = bucket
    sizes = [10, 0, 20, 30]
    uris, expected = _stage(s3, name, sizes)
    calls = Calls(s3)
    publish_s3(uris, sizes, f"s3://{name}/out.jsonl", s3, prefix=b"[\n")
    assert s3.get_object(Bucket=name, Key="out.jsonl")["Body"].read() == b"[\n" + expected
    assert [operation for operation, _ in calls.made if operation != "GetObject"] == ["PutObject"]


def test_no_pieces_publish_an_empty_object(bucket: tuple[Any, str]) -> None:
    s3, name = bucket
    assert publish_s3([], [], f"s3://{name}/out.jsonl", s3) == 0
    assert s3.get_object(Bucket=name, Key="out.jsonl")["Body"].read() == b""


def test_a_missing_piece_fails_and_leaves_nothing_behind_not_even_merged_objects(bucket: tuple[Any, str]) -> None:
    s3, name = bucket
    sizes = [5 * MIB] * 6 + [100]
    uris, _ = _stage(s3, name, sizes)
    s3.put_object(Bucket=name, Key="out.jsonl", Body=b"the previous output")
    s3.delete_object(Bucket=name, Key=uris[-1].split("/", 3)[3])
    # The merged objects are complete by the time the last piece fails: they must go too.
    with pytest.raises(ClientError, match=MISSING):
        publish_s3(uris, sizes, f"s3://{name}/out.jsonl", s3, limits=PartLimits(max_parts=3))
    assert s3.get_object(Bucket=name, Key="out.jsonl")["Body"].read() == b"the previous output"
    assert _keys(s3, name) == {"out.jsonl", *(uri.split("/", 3)[3] for uri in uris[:-1])}
    assert s3.list_multipart_uploads(Bucket=name).get("Uploads", []) == []


def test_a_failed_publish_is_an_output_error_naming_the_destination(bucket: tuple[Any, str]) -> None:
    s3, name = bucket
    uris, _ = _stage(s3, name, [6 * MIB, 6 * MIB])
    s3.delete_object(Bucket=name, Key=uris[1].split("/", 3)[3])
    with pytest.raises(OutputError, match=f"cannot write s3://{name}/out.jsonl: .*({MISSING})"):
        sink.publish(uris, f"s3://{name}/out.jsonl", sizes=[6 * MIB, 6 * MIB], s3_client=s3)
    assert _keys(s3, name) == {uris[0].split("/", 3)[3]}
    assert s3.list_multipart_uploads(Bucket=name).get("Uploads", []) == []


def test_publishing_to_s3_without_sizes_is_refused(bucket: tuple[Any, str]) -> None:
    s3, name = bucket
    with pytest.raises(OutputError, match="needs the pieces' sizes"):
        sink.publish([f"s3://{name}/staging/piece-000000"], f"s3://{name}/out.jsonl", s3_client=s3)


@pytest.fixture
def slow_s3() -> Iterator[Any]:
    """moto's server in a process of its own (bench/slow_s3.py), its minimum part 1 KiB."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        server = importlib.import_module("slow_s3")
    finally:
        sys.path.remove(str(ROOT / "bench"))
    with server.running(min_part_bytes=1024) as running:
        yield running


@pytest.mark.slow
def test_thousands_of_pieces_at_a_latency_per_call_publish_within_the_part_limit_in_order(
    slow_s3: Any, aws_env: str
) -> None:
    s3 = _client(slow_s3.endpoint)
    s3.create_bucket(Bucket="publish-slow")
    # 20,000 pieces of 5 MiB do not fit here: pieces of 1-2 KiB against moto's minimum part
    # lowered to 1 KiB, and 10,000 parts scaled to 100, keep the plan's shape (copies, gathered
    # parts, merged objects copied in ranges) at 2,000 pieces; tests/output/test_parts.py plans
    # 20,000 at S3's own limits.
    sizes = [1024 + (seq * 389) % 1024 for seq in range(2_000)] + [5]
    uris, expected = _stage(s3, "publish-slow", sizes)
    slow_s3.set_latency(5)
    limits = PartLimits(min_part=1024, max_part=64 * 1024, max_parts=100)
    calls = Calls(s3)
    publish_s3(uris, sizes, "s3://publish-slow/out.jsonl", s3, limits=limits)
    assert calls.named("HeadObject") == []
    assert s3.get_object(Bucket="publish-slow", Key="out.jsonl")["Body"].read() == expected
    assert _parts_of(s3, "publish-slow", "out.jsonl") <= 100
    assert len(calls.named("CompleteMultipartUpload")) > 1  # merged objects were made...
    assert _keys(s3, "publish-slow") == {"out.jsonl", *(uri.split("/", 3)[3] for uri in uris)}  # ...and deleted


class InFlight:
    """The most S3 calls a client had outstanding at once (botocore's before/after-call events)."""

    def __init__(self, s3: Any) -> None:
        import threading

        self.now = self.most = 0
        self._lock = threading.Lock()
        s3.meta.events.register("before-call.s3.*", self._start)
        s3.meta.events.register("after-call.s3.*", self._end)

    def _start(self, **_: Any) -> None:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def _end(self, **_: Any) -> None:
        with self._lock:
            self.now -= 1


@pytest.mark.slow
def test_a_publish_never_has_more_calls_in_flight_than_its_pool_whichever_thread_makes_them(
    slow_s3: Any, aws_env: str
) -> None:
    s3 = _client(slow_s3.endpoint)
    s3.create_bucket(Bucket="publish-bound")
    # Copies (pieces of at least the minimum part) and parts gathered by ranged reads from
    # small pieces, in one publish: the copies run on the parts' threads, the reads on others.
    sizes = [2048, 100, 200, 300, 2048, 2048, 50, 60, 2048, 70, 2048, 2048, 10] * 4
    uris, expected = _stage(s3, "publish-bound", sizes)
    slow_s3.set_latency(20)
    flight = InFlight(s3)
    publish_s3(uris, sizes, "s3://publish-bound/out.jsonl", s3, limits=PartLimits(min_part=1024), calls=4)
    assert s3.get_object(Bucket="publish-bound", Key="out.jsonl")["Body"].read() == expected
    assert 2 <= flight.most <= 4, f"{flight.most} calls at once"
