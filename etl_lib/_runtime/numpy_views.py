"""numpy views of Arrow arrays through the buffer protocol, and back.

Why by hand: pyarrow's own conversions (``Array.to_numpy``, ``pa.array(ndarray)``) need its
numpy integration, which pyarrow sets up only when numpy is importable while pyarrow itself
is being imported. ``etl convert`` imports pyarrow without it (see
:func:`etl_lib._runtime.lazy.import_pyarrow_without_numpy`: numpy costs more start-up than the rest of
the local engine's imports together, and the native encoder never uses it). The reference
encoder and the INT96 reader still do their arithmetic with numpy, which they import when
they first need it; these helpers move their data between the two libraries over the buffer
protocol, which works whether or not pyarrow knows numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from etl_lib._runtime.lazy import lazy_module

if TYPE_CHECKING:
    import numpy as np
else:  # loaded on first use: the native encoder's path never needs it
    np = lazy_module("numpy")

_NUMPY_TYPES = {
    (8, True): "int8",
    (16, True): "int16",
    (32, True): "int32",
    (64, True): "int64",
    (8, False): "uint8",
    (16, False): "uint16",
    (32, False): "uint32",
    (64, False): "uint64",
}


def values(arr: pa.Array) -> np.ndarray:
    """The values of an integer or boolean array that has no nulls, as a numpy array.

    Integers are a zero-copy, read-only view of the array's data buffer; booleans (one bit
    per value in Arrow) are unpacked into a new ``bool`` array.

    Parameters
    ----------
    arr : pyarrow.Array
        An array of a signed or unsigned integer type, or of ``bool``, with no nulls (e.g.
        the result of ``pc.fill_null``); it may be a slice.

    Examples
    --------
    >>> values(pa.array([1, 2, 3], pa.int32())).tolist()
    [1, 2, 3]
    >>> values(pa.array([True, False, True]).slice(1)).tolist()
    [False, True]
    """
    if arr.null_count:
        raise ValueError(f"values() takes an array without nulls; this one has {arr.null_count}")
    data = arr.buffers()[1]
    n, offset = len(arr), arr.offset
    if pa.types.is_boolean(arr.type):
        if n == 0:
            return np.zeros(0, dtype=bool)
        first, last = offset // 8, (offset + n + 7) // 8
        packed = np.frombuffer(data, dtype=np.uint8, count=last - first, offset=first)
        bits = np.unpackbits(packed, bitorder="little")
        return bits[offset % 8 : offset % 8 + n].astype(bool)
    if not pa.types.is_integer(arr.type):
        raise TypeError(f"values() takes an integer or boolean array, not {arr.type}")
    dtype = np.dtype(_NUMPY_TYPES[arr.type.bit_width, pa.types.is_signed_integer(arr.type)])
    if n == 0:
        return np.zeros(0, dtype=dtype)
    return np.frombuffer(data, dtype=dtype, count=n, offset=offset * dtype.itemsize)


def array(values: np.ndarray) -> pa.Array:
    """A one-dimensional numpy array of integers or booleans as an Arrow array (no nulls).

    Integers are wrapped without a copy when the array is contiguous; booleans are packed
    into Arrow's one bit per value.

    Parameters
    ----------
    values : numpy.ndarray
        One-dimensional, of a signed or unsigned integer dtype or ``bool``.

    Examples
    --------
    >>> import numpy as np
    >>> array(np.array([4, 5], dtype=np.int64)).to_pylist()
    [4, 5]
    >>> array(np.array([True, False])).type
    DataType(bool)
    """
    if values.ndim != 1:
        raise ValueError(f"array() takes a one-dimensional array, not {values.ndim}-dimensional")
    if values.dtype == np.bool_:
        packed = np.packbits(values, bitorder="little")
        return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(packed)], null_count=0)
    if values.dtype.kind not in "iu":
        raise TypeError(f"array() takes integers or booleans, not {values.dtype}")
    arrow_type = pa.type_for_alias(values.dtype.name)
    contiguous = np.ascontiguousarray(values)
    return pa.Array.from_buffers(arrow_type, len(contiguous), [None, pa.py_buffer(contiguous)], null_count=0)
