"""Reading job data wherever it lives, with one function.

A job's input, output and report are named by URI. In AWS they are ``s3://bucket/key``
objects; on the local stack the same bucket/key lives under the data directory as
``{data_dir}/objects/{bucket}/{key}`` (see ``etl_lib.jobs.settings``); in tests and
notebooks they may be plain paths. :func:`read_job_bytes` hides the difference.

S3 is read with awswrangler (the team's library for pandas on AWS), which uses boto3
and so honours ``AWS_ENDPOINT_URL`` like the rest of the project (moto in tests).
"""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path
from typing import Any

from etl_lib._runtime import fs
from etl_lib.platform import DEFAULT_DATA_DIR

LOCAL_STORE_DIR = DEFAULT_DATA_DIR


def local_store_path(uri: str, data_dir: str | os.PathLike[str]) -> Path:
    """Where the local stack keeps the object ``s3://bucket/key``."""
    bucket, key = fs.split_s3(uri)
    return Path(data_dir) / "objects" / bucket / key


def locate(uri: str, data_dir: str | os.PathLike[str] | None = None) -> str:
    """A URI etl_lib can open: ``s3://`` stays remote unless ``data_dir`` (a local stack)
    is given, in which case it maps into the local store; paths become absolute."""
    if fs.is_s3(uri):
        return str(local_store_path(uri, data_dir)) if data_dir is not None else uri
    return os.path.abspath(uri)


def _s3_bytes(uri: str, boto3_session: Any = None) -> bytes:
    import awswrangler as wr  # imported lazily: only S3 reads need it

    buffer = io.BytesIO()
    wr.s3.download(path=uri, local_file=buffer, boto3_session=boto3_session)
    return buffer.getvalue()


def read_job_bytes(
    uri: str, *, data_dir: str | os.PathLike[str] | None = None, boto3_session: Any = None, decompress: bool = True
) -> bytes:
    """The bytes of one job object (input, output or report), gunzipped when the name
    ends in ``.gz`` and ``decompress`` is true."""
    where = locate(uri, data_dir)
    data = _s3_bytes(where, boto3_session) if fs.is_s3(where) else Path(where).read_bytes()
    if decompress and uri.endswith(".gz"):
        data = gzip.decompress(data)
    return data


def read_job_text(uri: str, *, data_dir: str | os.PathLike[str] | None = None, boto3_session: Any = None) -> str:
    return read_job_bytes(uri, data_dir=data_dir, boto3_session=boto3_session).decode("utf-8")


def write_job_text(uri: str | os.PathLike[str], text: str, *, boto3_session: Any = None) -> None:
    """Write a small text object (a summary, a report) to ``s3://`` or a local path."""
    uri = str(uri)
    if fs.is_s3(uri):
        import awswrangler as wr

        wr.s3.upload(local_file=io.BytesIO(text.encode("utf-8")), path=uri, boto3_session=boto3_session)
        return
    path = Path(uri)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
