"""etl_lib._runtime.numpy_views moves data between Arrow and numpy over the buffer protocol: it must
give what pyarrow's own conversions give, slices included."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from etl_lib._runtime import numpy_views

INTEGER_TYPES = [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(), pa.uint32(), pa.uint64()]


@pytest.mark.parametrize("arrow_type", INTEGER_TYPES, ids=str)
@pytest.mark.parametrize(("offset", "length"), [(0, 50), (3, 20), (13, 0), (0, 0)])
def test_integer_values_match_pyarrows_own_conversion_for_slices(
    arrow_type: pa.DataType, offset: int, length: int
) -> None:
    low = 0 if pa.types.is_unsigned_integer(arrow_type) else -50
    arr = pa.array(range(low, low + 100), arrow_type).slice(offset, length)
    got = numpy_views.values(arr)
    assert got.dtype == arr.to_numpy().dtype
    assert got.tolist() == arr.to_numpy().tolist()


@pytest.mark.parametrize(("offset", "length"), [(0, 19), (1, 7), (5, 11), (8, 8), (19, 0)])
def test_boolean_values_are_unpacked_from_any_bit_offset(offset: int, length: int) -> None:
    pattern = [i % 3 == 0 or i % 7 == 0 for i in range(19)]
    arr = pa.array(pattern).slice(offset, length)
    assert numpy_views.values(arr).tolist() == pattern[offset : offset + length]


def test_values_refuses_nulls_and_types_other_than_integers_and_booleans() -> None:
    with pytest.raises(ValueError, match="without nulls"):
        numpy_views.values(pa.array([1, None]))
    with pytest.raises(TypeError, match="integer or boolean"):
        numpy_views.values(pa.array([1.5]))


@pytest.mark.parametrize("dtype", ["int8", "int64", "uint16", "uint64", "bool"])
def test_a_numpy_array_becomes_the_arrow_array_pyarrow_would_build(dtype: str) -> None:
    values = (np.arange(-5, 15) % 4).astype(dtype)
    assert numpy_views.array(values).equals(pa.array(values))
    strided = values[::3]  # not contiguous: copied first
    assert numpy_views.array(strided).equals(pa.array(strided))


def test_array_refuses_arrays_that_are_not_one_dimensional_integers_or_booleans() -> None:
    with pytest.raises(ValueError, match="one-dimensional"):
        numpy_views.array(np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(TypeError, match="integers or booleans"):
        numpy_views.array(np.zeros(2, dtype=np.float64))
