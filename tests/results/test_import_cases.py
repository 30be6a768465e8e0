"""``import_results`` beyond the published files: unopposed returns, official corrections,
candidacies stored beforehand from another source, and spelling variants of the header."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from councils.models import Ward
from elections.models import Ballot, Candidacy, Party
from elections.services import upsert_ballot, upsert_candidacy, upsert_election, upsert_party
from results.models import EventKind, Result, ResultEvent, ResultStatus, StvCount, Submission
from tests.results.conftest import CLACKMANNANSHIRE, TRAFFORD, read_csv, run_import_results, write_csv

pytestmark = pytest.mark.django_db


def trafford_rows(data: Path, date: str, *wards: str) -> list[dict[str, str]]:
    return [r for r in read_csv(data / TRAFFORD)
            if r["ElectionDate"] == date and r["ElectoralAreaLabel"] in wards]


def test_an_unopposed_stv_ward(reference_data, tmp_path):
    """contested=0: the candidates are elected unopposed; there are no votes and no stages."""
    rows = [r for r in read_csv(reference_data / CLACKMANNANSHIRE)
            if r["ward_name"] == "Clackmannanshire Central" and r["elected"] == "1"]
    for row in rows:
        row["contested"], row["candidates"], row["first_prefs"] = "0", "3", ""
        row["total_poll"] = row["valid_poll"] = row["rejected"] = row["quota"] = ""
        for key in row:
            if key.startswith(("transfers", "total_votes")):
                row[key] = ""
    run = run_import_results(write_csv(tmp_path / "stv.csv", rows))
    assert run.error is None, run.output
    ballot = Ballot.objects.get(ward__name="Clackmannanshire Central")
    assert (ballot.uncontested, ballot.voting_system, ballot.seats_contested) == (True, "STV", 3)
    result = ballot.result
    assert result.status == ResultStatus.VERIFIED
    assert {(cr.candidacy.person_name, cr.votes, cr.elected)
            for cr in result.candidate_results.all()} == {
        ("Jane McTaggart", None, True), ("Janine Rennie", None, True), ("Wendy Hamilton", None, True)}
    assert not StvCount.objects.filter(result=result).exists()


def test_an_unopposed_fptp_ward(reference_data, tmp_path):
    rows = [r for r in trafford_rows(reference_data, "2024-05-02", "Hale") if r["Elected"] == "ELECTED"]
    rows[0].update(VotesWon="", VotesCast="", PercentageTurnout="", **{
        k: "" for k in rows[0] if k.startswith("BallotsRejected")})
    run = run_import_results(write_csv(tmp_path / "trafford.csv", rows))
    assert run.error is None, run.output
    ballot = Ballot.objects.get(ballot_paper_id="local.trafford.hale.2024-05-02")
    assert ballot.uncontested
    assert list(ballot.result.candidate_results.values_list("votes", "elected")) == [(None, True)]


def test_an_official_correction(reference_data, tmp_path):
    """A changed file corrects the verified result: a new version, an event with the reason."""
    rows = trafford_rows(reference_data, "2024-05-02", "Altrincham")
    path = write_csv(tmp_path / "trafford.csv", rows)
    assert run_import_results(path).error is None
    loser = next(r for r in rows if r["Elected"] != "ELECTED")
    loser["VotesWon"] = str(int(loser["VotesWon"]) + 10)
    for row in rows:
        row["VotesCast"] = str(int(row["VotesCast"]) + 10)
    run = run_import_results(write_csv(path, rows))
    assert run.error is None, run.output
    assert run.summary["result"] == {"created": 0, "updated": 1, "unchanged": 0, "rejected": 0}
    result = Result.objects.get(ballot__ballot_paper_id="local.trafford.altrincham.2024-05-02")
    assert (result.status, result.version, result.ballot_papers_counted) == (
        ResultStatus.VERIFIED, 2, int(rows[0]["VotesCast"]))
    event = ResultEvent.objects.filter(result=result).latest("id")
    assert event.kind == EventKind.CORRECTED
    assert event.payload["reason"] == "official_correction"
    assert Submission.objects.filter(ballot=result.ballot).count() == 2


def test_candidacies_stored_from_another_source(reference_data, tmp_path):
    """Democracy Club's candidacies come first on election night. The council's file names
    Labour and Co-operative candidates as Labour: the stored joint-party candidacy is kept.
    A forename spelt differently (same party, surname and initial) is the same candidacy;
    a stored candidate the file does not list at all refuses the ballot, naming them."""
    trafford = Ward.objects.get(gss="E05015240").boundary_set.council
    election, _ = upsert_election(election_id="local.trafford.2026-05-07", council=trafford)
    joint, _ = upsert_party(party_id="joint-party:53-119", name="Labour and Co-operative Party")
    labour = Party.objects.get(party_id="PP53")
    ashton, _ = upsert_ballot(ballot_paper_id="local.trafford.ashton-upon-mersey.2026-05-07",
                              election=election, ward=Ward.objects.get(gss="E05015240"),
                              seats_contested=1)
    hartley, _ = upsert_candidacy(ballot=ashton, person_name="Ben HARTLEY", party=joint,
                                  person_id="128303")
    bucklow, _ = upsert_ballot(ballot_paper_id="local.trafford.bucklow-st-martins.2026-05-07",
                               election=election, ward=Ward.objects.get(gss="E05015244"),
                               seats_contested=1)
    williams, _ = upsert_candidacy(ballot=bucklow, person_name="Aidan James WILLIAMS", party=labour,
                                   person_id="128400")
    bowdon, _ = upsert_ballot(ballot_paper_id="local.trafford.bowdon.2026-05-07",
                              election=election, ward=Ward.objects.get(name="Bowdon"),
                              seats_contested=1)
    upsert_candidacy(ballot=bowdon, person_name="Nobody Inthefile", party=labour, person_id="999")

    rows = trafford_rows(reference_data, "2026-05-07", "Ashton upon Mersey", "Bucklow-St Martins", "Bowdon")
    run = run_import_results(write_csv(tmp_path / "trafford.csv", rows))

    hartley.refresh_from_db()
    assert (hartley.person_id, hartley.party.party_id) == ("128303", "joint-party:53-119")
    assert ashton.candidacies.count() == 5
    assert ashton.result.candidate_results.get(candidacy=hartley).elected
    williams.refresh_from_db()
    assert (williams.person_name, williams.person_id) == ("Aidan James WILLIAMS", "128400")
    assert bucklow.result.candidate_results.filter(candidacy=williams).exists()
    assert not Candidacy.objects.filter(person_name="Aiden James WILLIAMS").exists()
    assert len(run.rejections) == 1
    assert "Nobody Inthefile is on the ballot but has no figures" in run.rejections[0]
    assert not Result.objects.filter(ballot=bowdon).exists()


def test_header_spelling_blank_lines_and_row_numbers(reference_data, tmp_path):
    """Header names match case-insensitively (councils write TypeOfElection); a byte-order
    mark and blank lines are tolerated, and rows keep the numbers a spreadsheet shows."""
    rows = trafford_rows(reference_data, "2024-05-02", "Altrincham", "Bowdon")
    path = write_csv(tmp_path / "trafford.csv", rows)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[0] = lines[0].replace("TypeofElection", "TypeOfElection").replace("VotesWon", "votesWon")
    bowdon_first = next(i for i, line in enumerate(lines) if ",Bowdon," in line)
    lines.insert(bowdon_first, "")  # Bowdon now starts on row bowdon_first + 2
    fields = lines[bowdon_first + 1].split(",")
    fields[18] = "-3"  # VotesWon
    lines[bowdon_first + 1] = ",".join(fields)
    path.write_text("\ufeff" + "\n".join(lines) + "\n\n", encoding="utf-8")
    run = run_import_results(path)
    assert run.rejections == [
        f"rejected: trafford.csv, row {bowdon_first + 2}, field 'VotesWon': -3 is negative"]
    assert Ballot.objects.get(ward__name="Altrincham").election.date == dt.date(2024, 5, 2)
    assert not Ballot.objects.filter(ward__name="Bowdon").exists()


def test_a_stored_ballot_of_the_ward_is_used(reference_data, tmp_path):
    """A ballot stored beforehand under another id (a Democracy Club post slug that is not
    the ward's) receives the result: one ballot per ward and election."""
    ward = Ward.objects.get(gss="E05015239")
    election, _ = upsert_election(election_id="local.trafford.2024-05-02",
                                  council=ward.boundary_set.council)
    stored, _ = upsert_ballot(ballot_paper_id="local.trafford.altrincham-town.2024-05-02",
                              election=election, ward=ward, seats_contested=1)
    run = run_import_results(write_csv(tmp_path / "trafford.csv",
                                       trafford_rows(reference_data, "2024-05-02", "Altrincham")))
    assert run.error is None, run.output
    assert list(Ballot.objects.filter(ward=ward).values_list("ballot_paper_id", flat=True)) == [
        "local.trafford.altrincham-town.2024-05-02"]
    assert Result.objects.get(ballot=stored).status == ResultStatus.VERIFIED
