"""Democracy Club ballots with their candidates: the ``api/next/ballots`` JSON.

Both the candidates JSON and the candidates CSV (``dc_candidates_csv``) are parsed into the
records below (pass one: shape, ids and duplicates, nothing read from the database), then
written by ``BallotsWriter`` (pass two: council, election, ward, parties, ballot and
candidacies, through ``elections.services``). The command runs both passes in one
transaction, so any refusal leaves the database as it was.

JSON shapes accepted: a list of ballots; ``{"ballots": [...]}`` (a saved snapshot);
``{"results": [...]}`` (one page of the live API). Candidates may be flat (``candidates``:
``person_id``, ``name``, ``party_ec_id``, ``party_name``, ``party_description_text``) or as
the live API nests them (``candidacies``: ``person.id``, ``person.name``, ``party.ec_id`` or
``party.legacy_slug``, ``party.name``, ``party_name``, ``party_description_text``).
A candidacy marked ``deselected`` is kept: Democracy Club still lists it on the ballot, as the
name stays on the ballot paper once nominations have closed.

In refusals the row of a JSON file is the ballot's position in its list, counting from 1,
and the field is a path inside that ballot (``candidates[2].party_name``, also from 1).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.errors import ApplicationError
from config.importing import ImportRefused, ImportSummary, Progress
from councils.models import Council, Ward
from councils.selectors import find_ward, get_council
from elections import ids
from elections.models import INDEPENDENT_PARTY_ID, Candidacy, Election, Party
from elections.selectors import get_party
from elections.services import (
    Outcome,
    canonical_ballot_id,
    get_independent_party,
    normalise_party_id,
    prune_candidacies,
    upsert_ballot,
    upsert_candidacy,
    upsert_election,
    upsert_party,
)

# A post id is "gss:E05015239" on current Democracy Club posts; older posts carry a council
# type prefix instead ("MTW:E05010881"). Only the code after the colon matters.
_POST_GSS_RE = re.compile(r"(?:^|:)([EWSN][0-9]{8})$")
_GSS_RE = re.compile(r"[EWSN][0-9]{8}")
# Democracy Club spells an independent's party "Independent"; a missing name means the same.
_INDEPENDENT_NAMES = {"", "independent"}


@dataclass(frozen=True)
class CandidateRecord:
    row: int
    # Where the candidate is in the file, for messages: "row 7" or "candidates[2]".
    where: str
    person_id: str
    person_name: str
    person_name_field: str
    party_id: str | None
    party_id_field: str
    party_name: str
    party_name_field: str
    description: str


@dataclass(frozen=True)
class BallotRecord:
    row: int
    ballot_paper_id: str
    ballot_paper_id_field: str
    parsed: ids.ParsedId
    gss: str | None
    # The post's label is used to find the ward only when the post carries no GSS code
    # (a ward made by a recent boundary review can lack one); otherwise only in messages.
    post_label: str
    ward_field: str
    seats_contested: int
    seats_field: str
    cancelled: bool
    # None when the source does not say; False means nominations are not yet final.
    candidates_locked: bool | None
    candidates: tuple[CandidateRecord, ...]

    @property
    def uncontested(self) -> bool:
        """Elected unopposed: no more candidates than seats on a final list, and a poll that
        was not cancelled. A ballot with nobody nominated is not uncontested."""
        return (
            not self.cancelled
            and self.candidates_locked is not False
            and 0 < len(self.candidates) <= self.seats_contested
        )


def parse_ballot_id(path: Path, value: Any, *, row: int, field: str) -> ids.ParsedId:
    """A local ballot id, or a refusal naming the row and field."""
    if not isinstance(value, str) or not value.strip():
        raise ImportRefused("no ballot paper id", path=path, row=row, field=field,
                            code="invalid_election_id")
    value = value.strip()
    try:
        parsed = ids.validate_ballot_id(value, field=field)
        canonical = canonical_ballot_id(parsed)
    except ApplicationError as exc:
        raise ImportRefused(exc.message, path=path, row=row, field=field, code=exc.code) from exc
    if canonical != value:
        raise ImportRefused(
            f"{value!r} is not a valid Democracy Club id: its canonical form is {canonical}",
            path=path, row=row, field=field, code="invalid_election_id",
        )
    return parsed


def parse_party_id(path: Path, value: Any, *, row: int, field: str) -> str | None:
    """A canonical party id, None when the value is empty, or a refusal."""
    if value is None:
        return None
    try:
        return normalise_party_id(str(value), field=field)
    except ApplicationError as exc:
        raise ImportRefused(exc.message, path=path, row=row, field=field, code=exc.code) from exc


def gss_from_post_id(post_id: str) -> str | None:
    """``E05015239`` from ``gss:E05015239`` (or from an older ``MTW:E05010881``), else None."""
    match = _POST_GSS_RE.search(post_id.strip())
    return match.group(1) if match else None


def is_gss(value: str) -> bool:
    return bool(_GSS_RE.fullmatch(value))


def _party_key(candidate: CandidateRecord) -> str:
    if candidate.party_id:
        return candidate.party_id
    name = " ".join(candidate.party_name.split()).casefold()
    return INDEPENDENT_PARTY_ID if name in _INDEPENDENT_NAMES else f"name:{name}"


def check_candidates(path: Path, ballot_paper_id: str, candidates: Sequence[CandidateRecord]) -> None:
    """Refuse a ballot listing one candidate twice: the same person id, or the same name
    (ignoring case and spacing) for the same party."""
    by_person: dict[str, CandidateRecord] = {}
    by_name: dict[tuple[str, str], CandidateRecord] = {}
    for candidate in candidates:
        earlier = by_person.get(candidate.person_id) if candidate.person_id else None
        key = (" ".join(candidate.person_name.split()).casefold(), _party_key(candidate))
        earlier = earlier or by_name.get(key)
        if earlier is not None:
            raise ImportRefused(
                f"{candidate.person_name} (person {candidate.person_id or 'without id'}, "
                f"{candidate.party_name or 'no party'}) is listed twice on ballot "
                f"{ballot_paper_id}: also at {earlier.where}",
                path=path, row=candidate.row, field=candidate.person_name_field,
                code="duplicate_candidate",
            )
        if candidate.person_id:
            by_person[candidate.person_id] = candidate
        by_name[key] = candidate


class BallotsWriter:
    """Pass two: find each ballot's council, election, ward and parties, then write the
    ballot and its candidacies through ``elections.services``.

    Preconditions: the caller holds a transaction (a refusal part-way must roll back the
    file); councils and wards exist (``import_boundaries``). The candidates of each ballot
    in the file are its complete list: stored candidacies missing from it are removed
    (refused if results are recorded for them). Caches live on the instance, one per run.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.summary = ImportSummary()
        self._councils: dict[str, Council | None] = {}
        self._elections: dict[str, Election] = {}
        self._parties: dict[str, Party] = {}

    def write(self, records: Sequence[BallotRecord], *, progress: Progress) -> ImportSummary:
        for record in progress(records, total=len(records), desc="ballots"):
            self._write_ballot(record)
        return self.summary

    def _refuse(
        self, message: str, *, row: int, field: str | None, code: str = "import_refused"
    ) -> ImportRefused:
        return ImportRefused(message, path=self.path, row=row, field=field, code=code)

    def _write_ballot(self, record: BallotRecord) -> None:
        council = self._council(record)
        election = self._election(record, council)
        ward = self._ward(record, council)
        parties = [self._party(candidate) for candidate in record.candidates]
        try:
            ballot, ballot_outcome = upsert_ballot(
                ballot_paper_id=record.ballot_paper_id, election=election, ward=ward,
                seats_contested=record.seats_contested, cancelled=record.cancelled,
                uncontested=record.uncontested,
            )
        except ApplicationError as exc:
            field = {"seats_contested": record.seats_field, "ward": record.ward_field}.get(
                exc.field or "", record.ballot_paper_id_field
            )
            raise self._refuse(f"ballot {record.ballot_paper_id}: {exc.message}", row=record.row,
                               field=field, code=exc.code) from exc
        kept: list[Candidacy] = []
        for candidate, party in zip(record.candidates, parties, strict=True):
            try:
                candidacy, outcome = upsert_candidacy(
                    ballot=ballot, person_name=candidate.person_name, party=party,
                    person_id=candidate.person_id, description=candidate.description,
                )
            except ApplicationError as exc:
                raise self._refuse(
                    f"ballot {record.ballot_paper_id}, {candidate.person_name}: {exc.message}",
                    row=candidate.row, field=candidate.person_name_field, code=exc.code,
                ) from exc
            kept.append(candidacy)
            self.summary.count(outcome, "candidacy")
        try:
            removed = prune_candidacies(ballot=ballot, keep=kept)
        except ApplicationError as exc:
            raise self._refuse(exc.message, row=record.row, field=record.ballot_paper_id_field,
                               code=exc.code) from exc
        if removed and ballot_outcome == "unchanged":
            ballot_outcome = "updated"
        self.summary.count(ballot_outcome, "ballot")

    def _council(self, record: BallotRecord) -> Council:
        slug = record.parsed.organisation or ""
        if slug not in self._councils:
            self._councils[slug] = get_council(slug=slug)
        council = self._councils[slug]
        if council is None:
            raise self._refuse(
                f"ballot {record.ballot_paper_id} is for council {slug!r}, which is not stored: "
                "import the council's boundaries first (import_boundaries)",
                row=record.row, field=record.ballot_paper_id_field, code="unknown_council",
            )
        return council

    def _election(self, record: BallotRecord, council: Council) -> Election:
        election_id = record.parsed.election_id
        if election_id not in self._elections:
            try:
                election, outcome = upsert_election(election_id=election_id, council=council)
            except ApplicationError as exc:
                raise self._refuse(exc.message, row=record.row, field=record.ballot_paper_id_field,
                                   code=exc.code) from exc
            self._elections[election_id] = election
            self.summary.count(outcome, "election")
        return self._elections[election_id]

    def _ward(self, record: BallotRecord, council: Council) -> Ward:
        on_date = record.parsed.date
        if record.gss:
            ward = find_ward(council, on_date=on_date, gss=record.gss)
            wanted = f"GSS code {record.gss}"
        else:
            ward = find_ward(council, on_date=on_date, name=record.post_label)
            wanted = f"the name {record.post_label!r}"
        if ward is None:
            raise self._refuse(
                f"ballot {record.ballot_paper_id}: no ward of {council.name} on {on_date.isoformat()} "
                f"has {wanted} (are the boundaries for that date imported?)",
                row=record.row, field=record.ward_field, code="unknown_ward",
            )
        return ward

    def _party(self, candidate: CandidateRecord) -> Party:
        party_id = candidate.party_id
        if party_id is None:
            if _party_key(candidate) != INDEPENDENT_PARTY_ID:
                raise self._refuse(
                    f"{candidate.person_name} stands for {candidate.party_name!r}, which has no "
                    "party id: only an independent may stand without one (unknown party)",
                    row=candidate.row, field=candidate.party_id_field, code="unknown_party",
                )
            party_id = INDEPENDENT_PARTY_ID
        if party_id in self._parties:
            return self._parties[party_id]
        party = get_party(party_id)
        outcome: Outcome = "unchanged"
        if party is None and party_id == INDEPENDENT_PARTY_ID:
            party, outcome = get_independent_party(), "created"
        elif party is None:
            if not candidate.party_name.strip():
                raise self._refuse(
                    f"party {party_id} of {candidate.person_name} is not stored and the file "
                    "gives no name for it (unknown party): import the party register first",
                    row=candidate.row, field=candidate.party_name_field, code="unknown_party",
                )
            try:
                # The register's name wins over a ballot's spelling of it.
                party, outcome = upsert_party(party_id=party_id, name=candidate.party_name,
                                              overwrite_name=False)
            except ApplicationError as exc:
                raise self._refuse(exc.message, row=candidate.row, field=candidate.party_id_field,
                                   code=exc.code) from exc
        self._parties[party_id] = party
        self.summary.count(outcome, "party")
        return party


def _ballot_list(path: Path, data: Any) -> tuple[list[Any], str | None]:
    """The list of ballots and the election id a snapshot says they belong to (if it does)."""
    if isinstance(data, list):
        return data, None
    if isinstance(data, dict):
        group = data.get("election_group")
        group_id = group.get("election_id") if isinstance(group, dict) else None
        for key in ("ballots", "results"):
            if isinstance(data.get(key), list):
                return data[key], group_id if isinstance(group_id, str) else None
        if "ballot_paper_id" in data:
            return [data], None
    raise ImportRefused(
        "expected Democracy Club ballots: a list, or an object with the list under 'ballots' "
        "or 'results' (as the api/next/ballots pages have it)",
        path=path, code="unknown_format",
    )


def parse_ballots_json(path: Path) -> list[BallotRecord]:
    """Pass one for a ballots JSON file: every ballot and candidate checked, nothing read
    from the database. Refuses malformed or truncated JSON, invalid ids, missing fields,
    duplicated ballots and duplicated candidates."""
    try:
        with path.open(encoding="utf-8-sig") as handle:
            data = json.load(handle)
    except UnicodeDecodeError as exc:
        raise ImportRefused(f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})",
                            path=path, code="malformed_file") from exc
    except json.JSONDecodeError as exc:
        raise ImportRefused(
            f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno} "
            "(is the file truncated?)",
            path=path, code="malformed_file",
        ) from exc
    ballots, group_election_id = _ballot_list(path, data)
    records: list[BallotRecord] = []
    seen: dict[str, int] = {}
    for row, item in enumerate(ballots, start=1):
        record = parse_json_ballot(path, item, row=row)
        if group_election_id and record.parsed.election_id != group_election_id:
            raise ImportRefused(
                f"ballot {record.ballot_paper_id} is not part of {group_election_id}, the "
                "election this file is for",
                path=path, row=row, field="ballot_paper_id", code="election_mismatch",
            )
        if record.ballot_paper_id in seen:
            raise ImportRefused(
                f"ballot {record.ballot_paper_id} is already at row {seen[record.ballot_paper_id]}",
                path=path, row=row, field="ballot_paper_id", code="duplicate_ballot",
            )
        seen[record.ballot_paper_id] = row
        records.append(record)
    return records


def _text(path: Path, value: Any, *, row: int, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ImportRefused(f"expected text, found {value!r}", path=path, row=row, field=field)
    return value.strip()


def _flag(path: Path, value: Any, *, row: int, field: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise ImportRefused(f"expected true or false, found {value!r}", path=path, row=row, field=field)


def parse_json_ballot(path: Path, item: Any, *, row: int) -> BallotRecord:
    """One ballot object of the ``api/next/ballots`` shape (or the flat snapshot shape)."""
    if not isinstance(item, dict):
        raise ImportRefused("a ballot must be a JSON object", path=path, row=row)
    parsed = parse_ballot_id(path, item.get("ballot_paper_id"), row=row, field="ballot_paper_id")
    ballot_paper_id = item["ballot_paper_id"].strip()
    election = item.get("election")
    if isinstance(election, dict) and election.get("election_id") not in (None, parsed.election_id):
        raise ImportRefused(
            f"ballot {ballot_paper_id} belongs to {parsed.election_id}, not "
            f"{election.get('election_id')!r}",
            path=path, row=row, field="election.election_id", code="election_mismatch",
        )
    post = item.get("post")
    if not isinstance(post, dict):
        raise ImportRefused(f"ballot {ballot_paper_id} has no post (ward)", path=path, row=row,
                            field="post")
    post_id = _text(path, post.get("id"), row=row, field="post.id")
    post_label = _text(path, post.get("label"), row=row, field="post.label")
    gss = gss_from_post_id(post_id)
    if not gss and not post_label:
        raise ImportRefused(
            f"ballot {ballot_paper_id}: the post has neither a GSS code ('gss:E05…') nor a label",
            path=path, row=row, field="post.id",
        )
    seats = item.get("winner_count")
    if isinstance(seats, bool) or not isinstance(seats, int) or seats < 1:
        raise ImportRefused(f"ballot {ballot_paper_id}: seats must be a whole number of at least 1, "
                            f"found {seats!r}", path=path, row=row, field="winner_count")
    key = "candidacies" if "candidacies" in item else "candidates"
    raw_candidates = item.get(key)
    if not isinstance(raw_candidates, list):
        raise ImportRefused(f"ballot {ballot_paper_id} has no list of candidates", path=path,
                            row=row, field=key)
    candidates = tuple(
        parse_json_candidate(path, candidate, row=row, where=f"{key}[{position}]")
        for position, candidate in enumerate(raw_candidates, start=1)
    )
    check_candidates(path, ballot_paper_id, candidates)
    return BallotRecord(
        row=row, ballot_paper_id=ballot_paper_id, ballot_paper_id_field="ballot_paper_id",
        parsed=parsed, gss=gss, post_label=post_label, ward_field="post.id" if gss else "post.label",
        seats_contested=seats, seats_field="winner_count",
        cancelled=bool(_flag(path, item.get("cancelled"), row=row, field="cancelled")),
        candidates_locked=_flag(path, item.get("candidates_locked"), row=row,
                                field="candidates_locked"),
        candidates=candidates,
    )


def parse_json_candidate(path: Path, item: Any, *, row: int, where: str) -> CandidateRecord:
    """A flat snapshot candidate or a nested live-API candidacy."""
    if not isinstance(item, dict):
        raise ImportRefused("a candidate must be a JSON object", path=path, row=row, field=where)
    person = item.get("person")
    if isinstance(person, dict):
        raw_person_id, id_field = person.get("id"), f"{where}.person.id"
        raw_name, name_field = person.get("name"), f"{where}.person.name"
    else:
        raw_person_id, id_field = item.get("person_id"), f"{where}.person_id"
        raw_name, name_field = item.get("name", item.get("person_name")), f"{where}.name"
    if isinstance(raw_person_id, bool) or not isinstance(raw_person_id, (int, str, type(None))):
        raise ImportRefused(f"expected a person id, found {raw_person_id!r}", path=path, row=row,
                            field=id_field)
    person_name = " ".join(_text(path, raw_name, row=row, field=name_field).split())
    if not person_name:
        raise ImportRefused("the candidate has no name", path=path, row=row, field=name_field)
    party = item.get("party")
    if isinstance(party, dict):
        # ec_id is the register id (or a pseudo-id); legacy_slug ("party:52") is the fallback.
        raw_party_id = party.get("ec_id") or party.get("legacy_slug")
        party_id_field = f"{where}.party.ec_id"
        party_name = party.get("name") or item.get("party_name")
        party_name_field = f"{where}.party.name"
    else:
        raw_party_id = item.get("party_ec_id") or item.get("party_id")
        party_id_field = f"{where}.party_ec_id"
        party_name = item.get("party_name")
        party_name_field = f"{where}.party_name"
    description = item.get("party_description_text", item.get("description"))
    return CandidateRecord(
        row=row, where=where,
        person_id="" if raw_person_id is None else str(raw_person_id).strip(),
        person_name=person_name, person_name_field=name_field,
        party_id=parse_party_id(path, raw_party_id, row=row, field=party_id_field),
        party_id_field=party_id_field,
        party_name=" ".join(_text(path, party_name, row=row, field=party_name_field).split()),
        party_name_field=party_name_field,
        description=_text(path, description, row=row, field=f"{where}.party_description_text"),
    )


class DcBallotsJsonImporter:
    """Democracy Club ballots JSON (``api/next/ballots``): both passes, in the caller's
    transaction."""

    def run(self, path: Path, *, progress: Progress) -> ImportSummary:
        records = parse_ballots_json(path)
        return BallotsWriter(path).write(records, progress=progress)
