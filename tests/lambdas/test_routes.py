"""The one route table (lambdas/routes.py) is what the handlers serve, the OpenAPI document
lists and the local stack's gateway dispatches (the API Gateway side is in tests/infra)."""

from __future__ import annotations

import importlib
import json

from lambdas.openapi import document
from lambdas.routes import ROUTES


def test_each_handler_serves_exactly_its_routes_of_the_table() -> None:
    for function in {r.function for r in ROUTES}:
        router = importlib.import_module(f"lambdas.{function}.handler").router
        served = {(method, rule) for rule, methods, *_ in router._routes for method in methods}
        assert served == {(r.method, r.rule) for r in ROUTES if r.function == function}, function


def test_the_openapi_document_lists_the_table() -> None:
    paths = json.loads(document())["paths"]
    documented = {(m.upper(), p) for p, ops in paths.items() for m in ops}
    assert documented == {(r.method, r.resource) for r in ROUTES}


def test_the_local_gateway_dispatches_the_table() -> None:
    from etl_devstack.local.gateway import handlers

    table = handlers()
    assert [(m, resource, name) for m, _, resource, name in table] == [
        (r.method, r.resource, r.function) for r in ROUTES
    ]
    values = {"job_id": "0123abcd", "part_number": "7"}
    for method, pattern, resource, _ in table:
        concrete = resource.format(**values)
        match = pattern.fullmatch(concrete)
        assert match is not None, (method, resource)
        assert match.groupdict() == {name: values[name] for name in values if f"{{{name}}}" in resource}
        assert pattern.fullmatch(concrete + "/extra") is None


def test_each_route_takes_exactly_the_query_parameters_of_the_table() -> None:
    """API Gateway validates query names from the table; the handlers read theirs from their
    signatures: the OpenAPI document (built from the signatures) must name the same ones."""
    paths = json.loads(document())["paths"]
    for route in ROUTES:
        operation = paths[route.resource][route.method.lower()]
        documented = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        assert documented == set(route.query), (route.method, route.resource)
