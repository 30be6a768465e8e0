"""Democracy Club's candidates CSV export: one row per candidate, the ballot's fields
repeated on each of its rows (column names in the export's documentation; the ones read here
are listed in ``REQUIRED_COLUMNS`` and ``OPTIONAL_COLUMNS``).

Rows are grouped by ``ballot_paper_id`` into the same records as the ballots JSON and written
by ``dc_ballots.BallotsWriter``. The rows of one ballot must agree on its fields (seats, ward,
cancelled poll, lock). Row numbers count the header as row 1, as a spreadsheet shows them.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from config.importing import ImportRefused, ImportSummary, Progress

from .dc_ballots import (
    BallotRecord,
    BallotsWriter,
    CandidateRecord,
    DcBallotsJsonImporter,
    check_candidates,
    gss_from_post_id,
    is_gss,
    parse_ballot_id,
    parse_party_id,
)
from .parties import CsvRow, read_csv

REQUIRED_COLUMNS = ("ballot_paper_id", "person_name", "party_name", "seats_contested")
# At least one of these locates the ward: the GSS code, the post id ("gss:E05…"), or the
# post's label (matched by name, only when no GSS code is given).
WARD_COLUMNS = ("gss", "post_id", "post_label")
OPTIONAL_COLUMNS = (
    "person_id", "party_id", "legacy_party_id", "party_description_text", "election_id",
    "election_date", "cancelled_poll", "candidates_locked",
)
# Columns that describe the ballot, not the candidate: every row of a ballot must agree.
_BALLOT_COLUMNS = (
    "election_id", "election_date", "gss", "post_id", "post_label", "seats_contested",
    "cancelled_poll", "candidates_locked",
)
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


def is_candidates_csv(header: list[str]) -> bool:
    """Whether a header looks like the candidates export (it names ballots and people)."""
    return {"ballot_paper_id", "person_name"} <= set(header)


def describe_columns() -> str:
    return (
        f"{', '.join(REQUIRED_COLUMNS)} and one of {', '.join(WARD_COLUMNS)}"
        f" (optional: {', '.join(OPTIONAL_COLUMNS)})"
    )


@dataclass
class _Group:
    first: CsvRow
    rows: list[CsvRow]


def parse_candidates_csv(path: Path) -> list[BallotRecord]:
    """Pass one for a candidates CSV: every row checked, nothing read from the database."""
    header, rows = read_csv(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing or not any(c in header for c in WARD_COLUMNS):
        absent = missing or [f"one of {', '.join(WARD_COLUMNS)}"]
        raise ImportRefused(
            f"not a Democracy Club candidates CSV: missing {', '.join(absent)}; expected columns "
            f"{describe_columns()}",
            path=path, row=1, code="unknown_format",
        )
    groups: dict[str, _Group] = {}
    for row in rows:
        parse_ballot_id(path, row.values["ballot_paper_id"], row=row.number, field="ballot_paper_id")
        ballot_paper_id = row.values["ballot_paper_id"].strip()
        group = groups.setdefault(ballot_paper_id, _Group(first=row, rows=[]))
        _check_same_ballot(path, group.first, row, header)
        group.rows.append(row)
    return [_ballot(path, ballot_paper_id, group) for ballot_paper_id, group in groups.items()]


def _check_same_ballot(path: Path, first: CsvRow, row: CsvRow, header: list[str]) -> None:
    for column in _BALLOT_COLUMNS:
        if column not in header:
            continue
        here, there = row.values[column].strip(), first.values[column].strip()
        if here != there:
            raise ImportRefused(
                f"ballot {row.values['ballot_paper_id'].strip()} has {column} {here!r} here but "
                f"{there!r} at row {first.number}",
                path=path, row=row.number, field=column, code="inconsistent_ballot",
            )


def _flag(path: Path, row: CsvRow, column: str) -> bool | None:
    raw = row.values.get(column, "").strip().lower()
    if not raw:
        return None
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ImportRefused(f"expected True or False, found {raw!r}", path=path, row=row.number,
                        field=column)


def _ballot(path: Path, ballot_paper_id: str, group: _Group) -> BallotRecord:
    first = group.first
    values = first.values
    parsed = parse_ballot_id(path, ballot_paper_id, row=first.number, field="ballot_paper_id")
    election_id = values.get("election_id", "").strip()
    if election_id and election_id != parsed.election_id:
        raise ImportRefused(
            f"ballot {ballot_paper_id} belongs to {parsed.election_id}, not {election_id}",
            path=path, row=first.number, field="election_id", code="election_mismatch",
        )
    election_date = values.get("election_date", "").strip()
    if election_date and election_date != parsed.date.isoformat():
        raise ImportRefused(
            f"ballot {ballot_paper_id} is dated {parsed.date.isoformat()}, not {election_date}",
            path=path, row=first.number, field="election_date", code="election_mismatch",
        )
    gss, ward_field = _ward_reference(path, first)
    raw_seats = values["seats_contested"].strip()
    if not raw_seats.isdigit() or int(raw_seats) < 1:
        raise ImportRefused(
            f"ballot {ballot_paper_id}: seats must be a whole number of at least 1, "
            f"found {raw_seats!r}", path=path, row=first.number, field="seats_contested",
        )
    candidates = tuple(_candidate(path, row) for row in group.rows)
    check_candidates(path, ballot_paper_id, candidates)
    return BallotRecord(
        row=first.number, ballot_paper_id=ballot_paper_id, ballot_paper_id_field="ballot_paper_id",
        parsed=parsed, gss=gss, post_label=values.get("post_label", "").strip(),
        ward_field=ward_field, seats_contested=int(raw_seats), seats_field="seats_contested",
        cancelled=bool(_flag(path, first, "cancelled_poll")),
        candidates_locked=_flag(path, first, "candidates_locked"),
        candidates=candidates,
    )


def _ward_reference(path: Path, row: CsvRow) -> tuple[str | None, str]:
    """The ward's GSS code and the column it came from; no code means match by post label."""
    gss = row.values.get("gss", "").strip().upper()
    if gss:
        if not is_gss(gss):
            raise ImportRefused(f"{gss!r} is not a GSS code (a country letter and 8 digits)",
                                path=path, row=row.number, field="gss")
        return gss, "gss"
    post_gss = gss_from_post_id(row.values.get("post_id", ""))
    if post_gss:
        return post_gss, "post_id"
    if row.values.get("post_label", "").strip():
        return None, "post_label"
    raise ImportRefused(
        "the row has no ward: gss, post_id ('gss:E05…') and post_label are all empty",
        path=path, row=row.number, field="gss",
    )


def _candidate(path: Path, row: CsvRow) -> CandidateRecord:
    values = row.values
    person_name = " ".join(values["person_name"].split())
    if not person_name:
        raise ImportRefused("the candidate has no name", path=path, row=row.number,
                            field="person_name")
    # party_id is the register id or a pseudo-id; the legacy "party:52" form is the fallback.
    party_id_field = "party_id"
    raw_party_id = values.get("party_id", "").strip()
    if not raw_party_id and values.get("legacy_party_id", "").strip():
        party_id_field, raw_party_id = "legacy_party_id", values["legacy_party_id"]
    return CandidateRecord(
        row=row.number, where=f"row {row.number}",
        person_id=values.get("person_id", "").strip(),
        person_name=person_name, person_name_field="person_name",
        party_id=parse_party_id(path, raw_party_id, row=row.number, field=party_id_field),
        party_id_field=party_id_field,
        party_name=" ".join(values["party_name"].split()), party_name_field="party_name",
        description=values.get("party_description_text", "").strip(),
    )


class DcCandidatesCsvImporter:
    """Democracy Club candidates CSV: both passes, in the caller's transaction."""

    def run(self, path: Path, *, progress: Progress) -> ImportSummary:
        records = parse_candidates_csv(path)
        return BallotsWriter(path).write(records, progress=progress)


class CandidatesImporter:
    """``import_candidates PATH``: a ballots JSON file or a candidates CSV, recognised from
    its content (JSON starts with ``{`` or ``[``; the CSV by its header)."""

    def run(self, path: Path, *, progress: Progress) -> ImportSummary:
        with path.open("rb") as handle:
            head = handle.read(4096)
        text = head.decode("utf-8-sig", errors="replace").lstrip()
        if text.startswith(("{", "[")):
            return DcBallotsJsonImporter().run(path, progress=progress)
        first_line = text.splitlines()[0] if text else ""
        header = [name.strip().lower() for name in next(csv.reader([first_line]), [])]
        if is_candidates_csv(header):
            return DcCandidatesCsvImporter().run(path, progress=progress)
        raise ImportRefused(
            "not a candidates file: expected Democracy Club ballots JSON (api/next/ballots) or "
            f"Democracy Club's candidates CSV with columns {describe_columns()}",
            path=path, code="unknown_format",
        )
