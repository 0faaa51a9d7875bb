"""VARIANT values nested in structs, lists and maps (etl_lib.contract.variant).

Files are written two ways: by Spark 4.1.1's ``parse_json`` inside ``named_struct``,
``array`` and ``map`` (unshredded, as Spark writes nested variants), and by pyarrow with the
VARIANT annotation put on the nested groups of the footer (tests/parquet_footer.py), which
lets a test hold shredded and malformed nested variants too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_lib.contract import native
from etl_lib.contract.reference import encode_lines
from etl_lib.conversion import convert
from etl_lib.errors import InvalidValueError
from etl_lib.input.planning import open_input, read_slice
from etl_lib.options import ConvertOptions
from etl_lib.report import json_schema
from tests.conftest import Converter
from tests.contract_oracle import parse_json
from tests.parquet_footer import FILE_SCHEMA, SCHEMA_NAME, field, read_footer, write_footer

EMPTY_METADATA = b"\x01\x00\x00"  # version 1, no field names
INT8_7 = b"\x0c\x07"  # a primitive int8 holding 7
_LOGICAL_TYPE, _VARIANT, _NUM_CHILDREN = 10, 16, 5


def _annotate_variants(path: Path, names: set[bytes]) -> Path:
    """Annotate every group of ``path`` named in ``names`` VARIANT in its footer."""
    body, meta = read_footer(path)
    for element in field(meta, FILE_SCHEMA)[2][1]:
        is_group = any(entry[0] == _NUM_CHILDREN for entry in element)
        if is_group and field(element, SCHEMA_NAME)[2] in names:
            element.append([_LOGICAL_TYPE, 12, [[_VARIANT, 12, [[1, 3, 1]]]]])
    write_footer(path, body, meta)
    return path


def _nested_file(path: Path, values: list[bytes | None], typed: pa.Array | None = None) -> Path:
    """Columns ``s`` (struct with variant ``v``), ``l`` (list of variants) and ``m`` (map
    to variants), one row per value of ``values``, plus a null row."""
    fields = [("metadata", pa.binary()), ("value", pa.binary())]
    arrays = [pa.array([EMPTY_METADATA] * len(values)), pa.array(values, pa.binary())]
    if typed is not None:
        fields.append(("typed_value", typed.type))
        arrays.append(typed)
    variants = pa.StructArray.from_arrays(arrays, fields=[pa.field(n, t) for n, t in fields])
    rows = len(values)
    offsets = pa.array([*range(rows + 1), rows], pa.int32())
    mask = pa.array([False] * rows + [True])
    table = pa.table(
        {
            "id": pa.array(range(rows + 1), pa.int32()),
            "s": pa.StructArray.from_arrays([pa.concat_arrays([variants, variants[:1]])], names=["v"], mask=mask),
            "l": pa.ListArray.from_arrays(offsets, variants, mask=mask),
            "m": pa.MapArray.from_arrays(offsets, pa.array([f"k{i}" for i in range(rows)]), variants, mask=mask),
        }
    )
    pq.write_table(table, path, store_schema=False)
    return _annotate_variants(path, {b"v", b"element", b"value"})


def test_variants_in_structs_lists_and_maps_are_the_json_they_hold(tmp_path: Path, run_convert: Converter) -> None:
    src = _nested_file(tmp_path / "nested.parquet", [INT8_7, b"\x00", None])
    records, report = run_convert(src)
    assert records == [
        {"id": 0, "s": {"v": 7}, "l": [7], "m": {"k0": 7}},
        {"id": 1, "s": {"v": None}, "l": [None], "m": {"k1": None}},  # a variant null
        {"id": 2, "s": {"v": None}, "l": [None], "m": {"k2": None}},  # a missing value reads as null
        {"id": 3, "s": None, "l": None, "m": None},
    ]
    anything = {"description": "any JSON value (a VARIANT)"}
    schema = report.json_schema["properties"]
    assert schema["s"]["properties"]["v"] == anything
    assert schema["l"]["items"] == anything


def test_a_shredded_variant_nested_in_a_struct_is_put_back_together(tmp_path: Path, run_convert: Converter) -> None:
    typed = pa.array([None, 42, None], pa.int32())
    src = _nested_file(tmp_path / "shredded.parquet", [INT8_7, None, None], typed)
    records, _ = run_convert(src)
    assert [r["s"] for r in records] == [{"v": 7}, {"v": 42}, {"v": None}, None]
    assert [r["l"] for r in records] == [[7], [42], [None], None]


def test_both_encoders_write_the_same_bytes_for_nested_variants(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _nested_file(tmp_path / "nested.parquet", [INT8_7, b"\x00", None], pa.array([None, None, 5], pa.int32()))
    outputs = []
    for encoder in (native.NATIVE, native.REFERENCE):
        monkeypatch.setenv(native.ENCODER_ENV, encoder)
        convert(str(src), str(tmp_path / f"{encoder}.jsonl"), ConvertOptions(), engine="local")
        outputs.append((tmp_path / f"{encoder}.jsonl").read_bytes())
    assert outputs[0] == outputs[1]


def test_a_malformed_nested_variant_is_refused_naming_its_path_and_row(tmp_path: Path, run_convert: Converter) -> None:
    src = _nested_file(tmp_path / "bad.parquet", [INT8_7, b"\x0c"])  # an int8 missing its byte
    dest = tmp_path / "out.jsonl"
    with pytest.raises(InvalidValueError) as refused:
        run_convert(src, dest=dest)
    assert refused.value.message == "bad.parquet: column s.v, row 1: is not a valid variant (truncated)"
    assert not dest.exists()


def test_an_unannotated_group_of_the_same_shape_stays_its_storage(tmp_path: Path) -> None:
    src = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"s": pa.array([{"v": {"metadata": EMPTY_METADATA, "value": INT8_7}}])}), src)
    schema = open_input(str(src)).schema
    assert json_schema(schema, ConvertOptions())["properties"]["s"]["properties"]["v"]["type"] == ["object", "null"]


# --- Spark 4.1.1 -------------------------------------------------------------------------

SPARK_JSON = ['{"a": 1, "b": [true, null]}', "2.5", '"text"', "null"]


@pytest.fixture(scope="module")
def spark_nested(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("spark-nested") / "out"
    frame = spark.createDataFrame(list(enumerate(SPARK_JSON)), "id int, j string").selectExpr(
        "id",
        "named_struct('v', parse_json(j), 'n', id) as s",
        "array(parse_json(j), parse_json('[1]')) as l",
        "map('k', parse_json(j)) as m",
    )
    frame.coalesce(1).write.parquet(str(base))
    return base


def test_spark_nested_parse_json_reads_back_as_the_original_json(spark_nested: Path, run_convert: Converter) -> None:
    assert "(Variant" in open_input(str(spark_nested)).parquet_schema
    records, _ = run_convert(spark_nested)
    for record in sorted(records, key=lambda r: r["id"]):
        original = parse_json(SPARK_JSON[record["id"]])
        assert record["s"] == {"v": original, "n": record["id"]}
        assert record["l"] == [original, [1]]
        assert record["m"] == {"k": original}


def test_the_native_encoder_takes_batches_with_nested_shredded_variants_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _nested_file(tmp_path / "nested.parquet", [INT8_7, None, None], pa.array([None, 42, 5], pa.int32()))
    (batch,) = [b for piece in open_input(str(src)).plan() for b in read_slice(piece)]
    monkeypatch.setenv(native.ENCODER_ENV, native.NATIVE)
    fast = native.encode_lines(batch, ConvertOptions(), "\n")
    assert fast is not None  # not handed to the reference path
    monkeypatch.setenv(native.ENCODER_ENV, native.REFERENCE)
    assert fast.to_pylist() == encode_lines(batch, ConvertOptions()).to_pylist()
    assert fast.to_pylist()[1] == '{"id":1,"s":{"v":42},"l":[42],"m":{"k1":42}}\n'
