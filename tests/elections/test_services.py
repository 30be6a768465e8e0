"""The elections write path: party ids, parties, elections, ballots and candidacies."""

import datetime as dt

import pytest

from config.errors import ApplicationError
from councils.models import Nation
from elections.ids import InvalidElectionId
from elections.models import INDEPENDENT_PARTY_ID, Ballot, Candidacy, Election, Party
from elections.services import (
    get_independent_party,
    normalise_party_id,
    prune_candidacies,
    record_ward_seats,
    upsert_ballot,
    upsert_candidacy,
    upsert_election,
    upsert_party,
)
from tests.factories.councils import make_boundary_set, make_council, make_ward


@pytest.fixture
def trafford(db):
    return make_council(name="Trafford", slug="trafford")


@pytest.fixture
def trafford_wards(trafford):
    return make_boundary_set(council=trafford)


@pytest.fixture
def altrincham(trafford_wards):
    return make_ward(trafford_wards, name="Altrincham", gss="E05015239")


@pytest.fixture
def election(trafford):
    return upsert_election(election_id="local.trafford.2026-05-07", council=trafford)[0]


@pytest.fixture
def ballot(election, altrincham):
    return upsert_ballot(
        ballot_paper_id="local.trafford.altrincham.2026-05-07", election=election, ward=altrincham,
        seats_contested=1,
    )[0]


@pytest.fixture
def labour(db):
    return upsert_party(party_id="PP53", name="Labour Party")[0]


# normalise_party_id


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("PP52", "PP52"),
        ("pp52", "PP52"),
        (" PP52 ", "PP52"),
        ("52", "PP52"),
        ("party:52", "PP52"),
        ("https://search.electoralcommission.org.uk/English/Registrations/PP52", "PP52"),
        ("http://search.electoralcommission.org.uk/English/Registrations/PP7931/", "PP7931"),
        ("ynmp-party:2", "ynmp-party:2"),
        ("ynmp-party:12522", "ynmp-party:12522"),
        ("joint-party:53-119", "joint-party:53-119"),
        ("joint-party:12666-18280", "joint-party:12666-18280"),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_normalise_party_id(raw, expected):
    assert normalise_party_id(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["Labour Party", "PPX", "PP52a", "party:", "party:abc", "ynmp-party:", "ynmp-party:x",
     "joint-party:53", "joint-party:53-", "joint-party:a-b", "PP"],
)
def test_normalise_party_id_refuses_what_is_not_a_party_id(raw):
    with pytest.raises(ApplicationError) as excinfo:
        normalise_party_id(raw, field="party_ec_id")
    assert excinfo.value.code == "invalid_party_id"
    assert excinfo.value.field == "party_ec_id"


# parties


def test_upsert_party_creates_then_reports_unchanged(db):
    party, outcome = upsert_party(party_id="party:52", name=" Conservative and Unionist Party ",
                                  short_name="Con", colour="#0087dc")
    assert outcome == "created"
    assert (party.party_id, party.name, party.short_name, party.colour) == (
        "PP52", "Conservative and Unionist Party", "Con", "#0087DC",
    )
    assert upsert_party(party_id="PP52", name="Conservative and Unionist Party", short_name="Con",
                        colour="#0087DC")[1] == "unchanged"


def test_upsert_party_none_leaves_fields_and_overwrite_name_false_keeps_the_name(db):
    upsert_party(party_id="PP63", name="Green Party", short_name="Green", colour="#00A85A")
    party, outcome = upsert_party(party_id="PP63", name="Green Party (England & Wales)",
                                  overwrite_name=False)
    assert outcome == "unchanged"
    assert (party.name, party.short_name, party.colour) == ("Green Party", "Green", "#00A85A")
    party, outcome = upsert_party(party_id="PP63", name="The Green Party")
    assert outcome == "updated"
    assert Party.objects.get(party_id="PP63").name == "The Green Party"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"party_id": "", "name": "Nameless"}, "party_id"),
        ({"party_id": "Labour", "name": "Labour"}, "party_id"),
        ({"party_id": "PP53", "name": "  "}, "name"),
        ({"party_id": "PP53", "name": "Labour", "colour": "red"}, "colour"),
    ],
)
def test_upsert_party_refusals_name_the_field(db, kwargs, field):
    with pytest.raises(ApplicationError) as excinfo:
        upsert_party(**kwargs)
    assert excinfo.value.field == field
    assert not Party.objects.exists()


def test_get_independent_party_is_created_once(db):
    first = get_independent_party()
    assert (first.party_id, first.name, first.is_independent) == (INDEPENDENT_PARTY_ID, "Independent", True)
    assert get_independent_party() == first
    assert Party.objects.count() == 1


# elections


def test_upsert_election_derives_date_and_title(trafford):
    election, outcome = upsert_election(election_id="local.trafford.2026-05-07", council=trafford)
    assert outcome == "created"
    assert election.date == dt.date(2026, 5, 7)
    assert election.title == "Trafford local election 7 May 2026"
    assert upsert_election(election_id="local.trafford.2026-05-07", council=trafford)[1] == "unchanged"


def test_upsert_election_refuses_another_councils_id(trafford):
    with pytest.raises(ApplicationError) as excinfo:
        upsert_election(election_id="local.barnsley.2026-05-07", council=trafford)
    assert excinfo.value.code == "council_mismatch"
    assert not Election.objects.exists()


@pytest.mark.parametrize(
    "election_id",
    ["local.trafford.altrincham.2026-05-07", "local.trafford.2026-5-7", "local.trafford.by.2026-05-07",
     "trafford 2026"],
)
def test_upsert_election_refuses_invalid_ids(trafford, election_id):
    with pytest.raises(InvalidElectionId):
        upsert_election(election_id=election_id, council=trafford)
    assert not Election.objects.exists()


# ballots


def test_upsert_ballot_creates_with_defaults(election, altrincham):
    ballot, outcome = upsert_ballot(
        ballot_paper_id="local.trafford.altrincham.2026-05-07", election=election, ward=altrincham,
        seats_contested=1,
    )
    assert outcome == "created"
    assert (ballot.voting_system, ballot.by_election, ballot.cancelled, ballot.uncontested) == (
        "FPTP", False, False, False,
    )
    again = upsert_ballot(
        ballot_paper_id="local.trafford.altrincham.2026-05-07", election=election, ward=altrincham,
        seats_contested=1,
    )
    assert again == (ballot, "unchanged")


def test_upsert_ballot_takes_the_by_election_flag_from_the_id(election, altrincham, ballot):
    by, outcome = upsert_ballot(
        ballot_paper_id="local.trafford.altrincham.by.2026-05-07", election=election, ward=altrincham,
        seats_contested=1,
    )
    assert outcome == "created"
    assert by.by_election is True
    assert ballot.by_election is False


def test_upsert_ballot_updates_flags(ballot, election, altrincham):
    updated, outcome = upsert_ballot(
        ballot_paper_id=ballot.ballot_paper_id, election=election, ward=altrincham, seats_contested=2,
        cancelled=True, uncontested=False,
    )
    assert outcome == "updated"
    ballot.refresh_from_db()
    assert (ballot.seats_contested, ballot.cancelled) == (2, True)


def test_upsert_ballot_defaults_to_stv_in_scotland(db):
    council = make_council(name="Clackmannanshire", nation=Nation.SCOTLAND)
    ward = make_ward(make_boundary_set(council=council), name="Clackmannanshire West", seats=3)
    election = upsert_election(election_id="local.clackmannanshire.2022-05-05", council=council)[0]
    ballot, _ = upsert_ballot(
        ballot_paper_id="local.clackmannanshire.clackmannanshire-west.2022-05-05", election=election,
        ward=ward, seats_contested=3,
    )
    assert ballot.voting_system == "STV"


def test_upsert_ballot_refusals(election, altrincham, ballot):
    barnsley = make_council(name="Barnsley")
    dodworth = make_ward(make_boundary_set(council=barnsley), name="Dodworth")
    cases = [
        ({"ballot_paper_id": "local.barnsley.dodworth.2026-05-07", "ward": altrincham}, "election_mismatch"),
        ({"ballot_paper_id": "local.trafford.dodworth.2026-05-07", "ward": dodworth}, "council_mismatch"),
        ({"ballot_paper_id": "local.trafford.hale.2026-05-07", "ward": altrincham, "seats_contested": 0},
         "invalid"),
        ({"ballot_paper_id": "local.trafford.hale.2026-5-7", "ward": altrincham}, "invalid_election_id"),
        ({"ballot_paper_id": "local.trafford.2026-05-07", "ward": altrincham}, "invalid_election_id"),
        ({"ballot_paper_id": "local.trafford.hale.2026-05-07", "ward": altrincham, "voting_system": "AV"},
         "invalid"),
    ]
    for overrides, code in cases:
        kwargs = {"election": election, "seats_contested": 1, **overrides}
        with pytest.raises(ApplicationError) as excinfo:
            upsert_ballot(**kwargs)
        assert excinfo.value.code == code, overrides
    assert list(Ballot.objects.all()) == [ballot]


def test_a_second_ballot_for_the_same_ward_and_kind_is_refused_without_a_crash(election, altrincham, ballot):
    with pytest.raises(ApplicationError) as excinfo:
        upsert_ballot(
            ballot_paper_id="local.trafford.altrincham-again.2026-05-07", election=election,
            ward=altrincham, seats_contested=1,
        )
    assert excinfo.value.code == "duplicate_ballot"
    assert excinfo.value.field == "ward"
    assert f"already has the ballot {ballot.ballot_paper_id}" in excinfo.value.message


# candidacies


def test_upsert_candidacy_matches_by_person_id(ballot, labour):
    candidacy, outcome = upsert_candidacy(ballot=ballot, person_name="Mark  NESBITT", party=labour,
                                          person_id="100454", description="")
    assert outcome == "created"
    assert candidacy.person_name == "Mark NESBITT"
    renamed, outcome = upsert_candidacy(ballot=ballot, person_name="Mark Nesbitt-Jones", party=labour,
                                        person_id="100454")
    assert (renamed.pk, outcome, renamed.person_name) == (candidacy.pk, "updated", "Mark Nesbitt-Jones")


def test_upsert_candidacy_matches_by_name_and_party_without_person_id(ballot, labour):
    candidacy, _ = upsert_candidacy(ballot=ballot, person_name="Mark NESBITT", party=labour)
    same, outcome = upsert_candidacy(ballot=ballot, person_name="mark nesbitt", party=labour)
    assert (same.pk, outcome, same.person_name) == (candidacy.pk, "unchanged", "Mark NESBITT")
    with_id, outcome = upsert_candidacy(ballot=ballot, person_name="Mark NESBITT", party=labour,
                                        person_id="100454")
    assert (with_id.pk, outcome, with_id.person_id) == (candidacy.pk, "updated", "100454")


def test_upsert_candidacy_does_not_take_over_another_persons_candidacy(ballot, labour):
    upsert_candidacy(ballot=ballot, person_name="Jo Smith", party=labour, person_id="1")
    with pytest.raises(ApplicationError) as excinfo:
        upsert_candidacy(ballot=ballot, person_name="Jo Smith", party=labour, person_id="2")
    # A multi-field constraint's message, without Django's "__all__" key in it.
    assert excinfo.value.message.startswith("Candidacy: ")
    assert "__all__" not in excinfo.value.message
    assert Candidacy.objects.get().person_id == "1"


def test_upsert_candidacy_refuses_a_blank_name(ballot, labour):
    with pytest.raises(ApplicationError) as excinfo:
        upsert_candidacy(ballot=ballot, person_name="  ", party=labour)
    assert excinfo.value.field == "person_name"


def test_prune_candidacies_removes_those_not_kept(ballot, labour):
    keep, _ = upsert_candidacy(ballot=ballot, person_name="Mark NESBITT", party=labour, person_id="1")
    upsert_candidacy(ballot=ballot, person_name="Withdrawn Person", party=labour, person_id="2")
    assert prune_candidacies(ballot=ballot, keep=[keep]) == 1
    assert list(Candidacy.objects.all()) == [keep]
    assert prune_candidacies(ballot=ballot, keep=[keep]) == 0


def test_record_ward_seats_keeps_the_council_total(trafford, trafford_wards, altrincham):
    make_ward(trafford_wards, name="Bowdon")
    assert record_ward_seats(ward=altrincham, seats=3) == "updated"
    trafford.refresh_from_db()
    assert trafford.total_seats == 4
    assert record_ward_seats(ward=altrincham, seats=3) == "unchanged"


def test_forename_spelling_variant_is_the_same_candidacy(ballot, labour):
    first, created = upsert_candidacy(ballot=ballot, person_name="Aidan James Williams", party=labour,
                                      person_id="123", description="")
    again, outcome = upsert_candidacy(ballot=ballot, person_name="Aiden James WILLIAMS", party=labour,
                                      description="Labour Party Candidate")
    assert (created, again.pk, outcome) == ("created", first.pk, "updated")
    again.refresh_from_db()
    assert again.person_name == "Aidan James Williams"
    assert again.description == "Labour Party Candidate"
    # Another source's description, empty or worded differently, leaves it in place.
    for other_wording in ("", "The Labour Party Candidate"):
        _, outcome = upsert_candidacy(ballot=ballot, person_name="Aidan James Williams", party=labour,
                                      person_id="123", description=other_wording)
        assert outcome == "unchanged"
    # Relatives standing together are different people.
    other, created = upsert_candidacy(ballot=ballot, person_name="Anna Jane Williams", party=labour)
    assert created == "created" and other.pk != first.pk
