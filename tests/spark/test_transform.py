"""The DataFrame of slices the Spark engine's transformations run on (etl_lib.spark.transform)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Iterator
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from etl_lib.input.planning import Slice, open_input
from etl_lib.output import sink
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


def test_a_task_writes_its_piece_and_reports_it_without_importing_pandas(tmp_path: Path) -> None:
    # pa.array imports pandas to ask whether its input is pandas': 0.2 s of CPU each Python
    # worker paid on its first task. The task runs here without Spark, in a fresh process.
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": range(300)}), src, row_group_size=100)
    plan = open_input(str(src)).plan(target_bytes=1)
    slices = tmp_path / "slices.arrow"
    with pa.OSFile(str(slices), "wb") as out, pa.ipc.new_stream(out, SLICE_SCHEMA) as stream:
        stream.write_table(pa.Table.from_pylist([asdict(s) for s in plan[1:2]], schema=SLICE_SCHEMA))
    probe = textwrap.dedent(
        f"""
        import json, sys
        import pyarrow as pa
        from etl_lib.options import ConvertOptions, Limits
        from etl_lib.spark.transform import write_pieces
        batches = pa.ipc.open_stream({str(slices)!r}).read_all().to_batches()
        rows = [r for b in write_pieces(batches, ConvertOptions(), {str(tmp_path / "staging")!r}, Limits.unlimited())
                for r in b.to_pylist()]
        print(json.dumps({{"rows": rows, "pandas": "pandas" in sys.modules}}))
        """
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    got = json.loads(done.stdout)
    piece = Path(sink.piece_uri(str(tmp_path / "staging"), 1))
    assert got["rows"] == [
        {
            "seq": 1,
            "rows": 100,
            "bytes": piece.stat().st_size,
            "input_bytes": got["rows"][0]["input_bytes"],
            "stored_bytes": piece.stat().st_size,
            "error_code": None,
            "error_message": None,
        }
    ]
    assert got["rows"][0]["input_bytes"] > 0
    assert piece.read_text().splitlines()[0] == '{"id":100}'
    assert got["pandas"] is False
