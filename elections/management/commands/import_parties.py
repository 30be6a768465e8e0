"""Import a party file: the Electoral Commission register, the party colours table or
Democracy Club's parties-standing list (recognised from the header).

    python manage.py import_parties PATH [--dry-run]

Import the register first: its names are authoritative and overwrite stored names; the
other files name a party only when it is new.
"""

from typing import Any

from config.importing import ImportCommand, Importer
from elections.importers.parties import PartiesImporter


class Command(ImportCommand):
    help = (
        "Import parties from the Electoral Commission register CSV, the party colours CSV or "
        "Democracy Club's parties-standing CSV."
    )

    def make_importer(self, options: dict[str, Any]) -> Importer:
        return PartiesImporter()
