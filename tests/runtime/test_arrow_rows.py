"""etl_lib._runtime.arrow_rows builds small Arrow arrays from buffers: the same arrays pyarrow's
own ``pa.array`` builds, without the pandas import that ``pa.array`` makes to check its input."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pyarrow as pa
import pytest

from etl_lib._runtime.arrow_rows import int64s, record_batch, strings


@pytest.mark.parametrize("values", [[], [0], [1, -1, 2**63 - 1, -(2**63)], list(range(-40, 40))])
def test_int64s_equal_pyarrows_own_array(values: list[int]) -> None:
    got = int64s(values)
    got.validate(full=True)
    assert got.equals(pa.array(values, pa.int64()))


@pytest.mark.parametrize(
    "values",
    [
        [],
        [None],
        ["", None, ""],
        ["a", "été", "日本語", "\x00"],
        [None] * 9 + ["x"] + [None] * 7,
        [f"v{i}" for i in range(17)],
    ],
)
def test_strings_equal_pyarrows_own_array_nulls_included(values: list[str | None]) -> None:
    got = strings(values)
    got.validate(full=True)
    assert got.equals(pa.array(values, pa.string()))
    assert got.null_count == values.count(None)


def test_an_int64_out_of_range_is_refused() -> None:
    with pytest.raises(OverflowError):
        int64s([2**63])


def test_a_record_batch_takes_its_columns_by_name_in_the_schemas_order() -> None:
    schema = pa.schema([("seq", pa.int64()), ("code", pa.string()), ("rows", pa.int64())])
    batch = record_batch(schema, {"rows": [5, 6], "code": ["E", None], "seq": [1, 2]})
    assert batch.schema == schema
    assert batch.to_pylist() == [{"seq": 1, "code": "E", "rows": 5}, {"seq": 2, "code": None, "rows": 6}]


def test_a_type_without_a_builder_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="flag: no builder for bool"):
        record_batch(pa.schema([("flag", pa.bool_())]), {"flag": [True]})


def test_building_a_batch_does_not_import_pandas_where_pa_array_does() -> None:
    probe = textwrap.dedent(
        """
        import sys
        import pyarrow as pa
        from etl_lib._runtime.arrow_rows import record_batch
        schema = pa.schema([("seq", pa.int64()), ("error", pa.string())])
        record_batch(schema, {"seq": [1], "error": ["x"]})
        print("pandas" in sys.modules)
        pa.array([1])
        print("pandas" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.split() == ["False", "True"]
