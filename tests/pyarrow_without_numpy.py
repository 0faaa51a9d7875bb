"""A pytest plugin that imports pyarrow without numpy before any test module does, as
``etl convert`` does (etl_lib._runtime.lazy.import_pyarrow_without_numpy).

    pytest -p tests.pyarrow_without_numpy tests/contract/test_contract_rules.py

The reference encoder and the INT96 reader then run where pyarrow's own numpy conversions
are unavailable: tests/runtime/test_lazy_imports.py runs them so, to prove they never need them.
"""

from __future__ import annotations

import sys

from etl_lib._runtime.lazy import import_pyarrow_without_numpy

_EARLY = [name for name in ("numpy", "pyarrow") if name in sys.modules]
if _EARLY:
    raise RuntimeError(f"{', '.join(_EARLY)} imported before this plugin: load it with -p, first")
if import_pyarrow_without_numpy().lib.np is not None:
    raise RuntimeError("pyarrow was imported with its numpy integration")


def pytest_report_header() -> str:
    return "pyarrow: imported without numpy (tests.pyarrow_without_numpy)"
