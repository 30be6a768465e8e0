"""Plain-dict records of parties, elections, ballots and candidacies for the read API.

Each function reads through ``values()`` querysets in a fixed number of queries (one for the
rows, one per kind of child row, whatever the number of rows), so a page costs the same at
any data size; the tests pin these counts. Shapes are described by ``elections.api.serializers``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import Count, QuerySet

from elections.models import Ballot, Candidacy, Election, Party
from results.models import CountState, ResultStatus

# The ballot columns every ballot-shaped record needs, joined in one query (the result is a
# LEFT JOIN: a ballot has no result row until something is recorded).
BALLOT_FIELDS: tuple[str, ...] = (
    "id",
    "ballot_paper_id",
    "seats_contested",
    "voting_system",
    "by_election",
    "cancelled",
    "uncontested",
    "election__election_id",
    "election__date",
    "election__rehearsal",
    "election__council__slug",
    "election__council__name",
    "election__council__gss",
    "ward_id",
    "ward__name",
    "ward__slug",
    "ward__gss",
    "result__status",
    "result__count_state",
    "result__version",
)


def council_ref(row: Mapping[str, Any], prefix: str = "election__council__") -> dict[str, Any]:
    return {"slug": row[f"{prefix}slug"], "name": row[f"{prefix}name"], "gss": row[f"{prefix}gss"]}


def ward_ref(row: Mapping[str, Any], prefix: str = "ward__") -> dict[str, Any]:
    """``prefix`` is the path to the ward (``ward__``); its id is the foreign key ``ward_id``."""
    return {
        "id": row[prefix.removesuffix("__") + "_id"],
        "name": row[f"{prefix}name"],
        "slug": row[f"{prefix}slug"],
        "gss": row[f"{prefix}gss"],
    }


def ballot_base(row: Mapping[str, Any]) -> dict[str, Any]:
    """The fields shared by ballot and result records, from a ``BALLOT_FIELDS`` row."""
    return {
        "ballot_paper_id": row["ballot_paper_id"],
        "election_id": row["election__election_id"],
        "date": row["election__date"],
        "council": council_ref(row),
        "ward": ward_ref(row),
        "seats_contested": row["seats_contested"],
        "voting_system": row["voting_system"],
        "by_election": row["by_election"],
        "cancelled": row["cancelled"],
        "uncontested": row["uncontested"],
        "rehearsal": row["election__rehearsal"],
        "status": row["result__status"] or ResultStatus.NO_FIGURES.value,
        "count_state": row["result__count_state"] or CountState.AWAITING.value,
        "version": row["result__version"] or 0,
    }


def ballot_rows(queryset: QuerySet[Ballot]) -> QuerySet[Any]:
    return queryset.values(*BALLOT_FIELDS)


# -- parties ----------------------------------------------------------------------------

PARTY_FIELDS = ("party_id", "name", "short_name", "colour")


def party_rows(queryset: QuerySet[Party]) -> QuerySet[Any]:
    return queryset.values(*PARTY_FIELDS)


def party_record(row: Mapping[str, Any]) -> dict[str, Any]:
    return {field: row[field] for field in PARTY_FIELDS}


# -- elections --------------------------------------------------------------------------

_ELECTION_FIELDS = (
    "id",
    "election_id",
    "date",
    "title",
    "rehearsal",
    "council__slug",
    "council__name",
    "council__gss",
    "ballot_count",
)


def election_rows(queryset: QuerySet[Election]) -> QuerySet[Any]:
    return queryset.annotate(ballot_count=Count("ballots")).values(*_ELECTION_FIELDS)


def election_record(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "election_id": row["election_id"],
        "date": row["date"],
        "title": row["title"],
        "council": council_ref(row, "council__"),
        "rehearsal": row["rehearsal"],
        "ballot_count": row["ballot_count"],
    }


def election_detail(row: Mapping[str, Any]) -> dict[str, Any]:
    """The election with its ballots (one more query)."""
    record = election_record(row)
    ballots = ballot_rows(Ballot.objects.filter(election_id=row["id"])).order_by(
        "ward__name", "by_election", "id"
    )
    record["ballots"] = [
        {
            key: value
            for key, value in ballot_base(b).items()
            if key
            in (
                "ballot_paper_id",
                "ward",
                "seats_contested",
                "by_election",
                "cancelled",
                "uncontested",
                "status",
                "count_state",
            )
        }
        for b in ballots
    ]
    return record


# -- ballots and candidacies ------------------------------------------------------------

_CANDIDACY_FIELDS = (
    "id",
    "ballot_id",
    "person_name",
    "person_id",
    "description",
    "party__party_id",
    "party__name",
)


def candidacies_by_ballot(ballot_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """Each ballot's candidacies, by name (one query)."""
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    rows = (
        Candidacy.objects.filter(ballot_id__in=list(ballot_ids))
        .order_by("ballot_id", "person_name", "id")
        .values(*_CANDIDACY_FIELDS)
    )
    for row in rows:
        grouped[row["ballot_id"]].append(candidacy_ref(row))
    return grouped


def candidacy_ref(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "person_name": row["person_name"],
        "person_id": row["person_id"],
        "party": {"party_id": row["party__party_id"], "name": row["party__name"]},
        "description": row["description"],
    }


def ballot_records(rows: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Ballot records with their candidacies for ``BALLOT_FIELDS`` rows (one more query)."""
    candidacies = candidacies_by_ballot(row["id"] for row in rows)
    return [{**ballot_base(row), "candidacies": candidacies.get(row["id"], [])} for row in rows]


_CANDIDACY_LIST_FIELDS = (
    *_CANDIDACY_FIELDS,
    "ballot__ballot_paper_id",
    "ballot__election__election_id",
    "ballot__election__date",
    "ballot__election__rehearsal",
    "ballot__election__council__slug",
    "ballot__election__council__name",
    "ballot__election__council__gss",
    "ballot__ward_id",
    "ballot__ward__name",
    "ballot__ward__slug",
    "ballot__ward__gss",
)


def candidacy_rows(queryset: QuerySet[Candidacy]) -> QuerySet[Any]:
    return queryset.values(*_CANDIDACY_LIST_FIELDS)


def candidacy_record(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **candidacy_ref(row),
        "ballot_paper_id": row["ballot__ballot_paper_id"],
        "election_id": row["ballot__election__election_id"],
        "date": row["ballot__election__date"],
        "council": council_ref(row, "ballot__election__council__"),
        "ward": ward_ref(row, "ballot__ward__"),
        "rehearsal": row["ballot__election__rehearsal"],
    }
