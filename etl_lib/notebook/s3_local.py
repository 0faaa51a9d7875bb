"""``s3://`` paths for plain ``spark.read`` / ``df.write`` on a local session (no S3A).

On Glue, ``spark.read.parquet("s3://bucket/prefix")`` works because Glue's Spark has an S3
Hadoop FileSystem (EMRFS; elsewhere S3A from ``hadoop-aws``). The local sessions cannot have
one: pyspark 4.1.1 ships ``hadoop-client-api``/``hadoop-client-runtime`` 3.4.2 but neither
``hadoop-aws`` nor the AWS SDK v2 bundle it needs, and those are Maven artifacts only: no
PyPI or Debian package ships them, and Maven Central is not a registry this project installs
from (``spark.jars.packages`` would fetch them at run time, which is not allowed either).
A Hadoop FileSystem is Java code, so without those jars there is none to register.

The next best thing, and what this module does: the session's ``DataFrameReader`` and
``DataFrameWriter`` methods that take paths (``load``, ``parquet``, ``json``, ``csv``,
``orc``, ``text``, ``save``) map ``s3://`` (``s3a://``, ``s3n://``) through a local mirror:

- a read first copies the objects under the path's prefix from S3 (boto3, so
  ``AWS_ENDPOINT_URL``: the sessions endpoint's moto) into ``mirror/<bucket>/<key>``, then
  Spark reads that folder (globs and Hive partition folders work as on S3);
- a write goes to a fresh local folder, then every file Spark wrote (``_SUCCESS`` included)
  is uploaded under the prefix; the save mode is honoured against what is on S3 (``error``,
  the default, refuses an existing prefix; ``overwrite`` deletes it first; ``ignore``
  writes nothing; ``append`` adds files).

What differs from S3A: data moves through local disk (a read copies the whole prefix first),
and ``input_file_name()`` names the mirror's local files.
"""

from __future__ import annotations

import functools
import inspect
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

SCHEMES = ("s3://", "s3a://", "s3n://")
READ_METHODS = ("load", "parquet", "json", "csv", "orc", "text")
WRITE_METHODS = ("save", "parquet", "json", "csv", "orc", "text")
_GLOB = "*?[{"
_PATCHED = "_etl_s3_local"


def is_s3(path: Any) -> bool:
    return isinstance(path, str) and path.startswith(SCHEMES)


def split(uri: str) -> tuple[str, str]:
    """(bucket, key) of an ``s3://`` URI (any of :data:`SCHEMES`)."""
    bucket, _, key = uri.split("://", 1)[1].partition("/")
    return bucket, key


class S3Mirror:
    """Copies S3 prefixes to ``root`` and uploads written folders back (boto3's S3 client)."""

    def __init__(self, root: str | os.PathLike[str], s3: Any = None) -> None:
        self.root = Path(root)
        self._s3 = s3

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            import boto3

            self._s3 = boto3.client("s3")
        return self._s3

    def _keys(self, bucket: str, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def local_path(self, uri: str) -> str:
        """Copy what ``uri`` (an object, a prefix or a glob) names; its path in the mirror."""
        bucket, key = split(uri)
        cut = min((key.index(c) for c in _GLOB if c in key), default=len(key))
        listed = key[:cut]
        # A prefix is read as a folder: "data" must not also copy "data-old/...".
        keys = self._keys(bucket, listed)
        if cut == len(key) and key and not key.endswith("/") and key not in keys:
            keys = [k for k in keys if k.startswith(key + "/")]
        if not keys:
            raise FileNotFoundError(f"[PATH_NOT_FOUND] Path does not exist: {uri}")
        self._forget_deleted(bucket, listed, set(keys))
        for name in keys:
            if name.endswith("/"):  # a folder marker object
                continue
            target = self.root / bucket / name
            target.parent.mkdir(parents=True, exist_ok=True)
            self.s3.download_file(bucket, name, str(target))
        return str(self.root / bucket / key)

    def _forget_deleted(self, bucket: str, prefix: str, keys: set[str]) -> None:
        """Remove mirrored files under ``prefix`` that S3 no longer has (an overwrite since the
        last read), so Spark never reads a stale file."""
        top = self.root / bucket
        folder = top / prefix if prefix.endswith("/") or not prefix else (top / prefix).parent
        if not folder.is_dir():
            return
        for path in folder.rglob("*"):
            key = path.relative_to(top).as_posix()
            if path.is_file() and key.startswith(prefix) and key not in keys:
                path.unlink()

    def exists(self, uri: str) -> bool:
        bucket, key = split(uri)
        folder = key.rstrip("/") + "/" if key else ""
        return bool(self._keys(bucket, folder)) or (bool(key) and key in self._keys(bucket, key))

    def delete(self, uri: str) -> None:
        bucket, key = split(uri)
        folder = key.rstrip("/") + "/" if key else ""
        for name in self._keys(bucket, folder):
            self.s3.delete_object(Bucket=bucket, Key=name)

    def upload(self, folder: Path, uri: str) -> list[str]:
        """Upload every file under ``folder`` below ``uri``; the keys written."""
        bucket, key = split(uri)
        prefix = key.rstrip("/")
        written = []
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            relative = path.relative_to(folder).as_posix()
            if relative.endswith(".crc"):  # Hadoop's local checksum files: S3 has none
                continue
            name = f"{prefix}/{relative}" if prefix else relative
            self.s3.upload_file(str(path), bucket, name)
            written.append(name)
        return written

    def staging(self) -> Path:
        path = self.root / ".writes" / uuid.uuid4().hex
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


def _map(value: Any, mirror: S3Mirror) -> Any:
    if is_s3(value):
        return mirror.local_path(value)
    if isinstance(value, (list, tuple)) and any(is_s3(v) for v in value):
        return type(value)(mirror.local_path(v) if is_s3(v) else v for v in value)
    return value


def _reader(method: Callable[..., Any], mirror: S3Mirror) -> Callable[..., Any]:
    signature = inspect.signature(method)

    @functools.wraps(method)
    def read(self: Any, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs)
        for name in ("path", "paths"):
            if name in bound.arguments:
                bound.arguments[name] = _map(bound.arguments[name], mirror)
        return method(*bound.args, **bound.kwargs)

    return read


def _mode(writer: Any, given: str | None) -> str:
    mode = (given or getattr(writer, "_etl_mode", None) or "errorifexists").lower()
    return "errorifexists" if mode in {"error", "default"} else mode


def _writer(method: Callable[..., Any], mirror: S3Mirror) -> Callable[..., Any]:
    signature = inspect.signature(method)

    @functools.wraps(method)
    def write(self: Any, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs)
        uri = bound.arguments.get("path")
        if not isinstance(uri, str) or not is_s3(uri):
            return method(*bound.args, **bound.kwargs)
        mode = _mode(self, bound.arguments.get("mode"))
        if mode in {"errorifexists", "ignore"} and mirror.exists(uri):
            if mode == "ignore":
                return None
            from pyspark.errors import AnalysisException

            raise AnalysisException(f'[PATH_ALREADY_EXISTS] Path {uri} already exists. Set mode as "overwrite".')
        staging = mirror.staging()
        bound.arguments["path"] = str(staging)
        if "mode" in signature.parameters:
            bound.arguments["mode"] = "errorifexists"
        else:
            self.mode("errorifexists")
        try:
            method(*bound.args, **bound.kwargs)
            if mode == "overwrite":
                mirror.delete(uri)
            mirror.upload(staging, uri)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return None

    return write


def install(mirror_dir: str | os.PathLike[str] | None = None, s3: Any = None) -> S3Mirror:
    """Map ``s3://`` paths of every DataFrameReader/DataFrameWriter of this process through a
    mirror in ``mirror_dir`` (default: a new temporary folder). Idempotent."""
    from pyspark.sql.readwriter import DataFrameReader, DataFrameWriter

    existing = getattr(DataFrameReader, _PATCHED, None)
    if isinstance(existing, S3Mirror):
        return existing
    mirror = S3Mirror(mirror_dir or tempfile.mkdtemp(prefix="s3-mirror-"), s3)
    for name in READ_METHODS:
        setattr(DataFrameReader, name, _reader(getattr(DataFrameReader, name), mirror))
    for name in WRITE_METHODS:
        setattr(DataFrameWriter, name, _writer(getattr(DataFrameWriter, name), mirror))
    original_mode = DataFrameWriter.mode

    @functools.wraps(original_mode)
    def mode(self: Any, saveMode: str | None) -> Any:
        self._etl_mode = saveMode
        return original_mode(self, saveMode)

    DataFrameWriter.mode = mode  # type: ignore[method-assign]
    setattr(DataFrameReader, _PATCHED, mirror)
    return mirror
