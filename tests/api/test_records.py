"""What the records say: statuses, figures, verification, history, STV stages, tallies."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import transaction

from .fuzz_data import build_fuzz_data


@pytest.fixture(scope="module")
def module_data(django_db_setup: None, django_db_blocker) -> Iterator[dict[str, str]]:
    with django_db_blocker.unblock(), transaction.atomic():
        yield build_fuzz_data()
        transaction.set_rollback(True)


@pytest.fixture
def made(module_data: dict[str, str], db: None) -> dict[str, str]:
    return module_data


def result(client, ballot: str) -> dict:  # type: ignore[no-untyped-def]
    response = client.get(f"/api/v1/results/{ballot}/")
    assert response.status_code == 200, response.content
    return response.json()


def test_an_official_result(client, made) -> None:
    record = result(client, made["verified"])
    assert (record["status"], record["verification"], record["version"]) == ("verified", "official_source", 1)
    assert [(c["person_name"], c["votes"], c["elected"]) for c in record["candidates"]] == [
        ("Geraldine COGGINS", 1980, True),
        ("Kamy ACHANTA", 704, False),
        ("Jane O'BRIEN", 512, False),
        ("Stephen FARNDON", 26, False),
    ]
    assert record["candidates"][2]["party"] == {
        "party_id": "joint-party:53-119",
        "name": "Labour and Co-operative Party",
    }
    assert record["candidates"][3]["party"]["party_id"] == "ynmp-party:2"
    assert record["rejected"] == {
        "official_mark": 0,
        "multiple_vote": 12,
        "identification": 0,
        "in_part": 0,
        "unmarked": 18,
    }
    assert (record["rejected_total"], record["ballot_papers_counted"], record["turnout_pct"]) == (
        30,
        3252,
        "41.80",
    )
    assert record["declared_at"] == "2026-05-08T01:30:00+00:00"
    assert record["source"] == "trafford.csv (https://www.trafford.gov.uk/elections)"
    assert record["ward"]["gss"] == "E05015239" and record["council"]["slug"] == "trafford"
    assert record["stv"] is None and record["rehearsal"] is False


def test_a_corrected_result_and_its_history(client, made) -> None:
    record = result(client, made["corrected"])
    assert (record["status"], record["version"], record["verification"]) == ("provisional", 2, None)
    assert [(c["person_name"], c["votes"], c["elected"]) for c in record["candidates"]] == [
        ("Anna FRASER", 1452, True),
        ("Sean ANSTEE", 1450, False),
    ]
    history = client.get(f"/api/v1/results/{made['corrected']}/history/").json()
    assert [(v["version"], v["kind"], v["reason"]) for v in history["versions"]] == [
        (1, "provisional", None),
        (2, "corrected", "recount"),
    ]
    assert [c["votes"] for c in history["versions"][0]["figures"]["candidates"]] == [1500, 1400]
    assert {c["field"] for c in history["versions"][1]["changes"]} >= {"ballot_papers_counted"}


def test_a_retracted_result_shows_no_figures(client, made) -> None:
    record = result(client, made["retracted"])
    assert record["status"] == "retracted"
    assert all(c["votes"] is None and not c["elected"] for c in record["candidates"])
    assert record["ballot_papers_counted"] is None and record["source"] == ""
    history = client.get(f"/api/v1/results/{made['retracted']}/history/").json()
    assert [v["kind"] for v in history["versions"]] == ["provisional", "retracted"]
    assert history["versions"][1]["reason"] == "Declared for the wrong ward"
    # Not exported either.
    export = client.get("/api/v1/exports/dc/", {"election": made["election"]}).content.decode()
    assert made["retracted"] not in export and made["verified"] in export


def test_counting_and_unopposed_ballots(client, made) -> None:
    counting = result(client, made["counting"])
    assert (counting["status"], counting["count_state"], counting["by_election"]) == (
        "none",
        "counting",
        True,
    )
    assert all(c["votes"] is None for c in counting["candidates"])
    unopposed = result(client, made["uncontested"])
    assert unopposed["uncontested"] is True
    assert [(c["votes"], c["elected"]) for c in unopposed["candidates"]] == [(None, True)]


def test_stv_stages(client, made) -> None:
    record = result(client, made["stv"])
    assert record["voting_system"] == "STV"
    assert record["stv"]["quota"] == 801 and record["stv"]["valid_poll"] == 2400
    stages = record["stv"]["stages"]
    assert [s["number"] for s in stages] == [1, 2]
    totals = {v["candidacy_id"]: v["total"] for v in stages[1]["votes"]}
    by_name = {c["person_name"]: c["candidacy_id"] for c in record["candidates"]}
    assert totals[by_name["Bob LAB"]] == "949.5"
    assert [c["person_name"] for c in record["candidates"] if c["elected"]] == ["Ann SNP", "Bob LAB"]


def test_rehearsal_records_say_so(client, made) -> None:
    assert result(client, made["rehearsal"])["rehearsal"] is True
    ballots = client.get("/api/v1/ballots/", {"rehearsal": "true"}).json()["results"]
    assert [b["ballot_paper_id"] for b in ballots] == [made["rehearsal"]]
    events = client.get("/api/v1/events/", {"rehearsal": "true"}).json()["events"]
    assert {e["rehearsal"] for e in events} == {True}


def test_council_tally_and_scoreboard(client, made) -> None:
    tally = client.get("/api/v1/councils/trafford/tally/", {"date": "2026-05-07"}).json()
    assert tally["council"]["slug"] == "trafford" and tally["date"] == "2026-05-07"
    assert tally["ballots"] == 5
    outcomes = {o["ballot_paper_id"]: o for o in tally["outcomes"]}
    assert [w["name"] for w in outcomes[made["verified"]]["winners"]] == ["Geraldine COGGINS"]
    assert outcomes[made["retracted"]]["declared"] is False
    assert tally["parties"]["PP63"]["name"] == "Green Party"
    board = client.get("/api/v1/scoreboard/", {"date": "2026-05-07"}).json()
    assert {c["slug"] for c in board["council_tallies"]} == {"trafford", "rehearsalton"}
    assert board["seats"]["PP63"]["won"] >= 1
    assert client.get("/api/v1/councils/trafford/tally/", {"date": "2020-01-01"}).status_code == 404


def test_council_detail_and_geojson(client, made) -> None:
    council = client.get("/api/v1/councils/trafford/").json()
    assert [w["name"] for w in council["boundary_sets"][0]["wards"]] == ["Altrincham", "Bowdon", "Hale"]
    assert council["elections"][0]["election_id"] == made["election"]
    geo = client.get("/api/v1/councils/trafford/geojson/", {"detail": "national"})
    assert geo["Content-Type"] == "application/geo+json"
    body = geo.json()
    assert body["type"] == "FeatureCollection" and len(body["features"]) == 3
    assert client.get("/api/v1/councils/trafford/geojson/", {"detail": "tiny"}).json()["field"] == "detail"
    assert client.get("/api/v1/councils/nowhere/").status_code == 404
