"""Publish the live documents and stream events now (docs/live-data.md).

Usage: ``python manage.py publish_live [--date YYYY-MM-DD] [--full]``

Without options it runs the reconciler once: every day with a result behind its published
version, new or changed ballots, or an administrator's change is published. ``--full``
rebuilds every document of the day (``--date``) or of every day. Safe to run at any time,
also while workers publish: days are published one publisher at a time.
"""

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from results import publication


class Command(BaseCommand):
    help = "Publish the live snapshot documents and stream events that are behind (or rebuild them)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="Only this polling day (YYYY-MM-DD).")
        parser.add_argument(
            "--full", action="store_true", help="Rebuild every document, not only what is behind."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["date"]:
            try:
                date = dt.date.fromisoformat(options["date"])
            except ValueError:
                raise CommandError(f"--date: {options['date']!r} is not a date (YYYY-MM-DD).") from None
            reports = [publication.publish_day(date, full=options["full"])]
        elif options["full"]:
            reports = publication.rebuild_all()
        else:
            reports = publication.reconcile()
        for report in reports:
            if options["verbosity"] >= 1:
                self.stdout.write(
                    f"{report.date.isoformat()}: {len(report.published)} result(s) published, "
                    f"{report.documents} document(s) written{' (full build)' if report.full else ''}"
                )
        if not reports and options["verbosity"] >= 1:
            self.stdout.write("Nothing to publish.")
