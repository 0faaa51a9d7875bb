"""The native string writer scans text in blocks (16 and 8 bytes, the last block of a string
read so that it ends at the string's end): every length around those block sizes, with a
character that needs care at every position, is written exactly as the reference writes it,
and invalid UTF-8 at every position is refused."""

from __future__ import annotations

import pyarrow as pa
import pytest

from etl_lib.contract import native, reference
from etl_lib.options import ConvertOptions

PLAIN = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ"
CARE = ['"', "\\", "\n", "\x01", "\x1f", "\x7f", "é", "€", "😀", "\u2028", "\u2029", "/"]
LENGTHS = range(41)


def _texts() -> list[str]:
    texts = [PLAIN[:n] for n in LENGTHS]
    for n in LENGTHS:
        for ch in CARE:
            texts.extend(PLAIN[:pos] + ch + PLAIN[pos:n] for pos in range(n + 1))
            texts.append(ch * n)
    return texts


@pytest.mark.parametrize("offset", [0, 1, 7])
def test_every_length_with_a_character_that_needs_care_anywhere_is_written_as_the_reference_writes_it(
    offset: int,
) -> None:
    arr = pa.array(["x"] * offset + _texts(), pa.string()).slice(offset)
    for column in (arr, arr.cast(pa.large_string()), arr.cast(pa.string_view())):
        got = native.encode_values(column, ConvertOptions())
        assert got is not None
        want = reference.encode_array(column, ConvertOptions())
        mismatched = [
            (t, g, w) for t, g, w in zip(column.to_pylist(), got.to_pylist(), want.to_pylist(), strict=True) if g != w
        ]
        assert not mismatched, mismatched[:3]


def test_invalid_utf8_at_every_position_of_every_length_is_refused() -> None:
    for n in LENGTHS:
        for pos in range(n + 1):
            for bad in (b"\xff", b"\xe2\x80", b"\xed\xa0\x80"):
                data = PLAIN[:pos].encode() + bad + PLAIN[pos:n].encode()
                arr = pa.Array.from_buffers(
                    pa.string(),
                    1,
                    [None, pa.py_buffer(pa.array([0, len(data)], pa.int32()).buffers()[1]), pa.py_buffer(data)],
                )
                assert native.encode_values(arr, ConvertOptions()) is None, data
