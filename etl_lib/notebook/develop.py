"""Helpers of ``02-develop-transformation``: collect JSON lines, compare with a golden sample."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import pandas as pd

from etl_lib.notebook.storage import read_job_text, write_job_text

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


class GoldenMismatch(AssertionError):
    """The records differ from the golden sample."""


def collect_lines(lines: DataFrame, limit: int | None = None) -> list[str]:
    """The ``line`` column of a ``with_json_lines`` frame, in output order (partitions are
    slices in order and ``collect`` keeps partition order)."""
    frame = lines if limit is None else lines.limit(limit)
    return [row["line"] for row in frame.select("line").collect()]


def write_lines(lines: list[str], path: str | os.PathLike[str]) -> None:
    """Write the records as JSON Lines (each line ends with a newline, as the conversion
    writes them) to a local path or ``s3://``."""
    write_job_text(path, "".join(line + "\n" for line in lines))


def pretty(line: str) -> str:
    return json.dumps(json.loads(line), indent=2, ensure_ascii=False)


def golden_lines(path: str | os.PathLike[str]) -> list[str]:
    """The golden sample's lines; ``path`` is local or ``s3://`` (gunzipped when ``.gz``)."""
    return read_job_text(str(path)).splitlines()


def compare_with_golden(lines: list[str], golden: list[str]) -> pd.DataFrame:
    """One row per differing record (empty when identical): index, produced, golden."""
    rows: list[dict[str, Any]] = []
    for index in range(max(len(lines), len(golden))):
        ours = lines[index] if index < len(lines) else None
        theirs = golden[index] if index < len(golden) else None
        if ours != theirs:
            rows.append({"record": index, "produced": ours, "golden": theirs})
    return pd.DataFrame(rows, columns=["record", "produced", "golden"])


def assert_matches_golden(lines: list[str], golden: list[str]) -> None:
    diff = compare_with_golden(lines, golden)
    if not diff.empty:
        first = diff.iloc[0]
        raise GoldenMismatch(
            f"{len(diff)} of {max(len(lines), len(golden))} records differ from the golden sample; "
            f"first at record {first['record']}: {first['produced']!r} != {first['golden']!r}"
        )
