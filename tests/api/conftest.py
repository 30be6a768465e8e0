"""Fixtures for the read API: synthetic nights built through the services, API keys, and a
client. The server-side document cache is cleared around every test (it is keyed on the
change token, which does not move between tests whose writes are rolled back)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from rest_framework_api_key.models import APIKey

from elections import ids
from elections.models import Ballot, Candidacy, Election, Party
from elections.services import upsert_ballot, upsert_candidacy, upsert_election, upsert_party
from results.figures import CandidateFigures, ResultFigures
from results.models import Result, SubmissionChannel
from results.services import submit_result
from tests.factories.councils import make_boundary_set, make_council, make_wards
from tests.support import clear_cache

_names = itertools.count(1)
PARTIES = (
    ("PP52", "Conservative and Unionist Party"),
    ("PP53", "Labour Party"),
    ("PP63", "Green Party"),
    ("PP90", "Liberal Democrats"),
)


@pytest.fixture(autouse=True)
def _fresh_api_cache() -> Iterator[None]:
    clear_cache()
    yield
    clear_cache()


@dataclass
class Night:
    date: dt.date
    elections: list[Election] = field(default_factory=list)
    ballots: list[Ballot] = field(default_factory=list)

    def candidacies(self, ballot: Ballot) -> list[Candidacy]:
        return list(ballot.candidacies.order_by("id"))


def parties() -> dict[str, Party]:
    return {pid: upsert_party(party_id=pid, name=name)[0] for pid, name in PARTIES}


def figures_for(
    ballot: Ballot, votes: list[int], *, rejected: int = 10, electorate: int = 5000
) -> ResultFigures:
    """First-past-the-post figures that pass every check: valid papers = the votes' sum."""
    candidacies = list(ballot.candidacies.order_by("id"))
    assert len(candidacies) == len(votes)
    valid = sum(votes) // ballot.seats_contested
    return ResultFigures(
        candidates=tuple(
            CandidateFigures(candidacy_id=c.pk, votes=v) for c, v in zip(candidacies, votes, strict=True)
        ),
        electorate=electorate,
        ballot_papers_counted=valid + rejected,
        rejected_total=rejected,
    )


def declare(ballot: Ballot, votes: list[int], **kwargs: object) -> Result:
    """An official (verified) result with these votes."""
    outcome = submit_result(
        ballot=ballot,
        figures=figures_for(ballot, votes, **kwargs),
        source="https://example.org/declaration",
        channel=SubmissionChannel.IMPORT,
        official=True,
        confirm_warnings=True,
    )
    return outcome.result


def build_night(
    *,
    councils: int = 1,
    wards: int = 2,
    candidates: int = 3,
    date: dt.date | None = None,
    declared: int | None = None,
    rehearsal: bool = False,
) -> Night:
    """``councils`` councils of ``wards`` single-seat wards each, every ballot with
    ``candidates`` candidacies, the first ``declared`` ballots (default all) with a verified
    result. Everything goes through the services, as imports do."""
    date = date or dt.date(2026, 5, 7)
    night = Night(date=date)
    known = parties()
    party_ids = list(known)
    for _ in range(councils):
        n = next(_names)
        council = make_council(name=f"Apiborough {n}", total_seats=wards)
        boundary_set = make_boundary_set(council=council, valid_from=dt.date(2020, 1, 1))
        election, _ = upsert_election(
            election_id=ids.build_election_id(council.slug, date), council=council, rehearsal=rehearsal
        )
        night.elections.append(election)
        for ward in make_wards(boundary_set, wards):
            ballot, _ = upsert_ballot(
                ballot_paper_id=ids.build_ballot_id(council.slug, ward.slug, date),
                election=election,
                ward=ward,
                seats_contested=1,
            )
            for i in range(candidates):
                upsert_candidacy(
                    ballot=ballot,
                    person_name=f"Candidate{i} SURNAME{n}X{ward.pk}",
                    party=known[party_ids[i % len(party_ids)]],
                    person_id=f"{ward.pk}{i}",
                    description=f"Description {i}",
                )
            night.ballots.append(ballot)
    for ballot in night.ballots[: len(night.ballots) if declared is None else declared]:
        declare(ballot, [100 * (candidates - i) + 7 for i in range(candidates)])
    return night


@pytest.fixture
def night(db: None) -> Night:
    return build_night(councils=2, wards=3)


@pytest.fixture
def api_key(db: None) -> tuple[APIKey, str]:
    return APIKey.objects.create_key(name="Newsroom graphics")


def key_header(key: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Api-Key {key}"}
