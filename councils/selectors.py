"""Reads of councils and wards."""

from __future__ import annotations

import datetime as dt

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
