"""Writes of councils, boundary sets and wards.

Every change to these tables goes through a function here. The input is plain dataclasses
(an importer's parsed and validated file), so the rules about periods live in one place:

- a council is found by its GSS code, else by its Democracy Club slug (a council created
  before its code was known gets the code); a slug belonging to another code is refused;
- a council's wards are compared with its existing boundary sets by the set of ward GSS codes
  (ONS issues new codes whenever a ward's boundary changes). Equal codes: that set is
  updated in place. Different codes: a new set starts at ``valid_from`` and closes the one
  before it, which must have started earlier.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from config.errors import ApplicationError
from config.importing import ImportSummary
from elections.ids import slugify

from .geometry import WardGeometry
from .models import BoundarySet, Council, Ward

# Rows per INSERT/UPDATE. A ward row carries three GeoJSON geometries: 1.3 KB on average in
# the national ONS file, 58 KB at most (North, West and Central Sutherland); 500 rows keep an
# INSERT under 1 MB on average, and an UPDATE, which also repeats the ids in CASE WHEN, near
# that with 100. SQLite caps a statement at 999 parameters, so Django splits further there.
WARD_CREATE_BATCH = 500
WARD_UPDATE_BATCH = 100

# Ward fields an import may change on a ward whose boundary set is kept. ``seats`` is not
# among them: ONS files do not carry it, so it is never overwritten.
_WARD_IMPORTED_FIELDS = (
    "name", "name_cy", "slug", "geometry", "geometry_national", "geometry_council",
    "label_lon", "label_lat", "bbox_west", "bbox_south", "bbox_east", "bbox_north",
)
_COUNCIL_IMPORTED_FIELDS = ("name", "gss", "nation", "council_type")


class CouncilConflict(ApplicationError):
    """The council's slug is already taken by a council with another GSS code."""

    def __init__(self, message: str, *, council_gss: str) -> None:
        super().__init__(message, code="council_conflict", field="slug", extra={"council_gss": council_gss})
        self.council_gss = council_gss


class BoundarySetConflict(ApplicationError):
    """New wards for a council cannot start at the given date (it overlaps or precedes a set)."""

    def __init__(self, message: str, *, council_gss: str) -> None:
        super().__init__(
            message, code="boundary_set_conflict", field="valid_from", extra={"council_gss": council_gss}
        )
        self.council_gss = council_gss


@dataclass(frozen=True)
class WardBoundary:
    """One ward as a boundary file describes it."""

    gss: str
    name: str
    geometry: WardGeometry
    name_cy: str = ""

    @property
    def slug(self) -> str:
        """The division part of Democracy Club ballot ids (``bowdon-hale``)."""
        return slugify(self.name)


@dataclass(frozen=True)
class CouncilBoundaries:
    """A council and the full list of its wards as one boundary file describes them."""

    gss: str
    name: str
    slug: str
    nation: str
    council_type: str
    wards: Sequence[WardBoundary] = field(default_factory=tuple)

    @property
    def ward_codes(self) -> frozenset[str]:
        return frozenset(ward.gss for ward in self.wards)


def upsert_boundary_set(
    *, council: CouncilBoundaries, valid_from: dt.date, source: str = ""
) -> ImportSummary:
    """``upsert_boundary_sets`` for a single council."""
    return upsert_boundary_sets(councils=[council], valid_from=valid_from, source=source)


def upsert_boundary_sets(
    *, councils: Sequence[CouncilBoundaries], valid_from: dt.date, source: str = ""
) -> ImportSummary:
    """Create or update councils and their wards from one boundary file, in one transaction.

    For each council of ``councils`` (each with every one of its wards):

    - the council is created, or its name, GSS code, nation and type are brought up to date
      (its slug, which other data keys on, is kept);
    - if one of its boundary sets has exactly these ward GSS codes, that set's wards get the
      given names and geometries in place (``valid_from`` is then ignored, and the wards'
      ``seats`` are kept);
    - otherwise a set starting on ``valid_from`` is created with these wards, and the set
      before it, if still open, is closed on that date. A ward whose GSS code was in that
      previous set keeps its ``seats`` (same code, same area); others get 1 seat.

    Councils and wards not in ``councils`` are left alone, so a file covering a few councils
    is as good as a national one.

    Preconditions: the caller has validated the input (GSS formats, no ward code twice in a
    council, no two ward names with the same slug). Per-row ``full_clean`` is skipped because
    its unique checks would cost a query per ward; the database constraints still apply.

    Returns the counts created / updated / unchanged for "council", "boundary set" and
    "ward"; nothing is written when every count is "unchanged". Raises ``CouncilConflict`` if
    a council's slug belongs to another GSS code, and ``BoundarySetConflict`` if new wards
    would start on or before the start of the council's latest set, or inside its period;
    either way nothing is written. Takes row locks on the councils (PostgreSQL), so two
    imports touching the same council run one after the other.
    """
    summary = ImportSummary()
    seen: set[str] = set()
    for data in councils:
        if data.gss in seen:
            raise ApplicationError(
                f"council {data.gss} is given twice", code="duplicate_council", field="gss"
            )
        seen.add(data.gss)
    with transaction.atomic():
        by_gss = _upsert_councils(councils, summary)
        _upsert_wards(councils, by_gss, valid_from=valid_from, source=source, summary=summary)
    return summary


def _upsert_councils(councils: Sequence[CouncilBoundaries], summary: ImportSummary) -> dict[str, Council]:
    codes = [data.gss for data in councils]
    existing = {c.gss: c for c in Council.objects.select_for_update().filter(gss__in=codes)}
    unmatched_slugs = [data.slug for data in councils if data.gss not in existing]
    by_slug = {
        c.slug: c for c in Council.objects.select_for_update().filter(slug__in=unmatched_slugs)
    } if unmatched_slugs else {}

    found: dict[str, Council] = {}
    to_create: list[Council] = []
    to_update: list[Council] = []
    for data in councils:
        council = existing.get(data.gss) or by_slug.get(data.slug)
        wanted = {
            "name": data.name, "gss": data.gss, "nation": data.nation, "council_type": data.council_type
        }
        if council is None:
            council = Council(slug=data.slug, **wanted)
            to_create.append(council)
        elif council.gss not in (None, data.gss):
            raise CouncilConflict(
                f"council {data.gss} ({data.name}) would have the slug {data.slug!r}, which belongs to "
                f"{council.name} ({council.gss})",
                council_gss=data.gss,
            )
        elif _assign(council, wanted):
            to_update.append(council)
        else:
            summary.count("unchanged", "council")
        found[data.gss] = council
    Council.objects.bulk_create(to_create)
    Council.objects.bulk_update(to_update, _COUNCIL_IMPORTED_FIELDS)
    summary.count("created", "council", len(to_create))
    summary.count("updated", "council", len(to_update))
    return found


@dataclass
class _SetState:
    boundary_set: BoundarySet
    seats: dict[str, int] = field(default_factory=dict)

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(self.seats)


def _upsert_wards(
    councils: Sequence[CouncilBoundaries],
    by_gss: dict[str, Council],
    *,
    valid_from: dt.date,
    source: str,
    summary: ImportSummary,
) -> None:
    council_ids = [c.pk for c in by_gss.values()]
    states: dict[int, _SetState] = {}
    sets_by_council: dict[int, list[_SetState]] = defaultdict(list)
    for boundary_set in BoundarySet.objects.filter(council_id__in=council_ids).order_by("valid_from"):
        state = _SetState(boundary_set)
        states[boundary_set.pk] = state
        sets_by_council[boundary_set.council_id].append(state)
    if states:
        for set_id, gss, seats in Ward.objects.filter(boundary_set_id__in=list(states)).values_list(
            "boundary_set_id", "gss", "seats"
        ):
            # A ward still without a GSS code (made from a boundary order before ONS issued
            # codes) makes its set differ from any file, as it should: codes cannot match.
            states[set_id].seats[gss or f"#{len(states[set_id].seats)}"] = seats

    in_place: dict[int, CouncilBoundaries] = {}
    to_close: list[BoundarySet] = []
    new_sets: list[tuple[BoundarySet, CouncilBoundaries, dict[str, int]]] = []
    for data in councils:
        council = by_gss[data.gss]
        history = sets_by_council.get(council.pk, [])
        # Prefer the latest set when looking for one with the same codes.
        matching = next((s for s in reversed(history) if s.codes == data.ward_codes), None)
        if matching is not None:
            in_place[matching.boundary_set.pk] = data
            continue
        previous = history[-1] if history else None
        if previous is not None:
            _check_new_period(data, previous.boundary_set, valid_from)
            if previous.boundary_set.valid_to is None:
                previous.boundary_set.valid_to = valid_from
                to_close.append(previous.boundary_set)
        new_set = BoundarySet(council=council, valid_from=valid_from, source=source)
        new_sets.append((new_set, data, previous.seats if previous else {}))

    BoundarySet.objects.bulk_update(to_close, ["valid_to"])
    BoundarySet.objects.bulk_create([new_set for new_set, _, _ in new_sets])
    summary.count("updated", "boundary set", len(to_close))
    summary.count("created", "boundary set", len(new_sets))

    created = (
        _new_ward(new_set, ward, seats=previous_seats.get(ward.gss, 1))
        for new_set, data, previous_seats in new_sets
        for ward in data.wards
    )
    summary.count("created", "ward", _bulk_create(created))
    _update_wards_in_place(in_place, summary)


def _check_new_period(data: CouncilBoundaries, previous: BoundarySet, valid_from: dt.date) -> None:
    if valid_from <= previous.valid_from:
        raise BoundarySetConflict(
            f"the wards of {data.name} ({data.gss}) differ from its boundary set valid from "
            f"{previous.valid_from.isoformat()}, and a new set must start after that, not on "
            f"{valid_from.isoformat()}",
            council_gss=data.gss,
        )
    if previous.valid_to is not None and valid_from < previous.valid_to:
        raise BoundarySetConflict(
            f"new wards of {data.name} ({data.gss}) from {valid_from.isoformat()} would overlap its "
            f"boundary set valid {previous.valid_from.isoformat()} – {previous.valid_to.isoformat()}",
            council_gss=data.gss,
        )


def _ward_values(ward: WardBoundary) -> dict[str, Any]:
    shape = ward.geometry
    west, south, east, north = shape.bbox
    return {
        "name": ward.name,
        "name_cy": ward.name_cy,
        "slug": ward.slug,
        "geometry": shape.geometry,
        "geometry_national": shape.geometry_national,
        "geometry_council": shape.geometry_council,
        "label_lon": shape.label[0],
        "label_lat": shape.label[1],
        "bbox_west": west,
        "bbox_south": south,
        "bbox_east": east,
        "bbox_north": north,
    }


def _new_ward(boundary_set: BoundarySet, ward: WardBoundary, *, seats: int) -> Ward:
    return Ward(boundary_set=boundary_set, gss=ward.gss, seats=seats, **_ward_values(ward))


def _bulk_create(wards: Iterable[Ward]) -> int:
    count = 0
    batch: list[Ward] = []
    for ward in wards:
        batch.append(ward)
        if len(batch) == WARD_CREATE_BATCH:
            Ward.objects.bulk_create(batch)
            count += len(batch)
            batch = []
    if batch:
        Ward.objects.bulk_create(batch)
        count += len(batch)
    return count


def _update_wards_in_place(in_place: dict[int, CouncilBoundaries], summary: ImportSummary) -> None:
    if not in_place:
        return
    wanted = {
        (set_id, ward.gss): ward for set_id, data in in_place.items() for ward in data.wards
    }
    changed: list[Ward] = []
    # Read everything before writing: SQLite gives no isolation between a cursor still being
    # read and updates of the same table on the same connection.
    for existing in Ward.objects.filter(boundary_set_id__in=list(in_place)).iterator(chunk_size=1000):
        if _assign(existing, _ward_values(wanted[(existing.boundary_set_id, existing.gss)])):
            changed.append(existing)
    Ward.objects.bulk_update(changed, _WARD_IMPORTED_FIELDS, batch_size=WARD_UPDATE_BATCH)
    changed_sets = {ward.boundary_set_id for ward in changed}
    summary.count("updated", "ward", len(changed))
    summary.count("unchanged", "ward", len(wanted) - len(changed))
    summary.count("updated", "boundary set", len(changed_sets))
    summary.count("unchanged", "boundary set", len(in_place) - len(changed_sets))


def _assign(instance: Council | Ward, values: dict[str, Any]) -> bool:
    """Set ``values`` on ``instance``; True if any differed from what it had."""
    changed = False
    for name, value in values.items():
        if getattr(instance, name) != value:
            setattr(instance, name, value)
            changed = True
    return changed
