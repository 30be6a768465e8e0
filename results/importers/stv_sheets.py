"""Scottish STV count sheets: one row per candidate with every stage of the count.

Columns: the candidate's Democracy Club person ``id``, ``name`` and ``party_name`` (no party
id), ``council_id`` (slug), ``election`` (election id), ``map_ward_id`` (S13 GSS code),
``ward_name``, ``contested`` (0: returned unopposed), ``elected``, ``first_prefs``, then
``transfersNN`` / ``total_votesNN`` for stages 2, 3, … (blank after the last stage), and the
ward's ``electorate``, ``total_poll`` (ballot papers counted), ``valid_poll``, ``rejected``,
``quota`` and ``seats``.

Votes are first preferences; the stages become ``StvStageFigures`` and the platform derives
the winners from them, refusing a sheet whose ``elected`` flags disagree. The ballot's
voting system is ``upsert_ballot``'s default for the council's nation (STV in Scotland).

Parties are matched by name against the parties already stored (imported from the
Electoral Commission register): the exact name, then case-insensitively, then through
``SCOTTISH_PARTY_ALIASES``. A sheet never creates a party: an unmatched name rejects its
ballot, so a misspelt party cannot appear on the map as a new one.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

from config.errors import ApplicationError
from elections import ids
from elections.models import Ballot, Party, VotingSystem

from . import (
    BallotProblem,
    CandidateRow,
    ParsedBallot,
    PartyRef,
    ResultsFileImporter,
    Row,
    gss_from,
    iter_stage_numbers,
    parse_count,
    parse_decimal,
    parse_flag,
)

# Names Scottish count sheets and council websites use for parties, normalised as by
# ``_normalise``, → the party's name on the Electoral Commission register. Scottish branches
# of GB parties are registered under the GB party's name (the Scottish Conservatives are the
# Conservative and Unionist Party, PP52); the SNP's registered name includes "(SNP)".
SCOTTISH_PARTY_ALIASES: dict[str, str] = {
    "scottish conservative and unionist party": "Conservative and Unionist Party",
    "scottish conservative and unionist": "Conservative and Unionist Party",
    "scottish conservatives": "Conservative and Unionist Party",
    "scottish conservative": "Conservative and Unionist Party",
    "conservative": "Conservative and Unionist Party",
    "conservative party": "Conservative and Unionist Party",
    "scottish labour party": "Labour Party",
    "scottish labour": "Labour Party",
    "labour": "Labour Party",
    "scottish liberal democrats": "Liberal Democrats",
    "scottish liberal democrat": "Liberal Democrats",
    "liberal democrat": "Liberal Democrats",
    "scottish national party": "Scottish National Party (SNP)",
    "snp": "Scottish National Party (SNP)",
    "scottish greens": "Scottish Green Party",
    "scottish green": "Scottish Green Party",
    "alba": "Alba Party",
    "ukip": "UK Independence Party (UKIP)",
    "scottish socialist": "Scottish Socialist Party",
    "scottish family": "Scottish Family Party",
}


def _normalise(name: str) -> str:
    name = name.casefold().replace("&", " and ")
    name = re.sub(r"[^\w()]+", " ", name)
    return " ".join(name.split())


class StvSheetsImporter(ResultsFileImporter):
    format_name = "Scottish STV count-sheet CSV"
    required_columns: ClassVar[tuple[str, ...]] = (
        "id", "name", "party_name", "council_id", "election", "map_ward_id", "ward_name",
        "contested", "elected", "first_prefs", "electorate", "total_poll", "valid_poll",
        "rejected", "quota", "seats",
    )
    optional_columns: ClassVar[tuple[str, ...]] = (
        "council_name", "cand_ward_id", "status", "occurred_on_count", "candidates",
        *(f"{prefix}{n:02d}" for n in range(2, 14) for prefix in ("transfers", "total_votes")),
    )
    votes_column = "first_prefs"
    infer_lot = False  # STV ties are broken by earlier stages, not by lot on first preferences
    field_columns: ClassVar[dict[str, str]] = {
        "council": "council_id",
        "ward": "map_ward_id",
        "ward_name": "ward_name",
        "election_id": "election",
        "ballot_paper_id": "ward_name",
        "seats_contested": "seats",
        "voting_system": "election",
        "person_name": "name",
        "person_id": "id",
        "party": "party_name",
        "votes": "first_prefs",
        "elected": "elected",
        "candidates": "name",
        "electorate": "electorate",
        "ballot_papers_counted": "total_poll",
        "valid_papers": "valid_poll",
        "rejected_total": "rejected",
        "stv_quota": "quota",
        "stv_stage": "total_votes{n:02d}",
    }

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._parties: list[Party] | None = None

    def group_key(self, row: Row) -> tuple[str, ...]:
        return (row["election"], gss_from(row["map_ward_id"]) or row["ward_name"].casefold())

    def parse_ballot(self, rows: list[Row]) -> ParsedBallot:
        first = rows[0]
        for column in ("council_id", "election", "map_ward_id", "ward_name", "contested",
                       "electorate", "total_poll", "valid_poll", "rejected", "quota", "seats",
                       "candidates"):
            self.consistent(rows, column)
        try:
            parsed_id = ids.validate_local_election_id(first["election"], field="election")
        except ApplicationError as exc:
            raise BallotProblem(exc.message, row=first.number, field="election") from None
        if first["council_id"] and first["council_id"] != parsed_id.organisation:
            raise BallotProblem(
                f"council {first['council_id']!r} is not the one in election {first['election']}",
                row=first.number, field="council_id",
            )
        seats = parse_count(first, "seats", blank=False) or 0
        if seats < 1:
            raise BallotProblem("a ward elects at least one councillor", row=first.number, field="seats")
        listed = parse_count(first, "candidates")
        if listed is not None and listed != len(rows):
            raise BallotProblem(
                f"candidates is {listed} but the file lists {len(rows)} candidate(s)",
                row=first.number, field="candidates",
            )
        contested = parse_count(first, "contested", blank=False)
        if contested not in (0, 1):
            raise BallotProblem(f"contested is 0 or 1, not {contested}", row=first.number, field="contested")
        valid_poll = parse_count(first, "valid_poll")
        ballot = ParsedBallot(
            first_row=first.number,
            council_slug=parsed_id.organisation or "",
            date=parsed_id.date,
            election_id=first["election"],
            ward_gss=gss_from(first["map_ward_id"]),
            ward_name=first["ward_name"],
            seats=seats,
            uncontested=contested == 0,
            electorate=parse_count(first, "electorate"),
            ballot_papers_counted=parse_count(first, "total_poll"),
            valid_papers=valid_poll,
            rejected_total=parse_count(first, "rejected"),
            stv_quota=parse_count(first, "quota"),
            stv_valid_poll=valid_poll,
        )
        if ballot.uncontested:
            ballot.candidates = [self._candidate(row, votes=False) for row in rows]
            unelected = [c for c in ballot.candidates if not c.elected]
            if unelected:
                raise BallotProblem(
                    "an uncontested ward elects every candidate", row=unelected[0].row, field="elected"
                )
            # No poll: whatever poll figures the sheet carries (often zeros) are not results.
            ballot.ballot_papers_counted = ballot.valid_papers = ballot.rejected_total = None
            ballot.stv_quota = ballot.stv_valid_poll = None
            return ballot
        ballot.candidates = [self._candidate(row, votes=True) for row in rows]
        self._read_stages(rows, ballot)
        return ballot

    def _candidate(self, row: Row, *, votes: bool) -> CandidateRow:
        person_id = row["id"]
        if person_id and not person_id.isdigit():
            raise BallotProblem(
                f"{person_id!r} is not a Democracy Club person id (a number)", row=row.number, field="id"
            )
        name = " ".join(row["name"].split())
        if not name:
            raise BallotProblem("the candidate has no name", row=row.number, field="name")
        label = row["party_name"]
        return CandidateRow(
            row=row.number,
            person_name=name,
            person_id=person_id,
            party=PartyRef(
                party_id=None, label=label, column="party_name",
                independent=label.casefold() in ("", "independent", "ind"), by_name=True,
            ),
            votes=parse_count(row, "first_prefs", blank=False) if votes else None,
            elected=parse_flag(row, "elected"),
        )

    def _read_stages(self, rows: list[Row], ballot: ParsedBallot) -> None:
        """Stages 2.. up to the last one any candidate has a total for; each of those must
        give every candidate's total. Transfers may be left blank (derived from the totals)."""
        numbers = iter_stage_numbers(rows[0].values, "total_votes")
        given = [n for n in numbers if any(r[f"total_votes{n:02d}"] for r in rows)]
        if not given:
            return
        for n in (n for n in numbers if n <= given[-1]):
            total_column, transfer_column = f"total_votes{n:02d}", f"transfers{n:02d}"
            for row, candidate in zip(rows, ballot.candidates, strict=True):
                if not row[total_column]:
                    raise BallotProblem(
                        f"stage {n} has no total for {candidate.person_name}, but other "
                        f"candidates have totals at this stage or later",
                        row=row.number, field=total_column,
                    )
                total = parse_decimal(row, total_column)
                assert total is not None
                if total < 0:
                    raise BallotProblem(f"{total} is negative", row=row.number, field=total_column)
                candidate.stages[n] = (parse_decimal(row, transfer_column), total)

    def resolve_party(self, ref: PartyRef, row: int) -> tuple[Party, str | None]:
        if ref.independent:
            return super().resolve_party(ref, row)
        matches = self._match_party(ref.label)
        if len(matches) != 1:
            why = (
                "no stored party has this name (import the party register first, or add the "
                "name to SCOTTISH_PARTY_ALIASES)" if not matches
                else "it matches " + ", ".join(f"{p.name} ({p.party_id})" for p in matches)
            )
            raise BallotProblem(f"unknown party {ref.label!r}: {why}", row=row, field=ref.column)
        return matches[0], "unchanged"

    def _match_party(self, label: str) -> list[Party]:
        if self._parties is None:
            # Sheets never create parties, so the stored list cannot change during the run.
            self._parties = list(Party.objects.all())
        parties = self._parties
        found = [p for p in parties if p.name == label]
        if not found:
            found = [p for p in parties if p.name.casefold() == label.casefold()]
        if not found:
            target = SCOTTISH_PARTY_ALIASES.get(_normalise(label))
            if target:
                found = [p for p in parties if p.name == target] or [
                    p for p in parties if p.name.casefold() == target.casefold()
                ]
        return found

    def check_ballot(self, ballot: Ballot, parsed: ParsedBallot) -> None:
        if ballot.voting_system != VotingSystem.STV:
            raise BallotProblem(
                f"{ballot.ballot_paper_id} is counted by {ballot.voting_system}, but the sheet "
                "is an STV count (is the council's nation right?)",
                row=parsed.first_row, field="election",
            )

