"""Democracy Club ids: building, parsing and refusing, all through ``elections.ids``."""

import datetime as dt

import pytest

from elections import ids
from elections.ids import InvalidElectionId

POLL = dt.date(2026, 5, 7)


def test_build_election_id_from_date_or_string():
    assert ids.build_election_id("trafford", POLL) == "local.trafford.2026-05-07"
    assert ids.build_election_id("trafford", "2026-05-07") == "local.trafford.2026-05-07"


def test_build_ballot_id_slugifies_the_ward_name():
    assert ids.build_ballot_id("trafford", "Altrincham", POLL) == "local.trafford.altrincham.2026-05-07"
    assert (
        ids.build_ballot_id("trafford", "Hale Barns & Timperley South", POLL)
        == "local.trafford.hale-barns-timperley-south.2026-05-07"
    )


def test_build_by_election_ballot_id():
    assert (
        ids.build_ballot_id("trafford", "Bowdon", "2025-10-16", by_election=True)
        == "local.trafford.bowdon.by.2025-10-16"
    )


def test_parse_ballot_id():
    parsed = ids.validate_ballot_id("local.trafford.altrincham.2026-05-07")
    assert parsed == ids.ParsedId(
        election_type="local", organisation="trafford", division="altrincham",
        by_election=False, date=POLL,
    )
    assert parsed.election_id == "local.trafford.2026-05-07"


def test_parse_by_election_ballot_id():
    parsed = ids.validate_ballot_id("local.trafford.bowdon.by.2025-10-16")
    assert parsed.by_election is True
    assert parsed.division == "bowdon"
    assert parsed.election_id == "local.trafford.2025-10-16"


def test_parse_election_id():
    parsed = ids.validate_local_election_id("local.trafford.2026-05-07")
    assert (parsed.organisation, parsed.division, parsed.date) == ("trafford", None, POLL)


def test_built_ids_parse_back_to_their_parts():
    ballot_id = ids.build_ballot_id("doncaster", "Bessacarr", "2021-05-06", by_election=True)
    parsed = ids.validate_ballot_id(ballot_id)
    assert (parsed.organisation, parsed.division, parsed.by_election, parsed.date) == (
        "doncaster", "bessacarr", True, dt.date(2021, 5, 6),
    )


@pytest.mark.parametrize(
    "value",
    [
        "",
        "nonsense",
        "local.trafford.altrincham.2026-02-30",  # no such day
        "local.Trafford.altrincham.2026-05-07",  # ids are lower case
        "local.trafford.altrincham.2026-05-07.extra",
        "local.trafford.altrincham.by.by.2026-05-07",
        " local.trafford.altrincham.2026-05-07",
        "local.trafford.2026-05-07",  # an election, not a ballot
        "local..altrincham.2026-05-07",
        "mayor.london.2024-05-02",  # not a local ballot
        None,
        123,
    ],
)
def test_invalid_ballot_ids_raise_invalid_election_id(value):
    with pytest.raises(InvalidElectionId) as excinfo:
        ids.validate_ballot_id(value, field="ballot")
    assert excinfo.value.field == "ballot"
    assert excinfo.value.code == "invalid_election_id"
    assert "is not a valid Democracy Club id" in excinfo.value.message


@pytest.mark.parametrize(
    "value",
    ["local.trafford.altrincham.2026-05-07", "parl.2024-07-04", "local.trafford.2026-13-01", ""],
)
def test_invalid_election_ids_raise_invalid_election_id(value):
    with pytest.raises(InvalidElectionId) as excinfo:
        ids.validate_local_election_id(value)
    assert excinfo.value.field == "election_id"


@pytest.mark.parametrize(
    ("organisation", "division", "date"),
    [("", "altrincham", POLL), ("trafford", "", POLL), ("trafford", "altrincham", "2026-13-01"),
     ("trafford", "altrincham", "not a date")],
)
def test_building_from_bad_parts_raises_invalid_election_id(organisation, division, date):
    with pytest.raises(InvalidElectionId):
        ids.build_ballot_id(organisation, division, date)


def test_building_an_election_id_for_an_impossible_date_raises_invalid_election_id():
    with pytest.raises(InvalidElectionId):
        ids.build_election_id("trafford", "2026-02-30")


def test_building_an_election_id_without_organisation_raises_invalid_election_id():
    with pytest.raises(InvalidElectionId):
        ids.build_election_id("", POLL)


def test_non_canonical_ballot_id_is_refused_by_validate():
    with pytest.raises(InvalidElectionId):
        ids.validate_ballot_id("local.trafford.altrincham.2026-5-7")


def test_slugify_matches_democracy_club():
    assert ids.slugify("Bowdon & Hale") == "bowdon-hale"
    assert ids.slugify("Bucklow-St Martins") == "bucklow-st-martins"


@pytest.mark.parametrize(
    ("election_id", "nation", "expected"),
    [
        ("local.trafford.2026-05-07", "ENG", "FPTP"),
        ("local.cardiff.2022-05-05", "WLS", "FPTP"),
        ("local.clackmannanshire.2022-05-05", "SCT", "STV"),
        ("local.belfast.2023-05-18", "NIR", "STV"),
    ],
)
def test_default_voting_system_by_nation(election_id, nation, expected):
    assert ids.default_voting_system(election_id, nation) == expected
