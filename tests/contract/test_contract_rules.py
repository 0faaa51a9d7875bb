"""One test per rule of docs/json-contract.md, on the exact JSON text."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from etl_lib.contract import native
from etl_lib.contract.reference import ENCODERS, encode_array, encode_lines
from etl_lib.contract.type_families import Family, family_of
from etl_lib.errors import InvalidUtf8Error, InvalidValueError, UnsupportedTypeError
from etl_lib.options import ConvertOptions
from etl_lib.report import SCHEMAS, value_schema

DEFAULT = ConvertOptions()

# Every rule, with each encoder: the native kernel and the Arrow-kernel reference.
pytestmark = pytest.mark.usefixtures("encoder")


def texts(arr: pa.Array, **options: Any) -> list[str | None]:
    # The native encoder hands a value it refuses to the reference (tests/contract/native checks
    # that it declines nothing else).
    values = native.encode_values(arr, ConvertOptions(**options))
    return (values if values is not None else encode_array(arr, ConvertOptions(**options))).to_pylist()


def lines(table: pa.Table, **options: Any) -> list[str]:
    return encode_lines(table, ConvertOptions(**options)).to_pylist()


def test_nulls_are_kept_as_null_with_every_key_present() -> None:
    table = pa.table({"a": pa.array([None], pa.int32()), "b": pa.array([None], pa.string())})
    assert lines(table) == ['{"a":null,"b":null}\n']


def test_drop_nulls_omits_null_columns_and_struct_fields_but_not_list_or_map_nulls() -> None:
    s = pa.struct([("x", pa.int8()), ("y", pa.int8())])
    table = pa.table(
        {
            "a": pa.array([None, 1], pa.int32()),
            "s": pa.array([{"x": None, "y": 2}, None], s),
            "l": pa.array([[None, 1], None], pa.list_(pa.int8())),
            "m": pa.array([[("k", None)], None], pa.map_(pa.string(), pa.int8())),
        }
    )
    assert lines(table, drop_nulls=True) == ['{"s":{"y":2},"l":[null,1],"m":{"k":null}}\n', '{"a":1}\n']


def test_drop_nulls_writes_an_empty_object_for_an_all_null_row() -> None:
    assert lines(pa.table({"a": pa.array([None], pa.int8())}), drop_nulls=True) == ["{}\n"]


@pytest.mark.parametrize(
    ("arrow_type", "values", "expected"),
    [
        (pa.int8(), [-128, 127], ["-128", "127"]),
        (pa.uint8(), [255], ["255"]),
        (pa.int16(), [-32768], ["-32768"]),
        (pa.uint32(), [4294967295], ["4294967295"]),
        (pa.int64(), [-(2**63), 2**63 - 1], ["-9223372036854775808", "9223372036854775807"]),
        (pa.uint64(), [2**64 - 1], ["18446744073709551615"]),
    ],
)
def test_integers_of_every_width_are_exact_numbers(
    arrow_type: pa.DataType, values: list[int], expected: list[str]
) -> None:
    assert texts(pa.array(values, arrow_type)) == expected


def test_bigint_as_string_quotes_only_integers_beyond_the_safe_range() -> None:
    arr = pa.array([2**53 - 1, 2**53, -(2**53 - 1), -(2**53), None], pa.int64())
    assert texts(arr, bigint_as_string=True) == [
        "9007199254740991",
        '"9007199254740992"',
        "-9007199254740991",
        '"-9007199254740992"',
        None,
    ]
    assert texts(pa.array([2**64 - 1], pa.uint64()), bigint_as_string=True) == ['"18446744073709551615"']


def test_floats_use_the_shortest_round_trip_text_at_their_width() -> None:
    assert texts(pa.array([0.1, 1e20, 5e-324, -0.0, 100.0], pa.float64())) == ["0.1", "1e+20", "5e-324", "-0", "100"]
    assert texts(pa.array([0.1, 16777217.0], pa.float32())) == ["0.1", "16777216"]
    assert texts(pa.array([0.1], pa.float16())) == ["0.1"]


def test_nan_and_infinities_become_null_or_strings() -> None:
    arr = pa.array([float("nan"), float("inf"), float("-inf"), None, 1.5], pa.float64())
    assert texts(arr) == ["null", "null", "null", None, "1.5"]
    assert texts(arr, nan_as_string=True) == ['"NaN"', '"Infinity"', '"-Infinity"', None, "1.5"]


def test_nan_written_as_null_is_not_dropped_by_drop_nulls() -> None:
    assert lines(pa.table({"f": [float("nan")]}), drop_nulls=True) == ['{"f":null}\n']


def test_decimals_are_exact_and_never_pass_through_a_float() -> None:
    arr = pa.array([Decimal("12345678901234567890.123456789012345678"), Decimal("-0.5"), None], pa.decimal128(38, 18))
    text = texts(arr)
    assert text[0] == "12345678901234567890.123456789012345678"
    assert json.loads(text[0], parse_float=Decimal) == Decimal("12345678901234567890.123456789012345678")
    assert text[1] == "-0.500000000000000000"
    assert texts(arr, decimal_as_string=True)[:2] == [
        '"12345678901234567890.123456789012345678"',
        '"-0.500000000000000000"',
    ]
    assert texts(pa.array([Decimal("1" * 76)], pa.decimal256(76, 0))) == ["1" * 76]


def test_dates_include_ancient_and_far_years_without_rebasing() -> None:
    arr = pa.array([dt.date(1, 1, 1), dt.date(1582, 10, 4), dt.date(1582, 10, 15), dt.date(9999, 12, 31), None])
    assert texts(arr) == ['"0001-01-01"', '"1582-10-04"', '"1582-10-15"', '"9999-12-31"', None]
    assert texts(pa.array([-719_163, 2_932_897], pa.date32())) == ['"0000-12-31"', '"+10000-01-01"']


@pytest.mark.parametrize(
    ("unit", "count", "expected"),
    [
        ("s", 1, "1970-01-01T00:00:01"),
        ("ms", 1, "1970-01-01T00:00:00.001"),
        ("us", -1, "1969-12-31T23:59:59.999999"),
        ("ns", 1_700_000_000_123_456_789, "2023-11-14T22:13:20.123456789"),
    ],
)
def test_timestamps_keep_their_precision(unit: str, count: int, expected: str) -> None:
    assert texts(pa.array([count], pa.timestamp(unit))) == [f'"{expected}"']
    assert texts(pa.array([count], pa.timestamp(unit, "UTC"))) == [f'"{expected}Z"']


def test_zoned_timestamps_are_written_in_utc_whatever_their_zone() -> None:
    instant = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)
    for zone in ["America/New_York", "Asia/Kolkata", "+05:30"]:
        arr = pa.array([instant], pa.timestamp("us", "UTC")).cast(pa.timestamp("us", zone))
        assert texts(arr) == ['"2024-06-01T12:00:00.000000Z"']


def test_timestamps_beyond_year_9999_use_expanded_years() -> None:
    arr = pa.array([253_402_300_800, -62_135_596_801], pa.timestamp("s", "UTC"))
    assert texts(arr) == ['"+10000-01-01T00:00:00Z"', '"0000-12-31T23:59:59Z"']


def test_times_keep_their_precision() -> None:
    assert texts(pa.array([dt.time(1, 2, 3)], pa.time32("s"))) == ['"01:02:03"']
    assert texts(pa.array([dt.time(1, 2, 3, 4000)], pa.time32("ms"))) == ['"01:02:03.004"']
    assert texts(pa.array([dt.time(1, 2, 3, 4)], pa.time64("us"))) == ['"01:02:03.000004"']
    assert texts(pa.array([86_399_999_999_999], pa.time64("ns"))) == ['"23:59:59.999999999"']


def test_binary_is_standard_base64_and_uuid_is_canonical() -> None:
    assert texts(pa.array([b"\x00\xff\xfe", b"", None], pa.binary())) == ['"AP/+"', '""', None]
    assert texts(pa.array([b"abcd"], pa.binary(4))) == ['"YWJjZA=="']
    value = uuid.UUID("F81D4FAE-7DEC-11D0-A765-00A0C91E6BF6")
    assert texts(pa.array([value.bytes, None], pa.uuid())) == ['"f81d4fae-7dec-11d0-a765-00a0c91e6bf6"', None]


def test_nested_lists_structs_and_maps() -> None:
    point = pa.struct([("x", pa.int32()), ("tags", pa.list_(pa.string()))])
    arr = pa.array([[{"x": 1, "tags": ["a", None]}, None], [], None], pa.list_(point))
    assert texts(arr) == ['[{"x":1,"tags":["a",null]},null]', "[]", None]


def test_map_keys_are_written_as_strings() -> None:
    arr = pa.array([[(1, "a"), (-2, None)]], pa.map_(pa.int64(), pa.string()))
    assert texts(arr) == ['{"1":"a","-2":null}']
    dated = pa.array([[(dt.date(2024, 1, 2), True)]], pa.map_(pa.date32(), pa.bool_()))
    assert texts(dated) == ['{"2024-01-02":true}']


def test_strings_are_escaped_for_json_and_javascript() -> None:
    raw = ['"', "\\", "\n\r\t\b\f", "\x00\x01\x1f", "\u2028\u2029", "😀é", "plain"]
    out = texts(pa.array(raw))
    assert out == [
        '"\\""',
        '"\\\\"',
        '"\\n\\r\\t\\b\\f"',
        '"\\u0000\\u0001\\u001f"',
        '"\\u2028\\u2029"',
        '"😀é"',
        '"plain"',
    ]
    assert [json.loads(t or "") for t in out] == raw


def test_keys_are_column_names_exactly_as_stored_in_schema_order() -> None:
    names = ["z", "ID", "id", 'q"uote', "dot.ted", "spa ce", "ünï"]
    table = pa.table([pa.array([i]) for i in range(len(names))], names=names)
    (line,) = lines(table)
    assert list(json.loads(line)) == names
    assert line.startswith('{"z":0,"ID":1,"id":2,"q\\"uote":3')


def test_dictionary_columns_are_written_as_their_values() -> None:
    arr = pa.array(["a", None, "a"]).dictionary_encode()
    assert texts(arr) == ['"a"', None, '"a"']


def test_sliced_nested_arrays_encode_only_their_rows() -> None:
    arr = pa.array([[1], [2, 3], [4]], pa.list_(pa.int8())).slice(1, 2)
    assert texts(arr) == ["[2,3]", "[4]"]
    s = pa.array([{"a": 1}, {"a": 2}], pa.struct([("a", pa.int8())])).slice(1)
    assert texts(s) == ['{"a":2}']


def test_a_time_of_exactly_24_hours_is_the_iso_end_of_day() -> None:
    assert texts(pa.array([86_400_000], pa.time32("ms"))) == ['"24:00:00.000"']
    assert texts(pa.array([86_400], pa.time32("s"))) == ['"24:00:00"']
    assert texts(pa.array([86_400 * 10**9], pa.time64("ns"))) == ['"24:00:00.000000000"']


@pytest.mark.parametrize("raw", [-1, 86_400_000_001, 345_601_000_000])
def test_a_time_outside_0_to_24_hours_is_refused_naming_column_row_and_raw_value(raw: int) -> None:
    table = pa.table({"id": [1, 2], "t": pa.array([0, raw], pa.time64("us"))})
    with pytest.raises(InvalidValueError) as error:
        lines(table)
    assert error.value.code == "INVALID_VALUE"
    assert error.value.column == "t" and error.value.row == 1
    assert str(raw) in error.value.message and "\n" not in error.value.message


def test_a_time_outside_the_day_inside_a_list_names_the_record_row() -> None:
    times = pa.ListArray.from_arrays(pa.array([0, 1, 1, 4]), pa.array([0, 1, 2, -5], pa.int32()).cast(pa.time32("s")))
    with pytest.raises(InvalidValueError) as error:
        lines(pa.table({"s": pa.StructArray.from_arrays([times], ["times"])}))
    assert error.value.column == "s.times[]" and error.value.row == 2


def _invalid_utf8(values: list[bytes | None]) -> pa.Array:
    """A string array holding raw bytes, as Arrow's Parquet reader returns them."""
    binary = pa.array(values, pa.binary())
    return pa.Array.from_buffers(pa.string(), len(binary), binary.buffers(), null_count=binary.null_count)


def test_invalid_utf8_is_refused_naming_the_column_and_first_bad_row() -> None:
    table = pa.table({"ok": ["a", "b", "c", "d"], "name": _invalid_utf8([b"fine", None, b"\xff\xfe", b"\xc3"])})
    with pytest.raises(InvalidUtf8Error) as error:
        lines(table)
    assert error.value.code == "INVALID_UTF8"
    assert (error.value.column, error.value.row) == ("name", 2)


def test_invalid_utf8_in_a_dictionary_or_map_key_is_found_by_its_record_row() -> None:
    dictionary = pa.DictionaryArray.from_arrays(pa.array([0, 0, 1]), _invalid_utf8([b"ok", b"\x80"]))
    with pytest.raises(InvalidUtf8Error) as error:
        lines(pa.table({"d": dictionary}))
    assert error.value.row == 2
    keys = _invalid_utf8([b"a", b"b", b"\xfe"])
    maps = pa.MapArray.from_arrays(pa.array([0, 1, 1, 3]), keys, pa.array([1, 2, 3]))
    with pytest.raises(InvalidUtf8Error) as error:
        lines(pa.table({"m": maps}))
    assert (error.value.column, error.value.row) == ("m.key", 2)


def test_a_struct_with_no_fields_is_an_empty_object_and_null_when_null() -> None:
    empty = pa.StructArray.from_buffers(pa.struct([]), 2, [pa.py_buffer(bytes([0b01]))], null_count=1)
    table = pa.table({"e": empty, "n": [1, 2]})
    assert lines(table) == ['{"e":{},"n":1}\n', '{"e":null,"n":2}\n']
    assert lines(table, drop_nulls=True) == ['{"e":{},"n":1}\n', '{"n":2}\n']


# Each type family, one sample type: every walker of Arrow types must have a rule for it.
FAMILY_SAMPLES = {
    Family.EXTENSION: pa.uuid(),
    Family.DICTIONARY: pa.dictionary(pa.int8(), pa.string()),
    Family.NULL: pa.null(),
    Family.BOOLEAN: pa.bool_(),
    Family.INTEGER: pa.int64(),
    Family.FLOAT: pa.float16(),
    Family.DECIMAL: pa.decimal128(5, 2),
    Family.STRING: pa.string_view(),
    Family.BINARY: pa.binary(3),
    Family.DATE: pa.date64(),
    Family.TIMESTAMP: pa.timestamp("ns"),
    Family.TIME: pa.time64("us"),
    Family.DURATION: pa.duration("ms"),
    Family.MAP: pa.map_(pa.string(), pa.int8()),
    Family.LIST: pa.list_view(pa.int8()),
    Family.STRUCT: pa.struct([]),
}


def test_every_type_family_has_exactly_one_encoder_and_one_schema_rule() -> None:
    assert set(FAMILY_SAMPLES) == set(Family) == set(ENCODERS) == set(SCHEMAS)
    for family, sample in FAMILY_SAMPLES.items():
        assert family_of(sample) is family
        assert encode_array(pa.array([None], sample), DEFAULT).to_pylist() == [None]
        assert value_schema(sample, DEFAULT)


@pytest.mark.parametrize(
    "unknown",
    [
        pa.array([(1, 2, 3)], pa.month_day_nano_interval()),
        pa.UnionArray.from_sparse(pa.array([0], pa.int8()), [pa.array([1], pa.int8())]),
        pa.RunEndEncodedArray.from_arrays([1], pa.array([1], pa.int8())),
    ],
    ids=lambda arr: str(arr.type),
)
def test_a_type_outside_every_family_is_refused_alike_by_the_encoder_and_the_schema(unknown: pa.Array) -> None:
    with pytest.raises(UnsupportedTypeError):
        encode_array(unknown, DEFAULT)
    with pytest.raises(UnsupportedTypeError):
        value_schema(unknown.type, DEFAULT)
    with pytest.raises(UnsupportedTypeError):
        value_schema(pa.struct([("inner", pa.list_(unknown.type))]), DEFAULT)
