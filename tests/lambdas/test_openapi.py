from __future__ import annotations

import json
import typing
from pathlib import Path

from lambdas.openapi import document

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_the_committed_openapi_document_is_current() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == document(), (
        "docs/openapi.json is stale: run `.venv/bin/python -m lambdas.openapi > docs/openapi.json`"
    )


def test_the_document_is_openapi_3_1_and_covers_every_route() -> None:
    spec = json.loads(document())
    assert spec["openapi"].startswith("3.1")
    assert {(path, method) for path, ops in spec["paths"].items() for method in ops} == {
        ("/jobs", "get"),
        ("/jobs", "post"),
        ("/jobs/source", "post"),
        ("/jobs/{job_id}", "get"),
        ("/jobs/{job_id}", "delete"),
        ("/jobs/{job_id}/download", "get"),
        ("/jobs/{job_id}/report", "get"),
        ("/jobs/{job_id}/upload/parts", "get"),
        ("/jobs/{job_id}/upload/parts/{part_number}", "post"),
        ("/jobs/{job_id}/upload/complete", "post"),
    }
    assert "ErrorResponse" in spec["components"]["schemas"]


def test_the_report_view_exposes_only_fields_the_run_report_has_with_the_same_types() -> None:
    from etl_lib.report import InputPart, RunCost, RunReport
    from lambdas.common.models import ReportPart, RunCostView, RunReportView

    for view, source in ((RunReportView, RunReport), (ReportPart, InputPart), (RunCostView, RunCost)):
        # The report types are dataclasses: their resolved field types, constraints left out
        # (the view states none), as pydantic's ``annotation`` gives a model's.
        source_types = typing.get_type_hints(source)
        for name, field in view.model_fields.items():
            assert name in source_types, f"{view.__name__}.{name} is not in {source.__name__}"
            # A list of ReportPart for a tuple of InputPart, a RunCostView for a RunCost: compared above.
            if name not in {"parts", "cost"}:
                assert field.annotation == source_types[name], f"{view.__name__}.{name}"
