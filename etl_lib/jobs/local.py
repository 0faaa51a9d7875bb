"""Local adapters: a directory tree for objects, SQLite for jobs, the job script for runs.

They keep the AWS adapters' contracts exactly (presigned URLs with a signature and an
expiry, conditional status writes, runs found by id), so the service, the handlers and
the Glue job script run unchanged on one machine.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import dataclasses
import hashlib
import hmac
import importlib.util
import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote, urlencode

from etl_lib.jobs import state
from etl_lib.jobs.models import Job, JobPage, JobStatus, decode_cursor, encode_cursor, sort_key, utc_now
from etl_lib.jobs.ports import (
    JobLauncher,
    JobStore,
    ObjectStore,
    PartsRefusedError,
    PresignedPart,
    PresignedPost,
    Quota,
    RunSpec,
    UploadedPart,
    UploadGoneError,
)

GLUE_SCRIPT = Path(__file__).resolve().parents[2] / "glue_jobs" / "parquet_to_json.py"


class SignatureError(Exception):
    """A local presigned URL or form that is expired, tampered with or malformed."""


class BadDigestError(Exception):
    """A part whose bytes do not have the SHA-256 its request declared (S3's BadDigest)."""


MULTIPART_DIR = ".multipart-uploads"
"""Where a store keeps its multipart uploads' parts (``<root>/<this>/<upload id>/``): beside
the objects, untouched by ``delete_prefix``, like S3's uploads (only an abort removes them)."""
CHECKSUM_HEADER = "x-amz-checksum-sha256"
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")


class UrlSigner:
    """HMAC-SHA256 signatures for the local presigned POST and GET URLs."""

    def __init__(self, key: bytes) -> None:
        self.key = key

    def sign(self, message: str) -> str:
        return hmac.new(self.key, message.encode(), hashlib.sha256).hexdigest()

    def verify(self, message: str, signature: str) -> None:
        # compare_digest refuses non-ASCII text with TypeError: a malformed signature is
        # a refused one like any other.
        if not signature.isascii() or not hmac.compare_digest(self.sign(message), signature):
            raise SignatureError("the signature does not match")


def _safe_key(key: str) -> str:
    parts = key.split("/")
    if not key or any(p in {"", ".", ".."} for p in parts) or "\\" in key or "\x00" in key:
        raise ValueError(f"invalid object key {key!r}")
    return key


class DirectoryObjectStore(ObjectStore):
    """Objects are files under ``root`` (``root/<key>``); ``bucket`` names it in URLs.

    ``base_url`` is where the local server serves ``/objects/<bucket>`` (POST uploads and
    signed GETs); the server checks the signatures with :meth:`verify_post`/:meth:`verify_get`.
    """

    def __init__(
        self, root: str | Path, *, bucket: str, base_url: str = "http://127.0.0.1:8000", signer: UrlSigner | None = None
    ) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.bucket = bucket
        self.base_url = base_url.rstrip("/")
        self.signer = signer or UrlSigner(b"local-development-only")
        # Objects created by completed multipart uploads, not yet announced (see created_by_uploads).
        self._created: collections.deque[tuple[str, int]] = collections.deque()

    def path(self, key: str) -> Path:
        return self.root / _safe_key(key)

    def uri(self, key: str) -> str:
        return str(self.path(key))

    def uri_for_write(self, key: str) -> str:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        return str(path)

    def presign_post(self, key: str, *, max_bytes: int, expires_in: int) -> PresignedPost:
        policy = {
            "bucket": self.bucket,
            "key": _safe_key(key),
            "max_bytes": max_bytes,
            "expires": int(time.time()) + expires_in,
        }
        encoded = base64.b64encode(json.dumps(policy, sort_keys=True).encode()).decode()
        return PresignedPost(
            url=f"{self.base_url}/objects/{self.bucket}",
            fields={"key": key, "policy": encoded, "signature": self.signer.sign(encoded)},
        )

    def check_post_policy(self, fields: Mapping[str, str]) -> tuple[str, int]:
        """(key, max bytes) of a form upload whose fields are signed and unexpired, or
        SignatureError: what the local server checks before it keeps any byte of the file."""
        try:
            encoded, signature = fields["policy"], fields["signature"]
        except KeyError as exc:
            raise SignatureError(f"missing form field {exc.args[0]}") from exc
        self.signer.verify(encoded, signature)
        policy = json.loads(base64.b64decode(encoded))
        if policy["bucket"] != self.bucket or policy["key"] != fields.get("key"):
            raise SignatureError("the form does not match its policy")
        if time.time() > policy["expires"]:
            raise SignatureError("the upload URL has expired")
        return str(policy["key"]), int(policy["max_bytes"])

    def verify_post(self, fields: Mapping[str, str], size: int) -> str:
        """The key a form upload of ``size`` bytes may write, or SignatureError."""
        key, max_bytes = self.check_post_policy(fields)
        if not 0 <= size <= max_bytes:
            raise SignatureError(f"the upload is {size} bytes; the policy allows {max_bytes}")
        return key

    # --- multipart uploads: the parts of S3's protocol the API uses, on files -------------

    def _upload_dir(self, key: str, upload_id: str) -> Path:
        """The upload's directory, if it is an upload of ``key``; UploadGoneError otherwise."""
        if not _UPLOAD_ID.fullmatch(upload_id):
            raise UploadGoneError(f"no upload {upload_id!r}")
        directory = self.root / MULTIPART_DIR / upload_id
        try:
            manifest = json.loads((directory / "upload.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UploadGoneError(f"no upload {upload_id}") from None
        if manifest.get("key") != key:
            raise UploadGoneError(f"no upload {upload_id} for {key}")
        return directory

    def create_multipart(self, key: str) -> str:
        upload_id = uuid.uuid4().hex
        directory = self.root / MULTIPART_DIR / upload_id
        directory.mkdir(parents=True)
        self._write_json(directory / "upload.json", {"key": _safe_key(key), "checksum_algorithm": "SHA256"})
        return upload_id

    @staticmethod
    def _write_json(path: Path, value: Mapping[str, Any]) -> None:
        tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
        tmp.write_text(json.dumps(value), encoding="utf-8")
        os.replace(tmp, path)

    def _part_message(self, key: str, upload_id: str, part_number: int, expires: int, checksum: str) -> str:
        return f"PUT\n{self.bucket}\n{key}\n{upload_id}\n{part_number}\n{expires}\n{checksum}"

    def presign_part(
        self, key: str, upload_id: str, part_number: int, *, checksum_sha256: str, expires_in: int
    ) -> PresignedPart:
        expires = int(time.time()) + expires_in
        signature = self.signer.sign(
            self._part_message(_safe_key(key), upload_id, part_number, expires, checksum_sha256)
        )
        query = urlencode(
            {"uploadId": upload_id, "partNumber": part_number, "expires": expires, "signature": signature}
        )
        return PresignedPart(
            url=f"{self.base_url}/objects/{self.bucket}/{quote(key)}?{query}",
            headers={CHECKSUM_HEADER: checksum_sha256},
        )

    def verify_part(self, key: str, query: Mapping[str, str], checksum_sha256: str) -> tuple[str, int]:
        """(upload id, part number) of a signed, unexpired part request whose checksum header is
        the signed one (as S3 checks the signed headers), or SignatureError."""
        try:
            upload_id, part_number = query["uploadId"], int(query["partNumber"])
            expires, signature = int(query["expires"]), query["signature"]
        except (KeyError, ValueError) as exc:
            raise SignatureError("the part URL is incomplete") from exc
        self.signer.verify(self._part_message(key, upload_id, part_number, expires, checksum_sha256), signature)
        if time.time() > expires:
            raise SignatureError("the part URL has expired")
        return upload_id, part_number

    def put_part(
        self, key: str, upload_id: str, part_number: int, source: Any, *, length: int, checksum_sha256: str
    ) -> UploadedPart:
        """Store ``length`` bytes read from ``source`` as part ``part_number``, atomically, if
        their SHA-256 (base64) is ``checksum_sha256``: BadDigestError otherwise, and nothing
        is kept. EOFError when the source ends early. Replaces an earlier copy of the part."""
        directory = self._upload_dir(key, upload_id)
        name = f"{part_number:05d}"
        tmp = directory / f".{name}.tmp-{uuid.uuid4().hex[:8]}"
        sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
        try:
            with tmp.open("wb") as out:
                left = length
                while left:
                    chunk = source.read(min(left, 1024 * 1024))
                    if not chunk:
                        raise EOFError(f"the part ended after {length - left} of its {length} bytes")
                    sha256.update(chunk)
                    md5.update(chunk)
                    out.write(chunk)
                    left -= len(chunk)
            if base64.b64encode(sha256.digest()).decode() != checksum_sha256:
                raise BadDigestError("The SHA256 you specified did not match the calculated checksum.")
            part = UploadedPart(
                part_number=part_number, size=length, etag=f'"{md5.hexdigest()}"', checksum_sha256=checksum_sha256
            )
            # The bytes, then what describes them: a part is listed once both are in place
            # (and complete checks the size again, should a re-upload of it race this one).
            os.replace(tmp, directory / f"{name}.part")
            self._write_json(directory / f"{name}.json", dataclasses.asdict(part))
        finally:
            tmp.unlink(missing_ok=True)
        return part

    def list_parts(self, key: str, upload_id: str) -> list[UploadedPart]:
        directory = self._upload_dir(key, upload_id)
        parts = []
        for meta in sorted(directory.glob("[0-9]*.json")):
            with contextlib.suppress(FileNotFoundError):  # aborted meanwhile
                parts.append(UploadedPart(**json.loads(meta.read_text(encoding="utf-8"))))
        return parts

    def complete_multipart(self, key: str, upload_id: str, parts: list[UploadedPart]) -> None:
        directory = self._upload_dir(key, upload_id)
        held = {p.part_number: p for p in self.list_parts(key, upload_id)}
        numbers = [p.part_number for p in parts]
        if not parts or numbers != sorted(set(numbers)):
            raise PartsRefusedError("InvalidPartOrder: the parts must be listed in ascending order")
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:8]}")
        try:
            with tmp.open("wb") as out:
                for part in parts:
                    stored = held.get(part.part_number)
                    source = directory / f"{part.part_number:05d}.part"
                    if stored is None or stored.etag != part.etag or source.stat().st_size != stored.size:
                        raise PartsRefusedError(f"InvalidPart: part {part.part_number} is not the one uploaded")
                    with source.open("rb") as handle:
                        shutil.copyfileobj(handle, out, 8 * 1024 * 1024)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        shutil.rmtree(directory, ignore_errors=True)
        self._created.append((key, target.stat().st_size))

    def abort_multipart(self, key: str, upload_id: str) -> None:
        with contextlib.suppress(UploadGoneError):
            shutil.rmtree(self._upload_dir(key, upload_id), ignore_errors=True)

    def created_by_uploads(self) -> list[tuple[str, int]]:
        """(key, size) of the objects completed multipart uploads created since the last call:
        what S3 would announce to EventBridge; the local server announces them."""
        created = []
        with contextlib.suppress(IndexError):  # popleft is atomic: threads may complete meanwhile
            while True:
                created.append(self._created.popleft())
        return created

    def _get_message(self, key: str, expires: int, filename: str) -> str:
        return f"GET\n{self.bucket}\n{key}\n{expires}\n{filename}"

    def presign_get(self, key: str, *, download_name: str, expires_in: int) -> str:
        expires = int(time.time()) + expires_in
        query = urlencode(
            {
                "expires": expires,
                "filename": download_name,
                "signature": self.signer.sign(self._get_message(_safe_key(key), expires, download_name)),
            }
        )
        return f"{self.base_url}/objects/{self.bucket}/{quote(key)}?{query}"

    def verify_get(self, key: str, query: Mapping[str, str]) -> None:
        try:
            expires, filename, signature = int(query["expires"]), query["filename"], query["signature"]
        except (KeyError, ValueError) as exc:
            raise SignatureError("the download URL is incomplete") from exc
        self.signer.verify(self._get_message(key, expires, filename), signature)
        if time.time() > expires:
            raise SignatureError("the download URL has expired")

    def size(self, key: str) -> int | None:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError:
            return None

    def version(self, key: str) -> str | None:
        # Objects are replaced by a rename (put_bytes, uploads): a new inode and mtime.
        try:
            stat = self.path(key).stat()
        except FileNotFoundError:
            return None
        return f"{stat.st_ino}-{stat.st_mtime_ns}-{stat.st_size}"

    def read_range(self, key: str, start: int, length: int) -> bytes:
        with self.path(key).open("rb") as handle:
            handle.seek(start)
            return handle.read(length)

    def put_bytes(self, key: str, data: bytes) -> None:
        # Write then rename: a reader never sees half an object, like S3.
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:8]}")
        tmp.write_bytes(data)
        os.replace(tmp, target)

    def put_stream(self, key: str, source: Any, *, chunk: int = 8 * 1024 * 1024) -> int:
        """Store a file-like object atomically; returns its size."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:8]}")
        with tmp.open("wb") as out:
            shutil.copyfileobj(source, out, chunk)
        os.replace(tmp, target)
        return target.stat().st_size

    def get_bytes(self, key: str) -> bytes | None:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            return None

    def delete_prefix(self, prefix: str) -> None:
        base = self.root / prefix
        if prefix.endswith("/"):
            shutil.rmtree(base, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                base.unlink()
        # S3 has no folders: an emptied one goes too (up to the root), so a key prefix with
        # nothing left under it leaves nothing behind here either.
        parent = base.parent
        root = self.root.resolve()
        for _ in range(prefix.count("/") + 1):  # bounded by the prefix's depth
            if parent.resolve() == root or not parent.is_relative_to(self.root):
                break
            try:
                parent.rmdir()
            except OSError:  # not empty (or already gone): stop here
                break
            parent = parent.parent


_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id   TEXT PRIMARY KEY,
    owner    TEXT NOT NULL,
    status   TEXT NOT NULL,
    sort_key TEXT NOT NULL,
    data     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_owner ON jobs (owner, sort_key DESC);
"""


@contextlib.contextmanager
def sqlite_connection(path: Path) -> Iterator[sqlite3.Connection]:
    """One connection per operation: safe across threads and worker processes.
    Autocommit mode, so callers open their own (immediate) transactions."""
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        yield db
    finally:
        db.close()


def create_sqlite(path: str | Path, schema: str) -> Path:
    """Create (or open) a WAL-mode SQLite database with ``schema``; returns its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite_connection(path) as db:
        _use_wal(db)
        db.executescript(schema)
    return path


def _use_wal(db: sqlite3.Connection, *, attempts: int = 100) -> None:
    """Switch the database to WAL mode (persistent: only its first opener changes it).

    The switch takes an exclusive lock and SQLite answers it "database is locked" at once,
    without waiting through the busy timeout, when another connection is busy in the same
    file: two requests opening a fresh store together. So look first, and retry a bounded
    number of times.
    """
    for attempt in range(attempts):
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05)


class SqliteJobStore(JobStore):
    """Jobs in one SQLite file. Status changes are ``UPDATE ... WHERE status IN (...)``
    inside an immediate transaction, the local equivalent of DynamoDB's conditions."""

    def __init__(self, path: str | Path) -> None:
        self.path = create_sqlite(path, _SCHEMA)

    def _connect(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return sqlite_connection(self.path)

    @staticmethod
    def _job(data: str) -> Job:
        return Job.model_validate_json(data)

    def create(self, job: Job, *, max_active: int = 0, now: int = 0, quota: Quota | None = None) -> bool:
        # Count and insert in one immediate transaction: writers are serialised, so no other
        # creation can slip in between (the local equivalent of DynamoDB's transaction).
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                if (max_active and self._count_active(db, job.owner, now) >= max_active) or (
                    quota is not None and quota.counts(job) and self._quota_full(db, job.owner, now, quota)
                ):
                    db.execute("ROLLBACK")
                    return False
                db.execute(
                    "INSERT INTO jobs (job_id, owner, status, sort_key, data) VALUES (?, ?, ?, ?, ?)",
                    (job.job_id, job.owner, job.status.value, sort_key(job), json.dumps(job.stored())),
                )
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        return True

    def get(self, job_id: str) -> Job | None:
        with self._connect() as db:
            row = db.execute("SELECT data FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return self._job(row[0]) if row else None

    def list_for_owner(self, owner: str, *, limit: int, cursor: str | None = None) -> JobPage:
        after = "\U0010ffff"
        if cursor:
            after = decode_cursor(cursor)
        with self._connect() as db:
            rows = db.execute(
                "SELECT sort_key, data FROM jobs WHERE owner = ? AND sort_key < ? ORDER BY sort_key DESC LIMIT ?",
                (owner, after, limit + 1),
            ).fetchall()
        jobs = [self._job(data) for _, data in rows[:limit]]
        next_cursor = encode_cursor(rows[limit - 1][0]) if len(rows) > limit else None
        return JobPage(jobs=jobs, next_cursor=next_cursor)

    def _update(self, job_id: str, allowed: Callable[[Job], bool], changes: Mapping[str, Any]) -> Job | None:
        """Read, check and write one job inside an immediate transaction: the local
        equivalent of a DynamoDB conditional update (writers are serialised)."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute("SELECT data FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
                if row is None or not allowed(self._job(row[0])):
                    db.execute("ROLLBACK")
                    return None
                job = Job.model_validate({**json.loads(row[0]), **changes, "updated_at": utc_now().isoformat()})
                db.execute(
                    "UPDATE jobs SET status = ?, data = ? WHERE job_id = ?",
                    (job.status.value, json.dumps(job.stored()), job_id),
                )
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        return job

    def transition(
        self,
        job_id: str,
        target: JobStatus,
        changes: Mapping[str, Any] | None = None,
        *,
        attempt: str | None = None,
        lapsed_by: int | None = None,
        unclaimed_by: int | None = None,
    ) -> Job | None:
        sources = state.allowed_sources(target)

        def allowed(job: Job) -> bool:
            return (
                job.status in sources
                and (attempt is None or job.attempt == attempt)
                and (lapsed_by is None or (job.lease_expires_at or 0) <= lapsed_by)
                and (unclaimed_by is None or (job.attempt is None and (job.queued_at or 0) <= unclaimed_by))
            )

        return self._update(job_id, allowed, {**(changes or {}), "status": target.value})

    def mark_validated(self, job_id: str, *, at: int) -> bool:
        def succeeded(job: Job) -> bool:
            return job.status is JobStatus.SUCCEEDED

        return self._update(job_id, succeeded, {"validated_at": at}) is not None

    def extend_pending(self, job_id: str, *, expires_at: int) -> bool:
        def later(job: Job) -> bool:
            return job.status is JobStatus.PENDING and (job.expires_at or 0) < expires_at

        if self._update(job_id, later, {"expires_at": expires_at}) is not None:
            return True
        job = self.get(job_id)
        return job is not None and job.status is JobStatus.PENDING

    def claim(self, job_id: str, *, attempt: str, lease_until: int, now: int, run_id: str | None = None) -> Job | None:
        def free(job: Job) -> bool:
            return job.status in state.CLAIMABLE and (job.lease_expires_at is None or job.lease_expires_at <= now)

        changes: dict[str, Any] = {
            "status": JobStatus.RUNNING.value,
            "attempt": attempt,
            "lease_expires_at": lease_until,
        }
        if run_id is not None:
            changes["run_id"] = run_id
        return self._update(job_id, free, changes)

    def relaunch(self, job_id: str, *, relaunches: int, queued_by: int, now: int) -> Job | None:
        def stale(job: Job) -> bool:
            return job.status is JobStatus.QUEUED and job.relaunches == relaunches and (job.queued_at or 0) <= queued_by

        return self._update(job_id, stale, {"relaunches": relaunches + 1, "queued_at": now})

    def renew(self, job_id: str, *, attempt: str, lease_until: int) -> bool:
        def held(job: Job) -> bool:
            return job.status is JobStatus.RUNNING and job.attempt == attempt

        return self._update(job_id, held, {"lease_expires_at": lease_until}) is not None

    def delete(
        self,
        job_id: str,
        *,
        unless: frozenset[JobStatus] = frozenset(),
        expired_by: int | None = None,
        leased_after: int | None = None,
    ) -> bool:
        blocked = sorted(s.value for s in unless) or [""]
        marks = ", ".join("?" for _ in blocked)
        query = f"DELETE FROM jobs WHERE job_id = ? AND status NOT IN ({marks})"
        params: list[Any] = [job_id, *blocked]
        if expired_by is not None:
            query += " AND json_extract(data, '$.expires_at') <= ?"
            params.append(expired_by)
        if leased_after is not None:
            active = sorted(s.value for s in state.ACTIVE)
            query += (
                f" AND NOT (status IN ({', '.join('?' for _ in active)})"
                " AND COALESCE(json_extract(data, '$.lease_expires_at'), 0) > ?)"
            )
            params.extend([*active, leased_after])
        with self._connect() as db:
            cursor = db.execute(query, params)
        return cursor.rowcount == 1

    def count_active(self, owner: str, *, now: int) -> int:
        with self._connect() as db:
            return self._count_active(db, owner, now)

    # state.holds_a_place, in SQL: an unfinished status and no expiry at or before now.
    _HOLDING = (
        f"owner = ? AND status IN ({', '.join('?' for _ in state.UNFINISHED)}) "
        "AND COALESCE(json_extract(data, '$.expires_at'), ?) > ?"
    )

    @classmethod
    def _holding(cls, owner: str, now: int) -> tuple[str, tuple[object, ...]]:
        return cls._HOLDING, (owner, *sorted(s.value for s in state.UNFINISHED), now + 1, now)

    @classmethod
    def _count_active(cls, db: sqlite3.Connection, owner: str, now: int) -> int:
        where, parameters = cls._holding(owner, now)
        return int(db.execute(f"SELECT COUNT(*) FROM jobs WHERE {where}", parameters).fetchone()[0])

    @classmethod
    def _quota_full(cls, db: sqlite3.Connection, owner: str, now: int, quota: Quota) -> bool:
        """Whether the owner's place-holding jobs already fill ``quota``."""
        where, parameters = cls._holding(owner, now)
        rows = db.execute(f"SELECT data FROM jobs WHERE {where}", parameters).fetchall()
        return sum(1 for (data,) in rows if quota.counts(cls._job(data))) >= quota.limit

    def expired_ids(self, *, now: int, limit: int) -> list[str]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT job_id FROM jobs WHERE json_extract(data, '$.expires_at') <= ? LIMIT ?", (now, limit)
            ).fetchall()
        return [r[0] for r in rows]

    def ids_in(self, statuses: frozenset[JobStatus]) -> list[str]:
        values = sorted(s.value for s in statuses)
        with self._connect() as db:
            rows = db.execute(
                f"SELECT job_id FROM jobs WHERE status IN ({', '.join('?' for _ in values)})", values
            ).fetchall()
        return [r[0] for r in rows]


def load_glue_script(path: Path = GLUE_SCRIPT) -> ModuleType:
    """Import ``glue_jobs/parquet_to_json.py`` (not a package: Glue runs it as a file)."""
    spec = importlib.util.spec_from_file_location("parquet_to_json_job", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the job script {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def argv_of(arguments: Mapping[str, str]) -> list[str]:
    """Glue-style ``--name value`` pairs."""
    return [item for name, value in arguments.items() for item in (name, value)]


class ScriptLauncher(JobLauncher):
    """Runs the very same Glue job script, as Glue would: ``script --name value ...``.

    ``mode="subprocess"`` starts it as a separate process (its own Spark driver);
    ``mode="inline"`` runs it in this process, synchronously (tests, warm workers) with
    ``spark_factory`` providing the session. Run arguments are recorded in ``runs_dir``
    so a run's id leads back to its job, like Glue's ``GetJobRun``.
    """

    def __init__(
        self,
        runs_dir: str | Path,
        *,
        mode: str = "subprocess",
        spark_factory: Callable[[], Any] | None = None,
        script: Path = GLUE_SCRIPT,
    ) -> None:
        self.runs_dir = Path(runs_dir)
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        if mode not in {"subprocess", "inline"}:
            raise ValueError(f"unknown launcher mode {mode!r}")
        self.mode = mode
        self.spark_factory = spark_factory
        self.script = script
        self.exit_codes: dict[str, int] = {}

    def start(self, arguments: Mapping[str, str], spec: RunSpec | None = None) -> str:
        run_id = f"lr_{uuid.uuid4().hex}"
        args = {**arguments, "--JOB_RUN_ID": run_id}
        (self.runs_dir / f"{run_id}.json").write_text(json.dumps(args), encoding="utf-8")
        argv = [str(self.script), *argv_of(args)]
        if self.mode == "subprocess":
            log = (self.runs_dir / f"{run_id}.log").open("wb")
            subprocess.Popen([sys.executable, *argv], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            log.close()
        else:
            self.exit_codes[run_id] = load_glue_script(self.script).main(argv, spark_factory=self.spark_factory)
        return run_id

    def arguments_of(self, run_id: str) -> dict[str, str] | None:
        try:
            value = json.loads((self.runs_dir / f"{Path(run_id).name}.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return {str(k): str(v) for k, v in value.items()}


SIGNING_KEY_FILE = "signing.key"


def signing_key(data_dir: str | os.PathLike[str]) -> str:
    """The key that signs the local presigned URLs: kept, so URLs handed out before a
    restart stay valid; created private (0600 from its first byte, whatever the umask)
    and whole (written aside, then linked into place: two servers starting at once on one
    data directory agree on the first one's key)."""
    key_file = Path(data_dir) / SIGNING_KEY_FILE
    if not key_file.exists():
        Path(data_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = Path(data_dir) / f".{SIGNING_KEY_FILE}.{uuid.uuid4().hex}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(secrets.token_hex(32))
                out.flush()
                os.fsync(out.fileno())
            # link, not rename: it never replaces a key another start published meanwhile.
            with contextlib.suppress(FileExistsError):
                os.link(tmp, key_file)
        finally:
            tmp.unlink(missing_ok=True)
    return key_file.read_text(encoding="utf-8").strip()
