"""Reads of councils and wards."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import geojson
from django.db.models import Q, QuerySet

from .models import BoundarySet, Council, Ward


def get_council(*, gss: str | None = None, slug: str | None = None) -> Council | None:
    """The council with this GSS code or Democracy Club slug, or None."""
    if gss:
        found = Council.objects.filter(gss=gss).first()
        if found or not slug:
            return found
    if slug:
        return Council.objects.filter(slug=slug).first()
    return None


def get_boundary_set_on(council: Council, on_date: dt.date) -> BoundarySet | None:
    """The council's boundary set in force on ``on_date``."""
    return (
        BoundarySet.objects.filter(council=council, valid_from__lte=on_date)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=on_date))
        .order_by("-valid_from")
        .first()
    )


def list_wards_for_council(council: Council, *, on_date: dt.date | None = None) -> QuerySet[Ward]:
    """The council's wards on ``on_date`` (default: the current boundary set)."""
    qs = Ward.objects.filter(boundary_set__council=council)
    if on_date is None:
        return qs.filter(boundary_set__valid_to__isnull=True)
    return qs.filter(boundary_set__valid_from__lte=on_date).filter(
        Q(boundary_set__valid_to__isnull=True) | Q(boundary_set__valid_to__gt=on_date)
    )


def find_ward(
    council: Council, *, on_date: dt.date, gss: str | None = None, name: str | None = None
) -> Ward | None:
    """Match a ward of ``council`` for an election on ``on_date``, by GSS code or else by name.

    The boundary set in force on the date is preferred. Failing that, a ward with the same
    GSS code in another of the council's sets is the same area (ONS issues a new code
    whenever a ward's boundary changes), so it is used; a name is only trusted within the
    set in force on the date.
    """
    in_force = list_wards_for_council(council, on_date=on_date)
    if gss:
        ward = in_force.filter(gss=gss).first()
        if ward is None:
            ward = (
                Ward.objects.filter(boundary_set__council=council, gss=gss)
                .order_by("boundary_set__valid_from")
                .first()
            )
        return ward
    if name:
        from elections.ids import slugify

        candidates = in_force if in_force.exists() else Ward.objects.filter(
            boundary_set__council=council
        ).order_by("boundary_set__valid_from")
        return candidates.filter(slug=slugify(name)).first() or candidates.filter(
            name__iexact=name.strip()
        ).first()
    return None


WardDetail = Literal["full", "council", "national"]

# Which stored geometry each level of detail reads (see councils/geometry.py for the levels).
_GEOMETRY_FIELDS: dict[str, str] = {
    "full": "geometry",
    "council": "geometry_council",
    "national": "geometry_national",
}
_FEATURE_FIELDS = ("id", "name", "slug", "gss", "seats", "bbox_west", "bbox_south", "bbox_east", "bbox_north")


def _geometry_field(detail: str) -> str:
    try:
        return _GEOMETRY_FIELDS[detail]
    except KeyError:
        raise ValueError(f"detail must be one of {sorted(_GEOMETRY_FIELDS)}, not {detail!r}") from None


def council_wards_feature_collection(
    council: Council, *, detail: WardDetail = "council", on_date: dt.date | None = None
) -> dict[str, Any]:
    """The council's wards as a GeoJSON FeatureCollection, for its map.

    Wards of the boundary set in force on ``on_date`` (default: the current set), by name.
    Each feature's ``id`` is the ward id (results join on it); its properties are ``id``,
    ``name``, ``slug``, ``gss`` and ``seats``. ``detail`` picks the stored geometry: the
    simplified ``council`` one (default), the ``national`` one, or the ``full`` one. The
    collection's ``bbox`` spans the wards (absent when there are none). Coordinates have at
    most 6 decimals (the ``geojson`` package's rounding, about 10 cm). One query; only the
    chosen geometry is read. Raises ``ValueError`` for an unknown ``detail``.
    """
    field = _geometry_field(detail)
    wards = list(
        list_wards_for_council(council, on_date=on_date)
        .only(*_FEATURE_FIELDS, field)
        .order_by("name", "id")
    )
    collection = geojson.FeatureCollection(
        [
            geojson.Feature(
                id=ward.pk,
                geometry=getattr(ward, field),
                properties={
                    "id": ward.pk, "name": ward.name, "slug": ward.slug, "gss": ward.gss, "seats": ward.seats,
                },
            )
            for ward in wards
        ]
    )
    if wards:
        collection["bbox"] = [
            min(w.bbox_west for w in wards),
            min(w.bbox_south for w in wards),
            max(w.bbox_east for w in wards),
            max(w.bbox_north for w in wards),
        ]
    return collection


def national_wards_feature_collection(*, on_date: dt.date | None = None) -> dict[str, Any]:
    """Every council's wards as one GeoJSON FeatureCollection, for the national map layer.

    The wards of each council's boundary set in force on ``on_date`` (default: current
    sets), with the ``national`` geometry. Properties are kept to the ward ``id`` (results
    join on it) and its ``council`` id, so the layer of all UK wards stays under 500 KB
    gzipped. One query.
    """
    wards = Ward.objects.all()
    if on_date is None:
        wards = wards.filter(boundary_set__valid_to__isnull=True)
    else:
        wards = wards.filter(boundary_set__valid_from__lte=on_date).filter(
            Q(boundary_set__valid_to__isnull=True) | Q(boundary_set__valid_to__gt=on_date)
        )
    rows = wards.order_by("id").values_list("id", "boundary_set__council_id", "geometry_national")
    return geojson.FeatureCollection(
        [
            geojson.Feature(id=ward_id, geometry=geometry, properties={"id": ward_id, "council": council_id})
            for ward_id, council_id, geometry in rows
        ]
    )
