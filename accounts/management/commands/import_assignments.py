"""Assign correspondents and reviewers to councils from a CSV file.

Usage::

    manage.py import_assignments assignments.csv [--dry-run] [--create-users]

Columns (header row, names case-insensitive): ``email``, ``council`` (slug such as
``trafford``, GSS code or name), ``date`` (the election's polling day, YYYY-MM-DD; required
for correspondents, blank for a reviewer of every election of the council) and ``role``
(``correspondent``, the default, or ``reviewer``; a reviewer with a blank council is
national). Pass one checks every row and refuses the whole file, naming each bad row, if
any is wrong; pass two writes everything in one transaction. Running it again changes
nothing. Users are matched by email; ``--create-users`` makes missing ones with no usable
password (an administrator sets it).
"""

from __future__ import annotations

import csv
import datetime as dt
from argparse import ArgumentParser
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Role
from accounts.services import assign_role, get_or_create_user_by_email
from config.errors import ApplicationError
from councils.models import Council
from elections.models import Election

REQUIRED = ("email", "council")
OPTIONAL = ("date", "role")


@dataclass(frozen=True)
class Row:
    line: int
    email: str
    council: Council | None
    election: Election | None
    role: str


class Command(BaseCommand):
    help = "Assign correspondents and reviewers to councils from a CSV of emails and councils."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("path", type=Path, help="CSV file: email, council, date, role")
        parser.add_argument("--dry-run", action="store_true", help="Check and count; write nothing.")
        parser.add_argument("--create-users", action="store_true",
                            help="Make accounts (without a usable password) for unknown emails.")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        rows, problems = self._read(path)
        if problems:
            raise CommandError(f"{path}: nothing assigned:\n" + "\n".join(problems))
        counts = {"created": 0, "unchanged": 0, "users_created": 0}
        with transaction.atomic():
            for row in rows:
                try:
                    user, made = get_or_create_user_by_email(email=row.email, create=options["create_users"])
                    _, outcome = assign_role(user=user, role=row.role, council=row.council,
                                             election=row.election)
                except ApplicationError as exc:
                    transaction.set_rollback(True)
                    raise CommandError(f"{path}, row {row.line}, field {exc.field!r}: {exc.message} "
                                       "(nothing assigned)") from exc
                counts[outcome] += 1
                counts["users_created"] += int(made)
            if options["dry_run"]:
                transaction.set_rollback(True)
        prefix = "dry run: would have " if options["dry_run"] else ""
        self.stdout.write(
            f"{prefix}assignments created {counts['created']}, unchanged {counts['unchanged']}; "
            f"users created {counts['users_created']}"
        )

    def _read(self, path: Path) -> tuple[list[Row], list[str]]:
        try:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                reader = csv.DictReader(handle)
                header = {(name or "").strip().lower(): name for name in reader.fieldnames or []}
                missing = [name for name in REQUIRED if name not in header]
                if missing:
                    raise CommandError(f"{path}: missing column(s) {', '.join(missing)} "
                                       f"(expected {', '.join(REQUIRED + OPTIONAL)})")
                raw = [
                    (reader.line_num, {key: (record.get(original) or "").strip()
                                       for key, original in header.items()})
                    for record in reader
                ]
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise CommandError(f"{path}: cannot read: {exc}") from exc
        rows, problems = [], []
        for line, values in raw:
            try:
                rows.append(self._row(line, values))
            except ApplicationError as exc:
                problems.append(f"{path}, row {line}, field {exc.field!r}: {exc.message}")
        return rows, problems

    def _row(self, line: int, values: dict[str, str]) -> Row:
        role = (values.get("role") or Role.CORRESPONDENT).lower()
        if role not in Role.values:
            raise ApplicationError(f"role {role!r} is not correspondent or reviewer", field="role")
        if "@" not in values["email"]:
            raise ApplicationError(f"{values['email']!r} is not an email address", field="email")
        council = None
        if values["council"]:
            wanted = values["council"]
            council = (Council.objects.filter(slug=wanted.lower()).first()
                       or Council.objects.filter(gss=wanted.upper()).first()
                       or Council.objects.filter(name__iexact=wanted).first())
            if council is None:
                raise ApplicationError(f"no council {wanted!r} (give its slug, GSS code or name)",
                                       field="council")
        elif role == Role.CORRESPONDENT:
            raise ApplicationError("a correspondent needs a council", field="council")
        election = None
        if values.get("date"):
            try:
                day = dt.date.fromisoformat(values["date"])
            except ValueError as exc:
                raise ApplicationError(f"{values['date']!r} is not a date (YYYY-MM-DD)",
                                       field="date") from exc
            if council is None:
                raise ApplicationError("a date needs a council", field="council")
            election = Election.objects.filter(council=council, date=day).first()
            if election is None:
                raise ApplicationError(f"{council.name} has no election on {day.isoformat()}",
                                       field="date")
        elif role == Role.CORRESPONDENT:
            raise ApplicationError("a correspondent needs the election's date", field="date")
        return Row(line=line, email=values["email"], council=council, election=election, role=role)
