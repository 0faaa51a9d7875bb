"""Responses checked against docs/openapi.json, the document clients are built from: a test
fails when a handler answers with a status or a shape the document does not state.

Objects the document describes with ``properties`` are closed for the check (pydantic leaves
them open in the schema, but the handlers send only the declared fields), as the web app's
own check does (frontend/src/test/openapi.ts).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource

DOCUMENT = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"
DOC_ID = "https://api.local/openapi.json"


def _closed(node: Any) -> Any:
    if isinstance(node, list):
        return [_closed(item) for item in node]
    if not isinstance(node, dict):
        return node
    copy = {key: _closed(value) for key, value in node.items()}
    if isinstance(copy.get("properties"), dict) and "additionalProperties" not in copy:
        copy["additionalProperties"] = False
    return copy


@functools.cache
def _document() -> tuple[dict[str, Any], Registry]:
    document: dict[str, Any] = _closed(json.loads(DOCUMENT.read_text(encoding="utf-8")))
    resource = Resource.from_contents({**document, "$schema": "https://json-schema.org/draft/2020-12/schema"})
    return document, Registry().with_resource(DOC_ID, resource)


def check_response(method: str, path: str, status: int, body: Any) -> None:
    """AssertionError unless ``status`` and ``body`` are a documented answer to ``method path``."""
    document, registry = _document()
    template = next((t for t in document["paths"] if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", t), path)), None)
    assert template is not None, f"{method} {path}: no such route in docs/openapi.json"
    operation = document["paths"][template].get(method.lower())
    assert operation is not None, f"{method} {template}: not in docs/openapi.json"
    response = operation["responses"].get(str(status))
    assert response is not None, f"{method} {template}: status {status} is not documented"
    schema = response.get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        assert body is None, f"{method} {template} {status}: documented without a body"
        return
    pointer = schema.get("$ref")
    validator = jsonschema.Draft202012Validator(
        {"$ref": f"{DOC_ID}{pointer}"} if pointer else schema, registry=registry
    )
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
    assert not errors, f"{method} {template} {status}: " + "; ".join(e.message for e in errors[:3])
