"""Democracy Club result sets, flattened to CSV with the column names of Democracy Club's
CSV export: one row per candidate, the ballot named by its ``ballot_paper_id``.

Ids are validated through ``elections.ids`` (an invalid one rejects its ballot, naming row
and field). ``party_id`` is Democracy Club's legacy ``party:53`` form, or the pseudo-ids
``ynmp-party:2`` (independent) and ``joint-party:53-119`` (Labour and Co-operative). The
ward is the GSS code in ``gss`` (or ``post_id`` = ``gss:E05…``): results older than the
boundary file in force join a ward with the same code in another of the council's boundary
sets (``councils.selectors.find_ward``).
"""

from __future__ import annotations

from typing import ClassVar

from config.errors import ApplicationError
from elections import ids

from . import (
    BallotProblem,
    CandidateRow,
    ParsedBallot,
    ResultsFileImporter,
    Row,
    gss_from,
    parse_count,
    parse_date,
    parse_flag,
    parse_turnout,
    party_ref,
)


class DemocracyClubResultsImporter(ResultsFileImporter):
    format_name = "Democracy Club results CSV"
    required_columns: ClassVar[tuple[str, ...]] = (
        "election_id", "ballot_paper_id", "election_date", "organisation_slug", "post_label",
        "person_id", "person_name", "party_id", "party_name", "votes_cast", "elected",
        "seats_contested",
    )
    optional_columns: ClassVar[tuple[str, ...]] = (
        "post_id", "gss", "rank", "num_candidates", "turnout_percentage", "total_electorate",
        "turnout_reported", "spoilt_ballots", "dc_result_set_id",
    )
    votes_column = "votes_cast"
    field_columns: ClassVar[dict[str, str]] = {
        "council": "organisation_slug",
        "ward": "gss",
        "ward_name": "post_label",
        "election_id": "election_id",
        "ballot_paper_id": "ballot_paper_id",
        "seats_contested": "seats_contested",
        "person_name": "person_name",
        "person_id": "person_id",
        "party": "party_id",
        "votes": "votes_cast",
        "elected": "elected",
        "won_by_lot": "elected",
        "candidates": "person_name",
        "electorate": "total_electorate",
        "ballot_papers_counted": "turnout_reported",
        "rejected_total": "spoilt_ballots",
        "turnout_pct": "turnout_percentage",
    }

    def group_key(self, row: Row) -> tuple[str, ...]:
        return (row["ballot_paper_id"],)

    def parse_ballot(self, rows: list[Row]) -> ParsedBallot:
        first = rows[0]
        for column in ("election_id", "election_date", "organisation_slug", "post_id", "gss",
                       "post_label", "seats_contested", "num_candidates", "turnout_percentage",
                       "total_electorate", "turnout_reported", "spoilt_ballots"):
            self.consistent(rows, column)
        try:
            parsed_id = ids.validate_ballot_id(first["ballot_paper_id"], field="ballot_paper_id")
            ids.validate_local_election_id(first["election_id"], field="election_id")
        except ApplicationError as exc:
            raise BallotProblem(exc.message, row=first.number, field=exc.field) from None
        if parsed_id.election_id != first["election_id"]:
            raise BallotProblem(
                f"ballot {first['ballot_paper_id']} is not part of election {first['election_id']}",
                row=first.number, field="election_id",
            )
        slug = first["organisation_slug"] or parsed_id.organisation or ""
        if slug != parsed_id.organisation:
            raise BallotProblem(
                f"organisation {slug!r} is not the one in ballot {first['ballot_paper_id']}",
                row=first.number, field="organisation_slug",
            )
        if first["election_date"] and parse_date(first, "election_date") != parsed_id.date:
            raise BallotProblem(
                f"the date is not the one in ballot {first['ballot_paper_id']}",
                row=first.number, field="election_date",
            )
        seats = parse_count(first, "seats_contested", blank=False) or 0
        if seats < 1:
            raise BallotProblem("a ballot elects at least one councillor", row=first.number,
                                field="seats_contested")
        listed = parse_count(first, "num_candidates")
        if listed is not None and listed != len(rows):
            raise BallotProblem(
                f"num_candidates is {listed} but the file lists {len(rows)} candidate(s)",
                row=first.number, field="num_candidates",
            )
        set_id = first["dc_result_set_id"]
        ballot = ParsedBallot(
            first_row=first.number,
            council_slug=slug,
            date=parsed_id.date,
            by_election=parsed_id.by_election,
            election_id=first["election_id"],
            ballot_paper_id=first["ballot_paper_id"],
            ward_gss=gss_from(first["gss"]) or gss_from(first["post_id"]),
            ward_name=first["post_label"],
            seats=seats,
            electorate=parse_count(first, "total_electorate"),
            ballot_papers_counted=parse_count(first, "turnout_reported"),
            rejected_total=parse_count(first, "spoilt_ballots"),
            turnout_pct=parse_turnout(first, "turnout_percentage"),
            source_url=f"Democracy Club result set {set_id}" if set_id else "",
        )
        for row in rows:
            ballot.candidates.append(self._candidate(row))
        blank = [c for c in ballot.candidates if c.votes is None]
        if blank and len(blank) == len(ballot.candidates) <= seats and all(c.elected for c in blank):
            ballot.uncontested = True
        elif blank:
            raise BallotProblem("a number is required", row=blank[0].row, field="votes_cast")
        return ballot

    def _candidate(self, row: Row) -> CandidateRow:
        person_id = row["person_id"]
        if person_id and not person_id.isdigit():
            raise BallotProblem(
                f"{person_id!r} is not a Democracy Club person id (a number)",
                row=row.number, field="person_id",
            )
        name = " ".join(row["person_name"].split())
        if not name:
            raise BallotProblem("the candidate has no name", row=row.number, field="person_name")
        return CandidateRow(
            row=row.number,
            person_name=name,
            person_id=person_id,
            party=party_ref(row["party_id"], row["party_name"], column="party_id", row=row.number),
            votes=parse_count(row, "votes_cast"),
            elected=parse_flag(row, "elected"),
        )
