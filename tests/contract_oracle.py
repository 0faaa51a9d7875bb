"""The tests' oracle: the per-value reading of docs/json-contract.md in
:mod:`etl_lib.notebook.roundtrip`, which shares no code with :mod:`etl_lib.contract`.

The conformance and property tests compare every record the engines write with it; the
validation notebook uses the same module on a sample of each job's records.
"""

from __future__ import annotations

from etl_lib.notebook.roundtrip import FloatValue, expected, expected_records, parse_json

__all__ = ["FloatValue", "expected", "expected_records", "parse_json"]
