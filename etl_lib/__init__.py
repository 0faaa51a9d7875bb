"""Faithful Parquet to JSON conversion under a written contract (docs/json-contract.md).

The public API::

    import etl_lib

    report = etl_lib.convert("sales.parquet", "sales.jsonl", etl_lib.ConvertOptions(drop_nulls=True))
    print(report.rows_out, etl_lib.__version__)

Errors a user can act on are :class:`ConversionError` (and its subclasses), each with a
stable ``code``.

The names are imported on first use (PEP 562 ``__getattr__``): the API Lambdas import
``etl_lib.jobs`` and must not pay for pyarrow at cold start because ``etl_lib`` re-exports
:func:`convert` (from :mod:`etl_lib.conversion`).

The package is laid out by stage: :mod:`etl_lib.input` reads and plans the Parquet input,
:mod:`etl_lib.contract` turns Arrow values into JSON text, :mod:`etl_lib.output` writes and
publishes the JSON file, :mod:`etl_lib.spark` runs the slices on Spark; :mod:`etl_lib.jobs`
is the job domain and :mod:`etl_lib.notebook` the notebook support. ``etl_lib._runtime``
holds private helpers (lazy imports, Arrow memory, filesystems, validation).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from etl_lib.conversion import convert
    from etl_lib.errors import ConversionError, InvalidInputError, OutputError, UnsupportedTypeError
    from etl_lib.options import Compression, ConvertOptions, Engine, Limits, OutputFormat
    from etl_lib.report import RunReport

    __version__: str

# public name -> the module that defines it
_EXPORTS = {
    "convert": "etl_lib.conversion",
    "Engine": "etl_lib.options",
    "ConvertOptions": "etl_lib.options",
    "OutputFormat": "etl_lib.options",
    "Compression": "etl_lib.options",
    "Limits": "etl_lib.options",
    "RunReport": "etl_lib.report",
    "ConversionError": "etl_lib.errors",
    "InvalidInputError": "etl_lib.errors",
    "UnsupportedTypeError": "etl_lib.errors",
    "OutputError": "etl_lib.errors",
}

__all__ = [
    "Compression",
    "ConversionError",
    "ConvertOptions",
    "Engine",
    "InvalidInputError",
    "Limits",
    "OutputError",
    "OutputFormat",
    "RunReport",
    "UnsupportedTypeError",
    "__version__",
    "convert",
]


def _version() -> str:
    # Read on first use: importlib.metadata costs ``etl convert`` tens of milliseconds.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("parquet-json-etl")
    except PackageNotFoundError:  # the Lambda bundle ships the sources without package metadata
        return "0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        globals()[name] = value = _version()
        return value
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
