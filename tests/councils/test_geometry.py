"""Ward geometry helpers: repair, simplification levels, label point, bounding box."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import GeometryCollection, LineString, MultiPolygon, Polygon, shape

from councils.geometry import (
    COUNCIL,
    NATIONAL,
    GeometryError,
    bbox,
    label_point,
    parse_polygonal,
    prepare_ward_geometry,
    repair,
    simplify,
    to_geojson,
)
from tests.factories.councils import square


def wiggly_ring(lon: float, lat: float, radius: float, vertices: int = 400) -> list[list[float]]:
    """A closed ring around lon/lat whose radius wobbles, with many nearly collinear vertices."""
    ring = []
    for i in range(vertices):
        angle = 2 * math.pi * i / vertices
        r = radius * (1 + 0.05 * math.sin(7 * angle))
        ring.append([lon + r * math.cos(angle), lat + r * math.sin(angle)])
    ring.append(ring[0])
    return ring


def coordinates(geojson: dict[str, Any]) -> list[list[float]]:
    return [point for polygon in geojson["coordinates"] for ring in polygon for point in ring]


def decimals(value: float) -> int:
    text = repr(value)
    return len(text.split(".")[1]) if "." in text else 0


def test_polygon_comes_out_as_multipolygon() -> None:
    shape_ = prepare_ward_geometry({"type": "Polygon", "coordinates": square(0, 50)["coordinates"][0]})

    for level in (shape_.geometry, shape_.geometry_council, shape_.geometry_national):
        assert level["type"] == "MultiPolygon"
        assert shape(level).equals(Polygon(square(0, 50)["coordinates"][0][0]))
    assert not shape_.repaired


def test_self_intersecting_ring_is_repaired_keeping_its_area() -> None:
    bowtie = {"type": "MultiPolygon", "coordinates": [[[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]]}
    assert not shape(bowtie).is_valid

    shape_ = prepare_ward_geometry(bowtie)

    assert shape_.repaired
    repaired = shape(shape_.geometry)
    assert repaired.is_valid
    assert repaired.geom_type == "MultiPolygon"
    assert repaired.area == pytest.approx(0.5)
    assert shape(shape_.geometry_council).is_valid
    assert shape(shape_.geometry_national).is_valid


def test_repair_keeps_only_polygonal_parts() -> None:
    mixed = GeometryCollection([Polygon([(0, 0), (1, 0), (1, 1), (0, 0)]), LineString([(2, 2), (3, 3)])])

    repaired = repair(mixed)

    assert isinstance(repaired, MultiPolygon)
    assert len(repaired.geoms) == 1
    assert repaired.area == pytest.approx(0.5)


def test_geometry_without_area_is_refused() -> None:
    flat = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [2, 2], [0, 0]]]}

    with pytest.raises(GeometryError, match="no area"):
        prepare_ward_geometry(flat)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"type": "Point", "coordinates": [0, 50]}, "not Point"),
        ({"type": "LineString", "coordinates": [[0, 50], [1, 51]]}, "not LineString"),
        (None, "no geometry"),
        ({"coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}, "without type"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1]]]}, "unreadable Polygon"),
        ({"type": "MultiPolygon", "coordinates": [[[["a", 0], [1, 0], [1, 1], ["a", 0]]]]}, "unreadable"),
        ({"type": "Polygon", "coordinates": []}, "no coordinates"),
    ],
)
def test_unusable_geometries_are_refused(data: Any, message: str) -> None:
    with pytest.raises(GeometryError, match=message):
        parse_polygonal(data)


def test_levels_simplify_and_round_coordinates() -> None:
    ring = wiggly_ring(-2.3, 53.4, 0.05)
    shape_ = prepare_ward_geometry({"type": "Polygon", "coordinates": [ring]})

    full = coordinates(shape_.geometry)
    council = coordinates(shape_.geometry_council)
    national = coordinates(shape_.geometry_national)
    assert len(national) < len(council) < len(full) == len(ring)
    assert max(decimals(v) for point in council for v in point) <= COUNCIL.precision
    assert max(decimals(v) for point in national for v in point) <= NATIONAL.precision
    full_area = shape(shape_.geometry).area
    # Simplified, not distorted: the council level keeps the area within 1%, the national
    # level (tolerance a tenth of the ward's radius here) within 10%.
    for level, tolerance in ((shape_.geometry_council, 0.01), (shape_.geometry_national, 0.1)):
        geom = shape(level)
        assert geom.is_valid
        assert geom.area == pytest.approx(full_area, rel=tolerance)


def test_a_ward_too_small_for_a_level_falls_back_to_the_less_simplified_one() -> None:
    # 0.0004° across: nothing is left of it on the national 0.001° grid.
    small = prepare_ward_geometry(square(-0.09, 51.51, size=0.0004))
    assert simplify(repair(shape(small.geometry)), NATIONAL) is None
    assert small.geometry_national == small.geometry_council
    assert shape(small.geometry_national).area > 0

    # 0.000004° across: too small for the council grid too, so both use the full geometry.
    tiny = prepare_ward_geometry(square(-0.09, 51.51, size=0.000004))
    assert tiny.geometry_council == tiny.geometry_national
    assert shape(tiny.geometry_council).equals(shape(tiny.geometry))


def test_national_level_drops_small_islands_but_never_the_largest_part() -> None:
    mainland = square(-6.0, 58.0, size=0.2)["coordinates"][0]
    islet = square(-6.5, 58.0, size=0.005)["coordinates"][0]
    shape_ = prepare_ward_geometry({"type": "MultiPolygon", "coordinates": [mainland, islet]})

    assert len(shape_.geometry_council["coordinates"]) == 2
    assert len(shape_.geometry_national["coordinates"]) == 1
    assert shape(shape_.geometry_national).contains(shapely.Point(-5.9, 58.1))

    only_islet = prepare_ward_geometry({"type": "MultiPolygon", "coordinates": [islet]})
    assert len(only_islet.geometry_national["coordinates"]) == 1


def test_published_coordinates_are_kept_when_valid() -> None:
    ring = [[0.123456, 50.0], [0.2, 50.0], [0.2, 50.1], [0.123456, 50.0]]
    data = {"type": "MultiPolygon", "coordinates": [[ring]]}

    assert prepare_ward_geometry(data).geometry == data


def test_output_survives_a_json_round_trip_unchanged() -> None:
    # A JSONField gives back lists and plain floats; equality after the round trip is what
    # lets a re-import see that nothing changed.
    shape_ = prepare_ward_geometry({"type": "Polygon", "coordinates": [wiggly_ring(1.1, 52.2, 0.03)]})

    for level in (shape_.geometry, shape_.geometry_council, shape_.geometry_national):
        assert json.loads(json.dumps(level)) == level


def test_exterior_rings_are_counter_clockwise() -> None:
    clockwise = Polygon([(0, 0), (0, 1), (1, 1), (1, 0), (0, 0)])
    assert not clockwise.exterior.is_ccw

    ring = to_geojson(MultiPolygon([clockwise]))["coordinates"][0][0]

    assert shapely.LinearRing(ring).is_ccw


def test_label_point_is_the_published_one_else_inside_the_ward() -> None:
    # A U shape: its centroid lies in the gap between the arms, outside the ward.
    u_shape = Polygon([(0, 0), (3, 0), (3, 3), (2, 3), (2, 1), (1, 1), (1, 3), (0, 3), (0, 0)])
    assert not u_shape.contains(u_shape.centroid)

    assert label_point(u_shape, -2.5, 53.5) == (-2.5, 53.5)
    assert u_shape.contains(shapely.Point(label_point(u_shape)))


def test_bbox_is_west_south_east_north() -> None:
    triangle = Polygon([(-2.5, 53.1), (-2.1, 53.1), (-2.1, 53.6), (-2.5, 53.1)])

    assert bbox(triangle) == (-2.5, 53.1, -2.1, 53.6)


@settings(max_examples=60, deadline=None)
@given(
    lon=st.floats(-8.0, 2.0),
    lat=st.floats(49.5, 60.0),
    radius=st.floats(1e-6, 0.5),
    vertices=st.integers(4, 120),
)
def test_every_level_is_a_valid_nonempty_multipolygon(
    lon: float, lat: float, radius: float, vertices: int
) -> None:
    ring = wiggly_ring(lon, lat, radius, vertices)
    shape_ = prepare_ward_geometry({"type": "Polygon", "coordinates": [ring]})

    for level in (shape_.geometry, shape_.geometry_council, shape_.geometry_national):
        geom = shape(level)
        assert geom.geom_type == "MultiPolygon"
        assert not geom.is_empty
        assert geom.is_valid
    west, south, east, north = shape_.bbox
    assert west <= east
    assert south <= north
