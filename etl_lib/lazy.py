"""Modules imported on first use, with the standard library's :class:`importlib.util.LazyLoader`.

``pyarrow.compute`` builds a Python wrapper for each of Arrow's several hundred compute
functions when it is imported: tens of milliseconds that every ``etl convert`` paid, though
the native encoder's path never calls a compute kernel. The reference encoder and the INT96
reader use it, and load it when they first do.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_module(name: str) -> ModuleType:
    """The module ``name``, executed on its first attribute access (at once if already imported).

    Parameters
    ----------
    name : str
        A module's absolute name, e.g. ``"pyarrow.compute"``.

    Examples
    --------
    >>> pc = lazy_module("pyarrow.compute")  # nothing is executed yet
    >>> pc.add(1, 2).as_py()  # now it is
    3
    """
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
