"""Party files: the Electoral Commission register, the party colours table and Democracy
Club's parties-standing list, recognised from their header row.

- the register (``ec_id``, ``name``) creates parties, and its names overwrite stored names;
- the colours table (``party_ec_id``, ``short_name``, ``party_name``, ``brand_hex``, optional
  ``map_hex_open_innovations``) sets short names and map colours;
- the parties-standing list (``party_ec_id``, ``party_name``) creates parties, pseudo-ids
  (``ynmp-party:2``, ``joint-party:53-119``) included.

The last two name a party only when it is new, so the register's names win whatever the
order of imports.

Pass one reads and checks every row (ids, names, colours, duplicates); pass two writes
through ``elections.services.upsert_party``. Any refusal names the file, row and field.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from config.errors import ApplicationError
from config.importing import ImportRefused, ImportSummary, Progress
from elections.services import normalise_party_id, upsert_party

_COLOUR_RE = re.compile(r"#?([0-9A-Fa-f]{6})")


@dataclass(frozen=True)
class CsvRow:
    """One data row. ``number`` is the row as a spreadsheet shows it: the header is row 1."""

    number: int
    values: dict[str, str]


def read_csv(path: Path) -> tuple[list[str], list[CsvRow]]:
    """Read a whole CSV file (UTF-8, with or without a byte-order mark); column names are
    stripped and lower-cased.

    Refuses a file that is empty, not UTF-8, badly quoted, has duplicated column names, or
    has a row with more or fewer fields than the header (how a truncated file usually ends).
    Blank lines are skipped.
    """
    rows: list[CsvRow] = []
    number = 1
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            # strict: an unterminated quote (a file cut inside a quoted field) is an error,
            # not a silently shortened last row.
            reader = csv.reader(handle, strict=True)
            first = next(reader, None)
            if not first or not any(name.strip() for name in first):
                raise ImportRefused("the file is empty: no header row", path=path, row=1)
            header = [name.strip().lower() for name in first]
            duplicated = sorted({name for name in header if header.count(name) > 1})
            if duplicated:
                raise ImportRefused(
                    f"the header repeats column(s) {', '.join(duplicated)}", path=path, row=1
                )
            for number, fields in enumerate(reader, start=2):
                if not fields:
                    continue
                if len(fields) != len(header):
                    raise ImportRefused(
                        f"the row has {len(fields)} field(s) but the header has {len(header)}"
                        " (is the file truncated?)",
                        path=path, row=number, code="malformed_file",
                    )
                rows.append(CsvRow(number, dict(zip(header, fields, strict=True))))
    except UnicodeDecodeError as exc:
        raise ImportRefused(
            f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})",
            path=path, code="malformed_file",
        ) from exc
    except csv.Error as exc:
        raise ImportRefused(
            f"badly formed CSV ({exc}); is the file truncated?",
            path=path, row=number + 1, code="malformed_file",
        ) from exc
    return header, rows


@dataclass(frozen=True)
class PartyFileFormat:
    """How one kind of party file is read. Formats are tried in order; the first whose
    ``required`` columns are all in the header is used."""

    label: str
    required: tuple[str, ...]
    id_column: str
    name_column: str
    # The register is authoritative for names; other files name a party only when it is new.
    overwrite_name: bool
    short_name_column: str | None = None
    # Colour columns in order of preference: the first non-empty one is used.
    colour_columns: tuple[str, ...] = ()

    def describe(self) -> str:
        return f"{self.label} ({', '.join(self.required)})"


PARTY_COLOURS = PartyFileFormat(
    label="party colours",
    required=("party_ec_id", "short_name", "party_name", "brand_hex"),
    id_column="party_ec_id",
    name_column="party_name",
    overwrite_name=False,
    short_name_column="short_name",
    # brand_hex is the chosen palette; where it has no colour (SNP, Plaid Cymru, …) the
    # Open Innovations map colour fills in, so every core party has a colour on the map.
    colour_columns=("brand_hex", "map_hex_open_innovations"),
)
EC_REGISTER = PartyFileFormat(
    label="Electoral Commission register",
    required=("ec_id", "name"),
    id_column="ec_id",
    name_column="name",
    overwrite_name=True,
)
DC_PARTIES_STANDING = PartyFileFormat(
    label="Democracy Club parties standing",
    required=("party_ec_id", "party_name"),
    id_column="party_ec_id",
    name_column="party_name",
    overwrite_name=False,
)
PARTY_FILE_FORMATS = (PARTY_COLOURS, EC_REGISTER, DC_PARTIES_STANDING)


def recognise_party_file(path: Path, header: list[str]) -> PartyFileFormat:
    """The format whose columns the header has; refuses naming the expected columns."""
    for file_format in PARTY_FILE_FORMATS:
        if set(file_format.required) <= set(header):
            return file_format
    expected = "; ".join(f.describe() for f in PARTY_FILE_FORMATS)
    raise ImportRefused(
        f"not a party file: its columns are {', '.join(header)}; expected one of: {expected}",
        path=path, row=1, code="unknown_format",
    )


@dataclass(frozen=True)
class PartyRecord:
    row: int
    party_id: str
    name: str
    short_name: str | None
    colour: str | None


def parse_party_rows(path: Path, file_format: PartyFileFormat, rows: list[CsvRow]) -> list[PartyRecord]:
    """Pass one: every row checked, nothing written."""
    records: list[PartyRecord] = []
    seen: dict[str, int] = {}
    for row in rows:
        values = row.values
        raw_id = values[file_format.id_column]
        try:
            party_id = normalise_party_id(raw_id, field=file_format.id_column)
        except ApplicationError as exc:
            raise ImportRefused(exc.message, path=path, row=row.number,
                                field=file_format.id_column, code=exc.code) from exc
        if party_id is None:
            raise ImportRefused("no party id", path=path, row=row.number, field=file_format.id_column)
        if party_id in seen:
            raise ImportRefused(
                f"party {party_id} is already in row {seen[party_id]}",
                path=path, row=row.number, field=file_format.id_column, code="duplicate",
            )
        seen[party_id] = row.number
        name = " ".join(values[file_format.name_column].split())
        if not name:
            raise ImportRefused(f"party {party_id} has no name", path=path, row=row.number,
                                field=file_format.name_column)
        short_name = None
        if file_format.short_name_column:
            short_name = values[file_format.short_name_column].strip()
        records.append(PartyRecord(
            row=row.number, party_id=party_id, name=name, short_name=short_name,
            colour=_colour(path, row, file_format.colour_columns),
        ))
    return records


def _colour(path: Path, row: CsvRow, columns: tuple[str, ...]) -> str | None:
    """``#RRGGBB`` from the first non-empty colour column, or None to leave the colour as
    it is (a colour chosen in the admin is not wiped by a file that has none)."""
    for column in columns:
        raw = row.values.get(column, "").strip()
        if not raw:
            continue
        match = _COLOUR_RE.fullmatch(raw)
        if not match:
            raise ImportRefused(f"{raw!r} is not a colour (expected #RRGGBB)",
                                path=path, row=row.number, field=column)
        return "#" + match.group(1).upper()
    return None


class PartiesImporter:
    """``import_parties PATH``: any of the three party files, in one transaction (the
    command's). Re-importing a file reports every party unchanged."""

    def run(self, path: Path, *, progress: Progress) -> ImportSummary:
        header, rows = read_csv(path)
        file_format = recognise_party_file(path, header)
        records = parse_party_rows(path, file_format, rows)
        summary = ImportSummary()
        for record in progress(records, total=len(records), desc=file_format.label):
            try:
                _, outcome = upsert_party(
                    party_id=record.party_id, name=record.name, short_name=record.short_name,
                    colour=record.colour, overwrite_name=file_format.overwrite_name,
                )
            except ApplicationError as exc:
                raise ImportRefused(exc.message, path=path, row=record.row,
                                    field=exc.field, code=exc.code) from exc
            summary.count(outcome, "party")
        return summary
