"""Start-up: modules imported on first use (the standard library's :class:`importlib.util.LazyLoader`),
pyarrow imported without numpy, imports without the garbage collector, and log records that
import :mod:`logging` only when they could be seen.

``pyarrow.compute`` builds a Python wrapper for each of Arrow's several hundred compute
functions when it is imported: tens of milliseconds that every ``etl convert`` paid, though
the native encoder's path never calls a compute kernel. The reference encoder and the INT96
reader use it, and load it when they first do.
"""

from __future__ import annotations

import gc
import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
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


def import_pyarrow_without_numpy() -> ModuleType:
    """Import pyarrow without its numpy integration, unless either is already imported.

    pyarrow imports numpy when it is imported itself, if numpy is installed: about 0.1 s of
    start-up, and on a machine with OpenBLAS a pool of threads that competes with the
    encoding threads for the cores. The local engine's native path never needs numpy, so
    ``etl convert`` imports pyarrow with numpy hidden for that moment, then makes numpy
    importable again. numpy itself still works in that process; only pyarrow's own
    conversions to and from it (``Array.to_numpy``, ``pa.array(ndarray)``, ``to_pandas``)
    are unavailable, which is why :mod:`etl_lib._runtime.numpy_views` exists.

    Returns
    -------
    ModuleType
        The ``pyarrow`` module.

    Examples
    --------
    >>> pa = import_pyarrow_without_numpy()  # in a fresh process: numpy is not loaded
    >>> pa.array([1, 2]).to_pylist()
    [1, 2]
    """
    if "pyarrow" in sys.modules or "numpy" in sys.modules:
        return importlib.import_module("pyarrow")
    sys.modules["numpy"] = None  # type: ignore[assignment]  # makes `import numpy` raise ImportError
    try:
        return importlib.import_module("pyarrow")
    finally:
        if sys.modules.get("numpy", 0) is None:
            del sys.modules["numpy"]


@contextmanager
def collector_paused() -> Iterator[None]:
    """Import without the cyclic garbage collector, then freeze what was imported.

    Imports create tens of thousands of objects that live as long as the process (modules,
    classes, functions), and their allocations trigger collection after collection, each
    scanning them again: 15% of ``etl convert``'s start-up in ``perf`` (pyarrow and
    etl_lib). In the block the collector is off; after it, :func:`gc.freeze` moves every
    object alive to the permanent generation, so later collections skip them too, and the
    collector is on again (as it was before the block).

    Examples
    --------
    >>> with collector_paused():
    ...     import json
    >>> gc.isenabled()
    True
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


DEBUG, INFO, WARNING = 10, 20, 30
"""logging's levels (their numbers are part of its API), for :func:`log` without importing it;
WARNING is the level below which an unconfigured logging drops records."""


def log(name: str, level: int, msg: str, *args: object) -> None:
    """Log ``msg % args`` at ``level`` on the logger ``name``, importing :mod:`logging` only
    when the record could be seen.

    Until something imports :mod:`logging`, nothing can have configured a handler or a
    level, and an unconfigured logging drops every record below WARNING (the root logger's
    default level). So such a record is dropped here without importing the module, which
    ``etl convert`` would otherwise import (about 5 ms) for the one INFO line of the encoder it
    runs. Once logging is imported (by an application, pytest, the Lambda runtime), every
    record goes through it as usual.

    Parameters
    ----------
    name : str
        The logger's name, usually the calling module's ``__name__``.
    level : int
        A :mod:`logging` level number: :data:`DEBUG`, :data:`INFO`, :data:`WARNING` or higher.
    msg : str
        The message, with ``%`` placeholders for ``args``.
    *args : object
        The placeholders' values.

    Examples
    --------
    >>> log("etl_lib.example", WARNING, "%d files skipped", 2)  # reaches stderr, as logging.warning would
    """
    if level < WARNING and "logging" not in sys.modules:
        return
    import logging

    logging.getLogger(name).log(level, msg, *args)
