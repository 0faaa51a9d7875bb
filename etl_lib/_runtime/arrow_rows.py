"""Arrow arrays of a few Python values, built from their buffers.

Why by hand: :func:`pyarrow.array` (and ``pa.scalar``, ``RecordBatch.from_pydict``,
``Table.from_pylist``) first asks whether its input is a pandas object, and to ask, imports
pandas: about 0.2 s of CPU in a process that never uses it. Each Python worker of the Spark
engine paid it on its first task, for the one row of sizes it sends back; these helpers
build the same arrays from ``array.array`` and ``bytearray`` buffers, which pyarrow takes
as they are.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping, Sequence
from typing import cast

import pyarrow as pa


def int64s(values: Sequence[int]) -> pa.Array:
    """An ``int64`` array of ``values`` (no nulls).

    Examples
    --------
    >>> int64s([1, -2, 3]).to_pylist()
    [1, -2, 3]
    """
    data = array("q", values)
    return pa.Array.from_buffers(pa.int64(), len(data), [None, pa.py_buffer(data)])


def strings(values: Sequence[str | None]) -> pa.Array:
    """A ``string`` array of ``values``, ``None`` a null.

    Examples
    --------
    >>> strings(["a", None, "été"]).to_pylist()
    ['a', None, 'été']
    """
    valid = bytearray(-(-len(values) // 8))
    offsets = array("i", [0])
    data = bytearray()
    nulls = 0
    for i, value in enumerate(values):
        if value is None:
            nulls += 1
        else:
            valid[i >> 3] |= 1 << (i & 7)
            data += value.encode()
        offsets.append(len(data))
    buffers = [pa.py_buffer(valid) if nulls else None, pa.py_buffer(offsets), pa.py_buffer(data)]
    return pa.Array.from_buffers(pa.string(), len(values), buffers, null_count=nulls)


def record_batch(schema: pa.Schema, columns: Mapping[str, Sequence[object]]) -> pa.RecordBatch:
    """The batch of ``schema`` whose columns hold ``columns`` (by name); ``int64`` and
    ``string`` fields only.

    Examples
    --------
    >>> schema = pa.schema([("seq", pa.int64()), ("error", pa.string())])
    >>> record_batch(schema, {"seq": [7], "error": [None]}).to_pylist()
    [{'seq': 7, 'error': None}]
    """
    arrays = []
    for field in schema:
        values = columns[field.name]
        if field.type == pa.int64():
            arrays.append(int64s(cast("Sequence[int]", values)))
        elif field.type == pa.string():
            arrays.append(strings(cast("Sequence[str | None]", values)))
        else:
            raise TypeError(f"{field.name}: no builder for {field.type}")
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
