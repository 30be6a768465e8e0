"""Importers of declared results: the format is recognised from the CSV header.

Three formats are read (see ``results/README.md``): the LGA ElectionResults schema
(``lga``), Democracy Club result sets (``dc_results``) and Scottish STV count sheets
(``stv_sheets``). Each is a ``ResultsFileImporter`` that turns rows into ``ParsedBallot``s;
this module holds what they share:

1. pass one reads and checks the whole file. Anything that makes the file untrustworthy as
   a whole (unreadable, truncated, an unknown header, a missing column) raises
   ``ImportRefused`` before anything is written; a problem confined to one ballot (a
   negative vote, a bad id) marks that ballot rejected.
2. pass two imports ballot by ballot, each in a savepoint: the election, ballot, parties and
   candidacies through ``elections.services``, then the figures through
   ``results.services.submit_result`` as an official, verified import. A refused ballot is
   rolled back and reported; the rest of the file goes on.

Rows are numbered as a spreadsheet shows them: the header is row 1.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import ClassVar

from django.db import transaction
from django.db.models import Q

from config.errors import ApplicationError
from config.importing import ImportRefused, ImportSummary, Progress, no_progress
from councils.models import Council, Ward
from councils.selectors import find_ward, get_council
from elections import ids
from elections.models import INDEPENDENT_PARTY_ID, Ballot, Candidacy, Party
from elections.services import (
    get_independent_party,
    normalise_party_id,
    record_ward_seats,
    upsert_ballot,
    upsert_candidacy,
    upsert_election,
    upsert_party,
)
from results.checks import derive_fptp_winners
from results.figures import CandidateFigures, ResultFigures, StvStageFigures
from results.models import CorrectionReason, Result, SubmissionChannel
from results.services import submit_result

__all__ = [
    "BallotProblem",
    "CandidateRow",
    "ParsedBallot",
    "PartyRef",
    "ResultsFileImporter",
    "ResultsImporter",
    "Row",
    "Table",
    "detect_format",
    "gss_from",
    "iter_stage_numbers",
    "parse_count",
    "parse_date",
    "parse_decimal",
    "parse_flag",
    "parse_turnout",
    "party_ref",
    "read_table",
]

logger = logging.getLogger(__name__)

_GSS_RE = re.compile(r"^[EWSN][0-9]{8}$")
_SOURCE_MAX = 500  # Submission.source / Result.source
# Labels that mean "no party" when a file gives no party id.
_INDEPENDENT_LABELS = frozenset({"", "independent", "ind", "independent candidate"})
_TRUE = frozenset({"1", "true", "t", "yes", "y", "elected"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "not elected", ""})


class BallotProblem(Exception):
    """A problem confined to one ballot: it is rejected, the rest of the file goes on."""

    def __init__(self, message: str, *, row: int, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.row = row
        self.field = field


@dataclass(frozen=True)
class Row:
    """One CSV record: ``number`` as a spreadsheet shows it (header = 1), values stripped."""

    number: int
    values: dict[str, str]

    def __getitem__(self, column: str) -> str:
        return self.values.get(column, "")


@dataclass(frozen=True)
class Table:
    path: Path
    header: tuple[str, ...]
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class PartyRef:
    """How a file names a candidate's party: an id, independent, or a name to match."""

    party_id: str | None
    label: str
    column: str
    independent: bool = False
    by_name: bool = False


@dataclass
class CandidateRow:
    row: int
    person_name: str
    person_id: str
    party: PartyRef
    votes: int | None
    elected: bool | None
    description: str | None = None
    # STV: stage number → (transfer or None, running total).
    stages: dict[int, tuple[Decimal | None, Decimal]] = field(default_factory=dict)


@dataclass
class ParsedBallot:
    """One ballot of the file after pass one. ``problem`` set means it will be rejected."""

    first_row: int
    candidates: list[CandidateRow] = field(default_factory=list)
    council_slug: str = ""
    council_label: str = ""
    date: dt.date | None = None
    by_election: bool = False
    election_id: str = ""  # as given by the file, if it gives one
    ballot_paper_id: str = ""  # as given by the file, if it gives one
    ward_gss: str = ""
    ward_name: str = ""
    seats: int = 0
    uncontested: bool = False
    electorate: int | None = None
    ballot_papers_counted: int | None = None
    valid_papers: int | None = None
    rejected_total: int | None = None
    rejected: dict[str, int | None] = field(default_factory=dict)
    turnout_pct: Decimal | None = None
    stv_quota: int | None = None
    stv_valid_poll: int | None = None
    source_url: str = ""
    problem: BallotProblem | None = None


class ResultsFileImporter:
    """Base of the three formats: subclasses declare their columns and parse rows.

    Subclasses set ``format_name``, ``required_columns`` (a file lacking one is refused),
    ``optional_columns``, ``field_columns`` (the service's field names → the file's column,
    so a refusal names the column to fix) and implement ``group_key`` and ``parse_ballot``.
    """

    format_name: ClassVar[str]
    required_columns: ClassVar[tuple[str, ...]]
    optional_columns: ClassVar[tuple[str, ...]] = ()
    field_columns: ClassVar[dict[str, str]] = {}
    votes_column: ClassVar[str]
    # Whether stated winners that tie on votes for the last seat(s) are taken as having won
    # by lot (FPTP files record the returning officer's draw only as "elected").
    infer_lot: ClassVar[bool] = True

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.name
        self._councils: dict[tuple[str, str], Council | None] = {}
        self._counted: set[tuple[str, str]] = set()

    # -- format hooks -------------------------------------------------------------------

    def group_key(self, row: Row) -> tuple[str, ...]:  # pragma: no cover - abstract
        raise NotImplementedError

    def parse_ballot(self, rows: list[Row]) -> ParsedBallot:  # pragma: no cover - abstract
        """Build one ballot from its rows; raise ``BallotProblem`` for a bad value."""
        raise NotImplementedError

    def resolve_party(self, ref: PartyRef, row: int) -> tuple[Party, str | None]:
        """The stored party for ``ref`` and the outcome of storing it (None: not counted)."""
        if ref.independent or ref.party_id == INDEPENDENT_PARTY_ID:
            existed = Party.objects.filter(party_id=INDEPENDENT_PARTY_ID).exists()
            return get_independent_party(), "unchanged" if existed else "created"
        if ref.party_id is None:
            raise BallotProblem(
                f"unknown party {ref.label!r}: the file gives no party id", row=row, field=ref.column
            )
        # A results file's label may differ from the register's name ("Labour and Cooperative
        # Party" under PP53): it names a party only when the party is new.
        return upsert_party(party_id=ref.party_id, name=ref.label or ref.party_id, overwrite_name=False)

    # -- pass one -----------------------------------------------------------------------

    def parse(self, table: Table) -> list[ParsedBallot]:
        """Group the rows into ballots (in order of first appearance) and parse each."""
        groups: dict[tuple[str, ...], list[Row]] = {}
        for row in table.rows:
            groups.setdefault(self.group_key(row), []).append(row)
        ballots = []
        for rows in groups.values():
            try:
                ballot = self.parse_ballot(rows)
                self._check_duplicates(ballot)
            except BallotProblem as problem:
                ballot = ParsedBallot(first_row=rows[0].number, problem=problem)
            ballots.append(ballot)
        return ballots

    def _check_duplicates(self, ballot: ParsedBallot) -> None:
        seen: dict[tuple[str, ...], int] = {}
        for c in ballot.candidates:
            party_key = c.party.party_id or c.party.label.casefold()
            keys = [("name", c.person_name.casefold(), party_key)]
            if c.person_id:
                keys.append(("id", c.person_id))
            for key in keys:
                if key in seen:
                    raise BallotProblem(
                        f"{c.person_name} appears twice on this ballot (rows {seen[key]} and {c.row})",
                        row=c.row, field=self.field_columns.get("person_name"),
                    )
                seen[key] = c.row

    # -- pass two -----------------------------------------------------------------------

    def import_table(self, table: Table, *, progress: Progress = no_progress) -> ImportSummary:
        """Import every ballot of ``table``; each in its own savepoint.

        Preconditions: the caller holds a transaction (``ImportCommand`` does) so a refused
        file or a dry run can be rolled back as a whole. Ballot-level refusals are added to
        the summary as ``ballot`` rejections; they never stop the file.
        """
        summary = ImportSummary()
        ballots = self.parse(table)
        for parsed in progress(ballots, total=len(ballots), desc=self.name):
            if parsed.problem is not None:
                summary.reject("ballot", self._message(parsed.problem))
                continue
            counts: list[tuple[str, str, str | None]] = []
            candidate_rows: dict[int, CandidateRow] = {}
            try:
                with transaction.atomic():
                    self._import_ballot(parsed, counts, candidate_rows)
            except BallotProblem as problem:
                summary.reject("ballot", self._message(problem))
                continue
            except ApplicationError as exc:
                summary.reject("ballot", self._message(self._locate(exc, parsed, candidate_rows)))
                continue
            for outcome, kind, key in counts:
                if key is not None:
                    # Elections and parties are shared by many ballots: count each once.
                    if (kind, key) in self._counted:
                        continue
                    self._counted.add((kind, key))
                summary.count(outcome, kind)
        return summary

    def _import_ballot(
        self,
        parsed: ParsedBallot,
        counts: list[tuple[str, str, str | None]],
        candidacies: dict[int, CandidateRow],
    ) -> None:
        """Store one ballot and submit its figures. Appends (outcome, kind, shared key) to
        ``counts`` and fills ``candidacies`` (candidacy id → row) for locating errors."""
        row = parsed.first_row
        council = self._council(parsed)
        assert parsed.date is not None
        ward = self._ward(parsed, council)
        election_id = ids.build_election_id(council.slug, parsed.date)
        if parsed.election_id and parsed.election_id != election_id:
            raise BallotProblem(
                f"election {parsed.election_id} is not {council.name}'s election of "
                f"{parsed.date.isoformat()} ({election_id})",
                row=row, field=self.field_columns.get("election_id"),
            )
        ballot_paper_id = parsed.ballot_paper_id or self._ballot_id(
            election_id, council, ward, parsed
        )
        election, outcome = upsert_election(election_id=election_id, council=council)
        counts.append((outcome, "election", election_id))
        ballot, outcome = upsert_ballot(
            ballot_paper_id=ballot_paper_id, election=election, ward=ward,
            seats_contested=parsed.seats, uncontested=parsed.uncontested,
        )
        counts.append((outcome, "ballot", None))
        self.check_ballot(ballot, parsed)
        # An all-out election shows how many councillors the ward elects.
        if (
            not ballot.by_election
            and parsed.seats > ward.seats
            and record_ward_seats(ward=ward, seats=parsed.seats) == "updated"
        ):
            counts.append(("updated", "ward", None))

        for c in parsed.candidates:
            party, outcome = self.resolve_party(c.party, c.row)
            if outcome is not None:
                counts.append((outcome, "party", party.party_id))
            candidacy, outcome = self._candidacy(ballot, c, party)
            if candidacy.pk in candidacies:
                raise BallotProblem(
                    f"{c.person_name} is the same candidate as on row {candidacies[candidacy.pk].row}",
                    row=c.row, field=self.field_columns.get("person_name"),
                )
            candidacies[candidacy.pk] = c
            counts.append((outcome, "candidacy", None))

        figures = self.figures(parsed, candidacies)
        had_figures = Result.objects.filter(ballot=ballot, current_submission__isnull=False).exists()
        result = submit_result(
            ballot=ballot, figures=figures, source=self._source(parsed),
            channel=SubmissionChannel.IMPORT, official=True, confirm_warnings=True,
            correction_reason=CorrectionReason.OFFICIAL_CORRECTION,
        )
        for warning in result.warnings:
            # Official figures are imported as published; what the checks would have asked a
            # keyer to confirm is logged so the oddities of real files stay visible.
            located = self._locate(
                ApplicationError(warning.message, field=warning.field), parsed, candidacies
            )
            logger.warning("%s (accepted as published)", self._message(located))
        if result.outcome == "unchanged":
            counts.append(("unchanged", "result", None))
        else:
            counts.append(("updated" if had_figures else "created", "result", None))

    def _ballot_id(self, election_id: str, council: Council, ward: Ward, parsed: ParsedBallot) -> str:
        """The id of the ward's ballot: the one already stored (a candidates import may have
        named it after Democracy Club's post slug), else built from the ward's slug."""
        assert parsed.date is not None
        stored = Ballot.objects.filter(
            election__election_id=election_id, ward=ward, by_election=parsed.by_election
        ).values_list("ballot_paper_id", flat=True).first()
        return stored or ids.build_ballot_id(
            council.slug, ward.slug, parsed.date, by_election=parsed.by_election
        )

    def check_ballot(self, ballot: Ballot, parsed: ParsedBallot) -> None:
        """Format-specific checks on the stored ballot (e.g. STV sheets need an STV ballot)."""

    def locate(self, parsed: ParsedBallot) -> tuple[Council, Ward]:
        """The stored council and ward of a parsed ballot, found as an import finds them
        (``BallotProblem`` when either is not stored). Used by ``results.replay``."""
        council = self._council(parsed)
        return council, self._ward(parsed, council)

    def _candidacy(self, ballot: Ballot, c: CandidateRow, party: Party) -> tuple[Candidacy, str]:
        """Upsert the candidacy. A file without person ids may name a candidate whose stored
        candidacy (from a candidates import) has a joint party containing the file's party
        (Labour and Co-operative stands as Labour in the council's file): that one is kept."""
        person_id = c.person_id
        keep_party = party
        if not person_id:
            same_name = [
                x for x in Candidacy.objects.filter(ballot=ballot, person_name__iexact=c.person_name)
                .select_related("party")
                if x.party_id != party.pk and _joint_party_includes(x.party.party_id, party.party_id)
            ]
            if len(same_name) == 1:
                person_id, keep_party = same_name[0].person_id, same_name[0].party
        return upsert_candidacy(
            ballot=ballot, person_name=c.person_name, party=keep_party, person_id=person_id,
            description=c.description,
        )

    def figures(self, parsed: ParsedBallot, candidacies: dict[int, CandidateRow]) -> ResultFigures:
        """The ``ResultFigures`` of a ballot whose candidacies are stored."""
        lot: set[int] = set()
        if self.infer_lot and not parsed.uncontested:
            votes = {cid: c.votes or 0 for cid, c in candidacies.items()}
            _, tied, _ = derive_fptp_winners(votes, parsed.seats, set())
            lot = {cid for cid in tied if candidacies[cid].elected}
        stage_numbers = sorted({n for c in candidacies.values() for n in c.stages})
        stages = []
        for n in stage_numbers:
            transfers = {cid: c.stages[n][0] for cid, c in candidacies.items()}
            stages.append(StvStageFigures(
                number=n,
                totals={cid: c.stages[n][1] for cid, c in candidacies.items()},
                # Transfers are all given or left to the service to derive from the totals.
                transfers={cid: t for cid, t in transfers.items() if t is not None}
                if None not in transfers.values() else {},
            ))
        return ResultFigures(
            candidates=tuple(
                CandidateFigures(
                    candidacy_id=cid, votes=c.votes, won_by_lot=cid in lot, elected=c.elected
                )
                for cid, c in candidacies.items()
            ),
            electorate=parsed.electorate,
            ballot_papers_counted=parsed.ballot_papers_counted,
            valid_papers=parsed.valid_papers,
            rejected_total=parsed.rejected_total,
            rejected=dict(parsed.rejected),
            turnout_pct=parsed.turnout_pct,
            stv_quota=parsed.stv_quota,
            stv_valid_poll=parsed.stv_valid_poll,
            stv_stages=tuple(stages),
        )

    def _council(self, parsed: ParsedBallot) -> Council:
        key = (parsed.council_slug, parsed.council_label)
        if key not in self._councils:
            self._councils[key] = _find_council(parsed.council_slug, parsed.council_label)
        council = self._councils[key]
        if council is None:
            named = parsed.council_slug or parsed.council_label
            raise BallotProblem(
                f"no council {named!r} is stored (import its boundaries first)",
                row=parsed.first_row, field=self.field_columns.get("council"),
            )
        return council

    def _ward(self, parsed: ParsedBallot, council: Council) -> Ward:
        assert parsed.date is not None
        if parsed.ward_gss:
            ward = find_ward(council, on_date=parsed.date, gss=parsed.ward_gss)
            if ward is None:
                raise BallotProblem(
                    f"ward code {parsed.ward_gss} matches no ward of {council.name}",
                    row=parsed.first_row, field=self.field_columns.get("ward"),
                )
            return ward
        ward = find_ward(council, on_date=parsed.date, name=parsed.ward_name)
        if ward is None:
            raise BallotProblem(
                f"ward {parsed.ward_name!r} matches no ward of {council.name} "
                f"on {parsed.date.isoformat()}",
                row=parsed.first_row, field=self.field_columns.get("ward_name"),
            )
        return ward

    def _source(self, parsed: ParsedBallot) -> str:
        source = f"{self.name} ({parsed.source_url})" if parsed.source_url else self.name
        return source[:_SOURCE_MAX]

    def _locate(
        self, exc: ApplicationError, parsed: ParsedBallot, candidacies: dict[int, CandidateRow]
    ) -> BallotProblem:
        """Name the row and column behind a service error (``votes_12`` → that candidate's row)."""
        fld = exc.field or ""
        row = parsed.first_row
        message = exc.message
        column: str | None = self.field_columns.get(fld, fld or None)
        match = re.fullmatch(r"(votes|won_by_lot)_(\d+)", fld)
        if match and int(match[2]) in candidacies:
            row = candidacies[int(match[2])].row
            column = self.votes_column if match[1] == "votes" else self.field_columns.get("elected")
        elif match:
            # A candidacy of the ballot that the file does not list.
            column = self.field_columns.get("candidates")
            message += (
                " The file does not list this candidate: stored from another source, or "
                "spelt differently here?"
            )
        elif fld.startswith("stv_stage_"):
            column = self.field_columns.get("stv_stage", fld).format(n=int(fld.rsplit("_", 1)[1]))
        return BallotProblem(message, row=row, field=column)

    def _message(self, problem: BallotProblem) -> str:
        return ImportRefused(problem.message, path=self.name, row=problem.row, field=problem.field).message

    # -- helpers for the formats --------------------------------------------------------

    def consistent(self, rows: list[Row], column: str) -> str:
        """The value a ballot-level column has on every row of the ballot."""
        first = rows[0][column]
        for row in rows[1:]:
            if row[column] != first:
                raise BallotProblem(
                    f"{row[column]!r} here but {first!r} on row {rows[0].number} of the same ballot",
                    row=row.number, field=column,
                )
        return first


def _joint_party_includes(joint_id: str, party_id: str) -> bool:
    """Whether ``joint-party:53-119`` includes ``PP53``."""
    if not joint_id.startswith("joint-party:") or not party_id.startswith("PP"):
        return False
    return party_id[2:] in joint_id.split(":", 1)[1].split("-")


def _find_council(slug: str, label: str) -> Council | None:
    """By Democracy Club slug, else by name: "Trafford Council" finds Trafford."""
    if slug:
        council = get_council(slug=slug)
        if council is not None:
            return council
    if not label:
        return None
    names = {label}
    stripped = re.sub(
        r"\s+(metropolitan\s+)?(borough\s+|district\s+|city\s+|county\s+)?council$", "",
        label, flags=re.IGNORECASE,
    ).strip()
    names.add(stripped)
    query = Q()
    for name in names:
        query |= Q(name__iexact=name) | Q(slug=ids.slugify(name))
    matches = list(Council.objects.filter(query)[:2])
    return matches[0] if len(matches) == 1 else None


# -- value parsing, shared by the formats ------------------------------------------------


def parse_count(row: Row, column: str, *, blank: bool = True) -> int | None:
    """A whole number ≥ 0; blank gives None when ``blank``; anything else is a problem."""
    raw = row[column]
    if not raw:
        if blank:
            return None
        raise BallotProblem("a number is required", row=row.number, field=column)
    try:
        value = int(raw)
    except ValueError:
        raise BallotProblem(f"{raw!r} is not a whole number", row=row.number, field=column) from None
    if value < 0:
        raise BallotProblem(f"{value} is negative", row=row.number, field=column)
    return value


def parse_decimal(row: Row, column: str) -> Decimal | None:
    raw = row[column].rstrip("%").strip()
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise BallotProblem(f"{raw!r} is not a number", row=row.number, field=column) from None
    if not value.is_finite():
        raise BallotProblem(f"{raw!r} is not a number", row=row.number, field=column)
    return value


def parse_turnout(row: Row, column: str) -> Decimal | None:
    """A percentage, rounded to the two decimals the platform stores."""
    value = parse_decimal(row, column)
    if value is None:
        return None
    if not Decimal(0) <= value <= Decimal(100):
        raise BallotProblem(f"turnout {value}% is not between 0 and 100", row=row.number, field=column)
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def parse_flag(row: Row, column: str) -> bool:
    raw = row[column].casefold()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise BallotProblem(f"{row[column]!r} is neither elected nor not elected", row=row.number, field=column)


def parse_date(row: Row, column: str) -> dt.date:
    raw = row[column]
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(raw, fmt).date()  # noqa: DTZ007 - a date, no time
        except ValueError:
            continue
    raise BallotProblem(f"{raw!r} is not a date (expected YYYY-MM-DD)", row=row.number, field=column)


def gss_from(value: str) -> str:
    """The GSS code at the end of a URI (…/statistical-geography/E05015239) or given bare."""
    tail = value.rstrip("/").rsplit("/", 1)[-1].strip()
    if tail.lower().startswith("gss:"):
        tail = tail[4:]
    return tail.upper() if _GSS_RE.match(tail.upper()) else ""


def party_ref(raw_id: str, label: str, *, column: str, row: int) -> PartyRef:
    """A party given by id (``PP52``, a register URL, ``party:52``, ``ynmp-party:2``…) and label.

    A blank id is an independent when the label says so (or is blank), else an unknown party.
    """
    try:
        party_id = normalise_party_id(raw_id, field=column)
    except ApplicationError as exc:
        raise BallotProblem(exc.message, row=row, field=column) from None
    if party_id is None:
        independent = label.casefold() in _INDEPENDENT_LABELS
        return PartyRef(party_id=None, label=label, column=column, independent=independent)
    return PartyRef(party_id=party_id, label=label, column=column)


# -- reading and recognising files -------------------------------------------------------


def read_table(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the raw records of a CSV file. Refuses (``ImportRefused``) an
    unreadable file, an empty one, or a record whose number of fields is not the header's
    (a truncated or corrupted file). Blank lines are skipped; records keep their row number."""
    records: list[list[str]] = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, strict=True)
            try:
                records.extend(reader)
            except csv.Error as exc:
                # An unterminated quote at the end is the usual sign of a file cut short.
                raise ImportRefused(
                    f"unreadable CSV ({exc}): the file is truncated or corrupted",
                    path=path.name, row=len(records) + 1, code="truncated",
                ) from exc
    except UnicodeDecodeError as exc:
        raise ImportRefused(f"not UTF-8 text ({exc.reason} at byte {exc.start})", path=path.name) from exc
    except OSError as exc:
        raise ImportRefused(f"cannot be read ({exc.strerror})", path=path.name) from exc
    numbered = [(n, r) for n, r in enumerate(records, start=1) if any(v.strip() for v in r)]
    if not numbered or numbered[0][0] != 1:
        raise ImportRefused("the file has no header row", path=path.name, row=1)
    header = [h.strip() for h in numbered[0][1]]
    for number, record in numbered[1:]:
        if len(record) != len(header):
            missing = len(record) < len(header)
            raise ImportRefused(
                f"{len(record)} fields where the header has {len(header)}: the file is "
                + ("truncated or a row is cut short" if missing else "corrupted (extra fields)"),
                path=path.name, row=number,
                field=header[len(record)] if missing else None, code="truncated",
            )
    return header, numbered[1:]


def _formats() -> tuple[type[ResultsFileImporter], ...]:
    # Imported here: the format modules build on the base classes defined above.
    from .dc_results import DemocracyClubResultsImporter
    from .lga import LgaResultsImporter
    from .stv_sheets import StvSheetsImporter

    return (LgaResultsImporter, DemocracyClubResultsImporter, StvSheetsImporter)


def detect_format(path: Path, header: list[str]) -> type[ResultsFileImporter]:
    """The format whose required columns the header has most of (header names are matched
    case-insensitively). Refuses an unknown header, naming the formats expected, and a
    recognised header that lacks a required column, naming it."""
    present = {h.casefold() for h in header}
    best, best_share = None, 0.0
    for fmt in _formats():
        required = {c.casefold() for c in fmt.required_columns}
        share = len(required & present) / len(required)
        if share > best_share:
            best, best_share = fmt, share
    if best is None or best_share < 0.5:
        expected = "; ".join(
            f"{fmt.format_name} ({', '.join(fmt.required_columns[:4])}, …)" for fmt in _formats()
        )
        raise ImportRefused(
            f"unknown header ({', '.join(header[:6])}{', …' if len(header) > 6 else ''}); "
            f"expected one of: {expected}",
            path=path.name, row=1, code="unknown_format",
        )
    missing = [c for c in best.required_columns if c.casefold() not in present]
    if missing:
        raise ImportRefused(
            f"a {best.format_name} file needs the column(s) {', '.join(missing)}",
            path=path.name, row=1, field=missing[0], code="missing_column",
        )
    seen: set[str] = set()
    for name in header:
        if name.casefold() in seen:
            raise ImportRefused(f"the column {name} appears twice", path=path.name, row=1, field=name)
        seen.add(name.casefold())
    return best


def _rows(
    fmt: type[ResultsFileImporter], header: list[str], records: list[tuple[int, list[str]]]
) -> Iterator[Row]:
    canonical = {c.casefold(): c for c in (*fmt.required_columns, *fmt.optional_columns)}
    names = [canonical.get(h.casefold(), h) for h in header]
    for number, record in records:
        yield Row(number=number, values={n: v.strip() for n, v in zip(names, record, strict=True)})


class ResultsImporter:
    """``import_results``: recognises the file's format from its header and imports it.

    Raises ``ImportRefused`` for a file refused as a whole (nothing is imported); returns the
    summary otherwise, with refused ballots listed as rejections.
    """

    def run(self, path: Path, *, progress: Progress = no_progress) -> ImportSummary:
        header, records = read_table(path)
        fmt = detect_format(path, header)
        table = Table(path=path, header=tuple(header), rows=tuple(_rows(fmt, header, records)))
        return fmt(path).import_table(table, progress=progress)

    def parse(self, path: Path) -> tuple[ResultsFileImporter, list[ParsedBallot]]:
        """Pass one only: the importer of the file's format and its parsed ballots, nothing
        written (``results.replay`` replays them). Raises ``ImportRefused`` as ``run`` does."""
        header, records = read_table(path)
        fmt = detect_format(path, header)
        table = Table(path=path, header=tuple(header), rows=tuple(_rows(fmt, header, records)))
        importer = fmt(path)
        return importer, importer.parse(table)


def iter_stage_numbers(columns: Iterable[str], prefix: str) -> list[int]:
    """Stage numbers of the columns named ``prefix`` + two digits (``total_votes02`` → 2)."""
    numbers = []
    for column in columns:
        if column.startswith(prefix) and column[len(prefix):].isdigit():
            numbers.append(int(column[len(prefix):]))
    return sorted(numbers)
