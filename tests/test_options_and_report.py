"""The options, limits and run report: frozen dataclasses that refuse bad values when built in
Python, are validated by pydantic as strictly as the API requires, and read and write the
same report JSON as ever."""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import BaseModel, ValidationError

from etl_lib.conversion import convert
from etl_lib.options import Compression, ConvertOptions, Limits, OutputFormat
from etl_lib.report import InputPart, RunReport

FIXTURE_REPORT = Path(__file__).resolve().parents[1] / "notebooks" / "fixtures" / "sample.report.json"


def test_options_built_in_python_take_the_enum_values_and_come_out_as_enums() -> None:
    options = ConvertOptions(format="json", compression="gzip")  # type: ignore[arg-type]
    assert options.format is OutputFormat.JSON and options.compression is Compression.GZIP
    assert options.file_extension == ".json.gz"
    assert options == ConvertOptions(format=OutputFormat.JSON, compression=Compression.GZIP)
    assert hash(options) == hash(ConvertOptions(format=OutputFormat.JSON, compression=Compression.GZIP))
    with pytest.raises(FrozenInstanceError):
        options.drop_nulls = True  # type: ignore[misc]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"format": "xml"}, r"format must be one of 'jsonl', 'json', not 'xml'"),
        ({"compression": "zstd"}, r"compression must be one of 'none', 'gzip', not 'zstd'"),
        ({"compression": OutputFormat.JSON}, r"compression must be one of"),
        ({"drop_nulls": "yes"}, r"drop_nulls must be True or False, not 'yes'"),
        ({"nan_as_string": 1}, r"nan_as_string must be True or False, not 1"),
    ],
)
def test_options_built_in_python_refuse_what_the_api_refuses_naming_the_field(
    fields: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ConvertOptions(**fields)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="colour"):
        ConvertOptions(colour="red")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "data",
    [{"drop_nulls": 0}, {"drop_nulls": 1}, {"bigint_as_string": "yes"}, {"decimal_as_string": "true"},
     {"format": "xml"}, {"colour": "red"}],
)  # fmt: skip
def test_pydantic_validates_options_as_strictly_as_the_api_documents_them(data: dict[str, object]) -> None:
    class Request(BaseModel):
        options: ConvertOptions

    with pytest.raises(ValidationError):
        ConvertOptions.from_dict(data)
    with pytest.raises(ValidationError) as refused:
        Request.model_validate({"options": data})
    assert refused.value.errors()[0]["loc"][0] == "options"


def test_pydantic_reads_options_from_their_json_values() -> None:
    data = {"format": "json", "compression": "gzip", "drop_nulls": True, "nan_as_string": False}
    options = ConvertOptions.from_dict(data)
    assert options == ConvertOptions(format=OutputFormat.JSON, compression=Compression.GZIP, drop_nulls=True)
    assert ConvertOptions.from_json(options.to_json()) == options
    assert options.to_dict() == {**data, "bigint_as_string": False, "decimal_as_string": False, "geometry": "geojson"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"max_input_bytes": 0}, "max_input_bytes must be greater than 0"),
        ({"max_output_bytes": -1}, "max_output_bytes must be greater than 0"),
        ({"max_run_seconds": 0.0}, "max_run_seconds must be greater than 0"),
        ({"max_run_seconds": float("nan")}, "max_run_seconds must be greater than 0"),
        ({"max_nesting_depth": 0}, "max_nesting_depth must be greater than 0"),
        ({"max_nesting_depth": None}, "max_nesting_depth must be an integer, not None"),
        ({"max_input_bytes": "5G"}, "max_input_bytes must be an integer or None"),
        ({"max_output_bytes": True}, "max_output_bytes must be an integer or None"),
    ],
)
def test_limits_refuse_values_that_are_not_positive_numbers(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Limits(**fields)  # type: ignore[arg-type]


def test_limits_take_none_for_unlimited_and_seconds_as_integers() -> None:
    assert Limits(max_run_seconds=30).max_run_seconds == 30
    unlimited = Limits.unlimited()
    assert (unlimited.max_input_bytes, unlimited.max_output_bytes, unlimited.max_run_seconds) == (None, None, None)


def test_a_report_written_by_the_earlier_pydantic_model_reads_back_and_writes_the_same_json() -> None:
    # The committed fixture was written by RunReport when it was a pydantic model (before a
    # report had parts, a catalog table or a cost): the same keys in the same order, the same datetime format.
    written = FIXTURE_REPORT.read_text(encoding="utf-8")
    report = RunReport.from_json(written)
    assert (report.parts, report.cost) == ((), None)
    again = json.loads(report.to_json(indent=2))
    assert again.pop("parts") == []
    assert again.pop("catalog_table") is None  # registered in no catalog: the field came later
    assert again.pop("cost") is None
    assert again["options"].pop("geometry") == "geojson"  # added since: an older report reads as the default
    assert json.dumps(again, indent=2, ensure_ascii=False) + "\n" == written


def test_a_report_round_trips_through_json_with_its_parts_and_utc_times(tmp_path: Path) -> None:
    src, dest = tmp_path / "in.parquet", tmp_path / "out.jsonl"
    pq.write_table(pa.table({"n": list(range(10))}), src, row_group_size=4)
    report = convert(str(src), str(dest), ConvertOptions(drop_nulls=True), engine="local")
    assert report.parts == (
        InputPart(file="in.parquet", row_group=0, rows=4, bytes=report.parts[0].bytes),
        InputPart(file="in.parquet", row_group=1, rows=4, bytes=report.parts[1].bytes),
        InputPart(file="in.parquet", row_group=2, rows=2, bytes=report.parts[2].bytes),
    )
    data = json.loads(report.to_json(indent=2))
    assert data["started_at"].endswith("Z") and data["finished_at"].endswith("Z")
    assert data["options"]["drop_nulls"] is True and data["parts"][2] == {**data["parts"][2], "rows": 2}
    assert RunReport.from_json(report.to_json()) == report


def test_a_stored_report_with_a_negative_part_is_refused() -> None:
    data = json.loads(FIXTURE_REPORT.read_text(encoding="utf-8"))
    data["parts"] = [{"file": "a.parquet", "row_group": -1, "rows": 3, "bytes": 10}]
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        RunReport.from_json(json.dumps(data))
