"""Conversion options: the one type shared by the CLI, the Glue job, the API and the UI.

The same class gives ``etl convert`` flags, Glue job arguments and the ``options`` object of
``POST /jobs`` their meaning, so an option means the same thing everywhere. It is a frozen
dataclass, so the CLI's conversions never import pydantic; the API's request models and the
stored jobs embed it as a field, and pydantic validates it there (:mod:`etl_lib._runtime.validated`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from etl_lib._runtime.validated import STRICT, Validated


class Engine(StrEnum):
    """Where a conversion runs: local (in-process, no JVM), spark (Spark; Glue in AWS), or auto
    (local up to the small-file threshold, spark above)."""

    AUTO = "auto"
    SPARK = "spark"
    LOCAL = "local"


DEFAULT_SMALL_FILE_THRESHOLD_BYTES = 64 * 1024**2
"""``auto`` runs inputs up to this size on the local engine (the converter Lambda in AWS, the
worker process locally, ``etl convert`` in the CLI), larger ones on Spark (Glue).

64 MiB because the converter Lambda (3 GB, 15 minutes) must finish what it is given: very
repetitive Parquet decodes to about 50 times its size, so 64 MiB stays near 3 GiB, well within
:class:`Limits`' decoded-input default, and converts in seconds at the local engine's ~16 MB/s
per two cores (docs/benchmarks.md), where Glue's fixed start costs about a minute. Larger
inputs are worth Glue's start. The one default: the service, the settings
(SMALL_FILE_THRESHOLD_BYTES), the CLI and infra/config.py all use it."""


def choose_engine(engine: Engine | str, input_bytes: int, local_max_bytes: int | None = None) -> Engine:
    """The engine that runs, for the library and the job service alike: a forced one as it is,
    ``auto`` by the input's size, up to ``local_max_bytes`` (default
    :data:`DEFAULT_SMALL_FILE_THRESHOLD_BYTES`) on the local engine.

    Examples
    --------
    >>> choose_engine("auto", 10 * 1024**2), choose_engine("auto", 10 * 1024**3)
    (<Engine.LOCAL: 'local'>, <Engine.SPARK: 'spark'>)
    >>> choose_engine("spark", 1)
    <Engine.SPARK: 'spark'>
    """
    engine = Engine(engine)
    if engine is not Engine.AUTO:
        return engine
    limit = DEFAULT_SMALL_FILE_THRESHOLD_BYTES if local_max_bytes is None else local_max_bytes
    return Engine.LOCAL if input_bytes <= limit else Engine.SPARK


class OutputFormat(StrEnum):
    JSONL = "jsonl"
    JSON = "json"


class Compression(StrEnum):
    NONE = "none"
    GZIP = "gzip"


class GeometryFormat(StrEnum):
    """How GEOMETRY, GEOGRAPHY and GeoParquet WKB columns are written (docs/json-contract.md):
    RFC 7946 GeoJSON geometry objects, well-known text, or the WKB itself in base64."""

    GEOJSON = "geojson"
    WKT = "wkt"
    WKB = "wkb"


_FLAGS = ("drop_nulls", "bigint_as_string", "decimal_as_string", "nan_as_string")


@dataclass(frozen=True)
class ConvertOptions(Validated):
    """How a Parquet input becomes JSON (see docs/json-contract.md)."""

    # Read by pydantic where it validates the options (the API, stored jobs, run reports).
    __pydantic_config__: ClassVar[dict[str, Any]] = {"extra": "forbid"}

    format: OutputFormat = OutputFormat.JSONL
    compression: Compression = Compression.NONE
    # Strict: the API documents booleans, so 0 or "yes" is refused (422), not read as one.
    drop_nulls: Annotated[bool, STRICT] = False
    bigint_as_string: Annotated[bool, STRICT] = False
    decimal_as_string: Annotated[bool, STRICT] = False
    nan_as_string: Annotated[bool, STRICT] = False
    geometry: GeometryFormat = GeometryFormat.GEOJSON

    def __post_init__(self) -> None:
        # Direct construction (the CLI, library users) takes what the API takes: an enum or
        # its value for the format and the compression, and only True or False for a flag.
        # pydantic calls this too, after its own validation, which then leaves nothing to do.
        for name, kind in (("format", OutputFormat), ("compression", Compression), ("geometry", GeometryFormat)):
            value = getattr(self, name)
            if not isinstance(value, kind):
                if value not in [k.value for k in kind]:
                    allowed = ", ".join(repr(k.value) for k in kind)
                    raise ValueError(f"ConvertOptions.{name} must be one of {allowed}, not {value!r}")
                object.__setattr__(self, name, kind(value))
        for name in _FLAGS:
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"ConvertOptions.{name} must be True or False, not {getattr(self, name)!r}")

    @property
    def file_extension(self) -> str:
        """Extension of the single output file, e.g. ``.jsonl`` or ``.json.gz``."""
        ext = f".{self.format.value}"
        return ext + ".gz" if self.compression is Compression.GZIP else ext


# The smallest place a job runs is the converter Lambda (infra/config.py:
# ``converter_memory_mb`` and ``converter_timeout_seconds``; tests/input/test_limits.py fails if
# they drift from these). Every default below is sized so a job within the limits finishes
# there, and a job over them fails with its code before the Lambda runtime kills it.
CONVERTER_MEMORY_BYTES = 3008 * 1024**2
CONVERTER_TIMEOUT_SECONDS = 900

BATCH_BYTES = CONVERTER_MEMORY_BYTES // 48
"""Decoded Arrow bytes per record batch (~62 MiB). A batch is held once decoded and about
three times more while its JSON text is built (fragments per column, then the records);
with two workers and the in-flight chunks below that stays well inside the Lambda."""

SPARK_TIMEOUT_SECONDS = 60 * 60
"""The Glue job's timeout (``glue_timeout_minutes`` in infra/config.py; test_limits checks they
agree). The deployed job passes its own as ``--max_run_seconds``; this is the default."""

IN_FLIGHT_BYTES = CONVERTER_MEMORY_BYTES // 8
"""Encoded JSON bytes the local engine may hold ahead of the writer (~376 MiB); the decoded
rows waiting for its encoding threads are bounded by a quarter of it."""


PARQUET_LEVELS_PER_NESTING = 3
"""Parquet schema groups per Arrow nesting level, at most (a list or a map is two groups
around its element; a legacy two-level list one): the footer's schema tree may be this many
times :attr:`Limits.max_nesting_depth` deep before the Arrow schema is even built."""

# Limits.__post_init__ checks these; the byte and time limits may be None (unlimited).
_LIMIT_FIELDS = (
    "max_input_bytes", "max_output_bytes", "max_run_seconds", "max_nesting_depth", "max_expansion",
    "expansion_floor_bytes", "max_footer_bytes", "max_columns", "max_row_groups",
)  # fmt: skip
_UNLIMITABLE = frozenset({"max_input_bytes", "max_output_bytes", "max_run_seconds", "max_expansion"})


def _least(limit: int | None, bound: int) -> int:
    return bound if limit is None else min(limit, bound)


@dataclass(frozen=True)
class Limits:
    """Per-job limits; a job over one fails with its code and leaves nothing behind.

    ``None`` means unlimited, and only ever when a caller asks for it explicitly. Kept
    beside :class:`ConvertOptions` rather than in it: those are the user's choices (the
    ``options`` of ``POST /jobs``), these the operator's, so no request can raise them.
    """

    max_input_bytes: int | None = 2 * CONVERTER_MEMORY_BYTES
    """Decoded input: the Arrow bytes of every batch read (~5.9 GiB). The Lambda takes
    inputs up to the small-file threshold (64 MiB of Parquet); even at the ~50x ratios of
    very repetitive data those decode to about 3 GiB, so real inputs fit with room to
    spare, while a decompression bomb stops here long before the disk or the clock.
    ``INPUT_TOO_LARGE``."""
    max_output_bytes: int | None = 4 * CONVERTER_MEMORY_BYTES
    """JSON bytes written, counted before compression (~11.75 GiB): JSON text is up to
    about twice its decoded Arrow size, so twice the input limit. ``OUTPUT_TOO_LARGE``."""
    max_run_seconds: float | None = CONVERTER_TIMEOUT_SECONDS - 60
    """Wall-clock time of the conversion: the Lambda timeout minus a minute, so the job
    fails with its code and cleans up before the runtime kills it. ``TIMED_OUT``."""
    max_nesting_depth: int = 64
    """Nested types (struct, list, map) deeper than this are refused with
    ``UNSUPPORTED_TYPE``: the encoder and the reader recurse once per level. The Parquet
    schema tree, read before pyarrow parses it, may be :data:`PARQUET_LEVELS_PER_NESTING`
    times as deep (a list is two Parquet groups)."""
    max_expansion: int | None = 100
    """Decoded input may be at most this many times the input's size on disk (JSON output
    twice that), or :attr:`expansion_floor_bytes` where that is more. Real data stays below
    about 100:1 (very repetitive columns reach ~50:1); a decompression bomb of a few KB
    that decodes to gigabytes then stops at the floor, not at the absolute limits above,
    so a small file cannot cost gigabytes of disk. ``None``: the absolute limits only."""
    expansion_floor_bytes: int = 1024**3
    """The least that :attr:`max_expansion` bounds decoded input and JSON output to (1 GiB),
    so small real files are never refused for their ratio."""
    max_footer_bytes: int = 256 * 1024**2
    """A Parquet footer over this many bytes is refused (``INPUT_TOO_LARGE``) before it is
    parsed: pyarrow holds it, and what it parses it into, in memory."""
    max_columns: int = 100_000
    """Leaf columns of one Parquet file, counted in its footer before it is parsed
    (``INPUT_TOO_LARGE``)."""
    max_row_groups: int = 1_000_000
    """Row groups of one Parquet file, counted in its footer before it is parsed
    (``INPUT_TOO_LARGE``)."""
    expansion_basis: int | None = None
    """The input size in bytes that :meth:`for_input_size` bounded these limits by (set by
    it; named in the error a job over them gets)."""

    def __post_init__(self) -> None:
        # Limits come from the operator's code and settings, never from a request: checked
        # here, without pydantic, as the fields' documentation says.
        for name in _LIMIT_FIELDS:
            value = getattr(self, name)
            if value is None and name in _UNLIMITABLE:
                continue
            numeric = (int, float) if name == "max_run_seconds" else (int,)
            if isinstance(value, bool) or not isinstance(value, numeric):
                kind = "a number of seconds" if name == "max_run_seconds" else "an integer"
                unlimited = " or None" if name in _UNLIMITABLE else ""
                raise ValueError(f"Limits.{name} must be {kind}{unlimited}, not {value!r}")
            if not value > 0:
                raise ValueError(f"Limits.{name} must be greater than 0, not {value!r}")

    def for_input_size(self, input_bytes: int) -> Limits:
        """These limits, bounded as well by the input's own size (``input_bytes`` on disk).

        Decoded input may reach :attr:`max_expansion` times ``input_bytes`` and JSON twice
        that, never less than :attr:`expansion_floor_bytes`, and never more than the
        absolute limits.

        Examples
        --------
        >>> bounded = Limits().for_input_size(5_000)  # a 5 KB file
        >>> bounded.max_input_bytes == bounded.max_output_bytes == 1024**3
        True
        >>> Limits().for_input_size(10 * 1024**3).max_input_bytes == Limits().max_input_bytes
        True
        """
        if self.max_expansion is None:
            return self
        bound = max(self.expansion_floor_bytes, self.max_expansion * input_bytes)
        output_bound = max(self.expansion_floor_bytes, 2 * self.max_expansion * input_bytes)
        return replace(
            self,
            max_input_bytes=_least(self.max_input_bytes, bound),
            max_output_bytes=_least(self.max_output_bytes, output_bound),
            expansion_basis=input_bytes,
        )

    @classmethod
    def for_spark(cls, max_run_seconds: float = SPARK_TIMEOUT_SECONDS - 300) -> Limits:
        """The limits of a Spark (Glue) run, which takes the large files.

        Uploads reach 5 GiB of Parquet; at the ~50x of very repetitive data that decodes to
        about 250 GiB, so 512 GiB of decoded input (and twice that of JSON) leaves real files
        room while a decompression bomb still stops. The run time defaults to the Glue job's
        timeout minus five minutes, so a run ends FAILED ``TIMED_OUT`` and frees its slot with
        its staging removed, before Glue stops it with nothing recorded.
        """
        return cls(max_input_bytes=512 * 1024**3, max_output_bytes=1024**4, max_run_seconds=max_run_seconds)

    @classmethod
    def unlimited(cls) -> Limits:
        """No byte, expansion or time limit (the footer and nesting limits stay)."""
        return cls(max_input_bytes=None, max_output_bytes=None, max_run_seconds=None, max_expansion=None)
