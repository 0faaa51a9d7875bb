"""Arrow's memory pool for a process that runs the local engine: jemalloc.

Every page a process touches for the first time costs the kernel a fresh zeroed page, which
is slow on a virtual machine whose host has taken back the guest's free memory. Arrow's
default pool, mimalloc, commits its arenas eagerly in huge pages, so each thread's decoding
touches about twice the memory it uses; jemalloc does not. The figures are in
docs/benchmarks.md ("Measurements behind design choices").

The choice is Arrow's own setting, ``ARROW_DEFAULT_MEMORY_POOL``, read once when pyarrow
loads; it reaches every allocation of Arrow's C++ code (file reads, decompression, decoding).
``pyarrow.set_memory_pool`` would not: it only changes the pool of pyarrow's Python calls.
jemalloc is part of pyarrow's Linux and macOS wheels; a build without it keeps its default.
"""

from __future__ import annotations

import os
import sys

POOL_ENV = "ARROW_DEFAULT_MEMORY_POOL"
JEMALLOC = "jemalloc"


def use_jemalloc() -> bool:
    """Make jemalloc Arrow's default memory pool in this process, unless it is too late.

    Call it before pyarrow is imported, at the start of a process that converts with the
    local engine (``etl convert``, the converter Lambda). A pool already chosen in the
    environment is kept, so an operator can still choose another one.

    Returns
    -------
    bool
        True when pyarrow will load with ``ARROW_DEFAULT_MEMORY_POOL`` as now set; False when
        pyarrow was already imported and kept the pool it started with.

    Examples
    --------
    >>> use_jemalloc()  # in a fresh process
    True
    >>> import pyarrow as pa
    >>> pa.default_memory_pool().backend_name
    'jemalloc'
    """
    if "pyarrow" in sys.modules:
        return False
    os.environ.setdefault(POOL_ENV, JEMALLOC)
    return True
