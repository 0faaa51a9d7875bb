"""Faithful Parquet to JSON conversion under a written contract (docs/json-contract.md).

The public API::

    import etl_lib

    report = etl_lib.convert("sales.parquet", "sales.jsonl", etl_lib.ConvertOptions(drop_nulls=True))
    print(report.rows_out, etl_lib.__version__)

Errors a user can act on are :class:`ConversionError` (and its subclasses), each with a
stable ``code``.

The names are imported on first use (PEP 562 ``__getattr__``): the API Lambdas import
``etl_lib.jobs`` and must not pay for pyarrow at cold start because ``etl_lib`` re-exports
:func:`convert`. ``etl_lib.convert`` is the function, also once the submodule of the same
name is imported (``from etl_lib.convert import Engine`` still imports from the module).
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from etl_lib.convert import convert
    from etl_lib.errors import ConversionError, InvalidInputError, OutputError, UnsupportedTypeError
    from etl_lib.options import Compression, ConvertOptions, Engine, Limits, OutputFormat
    from etl_lib.report import RunReport

    __version__: str

# public name -> the module that defines it
_EXPORTS = {
    "convert": "etl_lib.convert",
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


class _Package(types.ModuleType):
    # Importing the submodule etl_lib.convert makes the import system set the package's
    # ``convert`` attribute to that module, which would hide the function re-exported here.
    def __setattr__(self, name: str, value: Any) -> None:
        if name == "convert" and isinstance(value, types.ModuleType):
            value = value.convert
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
