"""``import_results`` on the Scottish STV count sheets of Clackmannanshire, 5 May 2022:
five multi-member wards, every stage of each count."""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from councils.models import Ward
from elections.models import Ballot, Election, Party
from results.models import CandidateResult, Result, ResultStatus, StvStageVote
from results.selectors import seats_by_party
from tests.results.conftest import (
    CLACKMANNANSHIRE,
    ImportRun,
    read_csv,
    run_import_results,
    table_counts,
)

pytestmark = pytest.mark.django_db

ELECTION_ID = "local.clackmannanshire.2022-05-05"


@pytest.fixture(scope="module")
def stv_import(reference_data: Path, django_db_blocker) -> ImportRun:
    with django_db_blocker.unblock():
        return run_import_results(reference_data / CLACKMANNANSHIRE)


@pytest.fixture(scope="module")
def file_wards(reference_data: Path) -> dict[str, list[dict[str, str]]]:
    wards = defaultdict(list)
    for row in read_csv(reference_data / CLACKMANNANSHIRE):
        wards[row["map_ward_id"]].append(row)
    return dict(wards)


def stages_of(row: dict[str, str]) -> dict[int, tuple[Decimal, Decimal]]:
    """Stage → (transfer, total) as the sheet gives them; stage 1 is first preferences."""
    stages = {1: (Decimal(row["first_prefs"]), Decimal(row["first_prefs"]))}
    for n in range(2, 14):
        if row[f"total_votes{n:02d}"]:
            stages[n] = (Decimal(row[f"transfers{n:02d}"]), Decimal(row[f"total_votes{n:02d}"]))
    return stages


def test_the_whole_file_imports(stv_import):
    assert stv_import.error is None, stv_import.output
    assert stv_import.summary["result"] == {"created": 5, "updated": 0, "unchanged": 0, "rejected": 0}
    assert stv_import.summary["candidacy"]["created"] == 36


def test_every_ward_joins_and_is_counted_by_stv(stv_import, file_wards):
    ballots = Ballot.objects.filter(election__election_id=ELECTION_ID).select_related("ward")
    assert ballots.count() == len(file_wards) == 5
    for gss, rows in file_wards.items():
        ballot = ballots.get(ward__gss=gss)
        assert ballot.ward.name == rows[0]["ward_name"]
        assert ballot.voting_system == "STV"
        assert ballot.seats_contested == int(rows[0]["seats"])
        assert ballot.ward.seats == int(rows[0]["seats"])


def test_winners_derived_from_the_stages_are_the_files(stv_import, file_wards):
    for gss, rows in file_wards.items():
        stored = {
            cr.candidacy.person_id: (cr.votes, cr.elected)
            for cr in CandidateResult.objects.filter(result__ballot__ward__gss=gss,
                                                     result__ballot__election__election_id=ELECTION_ID)
            .select_related("candidacy")
        }
        assert stored == {r["id"]: (int(r["first_prefs"]), r["elected"] == "1") for r in rows}, gss


def test_every_stage_is_stored(stv_import, file_wards):
    for gss, rows in file_wards.items():
        result = Result.objects.select_related("stv_count").get(
            ballot__ward__gss=gss, ballot__election__election_id=ELECTION_ID)
        assert result.stv_count.quota == int(rows[0]["quota"])
        assert result.stv_count.valid_poll == int(rows[0]["valid_poll"])
        assert result.valid_papers == int(rows[0]["valid_poll"])
        assert result.ballot_papers_counted == int(rows[0]["total_poll"])
        assert result.rejected_total == int(rows[0]["rejected"])
        for row in rows:
            stored = {
                v.stage.number: (v.transfer, v.total)
                for v in StvStageVote.objects.filter(stage__count=result.stv_count,
                                                     candidacy__person_id=row["id"])
                .select_related("stage")
            }
            assert stored == stages_of(row), row["name"]


def test_seats_per_party_are_the_files(stv_import, reference_data):
    rows = read_csv(reference_data / CLACKMANNANSHIRE)
    names = dict(Party.objects.values_list("party_id", "name"))
    won = seats_by_party(Election.objects.get(election_id=ELECTION_ID))
    assert Counter({names[pid]: n for pid, n in won.items()}) == Counter(
        r["party_name"] for r in rows if r["elected"] == "1")
    # Parties are matched by name, never created from a count sheet.
    assert set(won) == {"PP102", "PP52", "PP53", "PP130"}


def test_results_are_verified_with_the_file_as_source(stv_import):
    for result in Result.objects.filter(ballot__election__election_id=ELECTION_ID):
        assert result.status == ResultStatus.VERIFIED
        assert result.source == "scotland_stv_2022_clackmannanshire.csv"


def test_independents(stv_import):
    assert Ward.objects.get(gss="S13002878").ballots.get().candidacies.get(
        person_name="Hugh Van Lierop").party.party_id == "ynmp-party:2"


def test_reimport_changes_nothing(stv_import, reference_data):
    before = table_counts()
    again = run_import_results(reference_data / CLACKMANNANSHIRE)
    assert again.error is None
    assert again.total("created") == again.total("updated") == again.total("rejected") == 0
    assert again.summary["result"]["unchanged"] == 5
    assert table_counts() == before
