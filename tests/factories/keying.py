"""Ballots ready for keying, users with roles, and figures, for the keying and review tests.

Ballots are built through ``elections.services`` like every importer builds them; users get
their roles through ``accounts.services``::

    ballot = make_keying_ballot(seats=3)
    alice = make_correspondent(ballot.election)
    figures = figures_for(ballot, [900, 700, 400])
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from typing import Any

from django.contrib.auth import get_user_model

from accounts.models import Role
from accounts.services import assign_role
from councils.models import Council
from elections.models import Ballot, Election
from elections.services import upsert_ballot, upsert_candidacy, upsert_election, upsert_party
from results.figures import CandidateFigures, ResultFigures
from tests.factories.councils import make_boundary_set, make_council, make_ward

PASSWORD = "count-night-2026"  # noqa: S105
_users = itertools.count(1)
DEFAULT_NAMES = ("Ann ABLE", "Ben BAKER", "Cat COLE")


def make_keying_ballot(
    *,
    council: Council | None = None,
    seats: int = 1,
    names: Sequence[str] = DEFAULT_NAMES,
    system: str | None = None,
    date: dt.date = dt.date(2026, 5, 7),
    uncontested: bool = False,
) -> Ballot:
    """A new ward of ``council`` (a new council by default) with a ballot on ``date``."""
    council = council or make_council()
    boundary_set = council.boundary_sets.first() or make_boundary_set(council=council)
    ward = make_ward(boundary_set, seats=seats)
    election, _ = upsert_election(election_id=f"local.{council.slug}.{date.isoformat()}", council=council)
    ballot, _ = upsert_ballot(
        ballot_paper_id=f"local.{council.slug}.{ward.slug}.{date.isoformat()}",
        election=election,
        ward=ward,
        seats_contested=seats,
        voting_system=system,
        uncontested=uncontested,
    )
    for i, name in enumerate(names):
        party, _ = upsert_party(party_id=f"PP{(i % 5) + 1}", name=f"Party {(i % 5) + 1}")
        upsert_candidacy(ballot=ballot, person_name=name, party=party, description=f"Party {(i % 5) + 1}")
    return ballot


def make_user(prefix: str = "user", **fields: Any) -> Any:
    n = next(_users)
    fields.setdefault("email", f"{prefix}{n}@example.org")
    return get_user_model().objects.create_user(username=f"{prefix}{n}", password=PASSWORD, **fields)


def make_correspondent(election: Election, prefix: str = "correspondent") -> Any:
    user = make_user(prefix)
    assign_role(user=user, role=Role.CORRESPONDENT, council=election.council, election=election)
    return user


def make_reviewer(council: Council | None = None, prefix: str = "reviewer") -> Any:
    """A reviewer of ``council`` (every election of it), or a national one."""
    user = make_user(prefix)
    assign_role(user=user, role=Role.REVIEWER, council=council)
    return user


def make_admin() -> Any:
    return make_user("admin", is_staff=True, is_superuser=True)


def candidacy_ids(ballot: Ballot) -> list[int]:
    """The ballot's candidacy ids in name order (the order ``figures_for`` takes votes in)."""
    return list(ballot.candidacies.order_by("person_name").values_list("id", flat=True))


def figures_for(ballot: Ballot, votes: Sequence[int | None], **kw: Any) -> ResultFigures:
    """Figures with ``votes`` in candidacy-name order; by default 10 rejected papers, papers
    counted = votes ÷ seats + 10 (every voter used every vote) and an electorate of 5,000."""
    ids = candidacy_ids(ballot)
    lot = set(kw.pop("lot", ()))
    total = sum(v or 0 for v in votes)
    defaults = {
        "ballot_papers_counted": total // ballot.seats_contested + 10,
        "rejected_total": 10,
        "electorate": 5000,
    }
    return ResultFigures(
        candidates=tuple(
            CandidateFigures(cid, v, won_by_lot=cid in lot) for cid, v in zip(ids, votes, strict=True)
        ),
        **{**defaults, **kw},
    )
