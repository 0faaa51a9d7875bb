"""Reading job data wherever it lives, with one function.

A job's input, output and report are named by URI. In AWS they are ``s3://bucket/key``
objects; on the local stack the same bucket/key lives under the data directory as
``{data_dir}/objects/{bucket}/{key}`` (see ``etl_lib.jobs.settings``); in tests and
notebooks they may be plain paths. :func:`read_job_bytes` hides the difference.

S3 is read with boto3, not awswrangler: every awswrangler release up to 3.17.1 requires
``pyarrow<26`` and this project is on pyarrow 26 (docs/notebooks.md). boto3 honours
``AWS_ENDPOINT_URL`` like the rest of the project (moto's server in tests).
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any

from etl_lib import fs

LOCAL_STORE_DIR = ".etl-local"


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


def _s3_bytes(uri: str, s3_client: Any = None) -> bytes:
    if s3_client is None:
        import boto3

        s3_client = boto3.client("s3")
    bucket, key = fs.split_s3(uri)
    body = s3_client.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        return bytes(body.read())
    finally:
        body.close()


def read_job_bytes(
    uri: str, *, data_dir: str | os.PathLike[str] | None = None, s3_client: Any = None, decompress: bool = True
) -> bytes:
    """The bytes of one job object (input, output or report), gunzipped when the name
    ends in ``.gz`` and ``decompress`` is true."""
    where = locate(uri, data_dir)
    data = _s3_bytes(where, s3_client) if fs.is_s3(where) else Path(where).read_bytes()
    if decompress and uri.endswith(".gz"):
        data = gzip.decompress(data)
    return data


def read_job_text(uri: str, *, data_dir: str | os.PathLike[str] | None = None, s3_client: Any = None) -> str:
    return read_job_bytes(uri, data_dir=data_dir, s3_client=s3_client).decode("utf-8")
