"""Frozen dataclasses that pydantic validates and serialises, with pydantic loaded only when used.

The option, limit and report types are plain frozen dataclasses, so ``etl convert`` never
imports pydantic (about a tenth of a second, a large part of converting a small file). Where
untrusted data arrives (the API's request models, stored jobs, report files) pydantic
validates them as it validates any dataclass field: the constraints are written as
:class:`Constrained` metadata, which pydantic reads when it builds a schema and the
interpreter otherwise ignores, and each class states its pydantic config as a plain dict.

:class:`Validated` gives such a class one way in and out of JSON: a pydantic ``TypeAdapter``
per class, built on first use, so the schema is written once, in the class itself.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Self, cast

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler, TypeAdapter
    from pydantic_core import CoreSchema


class Constrained:
    """``Annotated`` metadata adding pydantic-core constraints to a field's schema.

    ``Annotated[bool, STRICT]`` is pydantic's ``StrictBool`` and ``Annotated[int, NON_NEGATIVE]``
    its ``Field(ge=0)``, with the same validation and JSON Schema, but nothing is imported
    until pydantic asks for the schema (pydantic's own markers live in modules that import
    pydantic)."""

    __slots__ = ("constraints",)

    def __init__(self, **constraints: object) -> None:
        self.constraints = constraints

    def __repr__(self) -> str:
        return f"Constrained({', '.join(f'{k}={v!r}' for k, v in self.constraints.items())})"

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return cast("CoreSchema", {**handler(source), **self.constraints})


STRICT = Constrained(strict=True)
"""Only the type itself: for ``bool``, ``true``/``false``, never 0, 1 or ``"yes"``."""
NON_NEGATIVE = Constrained(ge=0)

_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}
_BUILDING = threading.Lock()


def adapter[T](cls: type[T]) -> TypeAdapter[T]:
    """The pydantic ``TypeAdapter`` of ``cls``, built once (importing pydantic on first use)."""
    found = _ADAPTERS.get(cls)
    if found is None:
        with _BUILDING:
            found = _ADAPTERS.get(cls)
            if found is None:
                from pydantic import TypeAdapter

                found = _ADAPTERS[cls] = TypeAdapter(cls)
    return cast("TypeAdapter[T]", found)


class Validated:
    """JSON and JSON-compatible dicts in and out of a frozen dataclass, through pydantic.

    Parsing validates as the API does (unknown keys, wrong types and broken constraints raise
    ``pydantic.ValidationError``, a ``ValueError``); dumping gives the JSON pydantic writes
    for the class (enums as their values, datetimes in ISO 8601 with ``Z`` for UTC)."""

    __slots__ = ()

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Validate a dict (e.g. parsed JSON) into an instance; an instance is returned as it is,
        anything else is refused."""
        return adapter(cls).validate_python(data)

    @classmethod
    def from_json(cls, data: str | bytes) -> Self:
        """Parse and validate one JSON document."""
        return adapter(cls).validate_json(data)

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-compatible (enums as values, datetimes as ISO 8601 strings)."""
        dumped: dict[str, Any] = adapter(type(self)).dump_python(self, mode="json")
        return dumped

    def to_json(self, *, indent: int | None = None) -> str:
        """The instance as one JSON document."""
        return adapter(type(self)).dump_json(self, indent=indent).decode()
