"""shapely's reading of WKB (GEOS, a WKB parser independent of the contract's), as the
geometry tests compare the contract's GeoJSON with it."""

from __future__ import annotations

import json
from typing import Any

import shapely


def shapely_geojson(wkb: bytes | None) -> Any:
    """shapely's GeoJSON of one WKB value. GEOS writes an empty polygon as ``[[]]`` (a
    polygon of one empty ring); RFC 7946's empty form, which the contract writes, is ``[]``."""
    if wkb is None:
        return None
    geometry = shapely.from_wkb(wkb)
    mapped = json.loads(shapely.to_geojson(geometry))
    if geometry.geom_type == "Polygon" and geometry.is_empty:
        mapped["coordinates"] = []
    return mapped


def as_floats(value: Any) -> Any:
    """A parsed record with its numbers (Decimal, as the test reader parses them) as floats."""
    if isinstance(value, dict):
        return {k: as_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_floats(v) for v in value]
    return value if value is None or isinstance(value, str) else float(value)
