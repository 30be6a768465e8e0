"""Open data exports of results: the LGA ElectionResults CSV and Democracy Club's columns.

``ExportScope`` names what to export (one election, one council's elections, one polling
day, or their intersection); ``write_lga`` and ``write_dc`` write the CSV to a text stream. The API
(``/api/v1/exports/<format>/``) and ``manage.py export_results`` both call them.

Only results whose figures stand (provisional, verified, or disputed with its last accepted
figures) are exported: a ballot with nothing recorded, or a retracted result, has no rows.
Rows are in a fixed order (council, date, scheduled contests before by-elections, ward,
candidate), so exporting the same data twice gives the same bytes, and importing an export
into an empty database and exporting again gives the same file (tests/api/test_exports.py).

Rehearsal data: the LGA schema's 33 columns have no place for a flag, so a rehearsal export
is marked in its file name (``rehearsal-…``) and, from the API, the ``X-Rehearsal`` header;
the Democracy Club export carries a ``rehearsal`` column.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from django.db.models import QuerySet

from councils.models import Council, CouncilType
from elections import ids
from elections.models import Ballot, Party
from results.api.records import FIGURES_STAND, result_records, result_rows
from results.figures import REJECTED_HEADINGS

from .names import split_name

FORMATS = ("lga", "dc")

# The LGA ElectionResults header, exactly as councils publish it (33 columns).
LGA_COLUMNS: tuple[str, ...] = (
    "PublicationDate",
    "OrganisationURI",
    "OrganisationLabel",
    "ServiceTypeURI",
    "ServiceTypeLabel",
    "ElectionDate",
    "TypeofElection",
    "ElectedBodyURI",
    "ElectedBodyLabel",
    "ElectoralAreaURI",
    "ElectoralAreaLabel",
    "CandidateSurname",
    "CandidateForenames",
    "CommonlyUsedSurname",
    "CommonlyUsedForenames",
    "PoliticalPartyURI",
    "PoliticalPartyLabel",
    "CandidatesDescription",
    "VotesWon",
    "Elected",
    "VotesCast",
    "EligibleElectorate",
    "BallotsRejectedOfficialMark",
    "BallotsRejectedMultipleVote",
    "BallotsRejectedIdentification",
    "BallotsRejectedInPart",
    "BallotsRejectedUnmarked",
    "PercentageTurnout",
    "InfoURL",
    "ReturningOfficer",
    "ElectoralDept",
    "ContactEmail",
    "ContactTel",
)

# Democracy Club's CSV column names (their results and candidates exports), as in the shared
# sample file, plus their tie-break column and our rehearsal flag. (Their
# ``party_description_text`` is left out: the results importer does not read it, so an export
# imported again would lose it and the round trip would not be exact.)
DC_COLUMNS: tuple[str, ...] = (
    "election_id",
    "ballot_paper_id",
    "election_date",
    "organisation_slug",
    "post_id",
    "gss",
    "post_label",
    "person_id",
    "person_name",
    "party_id",
    "party_name",
    "votes_cast",
    "elected",
    "rank",
    "num_candidates",
    "seats_contested",
    "turnout_percentage",
    "total_electorate",
    "turnout_reported",
    "spoilt_ballots",
    "dc_result_set_id",
    "tied_vote_winner",
    "rehearsal",
)

# opendatacommunities.org organisation URIs, by council type (its last segment is the slug,
# which is how the LGA importer finds the council again).
_ODC_TYPES = {
    CouncilType.METROPOLITAN_DISTRICT: "metropolitan-district-council",
    CouncilType.NON_METROPOLITAN_DISTRICT: "district-council",
    CouncilType.LONDON_BOROUGH: "london-borough-council",
    CouncilType.UNITARY: "unitary-authority",
    CouncilType.COUNTY: "county-council",
}
_ELECTION_TYPES = {
    CouncilType.METROPOLITAN_DISTRICT: "DistrictAndBorough",
    CouncilType.NON_METROPOLITAN_DISTRICT: "DistrictAndBorough",
    CouncilType.LONDON_BOROUGH: "DistrictAndBorough",
    CouncilType.COUNTY: "County",
}
SERVICE_TYPE_URI = "http://id.esd.org.uk/service/721"
SERVICE_TYPE_LABEL = "Election Results"
WARD_URI = "http://statistics.data.gov.uk/id/statistical-geography/{gss}"
PARTY_URI = "http://search.electoralcommission.org.uk/English/Registrations/{party_id}"
_URL_RE = re.compile(r"https?://[^\s()]+")
_CHUNK = 500  # ballots per read: bounds memory on a national night (≈ 2,000 candidate rows)


@dataclass(frozen=True)
class ExportScope:
    """What to export: the results of one election, of one council's elections, of one
    polling day, or any combination (all given must hold). With none, every result."""

    election_id: str | None = None
    council: str | None = None
    date: dt.date | None = None

    def __post_init__(self) -> None:
        if self.election_id:
            ids.validate_local_election_id(self.election_id, field="election")

    def ballots(self) -> QuerySet[Ballot]:
        ballots = Ballot.objects.filter(result__status__in=FIGURES_STAND)
        if self.election_id:
            ballots = ballots.filter(election__election_id=self.election_id)
        if self.council:
            ballots = ballots.filter(election__council__slug=self.council)
        if self.date:
            ballots = ballots.filter(election__date=self.date)
        return ballots

    @property
    def name(self) -> str:
        if self.election_id:
            return self.election_id
        parts = ["local", self.council or "all"]
        if self.date:
            parts.append(self.date.isoformat())
        return ".".join(parts)

    @property
    def dates(self) -> list[dt.date]:
        """The polling days the scope is confined to (none: any day)."""
        if self.election_id:
            return [ids.parse_id(self.election_id).date]
        return [self.date] if self.date else []

    def filename(self, fmt: str, *, rehearsal: bool) -> str:
        return f"{'rehearsal-' if rehearsal else ''}{self.name}-{fmt}.csv"

    def has_rehearsal(self) -> bool:
        return self.ballots().filter(election__rehearsal=True).exists()


def _ordered_ballot_ids(scope: ExportScope) -> list[int]:
    """Ballot ids in file order: council, date, scheduled before by-elections, ward name."""
    rows = scope.ballots().values_list(
        "id", "election__council__name", "election__date", "by_election", "ward__name"
    )
    return [row[0] for row in sorted(rows, key=lambda r: (r[1], r[2], r[3], r[4], r[0]))]


def _records(scope: ExportScope) -> Iterator[dict[str, Any]]:
    order = _ordered_ballot_ids(scope)
    for start in range(0, len(order), _CHUNK):
        chunk = order[start : start + _CHUNK]
        rows = {row["id"]: row for row in result_rows(Ballot.objects.filter(id__in=chunk))}
        by_id = dict(zip((r["id"] for r in rows.values()), result_records(list(rows.values())), strict=True))
        for ballot_id in chunk:
            yield by_id[ballot_id]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _turnout(value: str | None) -> str:
    """Turnout as councils write it: "41.8", "43" (stored with two decimals)."""
    if value is None:
        return ""
    return value.rstrip("0").rstrip(".") if "." in value else value


def info_url(source: str) -> str:
    """The web address in a result's source (imports store "file.csv (https://…)")."""
    match = _URL_RE.search(source or "")
    return match.group(0) if match else ""


def _lga_party(party: dict[str, str], names: dict[str, str]) -> tuple[str, str]:
    """(PoliticalPartyURI, PoliticalPartyLabel). Independents have no URI. A joint
    description (joint-party:53-119) is given under its first party, as councils publish it
    (the ballot-paper description keeps the joint name)."""
    party_id = party["party_id"]
    if party_id.startswith("PP"):
        return PARTY_URI.format(party_id=party_id), party["name"]
    if party_id.startswith("joint-party:"):
        first = "PP" + party_id.split(":", 1)[1].split("-", 1)[0]
        return PARTY_URI.format(party_id=first), names.get(first, party["name"])
    return "", party["name"]


def lga_rows(scope: ExportScope, *, publication_date: dt.date) -> Iterator[list[str]]:
    """The LGA rows of ``scope``, header excluded (see the module docstring)."""
    councils = {c["slug"]: c for c in Council.objects.values("slug", "name", "council_type")}
    joint_names: dict[str, str] | None = None
    for record in _records(scope):
        council = councils[record["council"]["slug"]]
        odc_type = _ODC_TYPES.get(council["council_type"], "unitary-authority")
        organisation_uri = f"http://opendatacommunities.org/id/{odc_type}/{council['slug']}"
        organisation_label = f"{council['name']} Council"
        election_type = _ELECTION_TYPES.get(council["council_type"], "Unitary")
        if record["by_election"]:
            election_type += "ByElection"
        gss = record["ward"]["gss"]
        ballot_columns = [
            _text(record["ballot_papers_counted"]),
            _text(record["electorate"]),
            *(_text(record["rejected"][h]) for h in REJECTED_HEADINGS),
            _turnout(record["turnout_pct"]),
            info_url(record["source"]),
            "",
            "",
            "",
            "",
        ]
        candidates = []
        for c in record["candidates"]:
            if c["party"]["party_id"].startswith("joint-party:") and joint_names is None:
                joint_names = dict(
                    Party.objects.filter(party_id__startswith="PP").values_list("party_id", "name")
                )
            surname, forenames = split_name(c["person_name"])
            party_uri, party_label = _lga_party(c["party"], joint_names or {})
            candidates.append(
                [
                    publication_date.isoformat(),
                    organisation_uri,
                    organisation_label,
                    SERVICE_TYPE_URI,
                    SERVICE_TYPE_LABEL,
                    record["date"].isoformat(),
                    election_type,
                    organisation_uri,
                    organisation_label,
                    WARD_URI.format(gss=gss) if gss else "",
                    record["ward"]["name"],
                    surname,
                    forenames,
                    "",
                    "",
                    party_uri,
                    party_label,
                    c["description"],
                    _text(c["votes"]),
                    "ELECTED" if c["elected"] else "NOT ELECTED",
                    *ballot_columns,
                ]
            )
        candidates.sort(key=lambda row: (row[11], row[12]))
        yield from candidates


def dc_rows(scope: ExportScope) -> Iterator[list[str]]:
    """The Democracy Club rows of ``scope``, header excluded: candidates by rank."""
    for record in _records(scope):
        candidates = record["candidates"]
        gss = record["ward"]["gss"]
        turnout = record["turnout_pct"]
        for rank, c in enumerate(candidates, start=1):
            yield [
                record["election_id"],
                record["ballot_paper_id"],
                record["date"].isoformat(),
                record["council"]["slug"],
                f"gss:{gss}" if gss else record["ward"]["slug"],
                gss or "",
                record["ward"]["name"],
                c["person_id"],
                c["person_name"],
                c["party"]["party_id"],
                c["party"]["name"],
                _text(c["votes"]),
                str(c["elected"]),
                str(rank),
                str(len(candidates)),
                str(record["seats_contested"]),
                turnout or "",
                _text(record["electorate"]),
                _text(record["ballot_papers_counted"]),
                _text(record["rejected_total"]),
                "",
                str(c["won_by_lot"]),
                str(record["rehearsal"]),
            ]


def write_lga(stream: TextIO, scope: ExportScope, *, publication_date: dt.date) -> int:
    """Write the LGA CSV of ``scope``; returns the number of candidate rows. Lines end in CRLF,
    as councils' files (and RFC 4180) do."""
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(LGA_COLUMNS)
    count = 0
    for row in lga_rows(scope, publication_date=publication_date):
        writer.writerow(row)
        count += 1
    return count


def write_dc(stream: TextIO, scope: ExportScope) -> int:
    """Write the Democracy Club CSV of ``scope``; returns the number of candidate rows (CRLF)."""
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(DC_COLUMNS)
    count = 0
    for row in dc_rows(scope):
        writer.writerow(row)
        count += 1
    return count
