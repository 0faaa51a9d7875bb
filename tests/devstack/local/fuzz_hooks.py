"""Schemathesis hooks for tests/devstack/local/test_api_fuzz.py (loaded with SCHEMATHESIS_HOOKS).

Every generated request is a new request: a schema-valid ``Idempotency-Key`` is made
unique per call. Generated keys repeat (deterministic generation starts from "0"), and a
key reused with another body is rightly refused (422 IDEMPOTENCY_KEY_REUSED); the
idempotency itself is proved by the job service's own tests. Keys that break the schema
are sent as generated, so their refusal is still checked.
"""

from __future__ import annotations

import uuid
from typing import Any

import schemathesis

HEADER = "idempotency-key"
MAX_KEY_LENGTH = 128


@schemathesis.hook
def before_call(context: Any, case: Any, **kwargs: Any) -> None:
    headers = case.headers or {}
    for name, value in list(headers.items()):
        if name.lower() == HEADER and isinstance(value, str) and 1 <= len(value) <= MAX_KEY_LENGTH:
            headers[name] = f"fuzz-{uuid.uuid4().hex}"
