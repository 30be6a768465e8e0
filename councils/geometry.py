"""Ward geometry helpers: repair, simplify, label point and bounding box.

Pure functions over shapely geometries and GeoJSON mappings (WGS84 longitude/latitude, in
degrees). Every geometry that leaves this module is a non-empty GeoJSON ``MultiPolygon`` with
plain lists, so it compares equal to the same geometry read back from a ``JSONField``.

Simplification levels:

- ``NATIONAL``: the national map layer of every UK ward (8,441 in May 2023) must stay under
  500 KB gzip-compressed. The ONS "BSC" file is already generalised to 200 m and has only
  about 213,000 vertices, so light simplification barely helps: at 0.003° with 4 decimals the
  layer is about 690 KB gzipped. Coordinates are snapped to 3 decimals (about 100 m) and
  islands under 0.0001 deg² dropped. The tolerance is 0.15 × the square root of the ward's
  area, between 0.0015° and 0.005° (about 550 m north-south, less than a pixel at zoom 7):
  a fixed 0.005° would change the area of 742 wards (the small urban ones) by more than a
  quarter, this changes 35 by that much, and the layer of all wards with their ids is
  about 465 KB gzipped.
- ``COUNCIL``: one council's wards at street scale, 0.0003° (about 30 m) and 5 decimals.

A level never yields an empty geometry: a ward too small for it falls back to the next
less simplified level, and finally to the full geometry.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

GeoJSON = dict[str, Any]
BBox = tuple[float, float, float, float]

POLYGONAL_TYPES = frozenset({"Polygon", "MultiPolygon"})


class GeometryError(ValueError):
    """The input is not a usable polygonal geometry; the message says why."""


@dataclass(frozen=True)
class SimplificationLevel:
    """How far to simplify: Douglas-Peucker ``tolerance`` (degrees, topology preserving),
    coordinates snapped to ``precision`` decimal places, and parts (islands) smaller than
    ``min_part_area`` square degrees dropped, except the largest part of a ward.

    With ``relative_tolerance``, a ward's tolerance is that fraction of the square root of
    its area, kept between ``min_tolerance`` and ``tolerance``, so small wards keep their shape.
    """

    name: str
    tolerance: float
    precision: int
    min_part_area: float = 0.0
    relative_tolerance: float | None = None
    min_tolerance: float = 0.0

    def tolerance_for(self, geom: BaseGeometry) -> float:
        if self.relative_tolerance is None:
            return self.tolerance
        scaled = self.relative_tolerance * math.sqrt(geom.area)
        return min(self.tolerance, max(self.min_tolerance, scaled))


NATIONAL = SimplificationLevel(
    "national", tolerance=0.005, precision=3, min_part_area=1e-4,
    relative_tolerance=0.15, min_tolerance=0.0015,
)
COUNCIL = SimplificationLevel("council", tolerance=0.0003, precision=5)


@dataclass(frozen=True)
class WardGeometry:
    """Everything the ``Ward`` model stores about a ward's shape."""

    geometry: GeoJSON
    geometry_national: GeoJSON
    geometry_council: GeoJSON
    label: tuple[float, float]
    bbox: BBox
    repaired: bool


def parse_polygonal(data: Any) -> BaseGeometry:
    """A shapely geometry from a GeoJSON geometry mapping that must be a (Multi)Polygon.

    Raises ``GeometryError`` for a missing geometry, another type (a ``Point``, a
    ``LineString``…) or coordinates shapely cannot read.
    """
    if not isinstance(data, Mapping):
        raise GeometryError("the feature has no geometry")
    kind = data.get("type")
    if kind not in POLYGONAL_TYPES:
        raise GeometryError(
            f"a ward must be a Polygon or MultiPolygon, not {kind or 'a geometry without type'}"
        )
    try:
        geom = shapely.from_geojson(orjson.dumps(data))
    except (TypeError, orjson.JSONEncodeError, shapely.errors.GEOSException) as exc:
        raise GeometryError(f"unreadable {kind} coordinates ({exc})") from exc
    if geom.is_empty:
        raise GeometryError(f"the {kind} has no coordinates")
    return geom


def _polygons(geom: BaseGeometry) -> Iterator[Polygon]:
    if isinstance(geom, Polygon):
        if not geom.is_empty:
            yield geom
        return
    for part in getattr(geom, "geoms", ()):
        yield from _polygons(part)


def to_multipolygon(geom: BaseGeometry) -> MultiPolygon:
    """The polygonal parts of ``geom`` as one ``MultiPolygon`` (lines and points dropped).

    Raises ``GeometryError`` when nothing polygonal is left.
    """
    if isinstance(geom, MultiPolygon) and not geom.is_empty:
        return geom
    polygons = list(_polygons(geom))
    if not polygons:
        raise GeometryError("the geometry has no area")
    return MultiPolygon(polygons)


def repair(geom: BaseGeometry) -> MultiPolygon:
    """A valid ``MultiPolygon`` covering ``geom``; valid input is only re-wrapped.

    ``make_valid``'s "structure" method treats every ring as an area boundary, so a ring that
    crosses itself keeps the area it encloses instead of turning parts of it into holes.
    Collapsed parts (lines, points) are dropped. Raises ``GeometryError`` if no area remains.
    """
    if not geom.is_valid:
        geom = shapely.make_valid(geom, method="structure", keep_collapsed=False)
    return to_multipolygon(geom)


def to_geojson(geom: MultiPolygon) -> GeoJSON:
    """GeoJSON ``MultiPolygon`` mapping of ``geom``, with list coordinates.

    Exterior rings come out counter-clockwise and holes clockwise, as RFC 7946 asks.
    Coordinates are written as GEOS holds them (shortest round-trip form), so a geometry
    snapped to a grid by ``simplify`` comes out with that many decimals.
    """
    oriented = shapely.orient_polygons(geom, exterior_cw=False)
    return orjson.loads(shapely.to_geojson(oriented))


def simplify(geom: MultiPolygon, level: SimplificationLevel) -> MultiPolygon | None:
    """``geom`` simplified to ``level``, or None if nothing of it survives at that level."""
    simplified = geom.simplify(level.tolerance_for(geom), preserve_topology=True)
    # Snapping to the grid (rather than rounding the output) keeps the result valid: rounding
    # alone can fold a narrow neck of a ward across itself. It also rounds the coordinates.
    simplified = shapely.set_precision(simplified, 10.0**-level.precision)
    polygons = sorted(_polygons(simplified), key=lambda polygon: polygon.area, reverse=True)
    if not polygons:
        return None
    kept = polygons[:1] + [p for p in polygons[1:] if p.area >= level.min_part_area]
    return MultiPolygon(kept)


def simplified_geojson(geom: MultiPolygon, levels: Sequence[SimplificationLevel]) -> list[GeoJSON]:
    """One GeoJSON geometry per level of ``levels``, which runs from least to most simplified.

    A level that leaves nothing of the ward uses the previous level's result (the full
    geometry for the first), so no result is ever empty.
    """
    results: list[GeoJSON] = []
    fallback = to_geojson(geom)
    for level in levels:
        simplified = simplify(geom, level)
        current = fallback if simplified is None else to_geojson(simplified)
        results.append(current)
        fallback = current
    return results


def label_point(
    geom: BaseGeometry, lon: float | None = None, lat: float | None = None
) -> tuple[float, float]:
    """Where to put the ward's label: the published point if given, else a point that is
    always inside the ward (a centroid can fall outside a crescent-shaped ward)."""
    if lon is not None and lat is not None:
        return (float(lon), float(lat))
    point = geom.representative_point()
    return (point.x, point.y)


def bbox(geom: BaseGeometry) -> BBox:
    """(west, south, east, north) of ``geom``."""
    west, south, east, north = geom.bounds
    return (west, south, east, north)


def prepare_ward_geometry(
    data: Any, *, label_lon: float | None = None, label_lat: float | None = None
) -> WardGeometry:
    """Everything stored about a ward's shape, from its GeoJSON geometry as published.

    The full geometry keeps the published coordinates when they are already a valid
    ``MultiPolygon``; otherwise it is repaired. Raises ``GeometryError`` for a geometry that
    is not polygonal, is unreadable, or has no area.
    """
    geom = parse_polygonal(data)
    repaired = not geom.is_valid
    multi = repair(geom)
    if not repaired and data.get("type") == "MultiPolygon":
        # Through orjson and back: lists rather than tuples, as a JSONField reads them back.
        full = {"type": "MultiPolygon", "coordinates": orjson.loads(orjson.dumps(data["coordinates"]))}
    else:
        full = to_geojson(multi)
    council, national = simplified_geojson(multi, [COUNCIL, NATIONAL])
    return WardGeometry(
        geometry=full,
        geometry_national=national,
        geometry_council=council,
        label=label_point(multi, label_lon, label_lat),
        bbox=bbox(multi),
        repaired=repaired,
    )

