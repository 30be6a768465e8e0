"""A small but varied data set for API tests: every kind of record the API can return.

The ids match the examples in the OpenAPI schema (``local.trafford.altrincham.2026-05-07``,
council ``trafford``, ward ``E05015239``, party ``PP53``), so the schema's own examples, and
Schemathesis's example phase, reach real records.

Contents: Trafford (3 wards) on 2026-05-07 with an official result, a provisional one
corrected (a recount), one retracted, one uncontested, a by-election awaiting its count,
plus a joint description and an independent; a Scottish council with an STV count; a
rehearsal election.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib.auth import get_user_model

from councils.models import Nation
from elections import ids
from elections.services import (
    get_independent_party,
    upsert_ballot,
    upsert_candidacy,
    upsert_election,
    upsert_party,
)
from results.figures import CandidateFigures, ResultFigures, StvStageFigures
from results.models import CorrectionReason, SubmissionChannel
from results.services import correct_result, retract_result, set_count_state, submit_result
from tests.factories.councils import make_boundary_set, make_council, make_ward

DATE = dt.date(2026, 5, 7)


def build_fuzz_data() -> dict[str, str]:
    """Create the data set; returns the ids used (ballots by a short name)."""
    users = get_user_model()
    keyer = users.objects.create_user("api-fuzz-keyer", password="x-unused-0123456789")
    corrector = users.objects.create_user("api-fuzz-corrector", password="x-unused-0123456789")
    lab, _ = upsert_party(party_id="PP53", name="Labour Party", short_name="Lab", colour="#E4003B")
    con, _ = upsert_party(
        party_id="PP52", name="Conservative and Unionist Party", short_name="Con", colour="#0087DC"
    )
    green, _ = upsert_party(party_id="PP63", name="Green Party", short_name="Green", colour="#02A95B")
    coop, _ = upsert_party(party_id="joint-party:53-119", name="Labour and Co-operative Party")
    snp, _ = upsert_party(party_id="PP102", name="Scottish National Party (SNP)", colour="#FDF38E")
    independent = get_independent_party()

    trafford = make_council(name="Trafford", slug="trafford", gss="E08000009", total_seats=63)
    wards_set = make_boundary_set(council=trafford, valid_from=dt.date(2023, 5, 4))
    altrincham = make_ward(wards_set, name="Altrincham", gss="E05015239", seats=3)
    bowdon = make_ward(wards_set, name="Bowdon", gss="E05015241", seats=3)
    hale = make_ward(wards_set, name="Hale", gss="E05015248", seats=3)
    election, _ = upsert_election(election_id=ids.build_election_id("trafford", DATE), council=trafford)
    made: dict[str, str] = {"election": election.election_id}

    def ballot(ward, *, by: bool = False, seats: int = 1, uncontested: bool = False):  # type: ignore[no-untyped-def]
        b, _ = upsert_ballot(
            ballot_paper_id=ids.build_ballot_id("trafford", ward.slug, DATE, by_election=by),
            election=election,
            ward=ward,
            seats_contested=seats,
            uncontested=uncontested,
        )
        return b

    # Altrincham: official, verified.
    alt = ballot(altrincham)
    people = [
        ("Geraldine COGGINS", green, "Green Party"),
        ("Kamy ACHANTA", con, "Local Conservatives"),
        ("Jane O'BRIEN", coop, "Labour and Co-operative Party"),
        ("Stephen FARNDON", independent, ""),
    ]
    candidacies = [
        upsert_candidacy(ballot=alt, person_name=n, party=p, description=d, person_id=str(i + 100))[0]
        for i, (n, p, d) in enumerate(people)
    ]
    votes = [1980, 704, 512, 26]
    submit_result(
        ballot=alt,
        source="trafford.csv (https://www.trafford.gov.uk/elections)",
        channel=SubmissionChannel.IMPORT,
        official=True,
        confirm_warnings=True,
        figures=ResultFigures(
            candidates=tuple(CandidateFigures(c.pk, v) for c, v in zip(candidacies, votes, strict=True)),
            electorate=7709,
            ballot_papers_counted=sum(votes) + 30,
            rejected_total=30,
            rejected={
                "official_mark": 0,
                "multiple_vote": 12,
                "identification": 0,
                "in_part": 0,
                "unmarked": 18,
            },
            turnout_pct=Decimal("41.80"),
            declared_at=dt.datetime(2026, 5, 8, 1, 30, tzinfo=dt.UTC),
        ),
    )
    made["verified"] = alt.ballot_paper_id

    # Bowdon: keyed (provisional), then corrected after a recount.
    bow = ballot(bowdon)
    bc = [
        upsert_candidacy(ballot=bow, person_name=n, party=p)[0]
        for n, p in (("Sean ANSTEE", con), ("Anna FRASER", lab))
    ]
    first = submit_result(
        ballot=bow,
        source="Declaration at the count",
        channel=SubmissionChannel.FORM,
        submitted_by=keyer,
        figures=ResultFigures(
            candidates=(CandidateFigures(bc[0].pk, 1500), CandidateFigures(bc[1].pk, 1400)),
            ballot_papers_counted=2910,
            rejected_total=10,
            electorate=8000,
        ),
    ).result
    correct_result(
        result=first,
        expected_version=first.version,
        corrected_by=corrector,
        reason=CorrectionReason.RECOUNT,
        source="Recount declaration",
        confirm_warnings=True,
        figures=ResultFigures(
            candidates=(CandidateFigures(bc[0].pk, 1450), CandidateFigures(bc[1].pk, 1452)),
            ballot_papers_counted=2912,
            rejected_total=10,
            electorate=8000,
        ),
    )
    made["corrected"] = bow.ballot_paper_id

    # Hale: keyed, then retracted.
    hal = ballot(hale)
    hc = [
        upsert_candidacy(ballot=hal, person_name=n, party=p)[0]
        for n, p in (("Dave MORGAN", con), ("Ann PIE", lab))
    ]
    keyed = submit_result(
        ballot=hal,
        source="Declaration",
        channel=SubmissionChannel.FORM,
        submitted_by=keyer,
        figures=ResultFigures(
            candidates=(CandidateFigures(hc[0].pk, 900), CandidateFigures(hc[1].pk, 800)),
            ballot_papers_counted=1705,
            rejected_total=5,
        ),
    ).result
    retract_result(
        result=keyed,
        expected_version=keyed.version,
        retracted_by=corrector,
        reason="Declared for the wrong ward",
    )
    made["retracted"] = hal.ballot_paper_id

    # A by-election in Altrincham, counting; and Bowdon's unopposed by-election.
    by = ballot(altrincham, by=True)
    upsert_candidacy(ballot=by, person_name="Liz O'NEILL", party=lab)
    upsert_candidacy(ballot=by, person_name="Ludo TOLHURST-CLEAVER", party=green)
    set_count_state(ballot=by, state="counting", actor=keyer)
    made["counting"] = by.ballot_paper_id
    unopposed = ballot(bowdon, by=True, uncontested=True)
    only = upsert_candidacy(ballot=unopposed, person_name="Nick ROBERTSON-BROWN", party=con)[0]
    submit_result(
        ballot=unopposed,
        source="Notice of uncontested election",
        channel=SubmissionChannel.IMPORT,
        official=True,
        figures=ResultFigures(candidates=(CandidateFigures(only.pk, None),)),
    )
    made["uncontested"] = unopposed.ballot_paper_id

    # Clackmannanshire: an STV count in two stages.
    clacks = make_council(
        name="Clackmannanshire",
        slug="clackmannanshire",
        nation=Nation.SCOTLAND,
        gss="S12000005",
        total_seats=18,
    )
    ward = make_ward(
        make_boundary_set(council=clacks, valid_from=dt.date(2017, 5, 4)),
        name="Clackmannanshire West",
        gss="S13002880",
        seats=2,
    )
    stv_date = dt.date(2022, 5, 5)
    stv_election, _ = upsert_election(
        election_id=ids.build_election_id("clackmannanshire", stv_date), council=clacks
    )
    stv, _ = upsert_ballot(
        ballot_paper_id=ids.build_ballot_id("clackmannanshire", ward.slug, stv_date),
        election=stv_election,
        ward=ward,
        seats_contested=2,
    )
    sc = [
        upsert_candidacy(ballot=stv, person_name=n, party=p)[0]
        for n, p in (("Ann SNP", snp), ("Bob LAB", lab), ("Cat CON", con))
    ]
    first_prefs = {sc[0].pk: Decimal(1200), sc[1].pk: Decimal(700), sc[2].pk: Decimal(500)}
    submit_result(
        ballot=stv,
        source="Count sheet",
        channel=SubmissionChannel.IMPORT,
        official=True,
        confirm_warnings=True,
        figures=ResultFigures(
            candidates=(
                CandidateFigures(sc[0].pk, 1200, elected=True),
                CandidateFigures(sc[1].pk, 700, elected=True),
                CandidateFigures(sc[2].pk, 500, elected=False),
            ),
            ballot_papers_counted=2420,
            rejected_total=20,
            electorate=6000,
            stv_quota=801,
            stv_valid_poll=2400,
            stv_stages=(
                StvStageFigures(number=1, totals=first_prefs),
                StvStageFigures(
                    number=2,
                    totals={sc[0].pk: Decimal(801), sc[1].pk: Decimal("949.5"), sc[2].pk: Decimal("649.5")},
                ),
            ),
        ),
    )
    made["stv"] = stv.ballot_paper_id

    # A rehearsal council.
    rehearsal_council = make_council(name="Rehearsalton", slug="rehearsalton")
    rward = make_ward(make_boundary_set(council=rehearsal_council), name="Testwick")
    relection, _ = upsert_election(
        election_id=ids.build_election_id("rehearsalton", DATE), council=rehearsal_council, rehearsal=True
    )
    rballot, _ = upsert_ballot(
        ballot_paper_id=ids.build_ballot_id("rehearsalton", rward.slug, DATE),
        election=relection,
        ward=rward,
        seats_contested=1,
    )
    rc = [
        upsert_candidacy(ballot=rballot, person_name=n, party=p)[0]
        for n, p in (("Test ONE", lab), ("Test TWO", con))
    ]
    submit_result(
        ballot=rballot,
        source="Rehearsal generator",
        channel=SubmissionChannel.REPLAY,
        official=True,
        figures=ResultFigures(
            candidates=(CandidateFigures(rc[0].pk, 300), CandidateFigures(rc[1].pk, 200)),
            ballot_papers_counted=505,
            rejected_total=5,
        ),
    )
    made["rehearsal"] = rballot.ballot_paper_id
    return made
