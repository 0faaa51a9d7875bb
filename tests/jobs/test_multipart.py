"""The multipart plan (part size from the file size) and the local store's multipart uploads,
which keep S3's contract: a part's bytes must have its declared SHA-256, parts are listed by
number, completion assembles exactly the parts named, an abort leaves nothing."""

from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path

import pytest

from etl_lib.jobs.local import BadDigestError, DirectoryObjectStore
from etl_lib.jobs.models import MIB, S3_MAX_PART_BYTES, S3_MAX_PARTS, part_bytes, plan_parts
from etl_lib.jobs.ports import PartsRefusedError, UploadGoneError

KEY = "inputs/0123456789abcdef0123456789abcdef/input.parquet"


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


@pytest.mark.parametrize(
    ("size", "part_size", "part_count"),
    [
        (100 * MIB + 1, 16 * MIB, 7),  # just above the threshold: the smallest parts
        (16 * MIB * 10_000, 16 * MIB, 10_000),  # the most 16 MiB parts can carry
        (16 * MIB * 10_000 + 1, 17 * MIB, 9_412),  # one byte more: a MiB more per part
        (1024**4, 105 * MIB, 9_987),  # 1 TiB
    ],
)
def test_the_part_size_is_the_minimum_or_a_whole_mib_that_fits_10000_parts(
    size: int, part_size: int, part_count: int
) -> None:
    assert plan_parts(size) == (part_size, part_count)
    assert part_count <= S3_MAX_PARTS
    assert part_size <= S3_MAX_PART_BYTES
    assert sum(part_bytes(size, part_size, n) for n in range(1, part_count + 1)) == size
    assert 0 < part_bytes(size, part_size, part_count) <= part_size


@pytest.fixture
def store(tmp_path: Path) -> DirectoryObjectStore:
    return DirectoryObjectStore(tmp_path / "inputs", bucket="inputs")


def put(store: DirectoryObjectStore, upload_id: str, number: int, data: bytes, checksum: str | None = None) -> None:
    store.put_part(
        KEY, upload_id, number, io.BytesIO(data), length=len(data), checksum_sha256=checksum or sha256_b64(data)
    )


def test_parts_are_listed_by_number_and_completed_into_one_object(store: DirectoryObjectStore) -> None:
    upload_id = store.create_multipart(KEY)
    put(store, upload_id, 2, b"world")
    put(store, upload_id, 1, b"hello ")
    parts = store.list_parts(KEY, upload_id)
    assert [(p.part_number, p.size, p.checksum_sha256) for p in parts] == [
        (1, 6, sha256_b64(b"hello ")),
        (2, 5, sha256_b64(b"world")),
    ]
    assert parts[0].etag == f'"{hashlib.md5(b"hello ").hexdigest()}"'
    store.complete_multipart(KEY, upload_id, parts)
    assert store.get_bytes(KEY) == b"hello world"
    assert store.created_by_uploads() == [(KEY, 11)]
    assert store.created_by_uploads() == []
    with pytest.raises(UploadGoneError):
        store.list_parts(KEY, upload_id)


def test_a_part_whose_bytes_do_not_have_its_checksum_is_refused_and_not_kept(store: DirectoryObjectStore) -> None:
    upload_id = store.create_multipart(KEY)
    put(store, upload_id, 1, b"good")
    with pytest.raises(BadDigestError, match="did not match"):
        put(store, upload_id, 1, b"evil", checksum=sha256_b64(b"good"))
    (part,) = store.list_parts(KEY, upload_id)
    assert part.checksum_sha256 == sha256_b64(b"good")
    store.complete_multipart(KEY, upload_id, [part])
    assert store.get_bytes(KEY) == b"good"
    assert not [p for p in store.root.rglob(".*") if ".tmp-" in p.name]


def test_a_part_that_ends_early_is_not_kept(store: DirectoryObjectStore) -> None:
    upload_id = store.create_multipart(KEY)
    with pytest.raises(EOFError):
        store.put_part(KEY, upload_id, 1, io.BytesIO(b"abc"), length=10, checksum_sha256=sha256_b64(b"abc"))
    assert store.list_parts(KEY, upload_id) == []


def test_completion_refuses_parts_it_does_not_hold_as_named(store: DirectoryObjectStore) -> None:
    upload_id = store.create_multipart(KEY)
    put(store, upload_id, 1, b"one")
    (part,) = store.list_parts(KEY, upload_id)
    put(store, upload_id, 1, b"uno")  # replaced since it was listed
    with pytest.raises(PartsRefusedError, match="InvalidPart"):
        store.complete_multipart(KEY, upload_id, [part])
    assert store.get_bytes(KEY) is None


def test_an_abort_removes_the_upload_and_unknown_uploads_are_gone(store: DirectoryObjectStore) -> None:
    upload_id = store.create_multipart(KEY)
    put(store, upload_id, 1, b"data")
    store.abort_multipart(KEY, upload_id)
    store.abort_multipart(KEY, upload_id)  # twice: no error, like S3's lifecycle racing a delete
    assert list(store.root.rglob("*.part")) == []
    for upload in (upload_id, "../../etc", "0" * 32):
        with pytest.raises(UploadGoneError):
            store.list_parts(KEY, upload)
    other = store.create_multipart(KEY)
    with pytest.raises(UploadGoneError):  # an upload of another key is not this key's
        store.list_parts("inputs/ffffffffffffffffffffffffffffffff/input.parquet", other)
