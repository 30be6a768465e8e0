"""Councils, boundary sets and wards for unit tests, with well-formed GSS codes.

Each call makes a new, distinct object: GSS codes and names come from one counter per test
process (``E08900001``, ``E05900001``…, in a range ONS does not use), and each ward is a
small square of its own, so wards never overlap. Pass any model field to override it::

    council = make_council(name="Trafford", slug="trafford")
    boundary_set = make_boundary_set(council=council)
    ward = make_ward(boundary_set=boundary_set, name="Altrincham", seats=3)
    wards = make_wards(boundary_set, 3)
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from councils.geometry import prepare_ward_geometry
from councils.models import BoundarySet, Council, CouncilType, Nation, Ward
from elections.ids import slugify

_sequence = itertools.count(1)

# Entity codes for each nation: council (local authority) and ward.
_GSS_ENTITIES = {
    Nation.ENGLAND: ("E08", "E05"),
    Nation.WALES: ("W06", "W05"),
    Nation.SCOTLAND: ("S12", "S13"),
    Nation.NORTHERN_IRELAND: ("N09", "N08"),
}
_COUNCIL_TYPES = {
    Nation.ENGLAND: CouncilType.METROPOLITAN_DISTRICT,
    Nation.WALES: CouncilType.WELSH_PRINCIPAL_AREA,
    Nation.SCOTLAND: CouncilType.SCOTTISH_COUNCIL,
    Nation.NORTHERN_IRELAND: CouncilType.NI_DISTRICT,
}


def gss(entity: str, n: int | None = None) -> str:
    """A well-formed GSS code of an entity (``E05``) in the unused 9xxxxx range."""
    return f"{entity}{900000 + (n if n is not None else next(_sequence)):06d}"


def square(lon: float, lat: float, size: float = 0.01) -> dict[str, Any]:
    """A GeoJSON MultiPolygon: a square of ``size`` degrees, south-west corner at lon/lat."""
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "MultiPolygon", "coordinates": [[ring]]}


def make_council(**fields: Any) -> Council:
    n = next(_sequence)
    nation = fields.pop("nation", Nation.ENGLAND)
    name = fields.pop("name", f"Council {n}")
    values: dict[str, Any] = {
        "name": name,
        "slug": slugify(name),
        "gss": gss(_GSS_ENTITIES[nation][0], n),
        "nation": nation,
        "council_type": _COUNCIL_TYPES[nation],
    }
    values.update(fields)
    return Council.objects.create(**values)


def make_boundary_set(council: Council | None = None, **fields: Any) -> BoundarySet:
    values: dict[str, Any] = {"valid_from": dt.date(2023, 5, 1), "source": "tests"}
    values.update(fields)
    return BoundarySet.objects.create(council=council or make_council(), **values)


def ward_values(n: int, *, nation: str = Nation.ENGLAND, **fields: Any) -> dict[str, Any]:
    """Field values of a ward (without its boundary set). Its shape is a 0.01° square of its
    own unless ``geometry`` (GeoJSON) is given; the simplified levels, label point and
    bounding box are derived from it as the importer derives them."""
    name = fields.pop("name", f"Ward {n}")
    # Squares on a grid 0.02° apart, starting in the North Sea, so none overlaps another.
    lon, lat = 2.0 + (n % 100) * 0.02, 55.0 + (n // 100 % 100) * 0.02
    shape = prepare_ward_geometry(fields.pop("geometry", square(lon, lat)))
    west, south, east, north = shape.bbox
    values: dict[str, Any] = {
        "name": name,
        "slug": slugify(name),
        "gss": gss(_GSS_ENTITIES[nation][1], n),
        "seats": 1,
        "geometry": shape.geometry,
        "geometry_council": shape.geometry_council,
        "geometry_national": shape.geometry_national,
        "label_lon": shape.label[0],
        "label_lat": shape.label[1],
        "bbox_west": west,
        "bbox_south": south,
        "bbox_east": east,
        "bbox_north": north,
    }
    values.update(fields)
    return values


def make_ward(boundary_set: BoundarySet | None = None, **fields: Any) -> Ward:
    boundary_set = boundary_set or make_boundary_set()
    values = ward_values(next(_sequence), nation=boundary_set.council.nation, **fields)
    return Ward.objects.create(boundary_set=boundary_set, **values)


def make_wards(boundary_set: BoundarySet, count: int, **fields: Any) -> list[Ward]:
    """``count`` wards of ``boundary_set`` (``fields`` apply to each)."""
    return [make_ward(boundary_set, **fields) for _ in range(count)]
