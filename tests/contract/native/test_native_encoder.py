"""The native encoder writes exactly the bytes of the reference path (etl_lib.contract.reference's Arrow
kernels), on every Arrow type the contract covers, every option, random tables and the
Apache corpus; and it refuses what the reference refuses."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl_lib.contract import native, reference
from etl_lib.errors import ConversionError, UnsupportedTypeError
from etl_lib.input.int96 import IsoTimestampType
from etl_lib.input.planning import open_input, read_slice
from etl_lib.options import ConvertOptions
from tests.conftest import CORPUS, needs_corpus

ALL_OPTIONS = [
    ConvertOptions(),
    ConvertOptions(drop_nulls=True),
    ConvertOptions(bigint_as_string=True, decimal_as_string=True, nan_as_string=True),
    ConvertOptions(drop_nulls=True, bigint_as_string=True, decimal_as_string=True, nan_as_string=True),
]


def _flags_id(opts: ConvertOptions) -> str:
    flags = {k: v for k, v in opts.to_dict().items() if k not in ("format", "compression")}
    return json.dumps(flags, separators=(",", ":"))


@pytest.fixture(autouse=True)
def _native_available() -> None:
    assert native.load_error() is None, native.load_error()


def reference_lines(batch: pa.RecordBatch | pa.Table, opts: ConvertOptions, terminator: str = "\n") -> pa.Array:
    fragments = [reference.encode_array(column, opts) for column in batch.columns]
    return reference.encode_object(batch.schema.names, fragments, opts, length=batch.num_rows, suffix=terminator)


def native_lines(batch: pa.RecordBatch | pa.Table, opts: ConvertOptions, terminator: str = "\n") -> pa.Array:
    lines = native.encode_lines(batch, opts, terminator)
    assert lines is not None, f"the native encoder declined {batch.schema}"
    return lines


def assert_identical(batch: pa.RecordBatch | pa.Table, opts: ConvertOptions, terminator: str = "\n") -> None:
    expected = reference_lines(batch, opts, terminator).to_pylist()
    actual = native_lines(batch, opts, terminator).to_pylist()
    for row, (want, got) in enumerate(zip(expected, actual, strict=True)):
        assert got == want, f"row {row}: native {got!r} != reference {want!r}"
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        values = native.encode_values(column, opts)
        assert values is not None
        assert values.to_pylist() == reference.encode_array(column, opts).to_pylist(), name


# --- every type ---------------------------------------------------------------------------


def _every_type_table() -> pa.Table:
    point = pa.struct([("x", pa.int32()), ("tags", pa.list_(pa.string()))])
    ints = [None, 0, 1, -1]
    columns: dict[str, pa.Array] = {
        "null": pa.nulls(4),
        "bool": pa.array([True, None, False, True]),
        "i8": pa.array([-128, 127, None, 0], pa.int8()),
        "u8": pa.array([255, 0, None, 1], pa.uint8()),
        "i16": pa.array([-32768, 32767, None, 5], pa.int16()),
        "u16": pa.array([65535, 0, None, 7], pa.uint16()),
        "i32": pa.array([-(2**31), 2**31 - 1, None, 0], pa.int32()),
        "u32": pa.array([2**32 - 1, 0, None, 3], pa.uint32()),
        "i64": pa.array([-(2**63), 2**63 - 1, 2**53, -(2**53 - 1)], pa.int64()),
        "u64": pa.array([2**64 - 1, 2**53 - 1, 2**53, None], pa.uint64()),
        "f16": pa.array(np.array([0.1, np.nan, -np.inf, 65504.0], np.float16)),
        "f32": pa.array([0.1, float("nan"), float("inf"), 16777217.0], pa.float32()),
        "f64": pa.array([5e-324, -0.0, float("-inf"), 1e21]),
        "d32": pa.array([Decimal("1.50"), Decimal("-0.01"), None, Decimal("0")], pa.decimal32(5, 2)),
        "d64": pa.array([Decimal("123456789.123"), None, Decimal("-1"), Decimal("0")], pa.decimal64(18, 3)),
        "d128": pa.array(
            [Decimal("12345678901234567890.123456789012345678"), Decimal("-0.5"), None, Decimal("1E-18")],
            pa.decimal128(38, 18),
        ),
        "d128_tiny": pa.array([Decimal("1E-30"), Decimal("0"), Decimal("-1.5E-28"), None], pa.decimal128(38, 30)),
        "d128_neg_scale": pa.array([Decimal("1E+3"), Decimal("12E+3"), Decimal("0"), None], pa.decimal128(5, -3)),
        "d256": pa.array(
            [Decimal("9" * 70), Decimal("-" + "1" * 69 + ".123456"), None, Decimal("0.000001")], pa.decimal256(76, 6)
        ),
        "string": pa.array(['"\\\n\r\t\b\f', "\x00\x01\x1f\x7f", "\u2028\u2029😀é", None]),
        "large_string": pa.array(["a", None, "ü\u2028", ""], pa.large_string()),
        "string_view": pa.array(["short", "a string longer than twelve bytes \n", None, ""], pa.string_view()),
        "binary": pa.array([b"\x00\xff\xfe", b"", None, b"abcd"], pa.binary()),
        "large_binary": pa.array([b"ab", None, b"abc", b""], pa.large_binary()),
        "binary_view": pa.array([b"x" * 20, b"y", None, b""], pa.binary_view()),
        "fixed": pa.array([b"abcd", None, b"\x00\x00\x00\x00", b"\xff" * 4], pa.binary(4)),
        "uuid": pa.array([uuid.UUID(int=i * 2**100 + i).bytes if i else None for i in range(4)], pa.uuid()),
        "date32": pa.array([-719_163, 2_932_897, None, 0], pa.date32()),
        "date64": pa.array([-86_400_001, 0, None, 253_402_300_800_000], pa.date64()),
        "ts_s": pa.array([253_402_300_800, -62_135_596_801, None, -(2**62)], pa.timestamp("s", "UTC")),
        "ts_ms": pa.array([1, -1, None, 2**62], pa.timestamp("ms")),
        "ts_us": pa.array([-1, 0, None, 1_700_000_000_123_456], pa.timestamp("us", "Asia/Kolkata")),
        "ts_ns": pa.array([-(2**63) + 1, 2**63 - 1, None, 1_700_000_000_123_456_789], pa.timestamp("ns")),
        "time32s": pa.array([0, 86_399, None, 86_400], pa.time32("s")),
        "time32ms": pa.array([4, 86_399_999, None, 0], pa.time32("ms")),
        "time64us": pa.array([4, 86_399_999_999, None, 86_400_000_000], pa.time64("us")),
        "time64ns": pa.array([86_399_999_999_999, 0, None, 1], pa.time64("ns")),
        "duration": pa.array([1500, -1, None, 2**63 - 1], pa.duration("ms")),
        "list": pa.array([[1, None], [], None, [2]], pa.list_(pa.int8())),
        "large_list": pa.array([["a"], None, [], [None]], pa.large_list(pa.string())),
        "fixed_list": pa.array([[1, 2], None, [None, 3], [4, 5]], pa.list_(pa.int16(), 2)),
        "nested": pa.array(
            [[{"x": 1, "tags": ["a", None]}, None], [], None, [{"x": None, "tags": None}]], pa.list_(point)
        ),
        "struct": pa.array([{"x": 1, "tags": []}, None, {"x": None, "tags": ['q"uote']}, {}], point),
        "empty_struct": pa.array([{}, None, {}, {}], pa.struct([])),
        "map_str": pa.array([[("k", None), ("é", 1)], None, [], [("", 2)]], pa.map_(pa.string(), pa.int64())),
        "map_int": pa.array([[(1, "a"), (-2, None)], None, [], [(3, "c")]], pa.map_(pa.int64(), pa.string())),
        "map_date": pa.array([[(dt.date(2024, 1, 2), True)], None, [], []], pa.map_(pa.date32(), pa.bool_())),
        "map_float": pa.array([[(float("nan"), 1), (0.5, 2)], None, [], []], pa.map_(pa.float64(), pa.int8())),
        "map_struct_key": pa.array(
            [[({"a": 'q"'}, 1)], None, [], []], pa.map_(pa.struct([("a", pa.string())]), pa.int8())
        ),
        "map_bigint": pa.array([[(2**60, 1)], None, [], []], pa.map_(pa.int64(), pa.int8())),
        "dict": pa.array(["a", None, "a", "b\n"]).dictionary_encode(),
        "dict_ints": pa.DictionaryArray.from_arrays(pa.array([0, 1, None, 1], pa.int8()), pa.array([None, 7])),
        "iso": pa.ExtensionArray.from_storage(
            IsoTimestampType(), pa.array(["+290000-01-01T00:00:00.000000000Z", None, "2024-01-01T00:00:00Z", "x"])
        ),
        "json": pa.array(['{"a": 1}', None, "[]", "1"], pa.json_()),
        "ints": pa.array(ints, pa.int32()),
        "uuid_list": pa.ListArray.from_arrays(
            pa.array([0, 2, 2, 2, 3], pa.int32()),
            pa.array([uuid.UUID(int=7).bytes, None, uuid.uuid5(uuid.NAMESPACE_DNS, "x").bytes], pa.uuid()),
            mask=pa.array([False, False, True, False]),
        ),
    }
    return pa.table(columns)


@pytest.mark.parametrize("opts", ALL_OPTIONS, ids=_flags_id)
def test_every_arrow_type_is_written_exactly_as_the_reference_writes_it(opts: ConvertOptions) -> None:
    table = _every_type_table()
    assert_identical(table, opts)
    assert_identical(table, opts, terminator=",\n")
    assert_identical(table, opts, terminator="")


def test_list_views_are_written_as_the_lists_of_the_same_values() -> None:
    # Compared with lists: the reference path cannot cast list views with nulls (pyarrow 25).
    values = [[1.5], None, [], [2.5, None]]
    pairs = [
        (pa.list_view(pa.float64()), pa.list_(pa.float64())),
        (pa.large_list_view(pa.float64()), pa.large_list(pa.float64())),
    ]
    for view, plain in pairs:
        got = native.encode_values(pa.array(values, view), ConvertOptions())
        assert got is not None
        assert got.to_pylist() == reference.encode_array(pa.array(values, plain), ConvertOptions()).to_pylist()
        assert got.to_pylist() == ["[1.5]", None, "[]", "[2.5,null]"]


def test_sliced_batches_and_arrays_encode_only_their_rows() -> None:
    table = _every_type_table()
    batch = table.combine_chunks().to_batches()[0]
    for start in range(4):
        for length in range(4 - start + 1):
            assert_identical(batch.slice(start, length), ConvertOptions())
            assert_identical(batch.slice(start, length), ConvertOptions(drop_nulls=True))


def test_a_struct_column_sliced_inside_its_parent_uses_the_parent_offset() -> None:
    inner = pa.array([{"a": i, "b": str(i)} for i in range(10)], pa.struct([("a", pa.int8()), ("b", pa.string())]))
    outer = pa.StructArray.from_arrays([inner.slice(3, 5)], names=["s"])
    assert_identical(pa.table({"o": outer.slice(1, 3)}), ConvertOptions())


def test_every_float16_value_is_written_as_numpy_prints_it() -> None:
    values = pa.array(np.arange(65536, dtype=np.uint16).view(np.float16))
    assert_identical(pa.table({"h": values}), ConvertOptions())
    assert_identical(pa.table({"h": values}), ConvertOptions(nan_as_string=True))


@pytest.mark.parametrize(("width", "dtype"), [(64, np.uint64), (32, np.uint32)])
def test_random_float_bit_patterns_print_the_shortest_text_that_round_trips(width: int, dtype: type) -> None:
    rng = np.random.default_rng(width)
    bits: np.ndarray = rng.integers(0, 2**width, 300_000, dtype=dtype, endpoint=False)
    floats = bits.view(np.float64 if width == 64 else np.float32)
    specials = np.array([2.0**e for e in range(-160, 128)] + [10.0**e for e in range(-44, 38)])
    arr = pa.array(np.concatenate([floats, specials.astype(floats.dtype), np.arange(-2000, 2000, dtype=floats.dtype)]))
    texts = native.encode_values(arr, ConvertOptions())
    assert texts is not None
    assert texts.equals(reference.encode_array(arr, ConvertOptions()))
    finite = pc.is_finite(arr).to_numpy(zero_copy_only=False)
    parsed = np.array([float(t) for t, ok in zip(texts.to_pylist(), finite, strict=True) if ok], floats.dtype)
    assert np.array_equal(parsed.view(dtype), arr.to_numpy()[finite].view(dtype))  # reads back bit for bit


def test_an_empty_batch_and_a_batch_without_columns() -> None:
    assert native_lines(pa.table({"a": pa.array([], pa.int8())}), ConvertOptions()).to_pylist() == []
    no_columns = pa.RecordBatch.from_struct_array(pa.array([{}, {}], pa.struct([])))
    assert native_lines(no_columns, ConvertOptions()).to_pylist() == ["{}\n", "{}\n"]


# --- random tables ------------------------------------------------------------------------

LEAVES: list[tuple[pa.DataType, st.SearchStrategy[Any]]] = [
    (pa.bool_(), st.booleans()),
    (pa.int8(), st.integers(-(2**7), 2**7 - 1)),
    (pa.uint32(), st.integers(0, 2**32 - 1)),
    (pa.int64(), st.integers(-(2**63), 2**63 - 1)),
    (pa.uint64(), st.integers(0, 2**64 - 1)),
    (pa.float16(), st.floats(width=16).map(np.float16)),
    (pa.float32(), st.floats(width=32)),
    (pa.float64(), st.floats()),
    (pa.string(), st.text()),
    (pa.large_string(), st.text(max_size=15)),
    (pa.binary(), st.binary(max_size=20)),
    (pa.binary(3), st.binary(min_size=3, max_size=3)),
    (pa.date32(), st.integers(-(2**31), 2**31 - 1)),
    (pa.timestamp("s", "UTC"), st.integers(-(2**63), 2**63 - 1)),
    (pa.timestamp("ms"), st.integers(-(2**63), 2**63 - 1)),
    (pa.timestamp("us", "Europe/Paris"), st.integers(-(2**63), 2**63 - 1)),
    (pa.timestamp("ns"), st.integers(-(2**63), 2**63 - 1)),
    (pa.time64("ns"), st.integers(0, 86_400 * 10**9)),
    (pa.time32("ms"), st.integers(0, 86_400_000)),
    (pa.duration("us"), st.integers(-(2**63), 2**63 - 1)),
    (
        pa.decimal128(38, 10),
        st.decimals(allow_nan=False, allow_infinity=False, places=10).filter(lambda d: abs(d) < 10**27),
    ),
    (pa.decimal256(60, 0), st.integers(-(10**59), 10**59).map(Decimal)),
    (pa.decimal128(10, -2), st.integers(-(10**9), 10**9).map(lambda i: Decimal(i).scaleb(2))),
]


def _extend(children: st.SearchStrategy[tuple[pa.DataType, st.SearchStrategy[Any]]]) -> st.SearchStrategy[Any]:
    def as_list(child: tuple[pa.DataType, st.SearchStrategy[Any]], kind: int) -> tuple[pa.DataType, Any]:
        t, values = child
        if kind == 2:
            return pa.list_(t, 2), st.lists(st.one_of(st.none(), values), min_size=2, max_size=2)
        return (pa.list_(t) if kind == 0 else pa.large_list(t)), st.lists(st.one_of(st.none(), values), max_size=3)

    def as_struct(fields: list[tuple[pa.DataType, st.SearchStrategy[Any]]]) -> tuple[pa.DataType, Any]:
        names = [f"f\n{i}" if i == 1 else f"f{i}" for i in range(len(fields))]
        t = pa.struct([(n, f[0]) for n, f in zip(names, fields, strict=True)])
        return t, st.fixed_dictionaries({n: st.one_of(st.none(), f[1]) for n, f in zip(names, fields, strict=True)})

    def as_map(key: tuple[pa.DataType, Any], value: tuple[pa.DataType, Any]) -> tuple[pa.DataType, Any]:
        entries = st.dictionaries(key[1], st.one_of(st.none(), value[1]), max_size=3).map(lambda d: list(d.items()))
        return pa.map_(key[0], value[0]), entries

    keys = st.sampled_from(
        [
            (pa.string(), st.text(max_size=4)),
            (pa.int64(), st.integers(-(2**63), 2**63 - 1)),
            (pa.float64(), st.floats()),
        ]
    )
    return st.one_of(
        st.builds(as_list, children, st.integers(0, 2)),
        st.lists(children, min_size=0, max_size=3).map(as_struct),
        st.builds(as_map, keys, children),
    )


TYPES = st.recursive(st.sampled_from(LEAVES), _extend, max_leaves=6)


@st.composite
def tables(draw: st.DrawFn) -> pa.Table:
    columns = draw(st.lists(TYPES, min_size=0, max_size=5))
    rows = draw(st.integers(0, 6))
    arrays = []
    for t, values in columns:
        data = draw(st.lists(st.one_of(st.none(), values), min_size=rows, max_size=rows))
        arr = pa.array(data, t)
        if draw(st.booleans()) and pa.types.is_string(t):
            arr = arr.dictionary_encode()
        arrays.append(arr)
    if not arrays:
        return pa.table({"only": pa.nulls(rows)})
    return pa.table(arrays, names=[f"c{i}" if i % 2 else f'ç"{i}' for i in range(len(arrays))])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=tables(), opts=st.sampled_from(ALL_OPTIONS), cut=st.integers(0, 3))
def test_random_nested_tables_are_written_exactly_as_the_reference_writes_them(
    table: pa.Table, opts: ConvertOptions, cut: int
) -> None:
    batch = pa.RecordBatch.from_arrays([c.combine_chunks() for c in table.columns], schema=table.schema)
    assert_identical(batch, opts)
    assert_identical(batch.slice(min(cut, batch.num_rows)), opts)


# --- the corpus ---------------------------------------------------------------------------


def _corpus_batches() -> list[tuple[str, list[pa.RecordBatch]]]:
    if not CORPUS.is_dir():
        return []
    files = [p for p in sorted((CORPUS / "data").rglob("*")) if p.is_file()]
    out = []
    for path in files:
        if path.name == "large_string_map.brotli.parquet":
            continue  # 2 GiB of text: tests/contract/test_conformance.py converts it with each encoder
        try:
            source = open_input(str(path))
            out.append((path.name, [b for piece in source.plan() for b in read_slice(piece)]))
        except ConversionError:
            continue
    return out


@needs_corpus()
def test_every_readable_corpus_file_is_written_exactly_as_the_reference_writes_it() -> None:
    checked = 0
    for name, batches in _corpus_batches():
        for batch in batches:
            for opts in ALL_OPTIONS:
                try:
                    expected = reference_lines(batch, opts)
                except ConversionError as exc:
                    refusal = exc.code
                else:
                    assert native_lines(batch, opts).equals(expected), name
                    checked += 1
                    continue
                with pytest.raises(ConversionError) as raised:
                    native_lines(batch, opts)
                assert raised.value.code == refusal, name
    assert checked > 400  # the corpus really was read


# --- refusals, fallback, threads ----------------------------------------------------------


def _invalid_utf8(texts: list[bytes | None]) -> pa.Array:
    binary = pa.array(texts, pa.binary())
    return pa.Array.from_buffers(pa.string(), len(binary), binary.buffers(), null_count=binary.null_count)


# The contract's refusals (invalid UTF-8, a TIME outside the day) are the reference path's:
# the kernel finds the bad value while writing and hands the batch over, so the error, its
# code and its message are the reference's own.
REFERENCE_REFUSES = pytest.mark.skipif(
    not hasattr(reference, "check_batch"), reason="this reference path does not refuse bad values yet"
)


@pytest.mark.parametrize(
    "bad", [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"ok\xe2\x80", b"\x80"], ids=repr
)
def test_text_that_is_not_utf8_is_found_by_the_kernel_and_refused_by_the_reference(
    bad: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = pa.table(
        {
            "fine": [1, 2, 3],
            "text": _invalid_utf8([b"a", None, bad]),
            "nested": pa.array([[("k", "v")]] * 3, pa.map_(pa.string(), pa.string())),
        }
    )
    assert native.encode_lines(table, ConvertOptions(), "\n") is None
    assert native.encode_lines(table.drop_columns(["text"]), ConvertOptions(), "\n") is not None
    nested = pa.table({"l": pa.ListArray.from_arrays(pa.array([0, 1, 2], pa.int32()), _invalid_utf8([b"a", bad]))})
    assert native.encode_lines(nested, ConvertOptions(), "\n") is None
    if hasattr(reference, "check_batch"):
        monkeypatch.setenv(native.ENCODER_ENV, native.NATIVE)
        with pytest.raises(ConversionError) as raised:
            reference.encode_lines(table, ConvertOptions())
        assert raised.value.code == "INVALID_UTF8"
        assert "text" in raised.value.message and "row 2" in raised.value.message


@REFERENCE_REFUSES
def test_the_refusal_names_what_the_reference_names(monkeypatch: pytest.MonkeyPatch) -> None:
    table = pa.table({"late": _invalid_utf8([b"a", b"\xff"]), "early": _invalid_utf8([b"\xff", b"a"])})
    monkeypatch.setenv(native.ENCODER_ENV, native.REFERENCE)
    with pytest.raises(ConversionError) as expected:
        reference.encode_lines(table, ConvertOptions())
    monkeypatch.setenv(native.ENCODER_ENV, native.NATIVE)
    with pytest.raises(ConversionError) as actual:
        reference.encode_lines(table, ConvertOptions())
    assert (actual.value.code, actual.value.message) == (expected.value.code, expected.value.message)


@pytest.mark.parametrize(("unit", "value"), [("s", -1), ("ms", 86_400_001), ("us", 86_400_000_001), ("ns", -5)])
def test_a_time_outside_the_day_is_refused_and_24_hours_exactly_is_written(
    unit: str, value: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    time_type = pa.time32(unit) if unit in ("s", "ms") else pa.time64(unit)
    bad = pa.table({"t": pa.array([0, value], time_type)})
    assert native.encode_lines(bad, ConvertOptions(), "\n") is None
    if hasattr(reference, "check_batch"):
        monkeypatch.setenv(native.ENCODER_ENV, native.NATIVE)
        with pytest.raises(ConversionError) as raised:
            reference.encode_lines(bad, ConvertOptions())
        assert raised.value.code == "INVALID_VALUE"
    day = 86_400 * {"s": 1, "ms": 1000, "us": 10**6, "ns": 10**9}[unit]
    fraction = {"s": "", "ms": ".000", "us": ".000000", "ns": ".000000000"}[unit]
    lines = native_lines(pa.table({"t": pa.array([day], time_type)}), ConvertOptions())
    assert lines.to_pylist() == [f'{{"t":"24:00:00{fraction}"}}\n']


def test_a_type_the_kernel_does_not_know_goes_to_the_reference_which_refuses_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(native.ENCODER_ENV, native.NATIVE)
    union = pa.UnionArray.from_sparse(pa.array([0, 1], pa.int8()), [pa.array([1, 2]), pa.array(["a", "b"])])
    table = pa.table({"u": union})
    assert native.encode_lines(table, ConvertOptions(), "\n") is None
    with pytest.raises(UnsupportedTypeError):
        reference.encode_lines(table, ConvertOptions())


def test_the_reference_path_can_be_forced_and_says_so_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    table = pa.table({"a": [1]})
    native._module.cache_clear()
    with caplog.at_level(logging.INFO, logger="etl_lib.contract.native"):
        monkeypatch.setenv(native.ENCODER_ENV, native.REFERENCE)
        assert native.selected() == native.REFERENCE
        assert native.encode_lines(table, ConvertOptions(), "\n") is None
        assert reference.encode_lines(table, ConvertOptions()).to_pylist() == ['{"a":1}\n']
        monkeypatch.setenv(native.ENCODER_ENV, native.NATIVE)
        assert native.selected() == native.NATIVE
        assert reference.encode_lines(table, ConvertOptions()).to_pylist() == ['{"a":1}\n']
        reference.encode_lines(table, ConvertOptions())
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert messages[0].startswith("JSON encoder: reference (Arrow kernels), forced by ETL_ENCODER=reference")
    assert messages[1].startswith("JSON encoder: native (")


def test_threads_encode_at_once_with_the_same_results() -> None:
    # The kernel runs without the GIL: concurrent batches must not share any state.
    table = _every_type_table()
    batch = pa.concat_tables([table] * 200).combine_chunks().to_batches()[0]
    expected = reference_lines(batch, ConvertOptions()).to_pylist()
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                results.append(native_lines(batch, ConvertOptions()).to_pylist())
        except BaseException as exc:  # re-raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert len(results) == 20 and all(r == expected for r in results)


def test_written_batches_give_their_buffers_back_for_reuse_until_a_conversion_ends(tmp_path: Path) -> None:
    from etl_lib.conversion import convert

    native.release_buffers()
    batch = pa.concat_tables([_every_type_table()] * 50).combine_chunks().to_batches()[0]
    first = native_lines(batch, ConvertOptions())
    size = len(first.buffers()[2])
    del first  # the written batch's buffer goes back to the pool...
    again = native_lines(batch, ConvertOptions())  # ...and the next batch takes it
    assert native.release_buffers() == 0
    del again
    assert native.release_buffers() >= size
    assert native.release_buffers() == 0
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": range(5000), "s": [f"row {i}" for i in range(5000)]}), src)
    convert(str(src), str(tmp_path / "out.jsonl"), engine="local")
    assert native.release_buffers() == 0  # a conversion empties the pool when it ends
    assert (tmp_path / "out.jsonl").read_text().count("\n") == 5000


def test_output_past_2_gib_comes_back_as_a_large_string_the_writer_reads(tmp_path: Path) -> None:
    from etl_lib.output.writer import _line_bytes

    lines = pa.array(["{}\n", '{"a":1}\n'], pa.large_string())
    assert _line_bytes(lines.slice(1)).to_pybytes() == b'{"a":1}\n'


@pytest.mark.spark
def test_spark_executors_encode_with_the_native_encoder(spark: Any) -> None:
    # The Spark engine's tasks call reference.encode_lines in Python workers: they must load
    # the native encoder there too (same install, same environment).
    def which(batches: Any) -> Any:
        from etl_lib.contract import native as worker_native

        for _ in batches:
            yield pa.RecordBatch.from_pydict({"encoder": [worker_native.selected()]})

    rows = spark.range(2, numPartitions=2).mapInArrow(which, "encoder string").collect()
    assert {row.encoder for row in rows} == {native.NATIVE}


def test_a_dictionary_index_outside_its_dictionary_is_left_to_the_reference() -> None:
    # Arrow does not validate arrays built from buffers: the kernel must not read past the
    # dictionary, so it declines the batch.
    indices = pa.array([0, 5], pa.int8())
    broken = pa.DictionaryArray.from_buffers(
        pa.dictionary(pa.int8(), pa.string()), 2, indices.buffers(), pa.array(["a", "b"])
    )
    assert native.encode_lines(pa.table({"d": broken}), ConvertOptions(), "\n") is None
    assert native_lines(pa.table({"d": broken.slice(0, 1)}), ConvertOptions()).to_pylist() == ['{"d":"a"}\n']
