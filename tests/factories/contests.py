"""Contests for publication and tally tests: a ballot with its candidacies, and its result
declared through the write path (``submit_result``), as an official import records it.

    ballot = make_contest(council, ward, date, [("PP53", 900), ("PP52", 700)])
    ballot = make_contest(council, ward, date, [...], seats=3)            # all-out, 3 seats
    ballot = make_contest(council, ward, date, [...], by=True, declare=False)
"""

from __future__ import annotations

import datetime as dt

from councils.models import Council, Ward
from elections.models import Ballot, Candidacy, Election, Party
from results.figures import CandidateFigures, ResultFigures
from results.services import submit_result


def contest_figures(ballot: Ballot, votes: list[int]) -> ResultFigures:
    """Figures giving the ballot's candidacies (in creation order) these votes."""
    ids = list(ballot.candidacies.order_by("id").values_list("id", flat=True))
    seats = ballot.seats_contested
    valid = sum(votes) if seats == 1 else max(max(votes), -(-sum(votes) // seats))
    return ResultFigures(
        candidates=tuple(CandidateFigures(cid, v) for cid, v in zip(ids, votes, strict=True)),
        ballot_papers_counted=valid,
        valid_papers=valid,
        rejected_total=0,
        electorate=valid * 3,
    )


def declare(ballot: Ballot, votes: list[int], **kwargs: object) -> None:
    """Record official figures for the ballot (a correction when it already has a result)."""
    submit_result(
        ballot=ballot,
        figures=contest_figures(ballot, votes),
        source="test",
        channel="import",
        official=True,
        confirm_warnings=True,
        **kwargs,
    )


def make_contest(
    council: Council,
    ward: Ward,
    date: dt.date,
    votes: list[tuple[str, int]],
    *,
    seats: int = 1,
    by: bool = False,
    declare_result: bool = True,
    names: list[str] | None = None,
    rehearsal: bool = False,
) -> Ballot:
    """A ballot with one candidacy per (party id, votes), declared unless ``declare_result``
    is false. Parties are created when missing."""
    election, _ = Election.objects.get_or_create(
        council=council,
        date=date,
        defaults={
            "election_id": f"local.{council.slug}.{date}",
            "title": f"{council.name} {date}",
            "rehearsal": rehearsal,
        },
    )
    ballot = Ballot.objects.create(
        ballot_paper_id=f"local.{council.slug}.{ward.slug}{'.by' if by else ''}.{date}",
        election=election,
        ward=ward,
        seats_contested=seats,
        voting_system="FPTP",
        by_election=by,
    )
    for i, (party_id, _) in enumerate(votes):
        party, _ = Party.objects.get_or_create(party_id=party_id, defaults={"name": f"Party {party_id}"})
        name = names[i] if names else f"{party_id} candidate {i}"
        Candidacy.objects.create(ballot=ballot, person_name=name, party=party)
    if declare_result:
        declare(ballot, [v for _, v in votes])
    return ballot
