"""Plain-dict records of councils, their boundary sets and wards, for the read API.

A fixed number of queries per page or detail, whatever the number of councils or wards.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import Count, QuerySet

from councils.models import BoundarySet, Council, Ward
from elections.models import Election

COUNCIL_FIELDS = ("id", "slug", "name", "gss", "nation", "council_type", "total_seats")


def council_rows(queryset: QuerySet[Council]) -> QuerySet[Any]:
    return queryset.values(*COUNCIL_FIELDS)


def _boundary_sets(council_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    rows = (
        BoundarySet.objects.filter(council_id__in=list(council_ids))
        .annotate(ward_count=Count("wards"))
        .order_by("council_id", "-valid_from")
        .values("id", "council_id", "valid_from", "valid_to", "source", "ward_count")
    )
    for row in rows:
        grouped[row["council_id"]].append(row)
    return grouped


def _council_base(row: Mapping[str, Any]) -> dict[str, Any]:
    return {key: row[key] for key in COUNCIL_FIELDS if key != "id"}


def council_records(rows: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Councils with a summary of their boundary sets (one more query)."""
    sets = _boundary_sets(row["id"] for row in rows)
    return [
        {
            **_council_base(row),
            "boundary_sets": [
                {
                    "id": s["id"],
                    "valid_from": s["valid_from"],
                    "valid_to": s["valid_to"],
                    "ward_count": s["ward_count"],
                }
                for s in sets.get(row["id"], [])
            ],
        }
        for row in rows
    ]


def council_detail(row: Mapping[str, Any]) -> dict[str, Any]:
    """A council with every boundary set's wards and its elections (three more queries)."""
    sets = _boundary_sets([row["id"]]).get(row["id"], [])
    wards: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for ward in (
        Ward.objects.filter(boundary_set__council_id=row["id"])
        .order_by("name", "id")
        .values(
            "id",
            "boundary_set_id",
            "name",
            "name_cy",
            "slug",
            "gss",
            "seats",
            "label_lon",
            "label_lat",
            "bbox_west",
            "bbox_south",
            "bbox_east",
            "bbox_north",
        )
    ):
        wards[ward["boundary_set_id"]].append(
            {
                "id": ward["id"],
                "name": ward["name"],
                "name_cy": ward["name_cy"],
                "slug": ward["slug"],
                "gss": ward["gss"],
                "seats": ward["seats"],
                "label": [ward["label_lon"], ward["label_lat"]],
                "bbox": [ward["bbox_west"], ward["bbox_south"], ward["bbox_east"], ward["bbox_north"]],
            }
        )
    elections = (
        Election.objects.filter(council_id=row["id"])
        .order_by("-date")
        .values("election_id", "date", "title", "rehearsal")
    )
    return {
        **_council_base(row),
        "boundary_sets": [
            {
                "id": s["id"],
                "valid_from": s["valid_from"],
                "valid_to": s["valid_to"],
                "ward_count": s["ward_count"],
                "source": s["source"],
                "wards": wards.get(s["id"], []),
            }
            for s in sets
        ],
        "elections": list(elections),
    }
