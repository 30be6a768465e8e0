"""Import ballots and candidates from Democracy Club: the ballots JSON (``api/next/ballots``,
a saved snapshot or one API page) or the candidates CSV export, recognised from the content.

    python manage.py import_candidates PATH [--dry-run]

Councils and wards must be imported first (``import_boundaries``); the party register
should be (``import_parties``), or parties are created with the names the file gives them.
The file is imported in one transaction: any refusal leaves the database as it was.
"""

from typing import Any

from config.importing import ImportCommand, Importer
from elections.importers.dc_candidates_csv import CandidatesImporter


class Command(ImportCommand):
    help = (
        "Import elections, ballots and candidacies from a Democracy Club ballots JSON file "
        "or candidates CSV export."
    )

    def make_importer(self, options: dict[str, Any]) -> Importer:
        return CandidatesImporter()
