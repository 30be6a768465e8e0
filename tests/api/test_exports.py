"""Open data exports: the LGA ElectionResults CSV and Democracy Club's columns, from the
command and the API, checked against Trafford Council's own published file."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from elections.models import Ballot, Candidacy, Election, Party
from results import append_only
from results.exports import DC_COLUMNS, LGA_COLUMNS
from results.exports.names import split_name
from results.models import Result, ResultEvent, Submission
from tests.api.conftest import build_night

TRAFFORD_LGA = "results/trafford_lga_2023_onwards.csv"
TRAFFORD_BOUNDARIES = "boundaries/E08000009-trafford.wd-may2023.geojson"
PUBLISHED = "2026-01-01"
# Columns of the LGA file the platform does not store (see results/exports/__init__.py).
NOT_STORED = ("PublicationDate", "ReturningOfficer", "ElectoralDept", "ContactEmail", "ContactTel")


def _quiet(name: str, *args: str) -> str:
    out = StringIO()
    call_command(name, *args, stdout=out, stderr=StringIO(), verbosity=0)
    return out.getvalue()


def export(*args: str) -> str:
    return _quiet("export_results", *args)


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(scope="module")
def trafford(sample_data: Path, django_db_setup: None, django_db_blocker) -> Iterator[Path]:
    """Trafford's wards and the council's own results file, imported once for the module."""
    with django_db_blocker.unblock(), transaction.atomic():
        _quiet("import_boundaries", str(sample_data / TRAFFORD_BOUNDARIES))
        _quiet("import_results", str(sample_data / TRAFFORD_LGA))
        yield sample_data
        transaction.set_rollback(True)


@pytest.fixture
def imported(trafford: Path, db: None) -> Path:
    return trafford


def empty_results() -> None:
    """Remove every election, result and party, keeping councils and wards: the database a
    new platform starts from. The append-only triggers are lifted for it, inside the test's
    transaction, which puts everything back when it rolls back."""
    append_only.uninstall(connection)
    ResultEvent.objects.all().delete()
    Result.objects.all().delete()
    Submission.objects.all().delete()
    Candidacy.objects.all().delete()
    Ballot.objects.all().delete()
    Election.objects.all().delete()
    Party.objects.all().delete()


def reimport(tmp_path: Path, text: str, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    _quiet("import_results", str(path))


def test_the_lga_header_is_the_councils_header(imported: Path) -> None:
    with (imported / TRAFFORD_LGA).open(encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle))
    assert tuple(header) == LGA_COLUMNS
    text = export(
        "--format", "lga", "--election", "local.trafford.2023-05-04", "--publication-date", PUBLISHED
    )
    assert text.splitlines()[0].split(",") == header
    assert text.endswith("\r\n") and "\r\n" in text.splitlines(keepends=True)[1]


def test_trafford_2023_comes_back_as_the_council_published_it(imported: Path) -> None:
    """Candidates, parties, votes, elected flags and ballot totals, and every other column
    the platform stores, are the council's own, row for row and in the council's order."""
    published = [
        r
        for r in rows((imported / TRAFFORD_LGA).read_text(encoding="utf-8-sig"))
        if r["ElectionDate"] == "2023-05-04"
    ]
    exported = rows(
        export("--format", "lga", "--election", "local.trafford.2023-05-04", "--publication-date", PUBLISHED)
    )
    assert len(exported) == len(published) == 236
    stored = [c for c in LGA_COLUMNS if c not in NOT_STORED]
    for ours, theirs in zip(exported, published, strict=True):
        assert {c: ours[c] for c in stored} == {c: theirs[c] for c in stored}
        assert ours["PublicationDate"] == PUBLISHED
        assert all(ours[c] == "" for c in NOT_STORED[1:])


def test_a_council_export_covers_all_its_elections_in_the_councils_order(imported: Path) -> None:
    published = rows((imported / TRAFFORD_LGA).read_text(encoding="utf-8-sig"))
    exported = rows(export("--format", "lga", "--council", "trafford", "--publication-date", PUBLISHED))
    key = (
        "ElectionDate",
        "TypeofElection",
        "ElectoralAreaLabel",
        "CandidateSurname",
        "CandidateForenames",
        "VotesWon",
        "Elected",
        "VotesCast",
    )

    def party(row: dict[str, str]) -> str:
        # The council's later files write the register's address with https: the id is what counts.
        return row["PoliticalPartyURI"].rsplit("/", 1)[-1]

    assert [(*(r[k] for k in key), party(r)) for r in exported] == [
        (*(r[k] for k in key), party(r)) for r in published
    ]


def test_import_then_export_gives_back_the_same_file(imported: Path, tmp_path: Path) -> None:
    """The 2023 all-out election (three-seat wards): exported, imported into a database
    without any election or party, and exported again, byte for byte."""
    scope = ("--election", "local.trafford.2023-05-04", "--publication-date", PUBLISHED)
    first = export("--format", "lga", *scope)
    empty_results()
    assert export("--format", "lga", *scope) == ",".join(LGA_COLUMNS) + "\r\n"
    reimport(tmp_path, first, "trafford-export.csv")
    assert export("--format", "lga", *scope) == first


def test_the_democracy_club_format_round_trips(imported: Path, tmp_path: Path) -> None:
    first = export("--format", "dc", "--election", "local.trafford.2024-05-02")
    header = first.splitlines()[0].split(",")
    assert tuple(header) == DC_COLUMNS
    dc_fields = set((imported / "candidates" / "ynr_data_exports_csv_fields.txt").read_text().split())
    # Democracy Club's own names where they have the column; the rest as in their results sets.
    assert {
        "election_id",
        "ballot_paper_id",
        "person_id",
        "person_name",
        "party_id",
        "party_name",
        "votes_cast",
        "elected",
        "rank",
        "seats_contested",
        "turnout_percentage",
        "total_electorate",
        "turnout_reported",
        "spoilt_ballots",
        "tied_vote_winner",
        "gss",
        "post_label",
    } <= dc_fields
    body = rows(first)
    assert len(body) == 98
    altrincham = [r for r in body if r["post_label"] == "Altrincham"]
    assert [r["rank"] for r in altrincham] == [str(n) for n in range(1, len(altrincham) + 1)]
    assert sum(r["elected"] == "True" for r in altrincham) == 1
    empty_results()
    reimport(tmp_path, first, "trafford-2024-dc.csv")
    assert export("--format", "dc", "--election", "local.trafford.2024-05-02") == first


def test_the_api_serves_the_same_files(imported: Path, client) -> None:
    for file_format in ("lga", "dc"):
        command = export(
            "--format",
            file_format,
            "--election",
            "local.trafford.2023-05-04",
            "--publication-date",
            PUBLISHED,
        )
        response = client.get(
            f"/api/v1/exports/{file_format}/",
            {"election": "local.trafford.2023-05-04", "publication_date": PUBLISHED},
        )
        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert response["Content-Disposition"] == (
            f'attachment; filename="local.trafford.2023-05-04-{file_format}.csv"'
        )
        assert response.content.decode() == command
    council = client.get("/api/v1/exports/lga/", {"council": "trafford", "publication_date": PUBLISHED})
    assert council.content.decode() == export(
        "--format", "lga", "--council", "trafford", "--publication-date", PUBLISHED
    )
    assert (
        "max-age=3600"
        in client.get("/api/v1/exports/lga/", {"election": "local.trafford.2023-05-04"})["Cache-Control"]
    )


@pytest.mark.django_db
def test_rehearsal_exports_are_marked(client) -> None:
    night = build_night(councils=1, wards=1, rehearsal=True, date=dt.date(2027, 5, 6))
    election = night.elections[0].election_id
    response = client.get("/api/v1/exports/lga/", {"election": election})
    assert response["Content-Disposition"] == f'attachment; filename="rehearsal-{election}-lga.csv"'
    assert response["X-Rehearsal"] == "true"
    dc = rows(client.get("/api/v1/exports/dc/", {"election": election}).content.decode())
    assert {r["rehearsal"] for r in dc} == {"True"}
    err = StringIO()
    call_command("export_results", "--format", "dc", "--election", election, stdout=StringIO(), stderr=err)
    assert "rehearsal" in err.getvalue()


@pytest.mark.django_db
def test_the_command_refuses_what_it_cannot_export() -> None:
    with pytest.raises(CommandError, match="--election, --council or --date"):
        export("--format", "lga")
    with pytest.raises(CommandError, match="not a valid Democracy Club id"):
        export("--format", "lga", "--election", "local.trafford.2023")
    with pytest.raises(CommandError, match="not a date"):
        export("--format", "lga", "--date", "May 2026")


@pytest.mark.parametrize(
    ("name", "surname", "forenames"),
    [
        ("Kamy ACHANTA", "ACHANTA", "Kamy"),
        ("Rose DE LA FONT", "DE LA FONT", "Rose"),
        ("Tony O'BRIEN", "O'BRIEN", "Tony"),
        ("Caroline Louise ROBERTSON-BROWN", "ROBERTSON-BROWN", "Caroline Louise"),
        ("Simon Andrew Wright", "Wright", "Simon Andrew"),
        ("Mary J SMITH", "SMITH", "Mary J"),
        ("PRINCE", "PRINCE", ""),
        ("ALL CAPITALS", "CAPITALS", "ALL"),
    ],
)
def test_names_split_as_councils_write_them(name: str, surname: str, forenames: str) -> None:
    assert split_name(name) == (surname, forenames)
