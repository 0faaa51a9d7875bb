"""What ``01-explore`` shows about a Parquet input, as plain data (pandas frames)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl_lib.input.planning import ParquetInput, open_input, read_slice


def overview(parquet: ParquetInput) -> dict[str, Any]:
    return {
        "uri": parquet.uri,
        "files": len(parquet.files),
        "rows": parquet.rows,
        "bytes": parquet.size,
        "columns": len(parquet.schema),
        "row_groups": sum(len(f.row_group_rows) for f in parquet.files),
    }


def schema_frame(parquet: ParquetInput) -> pd.DataFrame:
    return pd.DataFrame([{"column": f.name, "arrow_type": str(f.type), "nullable": f.nullable} for f in parquet.schema])


def row_groups_frame(parquet: ParquetInput) -> pd.DataFrame:
    rows = [
        {"file": f.uri.rsplit("/", 1)[-1], "row_group": i, "rows": r, "bytes": b}
        for f in parquet.files
        for i, (r, b) in enumerate(zip(f.row_group_rows, f.row_group_bytes, strict=True))
    ]
    return pd.DataFrame(rows, columns=["file", "row_group", "rows", "bytes"])


def read_table(parquet: ParquetInput, limit: int | None = None) -> pa.Table:
    """The input's rows (up to ``limit``), decoded exactly as the conversion decodes them."""
    batches: list[pa.RecordBatch] = []
    rows = 0
    for piece in parquet.plan():
        for batch in read_slice(piece):
            if limit is not None and rows + batch.num_rows > limit:
                batch = batch.slice(0, limit - rows)
            batches.append(batch)
            rows += batch.num_rows
            if limit is not None and rows >= limit:
                return pa.Table.from_batches(batches, parquet.schema)
    return pa.Table.from_batches(batches, parquet.schema)


def null_counts(table: pa.Table) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"column": name, "nulls": table.column(name).null_count, "rows": table.num_rows}
            for name in table.column_names
        ]
    )


def sample_rows(table: pa.Table, n: int = 5) -> pd.DataFrame:
    """The first rows as Python values (repr text, so every type displays)."""
    return pd.DataFrame(
        {name: [repr(v) for v in table.column(name).slice(0, n).to_pylist()] for name in table.column_names}
    )


def numeric_columns(schema: pa.Schema) -> list[str]:
    return [f.name for f in schema if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)]


def numeric_values(table: pa.Table, column: str) -> list[float]:
    """Finite non-null values of one numeric column, as floats (for plotting)."""
    values = pc.cast(table.column(column), pa.float64())
    return [v for v in values.to_pylist() if v is not None and v == v and abs(v) != float("inf")]


def describe(uri: str, *, partition_filter: str | None = None) -> ParquetInput:
    """The input ``uri`` (a file, a dataset folder or prefix, or a ``glue://DATABASE/TABLE``
    catalog table, its partitions filtered by the ``GetPartitions`` expression
    ``partition_filter``), its footers read."""
    return open_input(uri, partition_filter=partition_filter)
