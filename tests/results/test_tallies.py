"""Council tallies: composition, control, hold or gain, the defending seat and the national
scoreboard, on Trafford's real results (2023 all-out, then 2024 by thirds) and on small cases
that exercise a rule each."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from councils.models import Council, Ward
from elections.models import Ballot, Candidacy, Party
from results.models import CompositionSeat, CouncilComposition, DefendedSeat
from results.services import retract_result
from results.tallies import NO_OVERALL_CONTROL, council_tally, load_tallies, national_scoreboard
from tests.factories.contests import declare, make_contest
from tests.factories.councils import make_boundary_set, make_council, make_wards
from tests.results.conftest import TRAFFORD, read_csv, run_import_results

pytestmark = pytest.mark.django_db

D2023, BY2023, D2024 = dt.date(2023, 5, 4), dt.date(2023, 11, 2), dt.date(2024, 5, 2)


# --------------------------------------------------------------------------- Trafford


@pytest.fixture(scope="module")
def trafford(reference_data: Path, django_db_blocker) -> Council:
    with django_db_blocker.unblock():
        run = run_import_results(reference_data / TRAFFORD)
        assert run.error is None, run.output
        return Council.objects.get(slug="trafford")


def party_of(row: dict[str, str]) -> str:
    return row["PoliticalPartyURI"].rsplit("/", 1)[-1] or "ynmp-party:2"


def name_of(row: dict[str, str]) -> str:
    forenames = row["CommonlyUsedForenames"] or row["CandidateForenames"]
    return f"{forenames} {row['CommonlyUsedSurname'] or row['CandidateSurname']}"


@pytest.fixture(scope="module")
def expected(reference_data: Path) -> dict[str, dict[str, dict]]:
    """From the CSV alone: per ward (GSS) the 2023 winners by votes, the seat defending in
    2024 (the 2023 winner with the fewest votes, or the 2023 by-election winner who filled
    that seat), and the 2024 winner."""
    winners: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for row in read_csv(reference_data / TRAFFORD):
        if row["Elected"] == "ELECTED":
            winners[(row["ElectionDate"], row["ElectoralAreaURI"].rsplit("/", 1)[-1])].append(row)
    wards: dict[str, dict[str, dict]] = {}
    for (date, gss), rows in winners.items():
        if date != "2023-05-04":
            continue
        rows.sort(key=lambda r: -int(r["VotesWon"]))
        defending = rows[-1]
        by = winners.get(("2023-11-02", gss))
        wards[gss] = {
            "all_out": [(party_of(r), name_of(r)) for r in rows],
            "defending": (party_of(by[0]), name_of(by[0]))
            if by
            else (party_of(defending), name_of(defending)),
            "lowest_2023": (party_of(defending), name_of(defending)),
            "won_2024": (party_of(winners[("2024-05-02", gss)][0]), name_of(winners[("2024-05-02", gss)][0])),
        }
    return wards


def test_trafford_2024_composition_and_control(trafford, expected):
    tally = council_tally(trafford, D2024)
    composition_2023 = Counter(p for ward in expected.values() for p, _ in ward["all_out"])
    assert tally.before == composition_2023 == Counter({"PP53": 41, "PP52": 10, "PP63": 6, "PP90": 6})
    after = composition_2023.copy()
    for ward in expected.values():
        after[ward["defending"][0]] -= 1
        after[ward["won_2024"][0]] += 1
    assert tally.seats == +after == Counter({"PP53": 43, "PP52": 8, "PP63": 6, "PP90": 6})
    assert (tally.total, tally.majority, tally.up, tally.unknown) == (63, 32, 21, 0)
    assert (tally.control_before, tally.control) == ("PP53", "PP53")
    assert (tally.ballots, tally.declared) == (21, 21)
    assert (tally.gains, tally.losses) == (Counter({"PP53": 2}), Counter({"PP52": 2}))


def test_trafford_2024_each_ward_hold_or_gain_against_the_defending_seat(trafford, expected):
    tally = council_tally(trafford, D2024)
    ballots = {b.pk: b for b in Ballot.objects.filter(election__date=D2024).select_related("ward")}
    assert len(tally.outcomes) == 21
    seen = {}
    for ballot_id, outcome in tally.outcomes.items():
        ward = expected[ballots[ballot_id].ward.gss]
        [seat] = outcome.defending
        assert (seat.party, seat.name) == ward["defending"]
        assert [(w.party, w.name) for w in outcome.winners] == [ward["won_2024"]]
        holder, winner = ward["defending"][0], ward["won_2024"][0]
        assert outcome.result == ("hold" if holder == winner else "gain")
        assert outcome.gain_from == (None if holder == winner else holder)
        seen[ballots[ballot_id].ward.name] = (outcome.result, outcome.gain_from)
    assert seen["Broadheath"] == ("gain", "PP52") and seen["Manor"] == ("gain", "PP52")
    assert sum(1 for r, _ in seen.values() if r == "hold") == 19


def test_a_by_election_fills_the_seat_the_usual_rule_picks_and_keeps_its_term(trafford, expected):
    bucklow = expected[Ward.objects.get(boundary_set__council=trafford, name="Bucklow-St Martins").gss]
    assert bucklow["defending"] == ("PP53", "Frances COSBY") != bucklow["lowest_2023"]
    tally = council_tally(trafford, BY2023)
    [outcome] = tally.outcomes.values()
    [seat] = outcome.defending
    assert (seat.party, seat.name) == bucklow["lowest_2023"]  # 872 votes, the fewest in 2023
    assert (outcome.result, tally.seats) == ("hold", tally.before)


def test_an_administrator_names_a_different_defending_seat(trafford, expected):
    broadheath = Ballot.objects.get(election__date=D2024, ward__name="Broadheath", by_election=False)
    labour_2023 = Candidacy.objects.get(
        ballot__election__date=D2023,
        ballot__ward=broadheath.ward,
        person_name=expected[broadheath.ward.gss]["all_out"][1][1],
    )
    assert labour_2023.party.party_id == "PP53"
    statement = DefendedSeat(
        ballot=broadheath, candidacy=labour_2023, note="Cllr stood down from the 2024 seat"
    )
    statement.full_clean()
    statement.save()

    tally = council_tally(trafford, D2024)
    outcome = tally.outcomes[broadheath.pk]
    assert [s.name for s in outcome.defending] == [labour_2023.person_name]
    assert (outcome.result, outcome.gain_from) == ("hold", None)
    assert tally.seats == Counter({"PP53": 42, "PP52": 9, "PP63": 6, "PP90": 6})
    assert (tally.gains, tally.losses, tally.control) == (Counter({"PP53": 1}), Counter({"PP52": 1}), "PP53")


def test_a_defended_seat_statement_the_tally_could_not_apply_is_refused(trafford):
    broadheath = Ballot.objects.get(election__date=D2024, ward__name="Broadheath", by_election=False)
    elsewhere = (
        Candidacy.objects.filter(ballot__election__date=D2023).exclude(ballot__ward=broadheath.ward).first()
    )
    with pytest.raises(ValidationError) as error:
        DefendedSeat(ballot=broadheath, candidacy=elsewhere).full_clean()
    assert "candidacy" in error.value.message_dict
    all_out = Ballot.objects.get(election__date=D2023, ward=broadheath.ward)
    earlier = Candidacy.objects.filter(ballot__election__date=D2023, ballot__ward=broadheath.ward).first()
    with pytest.raises(ValidationError) as error:
        DefendedSeat(ballot=all_out, candidacy=earlier).full_clean()
    assert "every seat" in error.value.message_dict["ballot"][0]
    with pytest.raises(ValidationError):
        DefendedSeat(ballot=broadheath).full_clean()  # names nothing


def test_trafford_2023_all_out_on_new_boundaries_has_no_previous_holders(trafford):
    tally = council_tally(trafford, D2023)
    assert tally.before == Counter() and tally.control_before is None
    assert tally.seats == Counter({"PP53": 41, "PP52": 10, "PP63": 6, "PP90": 6})
    assert {o.result for o in tally.outcomes.values()} == {None}
    assert tally.control == "PP53"


# --------------------------------------------------------------------------- small cases


@pytest.fixture
def borough():
    council = make_council(name="Thirdsborough")
    wards = make_wards(make_boundary_set(council=council, valid_from=dt.date(2020, 1, 1)), 3, seats=3)
    return council, wards


def test_seats_not_up_come_from_a_composition_the_administrator_entered(borough):
    council, (north, south, east) = borough
    composition = CouncilComposition.objects.create(
        council=council, as_of=dt.date(2023, 5, 4), source="council website"
    )
    green, _ = Party.objects.get_or_create(party_id="PP63", defaults={"name": "Green Party"})
    labour, _ = Party.objects.get_or_create(party_id="PP53", defaults={"name": "Labour Party"})
    for ward, rows in (
        (north, [(labour, 2, "2022-05-05"), (green, 1, "2023-05-04")]),
        (south, [(labour, 3, None)]),
        (east, [(green, 2, "2021-05-06")]),
    ):
        for party, n, elected_on in rows:
            seat = CompositionSeat(
                composition=composition,
                ward=ward,
                party=party,
                seats=n,
                elected_on=dt.date.fromisoformat(elected_on) if elected_on else None,
            )
            seat.full_clean()
            seat.save()
    date = dt.date(2024, 5, 2)
    make_contest(council, north, date, [("PP63", 900), ("PP53", 800)])  # defends a 2022 Labour seat
    make_contest(council, south, date, [("PP53", 900), ("PP63", 300)])
    make_contest(council, east, date, [("PP63", 500), ("PP53", 400)], declare_result=False)

    tally = council_tally(council, date)
    assert tally.before == Counter({"PP53": 5, "PP63": 3}) and tally.unknown == 0
    assert tally.control_before == "PP53"  # 5 of 9, whoever holds east's unknown seat
    outcomes = {o.ward_id: o for o in tally.outcomes.values()}
    assert (outcomes[north.pk].result, outcomes[north.pk].gain_from) == ("gain", "PP53")
    assert outcomes[south.pk].result == "hold"
    assert not outcomes[east.pk].declared and outcomes[east.pk].defending[0].party is None
    # East's defended seat is the unknown one (the longest-serving), and it is up: nobody's.
    assert tally.seats == Counter({"PP53": 4, "PP63": 4})
    assert (tally.total, tally.majority, tally.control, tally.declared, tally.ballots) == (9, 5, None, 2, 3)


def test_no_overall_control_once_every_contest_is_declared_and_councils_gained(borough):
    council, (north, south, east) = borough
    for ward, slate in (
        (north, ["PP53", "PP53", "PP52"]),
        (south, ["PP53", "PP53", "PP53"]),
        (east, ["PP52", "PP52", "PP90"]),
    ):
        make_contest(
            council,
            ward,
            dt.date(2022, 5, 5),
            [(p, 1000 - 10 * i) for i, p in enumerate(slate)] + [("PP63", 5)],
            seats=3,
        )
    date = dt.date(2023, 5, 4)
    make_contest(council, north, date, [("PP90", 700), ("PP53", 600)])  # defends PP52 (fewest votes in 2022)
    make_contest(council, south, date, [("PP52", 700), ("PP53", 600)])  # defends the 980-vote Labour seat
    tally = council_tally(council, date)
    assert tally.before == Counter({"PP53": 5, "PP52": 3, "PP90": 1}) and tally.control_before == "PP53"
    assert tally.seats == Counter({"PP53": 4, "PP52": 3, "PP90": 2})
    assert tally.control == NO_OVERALL_CONTROL
    assert (tally.gains, tally.losses) == (Counter({"PP90": 1, "PP52": 1}), Counter({"PP52": 1, "PP53": 1}))

    board = national_scoreboard({tally.slug: tally.entry()})
    assert board["councils_lost"] == {"PP53": 1} and board["councils_gained"] == {NO_OVERALL_CONTROL: 1}
    assert board["seats"]["PP53"] == {"won": 0, "change": -1}
    assert board["seats"]["PP90"] == {"won": 1, "change": 1}
    assert (board["councils"], board["councils_declared"]) == (1, 1)


def test_a_retracted_result_gives_its_seat_back_to_nobody_until_declared_again(borough):
    council, (north, south, east) = borough
    for ward in (north, south, east):
        make_contest(
            council,
            ward,
            dt.date(2022, 5, 5),
            [("PP53", 900), ("PP53", 800), ("PP53", 700), ("PP52", 5)],
            seats=3,
        )
    ballot = make_contest(council, north, dt.date(2023, 5, 4), [("PP52", 900), ("PP53", 800)])
    assert council_tally(council, dt.date(2023, 5, 4)).seats == Counter({"PP53": 8, "PP52": 1})
    reviewer = get_user_model().objects.create_user("reviewer", password="x")
    retract_result(
        result=ballot.result,
        reason="Wrong ward keyed",
        retracted_by=reviewer,
        expected_version=ballot.result.version,
    )
    tally = council_tally(council, dt.date(2023, 5, 4))
    assert tally.seats == Counter({"PP53": 8}) and tally.declared == 0 and tally.control == "PP53"


def test_a_named_by_election_seat_and_one_tally_per_council_of_the_day(borough):
    council, (north, south, east) = borough
    make_contest(
        council,
        north,
        dt.date(2022, 5, 5),
        [("PP53", 900), ("PP52", 800), ("PP90", 700), ("PP63", 5)],
        seats=3,
    )
    by = make_contest(
        council, north, dt.date(2022, 9, 1), [("PP63", 500), ("PP53", 400)], by=True, declare_result=False
    )
    liberal = Candidacy.objects.get(ballot__election__date=dt.date(2022, 5, 5), party__party_id="PP90")
    DefendedSeat.objects.create(ballot=by, candidacy=liberal)
    other = make_council(name="Otherton")
    other_ward = make_wards(make_boundary_set(council=other), 1)[0]
    make_contest(other, other_ward, dt.date(2022, 9, 1), [("PP52", 10), ("PP53", 5)])
    declare(by, [500, 400])

    tallies = load_tallies(dt.date(2022, 9, 1))
    assert set(tallies) == {council.pk, other.pk}
    [outcome] = tallies[council.pk].outcomes.values()
    assert [s.party for s in outcome.defending] == ["PP90"]
    assert (outcome.result, outcome.gain_from) == ("gain", "PP90")
    # The winner keeps the 700-vote seat's place: next time the 700-vote seat is the one up.
    later = make_contest(
        council, north, dt.date(2023, 5, 4), [("PP52", 10), ("PP53", 9)], declare_result=False
    )
    [up] = council_tally(council, dt.date(2023, 5, 4)).outcomes[later.pk].defending
    assert (up.party, up.votes) == ("PP63", 700)
