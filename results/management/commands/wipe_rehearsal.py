"""Delete all rehearsal data: elections marked ``rehearsal`` and everything under them.

Usage::

    python manage.py wipe_rehearsal [--date YYYY-MM-DD] [--keep-users] [--yes]

Real elections, results, submissions and events are never touched: the wipe runs in one
transaction and is rolled back if any real row would change (see ``results.rehearsal``).
Asks for confirmation at a terminal; elsewhere (scripts) it needs ``--yes``.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.errors import ApplicationError
from elections.models import Election
from results.management.commands.generate_night import iso_date
from results.rehearsal import wipe_rehearsal


class Command(BaseCommand):
    help = "Delete rehearsal elections with their ballots, candidacies, results, submissions and events."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", type=iso_date, default=None, metavar="YYYY-MM-DD",
                            help="Only the rehearsal elections of this polling day.")
        parser.add_argument("--keep-users", action="store_true",
                            help="Keep the simulated correspondents' accounts (…@rehearsal.invalid).")
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")

    def handle(self, *args: Any, **options: Any) -> None:
        elections = Election.objects.filter(rehearsal=True)
        if options["date"]:
            elections = elections.filter(date=options["date"])
        count = elections.count()
        if not count:
            self.stdout.write("No rehearsal data to wipe.")
            return
        if not options["yes"]:
            if not sys.stdin.isatty():
                raise CommandError(f"{count} rehearsal election(s) would be deleted: add --yes to confirm.")
            answer = input(f"Delete {count} rehearsal election(s) and everything under them? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                raise CommandError("Nothing deleted.")
        try:
            summary = wipe_rehearsal(date=options["date"], users=not options["keep_users"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        parts = ", ".join(f"{n} {kind}" for kind, n in summary.deleted.items())
        days = ", ".join(d.isoformat() for d in summary.dates)
        self.stdout.write(f"Wiped rehearsal data of {days}: {parts}.")
