"""Reads of results. Business decisions stay in ``results.services``."""

from __future__ import annotations

from collections import Counter

from django.db.models import QuerySet

from councils.models import Ward
from elections.models import Ballot, Election

from .models import CandidateResult, Result, ResultStatus

# Results whose figures count: a retracted result has none, and a ballot with no figures
# yet has no winners. A disputed result keeps its last accepted figures until resolved.
_COUNTING = (ResultStatus.PROVISIONAL, ResultStatus.VERIFIED, ResultStatus.DISPUTED)


def ballots_to_key(ballot_paper_id: str) -> QuerySet[Ballot]:
    """The ballot (none or one: the id is unique) with its election, council and ward, for
    keying it: without the ward's shapes (``Ward.SHAPE_FIELDS``: a keying never draws them,
    and a detailed boundary is a large JSON document to read and parse), and ordered by id
    alone (the model's ordering by date, council and ward name would join and sort for a
    single row)."""
    return (
        Ballot.objects.select_related("election__council", "ward")
        .defer(*(f"ward__{field}" for field in Ward.SHAPE_FIELDS))
        .filter(ballot_paper_id=ballot_paper_id)
        .order_by("pk")
    )


def get_result_for_ballot(ballot: Ballot) -> Result | None:
    """The ballot's result (with its candidates' figures), or None before any keying."""
    return (
        Result.objects.filter(ballot=ballot)
        .select_related("ballot", "current_submission")
        .prefetch_related("candidate_results__candidacy__party")
        .first()
    )


def list_results_for_election(election: Election) -> QuerySet[Result]:
    """Every result of the election's ballots (by-elections on the same date included),
    with ballot, ward and candidates' figures loaded, by ward name."""
    return (
        Result.objects.filter(ballot__election=election)
        .select_related("ballot__ward", "ballot__election")
        .prefetch_related("candidate_results__candidacy__party")
        .order_by("ballot__ward__name", "ballot__by_election")
    )


def list_elected_candidates(election: Election) -> QuerySet[CandidateResult]:
    """The candidates the platform has elected at the election, from results that count."""
    return (
        CandidateResult.objects.filter(
            result__ballot__election=election, result__status__in=_COUNTING, elected=True
        )
        .select_related("candidacy__party", "result__ballot")
        .order_by("result__ballot__ballot_paper_id", "candidacy__person_name")
    )


def seats_by_party(election: Election) -> dict[str, int]:
    """Seats won at the election per party id (``PP52``, ``ynmp-party:2``, ``joint-party:…``),
    counting the elected candidates of every ballot of the election, by-elections included.

    Seats not up at this election are not counted: this is the election's result, not the
    council's composition.
    """
    counts = Counter(
        list_elected_candidates(election).values_list("candidacy__party__party_id", flat=True)
    )
    return dict(counts)
