"""Conversion options: the one model shared by the CLI, the Glue job, the API and the UI.

The same pydantic model validates ``etl convert`` flags, Glue job arguments and the
``options`` object of ``POST /jobs``, so an option means the same thing everywhere.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Engine(StrEnum):
    """Where a conversion runs: local (in-process, no JVM), spark (Spark; Glue in AWS), or auto
    (local up to the small-file threshold, spark above)."""

    AUTO = "auto"
    SPARK = "spark"
    LOCAL = "local"


DEFAULT_SMALL_FILE_THRESHOLD_BYTES = 256 * 1024**2
"""``auto`` runs inputs up to this size on the local engine (the converter Lambda in AWS, the
worker process locally, ``etl convert`` in the CLI), larger ones on Spark (Glue).

256 MiB because: below it Glue's fixed start (about a minute) outweighs the conversion,
which the local engine does at about 16 MB/s of Parquet per two cores (docs/benchmarks.md:
275 MB in 17 s), so 256 MiB takes well under a minute, far inside the converter's 15-minute
timeout; and its memory follows the largest row group, which in a file this size still fits
the converter's 3 GB once decoded. The one default: the service, the settings
(SMALL_FILE_THRESHOLD_BYTES) and infra/config.py all use it."""


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
