"""What names an input, parsed without pyarrow: the API Lambdas check a data engineer's
source against the deployment's allow-list with it, and the readers resolve it."""

from __future__ import annotations

from urllib.parse import urlparse

from etl_lib.errors import InvalidInputError

CATALOG_SCHEME = "glue://"
"""A Glue Data Catalog table as an input: ``glue://DATABASE/TABLE``."""
S3_SCHEMES = ("s3://", "s3a://")


def is_catalog(uri: str) -> bool:
    """Whether ``uri`` names a catalog table (``glue://DATABASE/TABLE``)."""
    return uri.startswith(CATALOG_SCHEME)


def split_table(uri: str) -> tuple[str, str]:
    """``glue://DATABASE/TABLE`` -> (database, table); anything else is refused in one line."""
    database, _, table = uri[len(CATALOG_SCHEME) :].strip("/").partition("/")
    if not database or not table or "/" in table:
        raise InvalidInputError(f"{uri} is not a catalog table: write glue://DATABASE/TABLE")
    return database, table


def s3_bucket(uri: str) -> str | None:
    """The bucket of an ``s3://bucket/prefix`` URI; None for anything else."""
    if not uri.startswith(S3_SCHEMES):
        return None
    return urlparse(uri).netloc or None


def source_name(uri: str) -> str:
    """A source's short name, for display and the download's name: the table, or the
    prefix's last folder (``s3://lake/sales/`` -> ``sales``)."""
    return uri.rstrip("/").rsplit("/", 1)[-1] or uri
