"""Filesystems for local paths and ``s3://`` URIs, through pyarrow.fs.

The same conversion code reads and writes a directory tree locally and S3 in AWS (or
moto's server in tests): ``AWS_ENDPOINT_URL`` is honoured like boto3 does.
"""

from __future__ import annotations

import os

import pyarrow.fs as pafs


def is_s3(uri: str) -> bool:
    return uri.startswith(("s3://", "s3a://"))


def split_s3(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> (bucket, key)."""
    from urllib.parse import urlparse  # S3 only: a local conversion need not import it (4 ms)

    parsed = urlparse(uri)
    return parsed.netloc, parsed.path.lstrip("/")


ENDPOINT_ENV = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
"""Where S3 is, as boto3 reads it: the first one set."""
REGION_ENV = ("AWS_REGION", "AWS_DEFAULT_REGION")
"""S3's region, as boto3 reads it: the first one set."""


def _first_set(names: tuple[str, ...]) -> str | None:
    return next((os.environ[name] for name in names if os.environ.get(name)), None)


def s3_filesystem() -> pafs.S3FileSystem:
    endpoint = _first_set(ENDPOINT_ENV)
    region = _first_set(REGION_ENV)
    kwargs: dict[str, object] = {}
    if endpoint:
        from urllib.parse import urlparse

        parsed = urlparse(endpoint)
        kwargs.update(endpoint_override=parsed.netloc or endpoint, scheme=parsed.scheme or "https")
    if region:
        kwargs["region"] = region
    return pafs.S3FileSystem(**kwargs)


def absolute(uri: str) -> str:
    """``uri`` as every process can read it: an ``s3://`` URI as it is, a local path made
    absolute against this process's working directory (a Spark executor has its own)."""
    return uri if is_s3(uri) else os.path.abspath(uri)


def resolve(uri: str) -> tuple[pafs.FileSystem, str]:
    """The filesystem holding ``uri`` and the path to use with it."""
    if is_s3(uri):
        bucket, key = split_s3(uri)
        return s3_filesystem(), f"{bucket}/{key}".rstrip("/")
    return pafs.LocalFileSystem(), absolute(uri)
