"""``import_results`` on Trafford Council's own results (LGA ElectionResults schema):
2023 all-out (21 wards × 3 seats), 2024 and 2026 (thirds) and three by-elections."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from councils.models import Council, Ward
from elections.models import Ballot, Election
from results.models import Result, ResultStatus, Submission, SubmissionChannel
from results.selectors import seats_by_party
from tests.results.conftest import TRAFFORD, ImportRun, read_csv, run_import_results, table_counts

pytestmark = pytest.mark.django_db

BY_ELECTION_DATES = {"2023-11-02", "2025-10-16", "2025-11-20"}


@pytest.fixture(scope="module")
def trafford(reference_data: Path, django_db_blocker) -> ImportRun:
    with django_db_blocker.unblock():
        return run_import_results(reference_data / TRAFFORD)


@pytest.fixture(scope="module")
def file_ballots(reference_data: Path) -> dict[tuple[str, bool, str], list[dict[str, str]]]:
    """The file's rows by (date, by-election, ward GSS), read with csv alone."""
    ballots = defaultdict(list)
    for row in read_csv(reference_data / TRAFFORD):
        gss = row["ElectoralAreaURI"].rsplit("/", 1)[-1]
        ballots[(row["ElectionDate"], "ByElection" in row["TypeofElection"], gss)].append(row)
    return dict(ballots)


def stored_ballot(date: str, by_election: bool, gss: str) -> Ballot:
    return Ballot.objects.select_related("ward__boundary_set__council").get(
        election__council__slug="trafford", election__date=dt.date.fromisoformat(date),
        by_election=by_election, ward__gss=gss,
    )


def full_name(row: dict[str, str]) -> str:
    forenames = row["CommonlyUsedForenames"] or row["CandidateForenames"]
    surname = row["CommonlyUsedSurname"] or row["CandidateSurname"]
    return f"{forenames} {surname}"


def test_the_whole_file_imports(trafford):
    assert trafford.error is None, trafford.output
    assert trafford.rejections == []
    assert trafford.summary["result"] == {"created": 66, "updated": 0, "unchanged": 0, "rejected": 0}
    assert trafford.summary["ballot"]["created"] == 66
    assert trafford.summary["candidacy"]["created"] == 464
    assert trafford.summary["election"]["created"] == 6


def test_every_ballot_joins_its_ward(trafford, file_ballots):
    assert Ballot.objects.filter(election__council__slug="trafford").count() == len(file_ballots) == 66
    for (date, by_election, gss), rows in file_ballots.items():
        ballot = stored_ballot(date, by_election, gss)
        assert ballot.ward.gss == gss
        assert ballot.ward.name == rows[0]["ElectoralAreaLabel"]
        assert ballot.ward.boundary_set.council.slug == "trafford"
        assert ballot.ward.geometry["type"] in ("Polygon", "MultiPolygon")
        assert ballot.seats_contested == sum(r["Elected"] == "ELECTED" for r in rows)
        assert ballot.voting_system == "FPTP"
        assert (".by." in ballot.ballot_paper_id) is by_election


def test_all_out_thirds_and_by_elections(trafford):
    per_date = Counter(
        (b.election.date.isoformat(), b.by_election, b.seats_contested)
        for b in Ballot.objects.filter(election__council__slug="trafford").select_related("election")
    )
    assert per_date == {
        ("2023-05-04", False, 3): 21,
        ("2024-05-02", False, 1): 21,
        ("2026-05-07", False, 1): 21,
        ("2023-11-02", True, 1): 1,
        ("2025-10-16", True, 1): 1,
        ("2025-11-20", True, 1): 1,
    }
    assert set(
        Ballot.objects.filter(by_election=True).values_list("ballot_paper_id", flat=True)
    ) == {
        "local.trafford.bucklow-st-martins.by.2023-11-02",
        "local.trafford.broadheath.by.2025-10-16",
        "local.trafford.hale.by.2025-11-20",
    }
    # The all-out election of 2023 shows that every ward elects three councillors.
    trafford_wards = Ward.objects.filter(boundary_set__council__slug="trafford")
    assert set(trafford_wards.values_list("seats", flat=True)) == {3}
    assert Council.objects.get(slug="trafford").total_seats == 63


def test_winners_are_the_files(trafford, file_ballots):
    """The platform derives the winners from the votes; they are the file's ELECTED rows."""
    for key, rows in file_ballots.items():
        result = stored_ballot(*key).result
        stored = {cr.candidacy.person_name: (cr.votes, cr.elected)
                  for cr in result.candidate_results.select_related("candidacy")}
        expected = {full_name(r): (int(r["VotesWon"]), r["Elected"] == "ELECTED") for r in rows}
        assert stored == expected, key


def test_seats_per_party_are_the_files(trafford, file_ballots):
    for date in {key[0] for key in file_ballots}:
        expected = Counter(
            (r["PoliticalPartyURI"].rsplit("/", 1)[-1] or "ynmp-party:2")
            for (d, _, _), rows in file_ballots.items() if d == date
            for r in rows if r["Elected"] == "ELECTED"
        )
        election = Election.objects.get(election_id=f"local.trafford.{date}")
        assert seats_by_party(election) == expected, date
    assert seats_by_party(Election.objects.get(election_id="local.trafford.2023-05-04")) == {
        "PP53": 41, "PP52": 10, "PP63": 6, "PP90": 6,
    }


def test_results_are_verified_with_the_file_as_source(trafford):
    results = Result.objects.filter(ballot__election__council__slug="trafford")
    assert results.count() == 66
    source = "trafford_lga_2023_onwards.csv (https://www.trafford.gov.uk/about-your-council/elections/elections.aspx)"
    for result in results.select_related("current_submission"):
        assert result.status == ResultStatus.VERIFIED
        assert result.version == 1
        assert result.source == source
        assert result.current_submission.channel == SubmissionChannel.IMPORT
        assert result.current_submission.source == source
    assert Submission.objects.filter(ballot__election__council__slug="trafford").count() == 66


def test_ballot_figures_are_stored(trafford):
    result = stored_ballot("2023-05-04", False, "E05015239").result  # Altrincham
    assert result.ballot_papers_counted == 3222
    assert result.electorate == 7709
    assert (result.rejected_official_mark, result.rejected_multiple_vote,
            result.rejected_identification, result.rejected_in_part,
            result.rejected_unmarked) == (0, 12, 0, 0, 18)
    assert result.rejected_total == 30
    assert result.valid_papers == 3192
    assert result.turnout_pct == Decimal("41.8")
    # The 2025 by-elections publish no rejection headings: nothing is invented.
    broadheath = stored_ballot("2025-10-16", True, "E05015242").result
    assert (broadheath.rejected_total, broadheath.valid_papers) == (None, None)
    assert broadheath.ballot_papers_counted == 4389


def test_independents_and_descriptions(trafford):
    candidacy = stored_ballot("2025-10-16", True, "E05015242").candidacies.get(
        person_name="Stephen John FARNDON")
    assert candidacy.party.party_id == "ynmp-party:2"
    assert candidacy.description == ""
    candidacy = stored_ballot("2025-10-16", True, "E05015242").candidacies.get(
        person_name="Deborah RHODES")
    assert candidacy.party.party_id == "PP7931"
    assert candidacy.description == "Reform UK - Changing Politics for Good"


def test_reimport_changes_nothing(trafford, reference_data):
    before = table_counts()
    again = run_import_results(reference_data / TRAFFORD)
    assert again.error is None
    assert again.total("created") == again.total("updated") == again.total("rejected") == 0
    assert again.summary["result"]["unchanged"] == 66
    assert again.summary["candidacy"]["unchanged"] == 464
    assert table_counts() == before
