"""Conversion options: the one model shared by the CLI, the Glue job, the API and the UI.

The same pydantic model validates ``etl convert`` flags, Glue job arguments and the
``options`` object of ``POST /jobs``, so an option means the same thing everywhere.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class OutputFormat(StrEnum):
    JSONL = "jsonl"
    JSON = "json"


class Compression(StrEnum):
    NONE = "none"
    GZIP = "gzip"


class ConvertOptions(BaseModel):
    """How a Parquet input becomes JSON (see docs/json-contract.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: OutputFormat = OutputFormat.JSONL
    compression: Compression = Compression.NONE
    drop_nulls: bool = False
    bigint_as_string: bool = False
    decimal_as_string: bool = False
    nan_as_string: bool = False

    @property
    def file_extension(self) -> str:
        """Extension of the single output file, e.g. ``.jsonl`` or ``.json.gz``."""
        ext = f".{self.format.value}"
        return ext + ".gz" if self.compression is Compression.GZIP else ext
