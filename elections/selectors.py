"""Reads of elections, ballots, parties and candidacies.

Lookups by id validate the id through ``elections.ids`` first, so a malformed id is a typed
``InvalidElectionId`` (a 400 in the API), while a well-formed id that is not stored is ``None``.
"""

from __future__ import annotations

from django.db.models import QuerySet

from councils.models import Council

from . import ids
from .models import Ballot, Candidacy, Election, Party
from .services import normalise_party_id


def get_party(party_id: str) -> Party | None:
    """The party with this id in any accepted spelling (``PP52``, ``party:52``, ``52``), or None.

    Raises ``ApplicationError`` for a string that is not a party id.
    """
    normalised = normalise_party_id(party_id)
    if normalised is None:
        return None
    return Party.objects.filter(party_id=normalised).first()


def list_parties() -> QuerySet[Party]:
    """Every stored party, by name."""
    return Party.objects.order_by("name")


def get_election(election_id: str) -> Election | None:
    """The organisation-level election (``local.trafford.2026-05-07``), or None."""
    ids.validate_local_election_id(election_id)
    return Election.objects.select_related("council").filter(election_id=election_id).first()


def list_elections_for_council(council: Council) -> QuerySet[Election]:
    """The council's elections, latest first."""
    return Election.objects.filter(council=council).order_by("-date")


def get_ballot(ballot_paper_id: str) -> Ballot | None:
    """The ballot (``local.trafford.altrincham.2026-05-07``) with its election, council and
    ward, or None."""
    ids.validate_ballot_id(ballot_paper_id)
    return (
        Ballot.objects.select_related("election__council", "ward__boundary_set")
        .filter(ballot_paper_id=ballot_paper_id)
        .first()
    )


def list_ballots_for_election(election: Election, *, by_election: bool | None = None) -> QuerySet[Ballot]:
    """The election's ballots by ward name, with wards and candidacies (and their parties)
    loaded. ``by_election`` narrows to by-elections (True) or scheduled contests (False)."""
    qs = (
        Ballot.objects.filter(election=election)
        .select_related("ward", "election__council")
        .prefetch_related("candidacies__party")
        .order_by("ward__name", "by_election")
    )
    if by_election is not None:
        qs = qs.filter(by_election=by_election)
    return qs


def list_candidacies_for_ballot(ballot: Ballot) -> QuerySet[Candidacy]:
    """The ballot's candidates by name, with their parties."""
    return Candidacy.objects.filter(ballot=ballot).select_related("party").order_by("person_name")
