"""A small polling day for the map and page tests: a council, wards, ballots and candidates,
with results keyed through the write path (``results.services``).

Names are hostile on purpose where a test asks for it: every page must show them as text.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from councils.models import Council, Ward
from elections.models import Ballot, Candidacy, Election, Party, VotingSystem
from results.figures import CandidateFigures, ResultFigures
from results.services import SubmissionOutcome, submit_result
from tests.factories.councils import make_boundary_set, make_council, make_ward

POLLING_DAY = dt.date(2026, 5, 7)
XSS_CANDIDATE = "<img src=x onerror=alert(1)>"
XSS_PARTY = '<b onmouseover="alert(2)">Party</b> & Co'
XSS_WARD = "<script>alert(3)</script> Ward"
XSS_COUNCIL = 'Borough <i>of</i> "X" & Y'

PARTIES = (
    ("PP52", "Conservative and Unionist Party", "Con", "#0087DC"),
    ("PP53", "Labour Party", "Lab", "#E4003B"),
    ("PP63", "Green Party", "Green", "#02A95B"),
)


@dataclass
class Night:
    council: Council
    election: Election
    wards: list[Ward]
    ballots: list[Ballot]
    parties: dict[str, Party] = field(default_factory=dict)


def make_parties(*, hostile: bool = False) -> dict[str, Party]:
    parties = {}
    for party_id, name, short, colour in PARTIES:
        parties[party_id], _ = Party.objects.get_or_create(
            party_id=party_id, defaults={"name": name, "short_name": short, "colour": colour}
        )
    if hostile:
        parties["PP9999"], _ = Party.objects.get_or_create(
            party_id="PP9999", defaults={"name": XSS_PARTY, "short_name": "X", "colour": "#123456"}
        )
    return parties


def make_night(
    *,
    council_name: str = "Testborough",
    ward_names: tuple[str, ...] = ("Abbey", "Bridge", "Castle"),
    seats: int = 1,
    date: dt.date = POLLING_DAY,
    rehearsal: bool = False,
    hostile: bool = False,
    not_up: int = 0,
) -> Night:
    """A council with one ballot per ward in ``ward_names`` (``not_up`` more wards without a
    contest) and three candidates per ballot (Con, Lab, Green); ``hostile`` adds a candidate
    named ``XSS_CANDIDATE`` of the party named ``XSS_PARTY`` to the first ballot."""
    parties = make_parties(hostile=hostile)
    council = make_council(name=council_name)
    boundary_set = make_boundary_set(council=council, valid_from=dt.date(2023, 5, 1))
    council.total_seats = (len(ward_names) + not_up) * seats
    council.save(update_fields=["total_seats"])
    election = Election.objects.create(
        election_id=f"local.{council.slug}.{date.isoformat()}", date=date, council=council,
        title=f"{council_name} local election", rehearsal=rehearsal,
    )
    wards, ballots = [], []
    for index, name in enumerate(ward_names):
        ward = make_ward(boundary_set, name=name, seats=seats)
        wards.append(ward)
        ballot = Ballot.objects.create(
            ballot_paper_id=f"local.{council.slug}.{ward.slug}.{date.isoformat()}", election=election,
            ward=ward, seats_contested=seats, voting_system=VotingSystem.FPTP,
        )
        ballots.append(ballot)
        for n, party_id in enumerate(("PP52", "PP53", "PP63")):
            for seat in range(seats):
                Candidacy.objects.create(
                    ballot=ballot, party=parties[party_id],
                    person_name=f"{name} Candidate {chr(65 + n)}{seat + 1}",
                )
        if hostile and index == 0:
            Candidacy.objects.create(ballot=ballot, party=parties["PP9999"], person_name=XSS_CANDIDATE)
    for _ in range(not_up):
        make_ward(boundary_set)
    return Night(council=council, election=election, wards=wards, ballots=ballots, parties=parties)


def figures(ballot: Ballot, votes: dict[str, int], **extra: Any) -> ResultFigures:
    """Figures giving each candidacy (by person name) its votes; the others get a few votes
    each, all different (no ties to settle by lot)."""
    candidacies = list(ballot.candidacies.order_by("pk"))
    cast = [CandidateFigures(c.pk, votes.get(c.person_name, len(candidacies) - n))
            for n, c in enumerate(candidacies)]
    total = sum(c.votes or 0 for c in cast)
    per_voter = max(ballot.seats_contested, 1)
    counted = total // per_voter + 20
    values: dict[str, Any] = {
        "electorate": counted * 3, "ballot_papers_counted": counted, "rejected_total": 20,
        "declared_at": dt.datetime(2026, 5, 8, 1, 30, tzinfo=dt.UTC),
    }
    if per_voter == 1:
        values["valid_papers"] = total
    values.update(extra)
    return ResultFigures(candidates=tuple(cast), **values)


def key(
    ballot: Ballot, votes: dict[str, int], *, user: Any = None, official: bool = False,
    source: str = "Declared at the count", **extra: Any,
) -> SubmissionOutcome:
    """Key ``votes`` for ``ballot`` through ``submit_result`` (the form's channel)."""
    return submit_result(
        ballot=ballot, figures=figures(ballot, votes, **extra), source=source,
        channel="import" if official else "form", submitted_by=user, official=official,
        confirm_warnings=True,
        correction_reason="official_correction" if official else "",
    )
