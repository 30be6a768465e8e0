"""``manage.py import_results PATH [--dry-run]``: import declared results from a CSV file.

Reads the LGA ElectionResults schema, Democracy Club result sets and Scottish STV count
sheets, recognised from the header (see ``results/README.md``). The whole file runs in one
transaction; each ballot in a savepoint, so a refused ballot is reported and skipped while
the rest is committed, and the command then exits non-zero.
"""

from __future__ import annotations

from typing import Any

from config.importing import ImportCommand
from results.importers import ResultsImporter


class Command(ImportCommand):
    help = (
        "Import declared results (LGA ElectionResults, Democracy Club results or Scottish STV "
        "count sheets, recognised from the header) through the results write path."
    )

    def make_importer(self, options: dict[str, Any]) -> ResultsImporter:
        return ResultsImporter()
