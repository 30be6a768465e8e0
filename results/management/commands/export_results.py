"""Write results as CSV to standard output.

    manage.py export_results --format lga --election local.trafford.2023-05-04 > trafford-2023.csv
    manage.py export_results --format lga --council trafford
    manage.py export_results --format dc --date 2026-05-07

``--format lga``: the LGA ElectionResults schema (33 columns, as councils publish it);
``--format dc``: Democracy Club's column names. ``--election``, ``--council`` (all of its
elections) or ``--date`` (every council polling that day); given together, the results
matching all of them. ``--publication-date``
sets the LGA ``PublicationDate`` column (default: today). See ``results.exports``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from config.errors import ApplicationError
from results.exports import FORMATS, ExportScope, write_dc, write_lga


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD)") from None


class Command(BaseCommand):
    help = "Export results as CSV (LGA ElectionResults or Democracy Club columns) to standard output."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=FORMATS, default="lga", help="lga (default) or dc.")
        parser.add_argument("--election", help="An election id, e.g. local.trafford.2023-05-04.")
        parser.add_argument("--council", help="A council slug: all of its elections.")
        parser.add_argument("--date", type=_date, help="A polling day: every council's elections.")
        parser.add_argument(
            "--publication-date",
            type=_date,
            default=None,
            help="PublicationDate of LGA rows (default: today).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            scope = ExportScope(
                election_id=options["election"], council=options["council"], date=options["date"]
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        if not any((options["election"], options["council"], options["date"])):
            raise CommandError("name what to export: --election, --council or --date")
        if scope.has_rehearsal():
            self.stderr.write(
                f"Note: {scope.name} includes rehearsal data (generated or replayed, not real results)."
            )
        if options["format"] == "lga":
            count = write_lga(
                self.stdout._out, scope, publication_date=options["publication_date"] or timezone.localdate()
            )
        else:
            count = write_dc(self.stdout._out, scope)
        if count == 0:
            self.stderr.write(f"No results to export for {scope.name}.")
