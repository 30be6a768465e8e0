"""Import ward boundaries from an ONS ward GeoJSON file.

Usage::

    python manage.py import_boundaries wards_may2023_uk_bsc.geojson
    python manage.py import_boundaries wards_may2024.geojson --valid-from 2024-05-02 --dry-run

Creates the councils of the file and, per council, updates its boundary set in place when the
ward codes are the same, or starts a new set on ``--valid-from`` (default: 1 May of the
file's year) and closes the previous one. See ``councils/README.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from django.core.management.base import CommandError, CommandParser

from config.importing import ImportCommand
from councils.importers.ons_wards import OnsWardsImporter


def parse_valid_from(value: str) -> dt.date:
    """An ISO date for ``--valid-from``; argparse names the option when this refuses."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date in the form YYYY-MM-DD") from None


class Command(ImportCommand):
    help = "Import ONS ward boundaries (GeoJSON, WDyyCD/LADyyCD properties) into councils and wards."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--valid-from",
            type=parse_valid_from,
            default=None,
            metavar="YYYY-MM-DD",
            help="First day of new boundary sets (default: 1 May of the year in the property names).",
        )

    def make_importer(self, options: dict[str, Any]) -> OnsWardsImporter:
        valid_from = options.get("valid_from")
        # call_command(valid_from="...") passes the value without argparse's conversion.
        if isinstance(valid_from, str):
            try:
                valid_from = parse_valid_from(valid_from)
            except argparse.ArgumentTypeError as exc:
                raise CommandError(f"Error: argument --valid-from: {exc}") from exc
        self.importer = OnsWardsImporter(valid_from=valid_from)
        return self.importer

    def handle(self, *args: Any, **options: Any) -> None:
        super().handle(*args, **options)
        if options["verbosity"] >= 1:
            for ward in self.importer.repaired:
                self.stdout.write(f"repaired invalid geometry: {ward}")
