"""Each filter of the read API returns exactly the records it names, and refuses what it
cannot read (naming the parameter). Filters are exact or prefix matches: a pattern
character is refused, not interpreted."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from elections.models import Party
from results.models import Result
from results.services import retract_result, set_count_state
from tests.api.conftest import Night, build_night

pytestmark = pytest.mark.django_db

OTHER_DAY = dt.date(2025, 5, 1)


@pytest.fixture(scope="module")
def module_nights(django_db_setup: None, django_db_blocker) -> Iterator[tuple[Night, Night]]:
    """Two councils of three wards on 7 May 2026 (the second's last ballot undeclared and its
    second retracted), and one council of two wards on 1 May 2025. Built once for the
    module; each test's own writes are rolled back after it."""
    with django_db_blocker.unblock(), transaction.atomic():
        main = build_night(councils=2, wards=3, declared=5)
        other = build_night(councils=1, wards=2, date=OTHER_DAY)
        user = get_user_model().objects.create_user("retractor", password="unused-password-123")
        result = Result.objects.get(ballot=main.ballots[4])
        retract_result(result=result, expected_version=result.version, retracted_by=user, reason="Wrong ward")
        yield main, other
        transaction.set_rollback(True)


@pytest.fixture
def nights(module_nights: tuple[Night, Night], db: None) -> tuple[Night, Night]:
    return module_nights


def ids_of(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.content
    return [r["ballot_paper_id"] for r in response.json()["results"]]


@pytest.mark.parametrize("endpoint", ["/api/v1/results/", "/api/v1/ballots/"])
class TestBallotFilters:
    def test_no_filter_lists_every_ballot_in_id_order(self, client, nights, endpoint) -> None:
        main, other = nights
        expected = sorted(b.ballot_paper_id for b in main.ballots + other.ballots)
        assert ids_of(client.get(endpoint)) == expected

    def test_election(self, client, nights, endpoint) -> None:
        main, _ = nights
        election = main.elections[1]
        got = ids_of(client.get(endpoint, {"election": election.election_id}))
        assert got == sorted(b.ballot_paper_id for b in main.ballots if b.election_id == election.pk)

    def test_election_date(self, client, nights, endpoint) -> None:
        _, other = nights
        got = ids_of(client.get(endpoint, {"election_date": OTHER_DAY.isoformat()}))
        assert got == sorted(b.ballot_paper_id for b in other.ballots)

    def test_council(self, client, nights, endpoint) -> None:
        main, _ = nights
        council = main.elections[0].council
        got = ids_of(client.get(endpoint, {"council": council.slug}))
        assert got == sorted(b.ballot_paper_id for b in main.ballots[:3])

    def test_council_is_exact_not_a_prefix(self, client, nights, endpoint) -> None:
        main, _ = nights
        assert (
            ids_of(client.get(endpoint, {"council": main.elections[0].council.slug.rsplit("-", 1)[0]})) == []
        )

    def test_ward_gss(self, client, nights, endpoint) -> None:
        main, _ = nights
        ballot = main.ballots[2]
        assert ids_of(client.get(endpoint, {"ward_gss": ballot.ward.gss})) == [ballot.ballot_paper_id]

    def test_ballot(self, client, nights, endpoint) -> None:
        main, _ = nights
        ballot = main.ballots[3]
        assert ids_of(client.get(endpoint, {"ballot": ballot.ballot_paper_id})) == [ballot.ballot_paper_id]

    def test_ballot_prefix(self, client, nights, endpoint) -> None:
        main, _ = nights
        prefix = f"local.{main.elections[1].council.slug}."
        got = ids_of(client.get(endpoint, {"ballot_prefix": prefix}))
        assert got == sorted(b.ballot_paper_id for b in main.ballots[3:])

    def test_status(self, client, nights, endpoint) -> None:
        main, other = nights
        assert ids_of(client.get(endpoint, {"status": "retracted"})) == [main.ballots[4].ballot_paper_id]
        assert ids_of(client.get(endpoint, {"status": "none"})) == [main.ballots[5].ballot_paper_id]
        verified = [b.ballot_paper_id for b in main.ballots[:4] + other.ballots]
        assert ids_of(client.get(endpoint, {"status": "verified"})) == sorted(verified)

    def test_status_none_includes_a_count_in_progress(self, client, nights, endpoint) -> None:
        main, _ = nights
        set_count_state(ballot=main.ballots[5], state="counting", actor=None)
        assert ids_of(client.get(endpoint, {"status": "none"})) == [main.ballots[5].ballot_paper_id]

    def test_modified_since(self, client, nights, endpoint) -> None:
        main, _ = nights
        later = timezone.now()
        assert ids_of(client.get(endpoint, {"modified_since": later.isoformat()})) == []
        set_count_state(ballot=main.ballots[5], state="counting", actor=None)
        assert ids_of(client.get(endpoint, {"modified_since": later.isoformat()})) == [
            main.ballots[5].ballot_paper_id
        ]

    def test_rehearsal(self, client, nights, endpoint) -> None:
        rehearsal = build_night(councils=1, wards=1, rehearsal=True, date=dt.date(2026, 5, 8))
        assert ids_of(client.get(endpoint, {"rehearsal": "true"})) == [rehearsal.ballots[0].ballot_paper_id]
        assert rehearsal.ballots[0].ballot_paper_id not in ids_of(
            client.get(endpoint, {"rehearsal": "false"})
        )

    def test_filters_combine(self, client, nights, endpoint) -> None:
        main, _ = nights
        council = main.elections[1].council
        got = ids_of(client.get(endpoint, {"council": council.slug, "status": "verified"}))
        assert got == [main.ballots[3].ballot_paper_id]

    @pytest.mark.parametrize(
        ("parameter", "value", "code"),
        [
            ("election", "local.trafford.2026-5-7", "invalid_election_id"),
            ("election", "local.*", "invalid_election_id"),
            ("ballot", "local.trafford.2026-05-07", "invalid_election_id"),
            ("ballot_prefix", "local.traf+", "invalid_parameter"),
            ("ballot_prefix", "local.(a|b)", "invalid_parameter"),
            ("council", "traf.*", "invalid_parameter"),
            ("ward_gss", "E05%", "invalid_parameter"),
            ("election_date", "7 May 2026", "invalid_parameter"),
            ("status", "declared", "invalid_parameter"),
            ("modified_since", "yesterday", "invalid_parameter"),
            ("modified_since", "2026-05-07T10:00:00", "invalid_parameter"),
            ("rehearsal", "maybe", "invalid_parameter"),
            ("council", "", "invalid_parameter"),
            ("page_size", "0", "invalid_parameter"),
            ("page_size", "501", "invalid_parameter"),
        ],
    )
    def test_bad_values_are_refused_naming_the_parameter(
        self, client, nights, endpoint, parameter, value, code
    ) -> None:
        response = client.get(endpoint, {parameter: value})
        assert response.status_code == 400
        body = response.json()
        assert body["code"] == code
        assert body["field"] == parameter
        assert parameter in body["message"]


def test_cursor_pages_cover_the_list_once(client, nights) -> None:
    main, other = nights
    seen: list[str] = []
    url, params = "/api/v1/results/", {"page_size": "2"}
    pages = 0
    while url:
        response = client.get(url, params)
        body = response.json()
        seen += [r["ballot_paper_id"] for r in body["results"]]
        url, params = body["next"], {}
        pages += 1
    assert pages == 4
    assert seen == sorted(b.ballot_paper_id for b in main.ballots + other.ballots)


def test_a_cursor_from_elsewhere_is_refused(client, nights) -> None:
    response = client.get("/api/v1/results/", {"cursor": "not-a-cursor"})
    assert response.status_code == 404
    assert response.json()["code"] == "invalid_cursor"
    assert response.json()["field"] == "cursor"


def test_candidacy_filters(client, nights) -> None:
    main, other = nights
    ballot = main.ballots[0]

    def names(**params: str) -> list[int]:
        response = client.get("/api/v1/candidacies/", params)
        assert response.status_code == 200, response.content
        return [c["id"] for c in response.json()["results"]]

    every = sorted(c.pk for b in main.ballots + other.ballots for c in b.candidacies.all())
    assert names() == every
    assert names(ballot=ballot.ballot_paper_id) == sorted(c.pk for c in ballot.candidacies.all())
    assert names(ward_gss=ballot.ward.gss) == sorted(c.pk for c in ballot.candidacies.all())
    assert names(election_date=OTHER_DAY.isoformat()) == sorted(
        c.pk for b in other.ballots for c in b.candidacies.all()
    )
    assert names(election=main.elections[0].election_id, party="PP53") == sorted(
        c.pk for b in main.ballots[:3] for c in b.candidacies.filter(party__party_id="PP53")
    )
    assert names(council=other.elections[0].council.slug, ballot_prefix="local.") == sorted(
        c.pk for b in other.ballots for c in b.candidacies.all()
    )
    assert client.get("/api/v1/candidacies/", {"party": "Labour"}).status_code == 400


def test_election_filters(client, nights) -> None:
    main, other = nights

    def election_ids(**params: str) -> list[str]:
        response = client.get("/api/v1/elections/", params)
        assert response.status_code == 200, response.content
        return [e["election_id"] for e in response.json()["results"]]

    assert election_ids(date=OTHER_DAY.isoformat()) == [other.elections[0].election_id]
    assert election_ids(council=main.elections[1].council.slug) == [main.elections[1].election_id]
    assert election_ids(election_prefix=f"local.{main.elections[0].council.slug}.") == [
        main.elections[0].election_id
    ]
    assert election_ids(rehearsal="true") == []


def test_event_filters(client, nights) -> None:
    main, other = nights

    def ballots(**params: str) -> list[str]:
        response = client.get("/api/v1/events/", params)
        assert response.status_code == 200, response.content
        return [e["ballot_paper_id"] for e in response.json()["events"]]

    assert ballots(kind="retracted") == [main.ballots[4].ballot_paper_id]
    assert ballots(council=other.elections[0].council.slug) == [b.ballot_paper_id for b in other.ballots]
    assert ballots(election_date=OTHER_DAY.isoformat()) == [b.ballot_paper_id for b in other.ballots]
    assert ballots(ballot=main.ballots[0].ballot_paper_id) == [main.ballots[0].ballot_paper_id]
    assert ballots(election=main.elections[1].election_id) == [
        main.ballots[3].ballot_paper_id,
        main.ballots[4].ballot_paper_id,
        main.ballots[4].ballot_paper_id,
    ]


def test_council_filters(client, nights) -> None:
    main, _ = nights
    council = main.elections[0].council
    response = client.get("/api/v1/councils/", {"gss": council.gss})
    assert [c["slug"] for c in response.json()["results"]] == [council.slug]
    assert client.get("/api/v1/councils/", {"nation": "SCT"}).json()["results"] == []
    assert client.get("/api/v1/councils/", {"nation": "Scotland"}).status_code == 400


def test_parties_list_and_detail(client, nights) -> None:
    response = client.get("/api/v1/parties/")
    assert [p["party_id"] for p in response.json()["results"]] == sorted(
        Party.objects.values_list("party_id", flat=True)
    )
    assert client.get("/api/v1/parties/PP53/").json()["name"] == "Labour Party"
    assert client.get("/api/v1/parties/PP999/").status_code == 404
    assert client.get("/api/v1/parties/Labour/").json()["field"] == "party_id"
