"""Spark tasks report each piece's size as stored, so the driver publishes without asking the
store for every piece (etl_lib.spark.transform.with_written_pieces)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl_lib.input.planning import open_input
from etl_lib.options import Compression, ConvertOptions, OutputFormat
from etl_lib.output import sink
from etl_lib.spark.transform import slices_frame, with_written_pieces


@pytest.mark.parametrize("compression", [Compression.NONE, Compression.GZIP])
def test_every_task_reports_the_size_of_its_piece_as_stored(
    spark: Any, tmp_path: Path, compression: Compression
) -> None:
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": range(3000), "s": [f"row {i}" for i in range(3000)]}), src, row_group_size=1000)
    plan = open_input(str(src)).plan(target_bytes=1)
    staging = str(tmp_path / "staging")
    options = ConvertOptions(format=OutputFormat.JSON, compression=compression)
    rows = slices_frame(spark, plan).transform(with_written_pieces(options, staging)).collect()
    assert len(rows) == 3
    for row in rows:
        stored = Path(sink.piece_uri(staging, row["seq"])).stat().st_size
        assert row["stored_bytes"] == stored
        if compression == Compression.GZIP:
            assert stored < row["bytes"]  # the JSON bytes before compression are counted apart
