"""Broken inputs, built from a few real rows: a refused file imports nothing; a refused
ballot imports nothing of itself while the other ballots of the file import; every refusal
names the file, the row and the field. Also: ``--dry-run`` writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from elections.models import Ballot, Candidacy, Party
from results.models import Result, ResultStatus
from tests.results.conftest import (
    CLACKMANNANSHIRE,
    DC_RESULTS,
    TRAFFORD,
    read_csv,
    run_import_results,
    table_counts,
    write_csv,
)

pytestmark = pytest.mark.django_db

# Trafford 2024: Altrincham (rows 2-5), Ashton upon Mersey (rows 6-9), Bowdon (rows 10-14).
TRAFFORD_WARDS = ("Altrincham", "Ashton upon Mersey", "Bowdon")
ASHTON_FIRST_ROW = 6


def trafford_rows(data: Path) -> list[dict[str, str]]:
    return [r for r in read_csv(data / TRAFFORD)
            if r["ElectionDate"] == "2024-05-02" and r["ElectoralAreaLabel"] in TRAFFORD_WARDS]


def ballots_2024() -> set[str]:
    return set(Ballot.objects.filter(election__election_id="local.trafford.2024-05-02")
               .values_list("ward__name", flat=True))


def assert_only_ashton_refused(run, *, row: int, field: str, message: str, file: str) -> None:
    """Ashton upon Mersey is rejected with this message; Altrincham and Bowdon import."""
    assert run.error is not None  # the command exits non-zero after committing the rest
    assert run.rejections == [f"rejected: {file}, row {row}, field {field!r}: {message}"]
    assert ballots_2024() == {"Altrincham", "Bowdon"}
    assert not Candidacy.objects.filter(ballot__ward__name="Ashton upon Mersey").exists()
    assert Result.objects.filter(status=ResultStatus.VERIFIED).count() == 2
    assert run.summary["result"]["created"] == 2
    assert run.summary["ballot"]["rejected"] == 1


def test_the_small_file_imports_as_built(reference_data, tmp_path):
    """The base of the broken files below imports cleanly, so each failure is the change's."""
    run = run_import_results(write_csv(tmp_path / "trafford.csv", trafford_rows(reference_data)))
    assert run.error is None, run.output
    assert ballots_2024() == set(TRAFFORD_WARDS)


@pytest.mark.parametrize(("value", "message"), [
    ("-5", "-5 is negative"),
    ("12O", "'12O' is not a whole number"),
])
def test_a_bad_vote_refuses_its_ballot(reference_data, tmp_path, value, message):
    rows = trafford_rows(reference_data)
    rows[ASHTON_FIRST_ROW - 2]["VotesWon"] = value
    run = run_import_results(write_csv(tmp_path / "trafford.csv", rows))
    assert_only_ashton_refused(run, row=ASHTON_FIRST_ROW, field="VotesWon", message=message,
                               file="trafford.csv")


def test_a_ward_code_that_matches_nothing(reference_data, tmp_path):
    rows = trafford_rows(reference_data)
    for row in rows:
        if row["ElectoralAreaLabel"] == "Ashton upon Mersey":
            row["ElectoralAreaURI"] = "http://statistics.data.gov.uk/id/statistical-geography/E05999999"
    run = run_import_results(write_csv(tmp_path / "trafford.csv", rows))
    assert_only_ashton_refused(
        run, row=ASHTON_FIRST_ROW, field="ElectoralAreaURI", file="trafford.csv",
        message="ward code E05999999 matches no ward of Trafford",
    )


def test_an_unknown_party(reference_data, tmp_path):
    rows = trafford_rows(reference_data)
    rows[ASHTON_FIRST_ROW - 1]["PoliticalPartyURI"] = ""
    rows[ASHTON_FIRST_ROW - 1]["PoliticalPartyLabel"] = "Official Monster Raving Loony Party"
    parties = Party.objects.count()
    run = run_import_results(write_csv(tmp_path / "trafford.csv", rows))
    assert_only_ashton_refused(
        run, row=ASHTON_FIRST_ROW + 1, field="PoliticalPartyURI", file="trafford.csv",
        message="unknown party 'Official Monster Raving Loony Party': the file gives no party id",
    )
    assert Party.objects.count() == parties


def test_a_duplicated_candidate(reference_data, tmp_path):
    rows = trafford_rows(reference_data)
    rows.insert(ASHTON_FIRST_ROW + 2, dict(rows[ASHTON_FIRST_ROW - 2]))  # now on row 10
    first = rows[ASHTON_FIRST_ROW - 2]
    name = f"{first['CandidateForenames']} {first['CandidateSurname']}"
    run = run_import_results(write_csv(tmp_path / "trafford.csv", rows))
    assert_only_ashton_refused(
        run, row=10, field="CandidateSurname", file="trafford.csv",
        message=f"{name} appears twice on this ballot (rows {ASHTON_FIRST_ROW} and 10)",
    )


def test_winners_that_disagree_with_the_votes(reference_data, tmp_path):
    """Refused by the write path itself; the refusal names the file's column."""
    rows = trafford_rows(reference_data)
    ashton = [r for r in rows if r["ElectoralAreaLabel"] == "Ashton upon Mersey"]
    winner = next(r for r in ashton if r["Elected"] == "ELECTED")
    loser = next(r for r in ashton if r["Elected"] != "ELECTED")
    winner["Elected"], loser["Elected"] = "NOT ELECTED", "ELECTED"
    run = run_import_results(write_csv(tmp_path / "trafford.csv", rows))
    assert len(run.rejections) == 1
    assert run.rejections[0].startswith(
        f"rejected: trafford.csv, row {ASHTON_FIRST_ROW}, field 'Elected': Winners disagree with the votes")
    assert ballots_2024() == {"Altrincham", "Bowdon"}


def test_inconsistent_ballot_figures(reference_data, tmp_path):
    rows = trafford_rows(reference_data)
    rows[ASHTON_FIRST_ROW - 1]["VotesCast"] = "9999"  # row 7
    run = run_import_results(write_csv(tmp_path / "trafford.csv", rows))
    original = rows[ASHTON_FIRST_ROW - 2]["VotesCast"]
    assert_only_ashton_refused(
        run, row=ASHTON_FIRST_ROW + 1, field="VotesCast", file="trafford.csv",
        message=f"'9999' here but '{original}' on row {ASHTON_FIRST_ROW} of the same ballot",
    )


@pytest.mark.parametrize("relative", [TRAFFORD, DC_RESULTS, CLACKMANNANSHIRE])
def test_a_truncated_file_is_refused_whole(reference_data, tmp_path, relative):
    lines = (reference_data / relative).read_text(encoding="utf-8-sig").splitlines()[:12]
    lines[-1] = lines[-1][: len(lines[-1]) // 2]  # the file ends in the middle of row 12
    path = tmp_path / Path(relative).name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = table_counts()
    run = run_import_results(path)
    assert run.error is not None
    assert run.error.startswith(f"{path.name}, row 12, field ")
    assert "the file is truncated" in run.error
    assert table_counts() == before


def test_an_unterminated_quote_is_refused_whole(reference_data, tmp_path):
    rows = trafford_rows(reference_data)
    path = write_csv(tmp_path / "trafford.csv", rows)
    path.write_text(path.read_text(encoding="utf-8") + '2024-05-10,"http://opendata', encoding="utf-8")
    before = table_counts()
    run = run_import_results(path)
    assert run.error is not None
    assert run.error.startswith("trafford.csv, row 15: unreadable CSV")
    assert table_counts() == before


def test_an_unknown_header(tmp_path, reference_data):
    path = tmp_path / "mystery.csv"
    path.write_text("ward,candidate,votes\nAltrincham,Ann Able,12\n", encoding="utf-8")
    run = run_import_results(path)
    assert run.error is not None
    assert run.error.startswith("mystery.csv, row 1: unknown header (ward, candidate, votes)")
    for name in ("LGA ElectionResults CSV", "Democracy Club results CSV", "Scottish STV count-sheet CSV"):
        assert name in run.error


def test_a_missing_required_column(reference_data, tmp_path):
    rows = trafford_rows(reference_data)
    for row in rows:
        del row["VotesWon"]
    before = table_counts()
    run = run_import_results(write_csv(tmp_path / "trafford.csv", rows))
    assert run.error == (
        "trafford.csv, row 1, field 'VotesWon': a LGA ElectionResults CSV file needs the "
        "column(s) VotesWon"
    )
    assert table_counts() == before


# -- Democracy Club results -----------------------------------------------------------------

KINGSTONE = "local.barnsley.kingstone.2021-05-06"  # rows 2-8
DARTON_WEST = "local.barnsley.darton-west.2021-05-06"  # rows 9-12
CENTRAL = "local.barnsley.central.2021-05-06"  # rows 13-16


def dc_rows(data: Path) -> list[dict[str, str]]:
    return [r for r in read_csv(data / DC_RESULTS)
            if r["ballot_paper_id"] in (KINGSTONE, DARTON_WEST, CENTRAL)]


def barnsley_ballots() -> set[str]:
    return set(Ballot.objects.filter(result__status=ResultStatus.VERIFIED)
               .values_list("ballot_paper_id", flat=True))


@pytest.mark.parametrize(("column", "value", "row", "message"), [
    ("ballot_paper_id", "local.barnsley.darton west.2021-05-06", 9,
     "'local.barnsley.darton west.2021-05-06' is not a valid Democracy Club id: "
     "it does not follow the id grammar"),
    ("election_id", "local.barnsley.2021-05-07", 9,
     f"ballot {DARTON_WEST} is not part of election local.barnsley.2021-05-07"),
    ("party_id", "party:lab", 10,
     "'party:lab' is not a party id (expected PP52, party:52, ynmp-party:2 or joint-party:53-119)"),
    ("votes_cast", "-1", 10, "-1 is negative"),
    ("gss", "E05999999", 9, "ward code E05999999 matches no ward of Barnsley"),
])
def test_dc_ballot_refusals(reference_data, tmp_path, column, value, row, message):
    rows = dc_rows(reference_data)
    darton = [r for r in rows if r["ballot_paper_id"] == DARTON_WEST]
    targets = darton if column in ("ballot_paper_id", "election_id", "gss") else darton[1:2]
    for target in targets:
        target[column] = value
    run = run_import_results(write_csv(tmp_path / "dc.csv", rows))
    assert run.rejections == [f"rejected: dc.csv, row {row}, field {column!r}: {message}"]
    assert barnsley_ballots() == {KINGSTONE, CENTRAL}
    assert not Candidacy.objects.filter(person_id__in=[r["person_id"] for r in darton]).exists()


def test_dc_duplicated_candidate(reference_data, tmp_path):
    rows = dc_rows(reference_data)
    rows.insert(11, dict(rows[7]))  # Darton West's first candidate again, on row 13
    for row in rows:
        if row["ballot_paper_id"] == DARTON_WEST:
            row["num_candidates"] = "5"
    run = run_import_results(write_csv(tmp_path / "dc.csv", rows))
    assert run.rejections == [
        f"rejected: dc.csv, row 13, field 'person_name': {rows[7]['person_name']} appears twice "
        "on this ballot (rows 9 and 13)"
    ]
    assert barnsley_ballots() == {KINGSTONE, CENTRAL}


# -- STV count sheets ----------------------------------------------------------------------


def stv_rows(data: Path) -> list[dict[str, str]]:
    return read_csv(data / CLACKMANNANSHIRE)


def stv_ballots() -> set[str]:
    return set(Ballot.objects.filter(result__status=ResultStatus.VERIFIED)
               .values_list("ward__name", flat=True))


ALL_WARDS = {"Clackmannanshire South", "Clackmannanshire West", "Clackmannanshire East",
             "Clackmannanshire North", "Clackmannanshire Central"}


@pytest.mark.parametrize(("column", "value", "message"), [
    ("party_name", "Scottish Pirate Party",
     "unknown party 'Scottish Pirate Party': no stored party has this name (import the party "
     "register first, or add the name to SCOTTISH_PARTY_ALIASES)"),
    ("first_prefs", "-742", "-742 is negative"),
    ("total_votes03", "", "stage 3 has no total for Bryan Quinn, but other candidates have "
                          "totals at this stage or later"),
])
def test_stv_ballot_refusals(reference_data, tmp_path, column, value, message):
    rows = stv_rows(reference_data)
    rows[0][column] = value  # Bryan Quinn, Clackmannanshire South, row 2
    run = run_import_results(write_csv(tmp_path / "stv.csv", rows))
    assert run.rejections == [f"rejected: stv.csv, row 2, field {column!r}: {message}"]
    assert stv_ballots() == ALL_WARDS - {"Clackmannanshire South"}
    assert not Ballot.objects.filter(ward__name="Clackmannanshire South").exists()


def test_stv_stated_winners_checked_against_the_stages(reference_data, tmp_path):
    rows = stv_rows(reference_data)
    rows[4]["elected"] = "1"  # William Marlin, excluded at stage 6
    run = run_import_results(write_csv(tmp_path / "stv.csv", rows))
    assert len(run.rejections) == 1
    assert run.rejections[0].startswith(
        "rejected: stv.csv, row 2, field 'elected': Winners disagree with the votes: stated as "
        "elected but not by the figures: William Marlin")
    assert stv_ballots() == ALL_WARDS - {"Clackmannanshire South"}


def test_stv_party_aliases(reference_data, tmp_path):
    rows = stv_rows(reference_data)
    aliases = {"Scottish National Party (SNP)": "SNP", "Conservative and Unionist Party":
               "Scottish Conservative & Unionist Party", "Labour Party": "Scottish Labour",
               "Scottish Green Party": "scottish green party"}
    for row in rows:
        row["party_name"] = aliases.get(row["party_name"], row["party_name"])
    run = run_import_results(write_csv(tmp_path / "stv.csv", rows))
    assert run.error is None, run.output
    assert set(Candidacy.objects.values_list("party__party_id", flat=True)) == {
        "PP102", "PP52", "PP53", "PP130", "PP90", "PP12700", "ynmp-party:2"}


# -- dry run -------------------------------------------------------------------------------


@pytest.mark.parametrize(("relative", "results"), [
    (TRAFFORD, 66), (DC_RESULTS, 42), (CLACKMANNANSHIRE, 5),
])
def test_dry_run_writes_nothing(reference_data, relative, results):
    from councils.models import Ward

    before = table_counts()
    seats = list(Ward.objects.order_by("pk").values_list("seats", flat=True))
    run = run_import_results(reference_data / relative, "--dry-run")
    assert run.error is None
    assert "Dry run: nothing was written." in run.output
    assert run.summary["result"]["created"] == results  # what a real run would do
    assert table_counts() == before
    assert list(Ward.objects.order_by("pk").values_list("seats", flat=True)) == seats
