"""Validate one job's output against its input and run report (``03-validate-output``).

:func:`validate_output` checks, and reports in a machine-readable summary:

- ``row_counts``: Parquet input rows == output records == the report's rows_in/rows_out;
- ``json_schema``: the report's JSON Schema is the one the contract gives for the input
  schema and options, and every record validates against it (Draft 2020-12; ``format``
  is an annotation, as the draft's default);
- ``round_trip``: **every** record equals the input row re-encoded under the contract (the
  vectorised encoder of the conversion: about a million records a minute here, so re-encoding
  is cheap next to reading the output), and the first :data:`INDEPENDENT_CHECKS` of them
  also equal a per-value reading of the contract independent of that encoder
  (:mod:`etl_lib.notebook.roundtrip`). Each mismatch is reported with its reason
  (``$.quantity: 6 != 5``). Above ``sample_size`` records (default
  :data:`FULL_CHECK_MAX_RECORDS`) only a seeded random sample of that many records is
  compared, and the check says so (``"sampled": true``, ``"checked"`` of ``"records"``).

It writes the summary (when asked) before raising :class:`ValidationError` on any failure,
so a scheduler always finds the summary of a failed validation. The summary's messages name
positions (record numbers, JSONPath locations of column names) and reason codes, never a
record's values: they are stored (the scheduled validation keeps them with the job).
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
from jsonschema import Draft202012Validator

from etl_lib.input.planning import open_input, read_slice
from etl_lib.notebook.roundtrip import differences, expected_record, parse_json
from etl_lib.notebook.storage import locate, read_job_bytes, write_job_text
from etl_lib.options import ConvertOptions, OutputFormat
from etl_lib.report import RunReport, json_schema

MAX_REPORTED_ERRORS = 20
FULL_CHECK_MAX_RECORDS = 1_000_000
"""Outputs with up to this many records have every record compared; above, a sample of this many."""
INDEPENDENT_CHECKS = 100
"""Compared records also checked against the independent per-value reading of the contract."""

# A round-trip difference's reason, from the wording of etl_lib.notebook.roundtrip.differences.
_DIFFERENCE_REASONS = (
    ("expected an object", "NOT_AN_OBJECT"),
    ("unexpected member", "UNEXPECTED_MEMBER"),
    ("missing member", "MISSING_MEMBER"),
    ("expected ", "LENGTH_MISMATCH"),
)


def _difference_code(difference: str) -> str:
    """``$.a.b: REASON`` for one round-trip difference, the values it quoted left out."""
    where, _, what = difference.partition(": ")
    reason = next((code for start, code in _DIFFERENCE_REASONS if what.startswith(start)), "VALUE_MISMATCH")
    return f"{where}: {reason}"


def parse_error_message(index: int) -> str:
    """A JSON Lines record that is not JSON (the parser's message quotes the line's text)."""
    return f"record {index}: NOT_JSON"


def schema_error_message(index: int, error: Any) -> str:
    """A record outside the JSON Schema: where, and which keyword failed (jsonschema's message
    quotes the value)."""
    where = "/".join(str(p) for p in error.absolute_path) or "(record)"
    return f"record {index} at {where}: SCHEMA_{str(error.validator).upper()}"


class ValidationError(Exception):
    """The output does not match its input; ``summary`` says how."""

    def __init__(self, summary: dict[str, Any]) -> None:
        self.summary = summary
        failed = [name for name, check in summary["checks"].items() if not check["ok"]]
        first = summary["errors"][0] if summary["errors"] else ""
        super().__init__(f"validation failed ({', '.join(failed)}): {first}")


def parse_options(options: ConvertOptions | dict[str, Any] | str | None) -> ConvertOptions | None:
    """Options as given to a notebook: a ConvertOptions, a dict, a JSON string, or empty for 'the report's'."""
    if options is None or isinstance(options, ConvertOptions):
        return options
    if isinstance(options, str):
        if not options.strip():
            return None
        options = json.loads(options)
    return ConvertOptions.from_dict(options)


_UNPARSEABLE = object()


def parse_output(data: bytes, options: ConvertOptions) -> tuple[list[Any], list[str]]:
    """The parsed records of an output file (already decompressed), and parse errors.

    A JSON Lines record that is not JSON is kept as a placeholder, so indexes stay aligned
    with the input rows."""
    text = data.decode("utf-8")
    if options.format is OutputFormat.JSON:
        try:
            parsed = parse_json(text) if text.strip() else []
        except ValueError:
            return [], ["the output is not a JSON document: NOT_JSON"]
        if not isinstance(parsed, list):
            return [], ["a JSON output must be one array of records"]
        return parsed, []
    errors = [] if not text or text.endswith("\n") else ["a JSON Lines output must end with a newline"]
    records: list[Any] = []
    for index, line in enumerate(text.splitlines()):
        try:
            records.append(parse_json(line))
        except ValueError:
            records.append(_UNPARSEABLE)
            errors.append(parse_error_message(index))
    return records, errors


def _input_batches(uri: str) -> Iterator[tuple[int, pa.RecordBatch]]:
    """(global index of the first row, batch) of the input, in order."""
    parquet = open_input(uri)
    offset = 0
    for piece in parquet.plan():
        for batch in read_slice(piece):
            yield offset, batch
            offset += batch.num_rows


def _mismatch(record: Any, batch: pa.RecordBatch, row: int, encoded: str, opts: ConvertOptions) -> str:
    """Why ``record`` is not the re-encoded input row, without its values (messages are kept,
    and a record's values are its owner's): where and how the independent reading differs,
    else that the record differs from the input re-encoded."""
    diffs = differences(record, expected_record(batch, row, opts))
    if diffs:
        return "; ".join(_difference_code(d) for d in diffs[:3])
    return "RECORD_MISMATCH (differs from the input re-encoded)"


def compare_records(
    source: str, records: list[Any], opts: ConvertOptions, wanted: set[int] | None = None
) -> tuple[int, list[tuple[int, str]]]:
    """Compare output ``records`` with the input re-encoded (rows ``wanted``, default every
    row); (records compared, [(index, reason)] of the mismatches)."""
    from etl_lib.contract.reference import encode_lines

    checked, mismatched = 0, []
    for offset, batch in _input_batches(source):
        end = min(offset + batch.num_rows, len(records))
        rows = [i - offset for i in (range(offset, end) if wanted is None else sorted(wanted)) if offset <= i < end]
        if not rows:
            continue
        lines = encode_lines(batch, opts, terminator="").to_pylist()
        for row in rows:
            index, record = offset + row, records[offset + row]
            checked += 1
            same = record is not _UNPARSEABLE and record == parse_json(lines[row])
            if same and checked <= INDEPENDENT_CHECKS:
                same = not differences(record, expected_record(batch, row, opts))
            if not same:
                mismatched.append((index, _mismatch(record, batch, row, lines[row], opts)))
    return checked, mismatched


def validate_output(
    input_path: str,
    output_path: str,
    report_path: str,
    options: ConvertOptions | dict[str, Any] | str | None = None,
    *,
    sample_size: int | None = None,
    summary_path: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Validate ``output_path`` against ``input_path`` and ``report_path``; return the summary.

    ``options`` default to the report's; when given they must equal the report's.
    Paths may be local, ``s3://`` or (with ``data_dir``) in the local stack's store.
    Every record is compared up to ``sample_size`` records (``None`` or 0:
    :data:`FULL_CHECK_MAX_RECORDS`); above, a random sample (``seed``) of that many.
    """
    errors: list[str] = []
    checks: dict[str, dict[str, Any]] = {}
    report = RunReport.from_json(read_job_bytes(report_path, data_dir=data_dir))
    wanted_options = parse_options(options)
    opts = report.options
    checks["options"] = {"ok": wanted_options is None or wanted_options == opts, "report": opts.to_dict()}
    if not checks["options"]["ok"]:
        errors.append(f"options {wanted_options} differ from the run report's {opts}")

    source = locate(input_path, data_dir)
    parquet = open_input(source)
    records, parse_errors = parse_output(read_job_bytes(output_path, data_dir=data_dir), opts)
    counts = {
        "input_rows": parquet.rows,
        "output_records": len(records),
        "report_rows_in": report.rows_in,
        "report_rows_out": report.rows_out,
    }
    checks["row_counts"] = {"ok": len(set(counts.values())) == 1, **counts}
    if not checks["row_counts"]["ok"]:
        errors.append(f"row counts differ: {counts}")

    schema_errors: list[str] = parse_errors[:MAX_REPORTED_ERRORS]
    contract_schema = json_schema(parquet.schema, opts)
    if report.json_schema != contract_schema:
        schema_errors.append("the run report's JSON Schema is not the contract's schema of the input")
    validator = Draft202012Validator(report.json_schema)
    invalid = len(parse_errors)
    for index, record in enumerate(records):
        if record is _UNPARSEABLE:
            continue
        problems = list(validator.iter_errors(record))
        if problems:
            invalid += 1
            if len(schema_errors) < MAX_REPORTED_ERRORS:
                schema_errors.append(schema_error_message(index, problems[0]))
    checks["json_schema"] = {"ok": not schema_errors, "records_checked": len(records), "invalid_records": invalid}
    errors += schema_errors

    population = min(parquet.rows, len(records))
    limit = sample_size or FULL_CHECK_MAX_RECORDS
    sampled = population > limit
    wanted = set(random.Random(seed).sample(range(population), limit)) if sampled else None
    checked, mismatches = compare_records(source, records, opts, wanted)
    for index, reason in mismatches[: max(0, MAX_REPORTED_ERRORS - len(errors))]:
        errors.append(f"record {index} does not round-trip: {reason}")
    checks["round_trip"] = {"ok": not mismatches, "checked": checked, "records": population, "sampled": sampled,
                            "mismatched": [index for index, _ in mismatches][:100]}  # fmt: skip
    notes = [f"sampled {checked} of {population} records (above {limit} records only a sample is compared)"]

    ok = all(check["ok"] for check in checks.values())
    summary = {
        "status": "passed" if ok else "failed",
        "input": input_path,
        "output": output_path,
        "report": report_path,
        "options": opts.to_dict(),
        "checks": checks,
        "errors": errors,
        "notes": notes if sampled else [],
    }
    if summary_path is not None:  # local or s3://
        write_job_text(summary_path, json.dumps(summary, indent=2) + "\n")
    if not ok:
        raise ValidationError(summary)
    return summary


def checks_frame(summary: dict[str, Any]) -> Any:
    """The checks of a summary as a small pandas table (for display)."""
    import pandas as pd

    return pd.DataFrame(
        [
            {"check": name, "ok": check["ok"], "details": {k: v for k, v in check.items() if k != "ok"}}
            for name, check in summary["checks"].items()
        ]
    )
