"""Property tests: random nested, nullable Arrow tables -> Parquet -> JSON -> parsed back,
compared with the contract oracle. Both engines, same records."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl_lib.conversion import Engine
from etl_lib.options import ConvertOptions
from tests.conftest import Converter
from tests.contract_oracle import expected_records

PRIMITIVES: list[tuple[pa.DataType, st.SearchStrategy[Any]]] = [
    (pa.bool_(), st.booleans()),
    (pa.int8(), st.integers(-(2**7), 2**7 - 1)),
    (pa.uint16(), st.integers(0, 2**16 - 1)),
    (pa.int32(), st.integers(-(2**31), 2**31 - 1)),
    (pa.int64(), st.integers(-(2**63), 2**63 - 1)),
    (pa.uint64(), st.integers(0, 2**64 - 1)),
    (pa.float32(), st.floats(width=32)),
    (pa.float64(), st.floats()),
    (pa.string(), st.text()),
    (pa.binary(), st.binary(max_size=20)),
    (pa.date32(), st.dates()),
    (pa.timestamp("ms", "UTC"), st.datetimes(timezones=st.just(dt.UTC))),
    (pa.timestamp("us"), st.datetimes()),
    (pa.timestamp("ns", "UTC"), st.integers(-(2**63) + 1, 2**63 - 1)),
    (pa.time64("us"), st.times()),
    (pa.time32("ms"), st.integers(0, 86_400_000)),  # up to 24:00:00.000, the end of the day
    (
        pa.decimal128(20, 4),
        st.decimals(
            min_value=Decimal("-9999999999999999.9999"),
            max_value=Decimal("9999999999999999.9999"),
            places=4,
            allow_nan=False,
        ),
    ),
]
KEYS = [(pa.string(), st.text(max_size=5)), (pa.int32(), st.integers(-(2**31), 2**31 - 1))]


def _nullable(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), values)


def _extend(children: st.SearchStrategy[tuple[pa.DataType, st.SearchStrategy[Any]]]) -> st.SearchStrategy[Any]:
    def as_list(child: tuple[pa.DataType, st.SearchStrategy[Any]]) -> tuple[pa.DataType, st.SearchStrategy[Any]]:
        t, values = child
        return pa.list_(t), st.lists(_nullable(values), max_size=3)

    def as_struct(
        fields: list[tuple[pa.DataType, st.SearchStrategy[Any]]],
    ) -> tuple[pa.DataType, st.SearchStrategy[Any]]:
        names = [f"f{i}" for i in range(len(fields))]
        t = pa.struct([(n, f[0]) for n, f in zip(names, fields, strict=True)])
        return t, st.fixed_dictionaries({n: _nullable(f[1]) for n, f in zip(names, fields, strict=True)})

    def as_map(
        key: tuple[pa.DataType, st.SearchStrategy[Any]], value: tuple[pa.DataType, st.SearchStrategy[Any]]
    ) -> tuple[pa.DataType, st.SearchStrategy[Any]]:
        entries = st.dictionaries(key[1], _nullable(value[1]), max_size=3).map(lambda d: list(d.items()))
        return pa.map_(key[0], value[0]), entries

    return st.one_of(
        children.map(as_list),
        st.lists(children, min_size=1, max_size=3).map(as_struct),
        st.builds(as_map, st.sampled_from(KEYS), children),
    )


TYPES = st.recursive(st.sampled_from(PRIMITIVES), _extend, max_leaves=6)


@st.composite
def tables(draw: st.DrawFn) -> pa.Table:
    columns = draw(st.lists(TYPES, min_size=1, max_size=4))
    rows = draw(st.integers(0, 6))
    arrays = []
    for t, values in columns:
        data = draw(st.lists(_nullable(values), min_size=rows, max_size=rows))
        arrays.append(pa.array(data, t))
    return pa.table(arrays, names=[f"c{i}" for i in range(len(arrays))])


OPTIONS = st.builds(
    ConvertOptions,
    format=st.sampled_from(["jsonl", "json"]),
    compression=st.sampled_from(["none", "gzip"]),
    drop_nulls=st.booleans(),
    bigint_as_string=st.booleans(),
    decimal_as_string=st.booleans(),
    nan_as_string=st.booleans(),
)


def _check(table: pa.Table, options: ConvertOptions, run_convert: Converter, tmp_path: Path) -> None:
    src = tmp_path / "in.parquet"
    pq.write_table(table, src, row_group_size=2)  # several row groups: order across slices
    records, report = run_convert(src, options, tmp_path / f"out{options.file_extension}")
    assert report.rows_out == table.num_rows
    assert expected_records(pq.read_table(src), options) == records


@pytest.mark.usefixtures("encoder")
@pytest.mark.parametrize("engine", [Engine.LOCAL], ids=["local"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=tables(), options=OPTIONS)
def test_random_tables_round_trip_under_the_contract_local(
    table: pa.Table, options: ConvertOptions, run_convert: Converter, tmp_path: Path
) -> None:
    _check(table, options, run_convert, tmp_path)


@pytest.mark.parametrize("engine", [Engine.SPARK], ids=["spark"])
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=tables(), options=OPTIONS)
def test_random_tables_round_trip_under_the_contract_spark(
    table: pa.Table, options: ConvertOptions, run_convert: Converter, tmp_path: Path
) -> None:
    _check(table, options, run_convert, tmp_path)
