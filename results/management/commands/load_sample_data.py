"""Load the real public data in ELECTIONS_SAMPLE_DATA (../shared/data) through the importers.

Usage: ``python manage.py load_sample_data [--national]``

Boundaries first (the four council extracts, or with ``--national`` all 8,441 UK wards),
then parties, candidates and results. Every step is an ordinary import command, so running
it twice changes nothing. Without the data directory it says so and does nothing.
"""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

COUNCIL_EXTRACTS = (
    "boundaries/E08000009-trafford.wd-may2023.geojson",
    "boundaries/E08000016-barnsley.wd-may2023.geojson",
    "boundaries/E08000017-doncaster.wd-may2023.geojson",
    "boundaries/S12000005-clackmannanshire.wd-may2023.geojson",
)
NATIONAL = "boundaries/wards_may2023_uk_bsc.geojson"
AFTER_BOUNDARIES = (
    ("import_parties", "parties/ec_register_gb_2021-11_danielgriffin48.csv"),
    ("import_parties", "parties/dc_parties_standing_2026-05-07.csv"),
    ("import_parties", "parties/party_colours_core.csv"),
    ("import_candidates", "candidates/local.trafford.2026-05-07.json"),
    ("import_results", "results/trafford_lga_2023_onwards.csv"),
    ("import_results", "results/dc_results_2021_barnsley_doncaster.csv"),
    ("import_results", "results/scotland_stv_2022_clackmannanshire.csv"),
)


class Command(BaseCommand):
    help = "Import the shared real data set (boundaries, parties, candidates, results)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--national", action="store_true",
                            help="Import all UK ward boundaries, not only the four councils'.")
        parser.add_argument("--data", type=Path, default=None,
                            help="Data directory (default: the ELECTIONS_SAMPLE_DATA setting).")

    def handle(self, *args: Any, **options: Any) -> None:
        root: Path = options["data"] or Path(settings.ELECTIONS_SAMPLE_DATA)
        if not (root / "README.md").exists():
            self.stdout.write(f"No sample data at {root}; nothing imported.")
            return
        boundaries = (NATIONAL,) if options["national"] else COUNCIL_EXTRACTS
        steps = [("import_boundaries", path) for path in boundaries] + list(AFTER_BOUNDARIES)
        for command, relative in steps:
            self.stdout.write(self.style.MIGRATE_HEADING(f"{command} {relative}"))
            call_command(command, str(root / relative), verbosity=options["verbosity"],
                         stdout=self.stdout._out, stderr=self.stderr._out)
