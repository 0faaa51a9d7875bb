"""The DataFrame of slices the Spark engine's transformations run on (etl_lib.spark.transform)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import fields
from typing import Any

import pyarrow as pa

from etl_lib.input.planning import Slice
from etl_lib.spark.transform import SLICE_SCHEMA, _slices, slices_frame

PLAN = [
    Slice(0, "/data/a.parquet", (0, 1), 200, False, ("ts96",), 0, (), b"", "message a {}"),
    Slice(1, "/data/a.parquet", (2,), 100, False, ("ts96",), 200, (), b"", "message a {}"),
    Slice(2, "/data/b.parquet", (0, 1, 2), 7, True, (), 0, ("v", "w"), b"\x00\xffIPC", "message b {}"),
]


def test_a_slices_row_holds_every_field_of_a_slice_in_order() -> None:
    assert SLICE_SCHEMA.names == [f.name for f in fields(Slice)]


def test_the_frame_has_one_partition_per_slice_in_output_order(spark: Any) -> None:
    partitions = slices_frame(spark, PLAN).rdd.glom().collect()
    assert [[row["seq"] for row in rows] for rows in partitions] == [[0], [1], [2]]


def test_every_slice_reaches_its_task_whole(spark: Any) -> None:
    def echo(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for piece in _slices(batches):
            yield pa.RecordBatch.from_pydict({"seq": [piece.seq], "slice": [repr(piece)]})

    rows = slices_frame(spark, PLAN).mapInArrow(echo, "seq long, slice string").collect()
    assert sorted((r["seq"], r["slice"]) for r in rows) == [(s.seq, repr(s)) for s in PLAN]


def test_the_slices_reach_the_executors_without_a_python_worker(spark: Any) -> None:
    # Made from an RDD of Python rows, each task first ran its row through a Python worker
    # (a Scan ExistingRDD over a PythonRDD): the plan's leaves are now the JVM's own.
    plan = slices_frame(spark, PLAN)._jdf.queryExecution().executedPlan().toString()
    leaves = [line.split("+- ")[-1].split(" ")[0] for line in plan.splitlines() if "+- " in line]
    assert "Range" in leaves and "LocalTableScan" in leaves
    assert "ExistingRDD" not in plan and "Python" not in plan


def test_an_empty_plan_gives_an_empty_frame(spark: Any) -> None:
    assert slices_frame(spark, []).count() == 0
