"""``import_results`` on Democracy Club result sets: Barnsley (thirds, 21 single-seat wards)
and Doncaster (all-out: 13 three-seat and 8 two-seat wards), 6 May 2021."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import pytest

from councils.models import Council, Ward
from elections.models import Ballot, Election
from results.models import CandidateResult, Result, ResultStatus
from results.selectors import seats_by_party
from tests.results.conftest import DC_RESULTS, ImportRun, read_csv, run_import_results, table_counts

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def dc_import(reference_data: Path, django_db_blocker) -> ImportRun:
    with django_db_blocker.unblock():
        return run_import_results(reference_data / DC_RESULTS)


@pytest.fixture(scope="module")
def file_ballots(reference_data: Path) -> dict[str, list[dict[str, str]]]:
    ballots = defaultdict(list)
    for row in read_csv(reference_data / DC_RESULTS):
        ballots[row["ballot_paper_id"]].append(row)
    return dict(ballots)


def party_id(raw: str) -> str:
    return "PP" + raw.removeprefix("party:") if raw.startswith("party:") else raw


def test_the_whole_file_imports(dc_import):
    assert dc_import.error is None, dc_import.output
    assert dc_import.summary["result"] == {"created": 42, "updated": 0, "unchanged": 0, "rejected": 0}
    assert dc_import.summary["election"]["created"] == 2
    assert dc_import.summary["candidacy"]["created"] == 278


def test_every_ballot_joins_its_ward(dc_import, file_ballots):
    """The 2021 results predate the May 2023 boundary file; wards join by their GSS code."""
    assert Ballot.objects.filter(election__date="2021-05-06").count() == len(file_ballots) == 42
    for ballot_paper_id, rows in file_ballots.items():
        ballot = Ballot.objects.select_related("ward__boundary_set__council").get(
            ballot_paper_id=ballot_paper_id)
        assert ballot.ward.gss == rows[0]["gss"]
        assert ballot.ward.boundary_set.council.slug == rows[0]["organisation_slug"]
        assert ballot.seats_contested == int(rows[0]["seats_contested"])
        assert ballot.voting_system == "FPTP"
        assert not ballot.by_election


def test_winners_are_the_files(dc_import, file_ballots):
    for ballot_paper_id, rows in file_ballots.items():
        stored = {
            cr.candidacy.person_id: (cr.candidacy.person_name, cr.votes, cr.elected)
            for cr in CandidateResult.objects.filter(result__ballot__ballot_paper_id=ballot_paper_id)
            .select_related("candidacy")
        }
        expected = {
            r["person_id"]: (r["person_name"], int(r["votes_cast"]), r["elected"] == "True")
            for r in rows
        }
        assert stored == expected, ballot_paper_id


def test_a_tie_decided_by_lot(dc_import):
    """Rockingham 2021: Labour and Conservative tied on 1,084; Labour won the draw. The file
    says only "elected", which on a tie for the seat can only mean by lot."""
    rows = {
        cr.candidacy.person_name: (cr.votes, cr.elected, cr.won_by_lot)
        for cr in CandidateResult.objects.filter(
            result__ballot__ballot_paper_id="local.barnsley.rockingham.2021-05-06"
        ).select_related("candidacy")
    }
    assert rows["Nicola Sumner"] == (1084, True, True)
    assert rows["Roy Garratt"] == (1084, False, False)
    assert CandidateResult.objects.filter(won_by_lot=True).count() == 1


def test_seats_per_party_are_the_files(dc_import, reference_data):
    rows = read_csv(reference_data / DC_RESULTS)
    for election_id in {r["election_id"] for r in rows}:
        expected = Counter(party_id(r["party_id"]) for r in rows
                           if r["election_id"] == election_id and r["elected"] == "True")
        assert seats_by_party(Election.objects.get(election_id=election_id)) == expected
    assert seats_by_party(Election.objects.get(election_id="local.doncaster.2021-05-06")) == {
        "PP53": 37, "PP52": 11, "PP2287": 3, "joint-party:53-119": 3, "PP12564": 1,
    }


def test_all_out_wards_learn_their_seats(dc_import):
    doncaster = Ward.objects.filter(boundary_set__council__slug="doncaster")
    assert Counter(doncaster.values_list("seats", flat=True)) == {3: 13, 2: 8}
    assert Council.objects.get(slug="doncaster").total_seats == 55
    # Barnsley elects by thirds: one seat a year says nothing about the ward's size.
    assert set(Ward.objects.filter(boundary_set__council__slug="barnsley")
               .values_list("seats", flat=True)) == {1}


def test_results_are_verified_with_the_file_as_source(dc_import):
    results = Result.objects.filter(ballot__election__date="2021-05-06")
    assert results.count() == 42
    for result in results:
        assert result.status == ResultStatus.VERIFIED
        assert result.source.startswith("dc_results_2021_barnsley_doncaster.csv (Democracy Club result set ")
    kingstone = Result.objects.get(ballot__ballot_paper_id="local.barnsley.kingstone.2021-05-06")
    assert kingstone.electorate == 7769
    assert str(kingstone.turnout_pct) == "23.76"


def test_reimport_changes_nothing(dc_import, reference_data):
    before = table_counts()
    again = run_import_results(reference_data / DC_RESULTS)
    assert again.error is None
    assert again.total("created") == again.total("updated") == again.total("rejected") == 0
    assert again.summary["result"]["unchanged"] == 42
    assert table_counts() == before
