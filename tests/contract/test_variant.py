"""VARIANT columns become the JSON value they hold (etl_lib.contract.variant).

- parquet-testing's ``shredded_variant`` cases, through every engine: each readable case
  equals its ``.variant.bin`` (unshredded metadata and value) rendered by the contract, and
  each error case is refused with INVALID_VALUE naming the column and the row;
- parquet-testing's ``variant`` primitives, each on its exact contract text;
- Spark's own ``parse_json`` output, unshredded and shredded, written here by the pinned
  pyspark, reads back as the JSON it was parsed from;
- the rules the contract gives every primitive (options, NaN, refusals), on arrays built here.
"""

from __future__ import annotations

import json
import random
import re
import struct
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from etl_lib.contract import native
from etl_lib.contract.reference import encode_lines
from etl_lib.contract.variant import JsonTextType, VariantType, float_text, render_binary, to_json
from etl_lib.conversion import Engine, convert
from etl_lib.errors import InvalidUtf8Error, InvalidValueError
from etl_lib.input.planning import open_input
from etl_lib.options import ConvertOptions
from etl_lib.report import json_schema
from tests.conftest import CORPUS, Converter
from tests.contract_oracle import parse_json

SHREDDED = CORPUS / "shredded_variant"
PRIMITIVES = CORPUS / "variant"
DEFAULT = ConvertOptions()


def _cases() -> list[dict[str, Any]]:
    if not (SHREDDED / "cases.json").is_file():
        return []
    return [case for case in json.loads((SHREDDED / "cases.json").read_text()) if "parquet_file" in case]


CASES = _cases()
READABLE = [case for case in CASES if "error_message" not in case]
ERRORS = [case for case in CASES if "error_message" in case]


def _case_id(case: dict[str, Any]) -> str:
    return f"{case['case_number']:03d}-{case['test']}"


def _split_variant_file(raw: bytes) -> tuple[bytes, bytes]:
    """A ``.variant.bin`` is the metadata then the value: the metadata's length is in its header."""
    size = (raw[0] >> 6) + 1
    count = int.from_bytes(raw[1 : 1 + size], "little")
    last_offset = int.from_bytes(raw[1 + size * (count + 1) : 1 + size * (count + 2)], "little")
    end = 1 + size * (count + 2) + last_offset
    return raw[:end], raw[end:]


def _expected_variant(name: str | None) -> Any:
    if name is None:
        return None
    metadata, value = _split_variant_file((SHREDDED / name).read_bytes())
    return parse_json(render_binary(metadata, value, DEFAULT))


needs_corpus = pytest.mark.skipif(not CASES, reason=f"shredded_variant corpus not found at {SHREDDED}")


@needs_corpus
def test_the_corpus_holds_the_138_cases_and_6_error_cases() -> None:
    assert len(json.loads((SHREDDED / "cases.json").read_text())) == 138
    assert len(ERRORS) == 6


@needs_corpus
@pytest.mark.parametrize("case", READABLE, ids=_case_id)
def test_each_shredded_variant_case_reads_as_its_unshredded_value(case: dict[str, Any], run_convert: Converter) -> None:
    # The INVALID-marked cases (a field both shredded and in the value, optional field
    # groups) may be refused or read; the converter reads the shredded field, which is
    # what their .variant.bin holds.
    files = case.get("variant_files") or [case["variant_file"]]
    records, report = run_convert(SHREDDED / case["parquet_file"])
    assert [record["var"] for record in records] == [_expected_variant(name) for name in files]
    assert report.rows_out == len(files)


@needs_corpus
@pytest.mark.parametrize("case", ERRORS, ids=_case_id)
def test_each_invalid_shredded_variant_is_refused_naming_the_column_and_row(
    case: dict[str, Any], run_convert: Converter, tmp_path: Path
) -> None:
    dest = tmp_path / "out.jsonl"
    with pytest.raises(InvalidValueError) as refused:
        run_convert(SHREDDED / case["parquet_file"], dest=dest)
    assert refused.value.code == "INVALID_VALUE"
    assert refused.value.message.startswith(f"{case['parquet_file']}: column var, row 0: is not a valid variant")
    assert "\n" not in refused.value.message
    assert not dest.exists()


# --- the variant/ primitives, on their exact text -----------------------------------

PRIMITIVE_TEXT = {
    "primitive_null": "null",
    "primitive_boolean_true": "true",
    "primitive_boolean_false": "false",
    "primitive_int8": "42",
    "primitive_int16": "1234",
    "primitive_int32": "123456",
    "primitive_int64": "1234567890123456789",
    "primitive_float": "1234568000",  # the shortest text that reads back as that float32
    "primitive_double": "1234567890.1234",
    "primitive_decimal4": "12.34",
    "primitive_decimal8": "12345678.90",  # the decimal's scale (2) kept
    "primitive_decimal16": "12345678912345678.90",
    "primitive_date": '"2025-04-16"',
    "primitive_timestamp": '"2025-04-16T16:34:56.780000Z"',  # 12:34:56.78-04:00 in UTC
    "primitive_timestampntz": '"2025-04-16T12:34:56.780000"',
    "primitive_timestamp_nanos": '"2024-11-07T12:33:54.123456789Z"',
    "primitive_timestampntz_nanos": '"2024-11-07T12:33:54.123456789"',
    "primitive_time": '"12:33:54.123456"',
    "primitive_binary": '"AxM33q2+78r+"',
    "primitive_uuid": '"f24f9b64-81fa-49d1-b74e-8c09a6e31c56"',
    "short_string": '"Less than 64 bytes (❤️ with utf8)"',
    "array_empty": "[]",
    "array_primitive": "[2,1,5,9]",
    "object_empty": "{}",
}


def _primitive(name: str) -> tuple[bytes, bytes]:
    return (PRIMITIVES / f"{name}.metadata").read_bytes(), (PRIMITIVES / f"{name}.value").read_bytes()


def _data_dictionary() -> dict[str, Any]:
    # The corpus's data_dictionary.json has a trailing comma, which JSON does not allow.
    text = (PRIMITIVES / "data_dictionary.json").read_text()
    return dict(json.loads(re.sub(r",(\s*[}\]])", r"\1", text)))


needs_primitives = pytest.mark.skipif(not PRIMITIVES.is_dir(), reason=f"variant corpus not found at {PRIMITIVES}")


@needs_primitives
@pytest.mark.parametrize("name", sorted(PRIMITIVE_TEXT))
def test_each_variant_primitive_is_written_by_the_contracts_rule_for_its_type(name: str) -> None:
    assert render_binary(*_primitive(name), DEFAULT) == PRIMITIVE_TEXT[name]


@needs_primitives
@pytest.mark.parametrize("name", ["array_nested", "object_nested", "object_primitive", "primitive_string"])
def test_nested_variants_and_long_strings_equal_the_data_dictionary(name: str) -> None:
    got = parse_json(render_binary(*_primitive(name), DEFAULT))
    expected = _data_dictionary()[name]
    if name == "object_primitive":  # parse_json reads numbers as Decimal, the dictionary as float
        assert float(got.pop("double_field")) == expected.pop("double_field")
    assert got == expected


@needs_primitives
def test_the_options_apply_inside_variants() -> None:
    assert render_binary(*_primitive("primitive_int64"), ConvertOptions(bigint_as_string=True)) == (
        '"1234567890123456789"'
    )
    assert render_binary(*_primitive("primitive_int32"), ConvertOptions(bigint_as_string=True)) == "123456"
    assert render_binary(*_primitive("primitive_decimal8"), ConvertOptions(decimal_as_string=True)) == ('"12345678.90"')


# --- variants built here: every rule and refusal ------------------------------------

EMPTY_METADATA = b"\x01\x00\x00"


def _variants(values: Sequence[bytes | None], metadata: bytes = EMPTY_METADATA) -> pa.Array:
    storage = pa.StructArray.from_arrays(
        [pa.array([metadata] * len(values), pa.binary()), pa.array(values, pa.binary())],
        names=["metadata", "value"],
        mask=pa.array([v is None for v in values], pa.bool_()),
    )
    return pa.ExtensionArray.from_storage(VariantType(storage.type), storage)


def _primitive_value(type_id: int, payload: bytes = b"") -> bytes:
    return bytes([type_id << 2]) + payload


def _texts(values: Sequence[bytes | None], **options: Any) -> list[str | None]:
    return to_json(_variants(values), ConvertOptions(**options), "v").storage.to_pylist()


def test_nan_and_infinities_follow_the_float_rule() -> None:
    special = [_primitive_value(7, struct.pack("<d", v)) for v in (float("nan"), float("inf"), float("-inf"))]
    special.append(_primitive_value(14, struct.pack("<f", float("-inf"))))
    assert _texts(special) == ["null"] * 4
    assert _texts(special, nan_as_string=True) == ['"NaN"', '"Infinity"', '"-Infinity"', '"-Infinity"']


def test_a_sql_null_variant_is_null_and_a_variant_null_is_the_json_null() -> None:
    assert _texts([None, _primitive_value(0)]) == [None, "null"]
    table = pa.table({"v": _variants([None, _primitive_value(0)])})
    assert encode_lines(table, ConvertOptions(drop_nulls=True)).to_pylist() == ["{}\n", '{"v":null}\n']


@pytest.mark.usefixtures("encoder")
def test_both_encoders_write_the_same_bytes_for_variant_columns() -> None:
    metadata = b"\x01\x02\x00\x01\x02ab"
    # An object (header 0x02) of 2 fields: ids 0 and 1, offsets 0, 2, 4, then int8 1 and int8 2.
    obj = bytes([0x02, 2, 0, 1, 0, 2, 4, 0x0C, 1, 0x0C, 2])
    table = pa.table({"id": [1, 2, 3], "v": _variants([obj, None, obj], metadata)})
    assert encode_lines(table, DEFAULT).to_pylist() == [
        '{"id":1,"v":{"a":1,"b":2}}\n',
        '{"id":2,"v":null}\n',
        '{"id":3,"v":{"a":1,"b":2}}\n',
    ]


@pytest.mark.usefixtures("encoder")
def test_a_variant_inside_a_struct_is_rendered_too() -> None:
    inner = _variants([b"\x0c\x07"])  # int8 7
    table = pa.table({"s": pa.StructArray.from_arrays([inner], names=["v"])})
    assert encode_lines(table, DEFAULT).to_pylist() == ['{"s":{"v":7}}\n']


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (_primitive_value(5, b"\x01\x00"), "truncated"),
        (_primitive_value(31), "unknown primitive type 31"),
        (_primitive_value(17, struct.pack("<q", -1)), "outside 00:00:00-24:00:00"),
        (bytes([0x02, 0x01, 0x05, 0x00, 0x01, 0x00]), "field id 5 outside"),
        (_primitive_value(16, struct.pack("<I", 2) + b"\xff\xfe"), "not UTF-8"),
    ],
)
def test_a_malformed_variant_is_refused_naming_the_column_and_row(value: bytes, problem: str) -> None:
    with pytest.raises(InvalidValueError) as refused:
        _texts([_primitive_value(0), None, value])
    assert refused.value.message.startswith("column v, row 2: is not a valid variant (")
    assert problem in refused.value.message


def _corpus_values() -> list[tuple[bytes, bytes]]:
    pairs = [_primitive(name) for name in sorted(PRIMITIVE_TEXT)] if PRIMITIVES.is_dir() else []
    pairs += [_split_variant_file(path.read_bytes()) for path in sorted(SHREDDED.glob("*.variant.bin"))]
    return pairs


@needs_corpus
@pytest.mark.skipif(native.load_error() is not None, reason="the native encoder is not built")
def test_the_native_decoder_writes_what_the_reference_writes_or_declines_the_value() -> None:
    # The native kernel decodes unshredded variants itself; on anything doubtful it hands
    # the batch to the reference, which refuses it or writes it. So, on valid values and on
    # random corruptions of them, it must write the reference's text or decline, never
    # write a value the reference refuses.
    rng = random.Random(11)
    module = native._module(native.NATIVE)
    assert module is not None
    originals = _corpus_values()
    assert len(originals) > 100
    samples = list(originals)
    for _ in range(3000):
        metadata, value = rng.choice(originals)
        target = rng.randrange(2)
        raw = bytearray((metadata, value)[target])
        for _ in range(rng.randint(1, 3)):
            if raw:
                raw[rng.randrange(len(raw))] = rng.randrange(256)
        if rng.random() < 0.2:
            raw = raw[: rng.randrange(len(raw) + 1)]
        samples.append((bytes(raw), value) if target == 0 else (metadata, bytes(raw)))
    valid = set(originals)
    written = declined = 0
    for options in (DEFAULT, ConvertOptions(bigint_as_string=True, decimal_as_string=True, nan_as_string=True)):
        for metadata, value in samples:
            arr = _variants([value], metadata)
            try:
                expected: str | None = to_json(arr, options, "v").storage[0].as_py()
            except (InvalidValueError, InvalidUtf8Error):
                expected = None
            got = native._run(module, arr, module.MODE_VALUES, options, b"")
            if got is None:
                assert (metadata, value) not in valid, "a valid corpus value was declined"
                declined += 1
            else:
                written += 1
                assert got[0].as_py() == expected, (metadata, value)
    assert written > 2 * len(valid)
    assert declined > 0  # the corruptions did reach the refusals


def test_a_typed_string_leaf_that_is_not_utf8_is_refused_with_its_path() -> None:
    raw = pa.array([b"ok", b"\xff"], pa.binary())
    typed = pa.Array.from_buffers(pa.string(), 2, raw.buffers())  # as a non-validating writer leaves it
    storage = pa.StructArray.from_arrays(
        [pa.array([EMPTY_METADATA] * 2, pa.binary()), pa.nulls(2, pa.binary()), typed],
        names=["metadata", "value", "typed_value"],
    )
    with pytest.raises(InvalidUtf8Error, match=r"column v\.typed_value, row 1"):
        to_json(storage, DEFAULT, "v")


def test_the_run_report_schema_allows_any_json_value_for_a_variant() -> None:
    schema = pa.schema([pa.field("v", VariantType(_variants([]).type.storage_type))])
    assert json_schema(schema, DEFAULT)["properties"]["v"] == {"description": "any JSON value (a VARIANT)"}
    assert JsonTextType().storage_type == pa.string()


def test_floats_have_the_same_text_as_in_an_ordinary_column() -> None:
    rng = random.Random(7)
    doubles = [struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0] for _ in range(3000)]
    doubles += [10.0**k * m for k in range(-9, 22) for m in (1, 1.5, 9.99)]
    doubles = [d for d in doubles if np.isfinite(d)]
    bits = np.frombuffer(rng.randbytes(4 * 3000), np.float32)
    singles = [float(s) for s in bits[np.isfinite(bits)]] + [float(np.float32(d)) for d in doubles[-93:]]
    assert [float_text(d, single=False) for d in doubles] == pc.cast(pa.array(doubles), pa.string()).to_pylist()
    arrow32 = pc.cast(pa.array(singles, pa.float32()), pa.string()).to_pylist()
    assert [float_text(s, single=True) for s in singles] == arrow32


# --- Spark's own variants --------------------------------------------------------------

SPARK_JSON = [
    '{"a": 1, "b": [1.5, "x", null, true], "c": {"d": -2.5e-10}}',
    "[1, 2, {}]",
    "12345678901234567890",
    None,
    "null",
    '"text with \\"quotes\\" and \\u2028"',
    '{"a": "not an int", "b": []}',
]


@pytest.fixture(scope="module")
def spark_variants(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """parse_json of SPARK_JSON written by Spark, unshredded and shredded."""
    base = tmp_path_factory.mktemp("spark-variants")
    rows = list(enumerate(SPARK_JSON))
    frame = spark.createDataFrame(rows, "id int, j string").selectExpr("id", "parse_json(j) as v").coalesce(1)
    # Spark 4.1 may shred what it writes by default (from the rows it buffers): not here.
    spark.conf.set("spark.sql.variant.writeShredding.enabled", "false")
    try:
        frame.write.parquet(str(base / "plain"))
    finally:
        spark.conf.unset("spark.sql.variant.writeShredding.enabled")
    # Spark 4.1 shreds what it writes only along a schema it is given (or infers when it
    # buffers rows): the test's schema shreds some fields and leaves the rest in `value`.
    settings = {
        "spark.sql.variant.writeShredding.enabled": "true",
        "spark.sql.variant.forceShreddingSchemaForTest": "a int, b array<string>, c struct<d double>",
    }
    before = {key: spark.conf.get(key, None) for key in settings}
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        frame.write.parquet(str(base / "shredded"))
    finally:
        for key, value in before.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)
    # Without the VARIANT annotation (as Spark 4.0 writes), Spark's schema in the footer says it.
    spark.conf.set("spark.sql.parquet.variant.annotateLogicalType.enabled", "false")
    try:
        frame.write.parquet(str(base / "unannotated"))
    finally:
        spark.conf.unset("spark.sql.parquet.variant.annotateLogicalType.enabled")
    return {name: base / name for name in ("plain", "shredded", "unannotated")}


@pytest.mark.parametrize("layout", ["plain", "shredded", "unannotated"])
def test_spark_parse_json_output_reads_back_as_the_original_json(
    layout: str, spark_variants: dict[str, Path], run_convert: Converter
) -> None:
    source = spark_variants[layout]
    parquet_schema = open_input(str(source)).parquet_schema
    assert ("typed_value" in parquet_schema) is (layout == "shredded")
    assert ("(Variant" in parquet_schema) is (layout != "unannotated")
    records, _ = run_convert(source)
    assert [r["v"] for r in sorted(records, key=lambda r: r["id"])] == [
        None if text is None else parse_json(text) for text in SPARK_JSON
    ]


def test_both_engines_write_the_same_bytes_for_spark_variants(
    spark: Any, spark_variants: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs = []
    for engine, encoder in [(Engine.LOCAL, native.REFERENCE), (Engine.LOCAL, native.NATIVE), (Engine.SPARK, "")]:
        monkeypatch.setenv(native.ENCODER_ENV, encoder or native.NATIVE)
        dest = tmp_path / f"{engine.value}-{encoder}.jsonl"
        convert(str(spark_variants["shredded"]), str(dest), DEFAULT, engine=engine, spark=spark)
        outputs.append(dest.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]
    assert Decimal("-2.5E-10") == parse_json(outputs[0].decode().splitlines()[0])["v"]["c"]["d"]


def _shredded_list(values: list[bytes | None], typed: list[list[tuple[bytes | None, int | None]] | None]) -> pa.Array:
    element = pa.struct([("value", pa.binary()), ("typed_value", pa.int32())])
    elements = pa.array(
        [None if items is None else [{"value": v, "typed_value": t} for v, t in items] for items in typed],
        pa.list_(element),
    )
    storage = pa.StructArray.from_arrays(
        [pa.array([EMPTY_METADATA] * len(values), pa.binary()), pa.array(values, pa.binary()), elements],
        names=["metadata", "value", "typed_value"],
    )
    return pa.ExtensionArray.from_storage(VariantType(storage.type), storage)


@pytest.mark.usefixtures("encoder")
def test_a_shredded_array_is_put_back_together_row_by_row() -> None:
    short_string = bytes([0x01 | (2 << 2)]) + b"ab"
    arr = _shredded_list(
        [None, short_string, None, None],
        [[(None, 1), (b"\x0c\x07", None)], None, [(None, None)], []],
    )
    assert to_json(arr, DEFAULT, "v").storage.to_pylist() == ["[1,7]", '"ab"', "[null]", "[]"]


@pytest.mark.usefixtures("encoder")
def test_a_conflict_in_a_shredded_array_names_its_row() -> None:
    arr = _shredded_list([None, None, None], [[(None, 1)], [], [(None, 2), (b"\x0c\x05", 3)]])
    with pytest.raises(InvalidValueError, match=r"^column v, row 2: is not a valid variant \(conflicting value"):
        to_json(arr, DEFAULT, "v")
