"""The LGA "ElectionResults" open-data schema: one row per candidate, 33 columns.

Published by councils (Trafford's own results are in this form) and the schema of our CSV
exports. The council comes from ``OrganisationURI`` (its last path segment is the Democracy
Club slug) or ``OrganisationLabel``; the ward from the GSS code ending ``ElectoralAreaURI``,
or ``ElectoralAreaLabel`` when there is no code; the party from the Electoral Commission id
ending ``PoliticalPartyURI`` (blank for independents). The file gives no seat count: the
seats contested are the candidates marked ELECTED, and the platform derives the winners
itself from the votes, refusing a ballot whose stated winners disagree.
"""

from __future__ import annotations

from typing import ClassVar

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

# The five headings of rule 47 (as ``results.figures.REJECTED_HEADINGS``) → LGA columns.
REJECTED_COLUMNS: dict[str, str] = {
    "official_mark": "BallotsRejectedOfficialMark",
    "multiple_vote": "BallotsRejectedMultipleVote",
    "identification": "BallotsRejectedIdentification",
    "in_part": "BallotsRejectedInPart",
    "unmarked": "BallotsRejectedUnmarked",
}


class LgaResultsImporter(ResultsFileImporter):
    format_name = "LGA ElectionResults CSV"
    required_columns: ClassVar[tuple[str, ...]] = (
        "OrganisationURI", "OrganisationLabel", "ElectionDate", "TypeofElection",
        "ElectoralAreaURI", "ElectoralAreaLabel", "CandidateSurname", "CandidateForenames",
        "PoliticalPartyURI", "PoliticalPartyLabel", "VotesWon", "Elected", "VotesCast",
        "EligibleElectorate", "PercentageTurnout",
    )
    optional_columns: ClassVar[tuple[str, ...]] = (
        "PublicationDate", "ServiceTypeURI", "ServiceTypeLabel", "ElectedBodyURI",
        "ElectedBodyLabel", "CommonlyUsedSurname", "CommonlyUsedForenames",
        "CandidatesDescription", *REJECTED_COLUMNS.values(), "InfoURL", "ReturningOfficer",
        "ElectoralDept", "ContactEmail", "ContactTel",
    )
    votes_column = "VotesWon"
    field_columns: ClassVar[dict[str, str]] = {
        "council": "OrganisationURI",
        "ward": "ElectoralAreaURI",
        "ward_name": "ElectoralAreaLabel",
        "election_id": "ElectionDate",
        "ballot_paper_id": "ElectoralAreaLabel",
        "seats_contested": "Elected",
        "person_name": "CandidateSurname",
        "party": "PoliticalPartyURI",
        "description": "CandidatesDescription",
        "votes": "VotesWon",
        "elected": "Elected",
        "won_by_lot": "Elected",
        "candidates": "CandidateSurname",
        "electorate": "EligibleElectorate",
        "ballot_papers_counted": "VotesCast",
        "valid_papers": "VotesCast",
        "turnout_pct": "PercentageTurnout",
        **{f"rejected_{heading}": column for heading, column in REJECTED_COLUMNS.items()},
    }

    def group_key(self, row: Row) -> tuple[str, ...]:
        ward = gss_from(row["ElectoralAreaURI"]) or row["ElectoralAreaLabel"].casefold()
        return (
            row["OrganisationURI"] or row["OrganisationLabel"].casefold(),
            row["ElectionDate"],
            str(_is_by_election(row)),
            ward,
        )

    def parse_ballot(self, rows: list[Row]) -> ParsedBallot:
        first = rows[0]
        for column in ("OrganisationURI", "OrganisationLabel", "ElectoralAreaLabel", "VotesCast",
                       "EligibleElectorate", "PercentageTurnout", *REJECTED_COLUMNS.values()):
            self.consistent(rows, column)
        uri = first["OrganisationURI"]
        ballot = ParsedBallot(
            first_row=first.number,
            council_slug=uri.rstrip("/").rsplit("/", 1)[-1] if uri else "",
            council_label=first["OrganisationLabel"],
            date=parse_date(first, "ElectionDate"),
            by_election=_is_by_election(first),
            ward_gss=gss_from(first["ElectoralAreaURI"]),
            ward_name=first["ElectoralAreaLabel"],
            electorate=parse_count(first, "EligibleElectorate"),
            ballot_papers_counted=parse_count(first, "VotesCast"),
            rejected={h: parse_count(first, c) for h, c in REJECTED_COLUMNS.items()},
            turnout_pct=parse_turnout(first, "PercentageTurnout"),
            source_url=next((r["InfoURL"] for r in rows if r["InfoURL"]), ""),
        )
        if not ballot.ward_gss and not ballot.ward_name:
            raise BallotProblem("no ward code or name", row=first.number, field="ElectoralAreaURI")
        for row in rows:
            ballot.candidates.append(self._candidate(row))
        ballot.seats = sum(1 for c in ballot.candidates if c.elected)
        if ballot.seats == 0:
            raise BallotProblem(
                "no candidate is marked ELECTED, so the seats contested are unknown",
                row=first.number, field="Elected",
            )
        blank = [c for c in ballot.candidates if c.votes is None]
        if blank and len(blank) == len(ballot.candidates) and ballot.seats == len(blank):
            # Every candidate elected and no votes: returned unopposed, there was no poll.
            ballot.uncontested = True
        elif blank:
            raise BallotProblem("a number is required", row=blank[0].row, field="VotesWon")
        return ballot

    def _candidate(self, row: Row) -> CandidateRow:
        forenames = row["CommonlyUsedForenames"] or row["CandidateForenames"]
        surname = row["CommonlyUsedSurname"] or row["CandidateSurname"]
        name = " ".join(f"{forenames} {surname}".split())
        if not name:
            raise BallotProblem("the candidate has no name", row=row.number, field="CandidateSurname")
        return CandidateRow(
            row=row.number,
            person_name=name,
            person_id="",
            party=party_ref(
                row["PoliticalPartyURI"], row["PoliticalPartyLabel"],
                column="PoliticalPartyURI", row=row.number,
            ),
            votes=parse_count(row, "VotesWon"),
            elected=parse_flag(row, "Elected"),
            description=row["CandidatesDescription"] if "CandidatesDescription" in row.values else None,
        )


def _is_by_election(row: Row) -> bool:
    """``DistrictAndBoroughByElection`` and the like (spelling varies between councils)."""
    kind = row["TypeofElection"].casefold().replace("-", "").replace(" ", "")
    return "byelection" in kind
