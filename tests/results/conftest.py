"""Fixtures for the results importers: the reference data they join to, and a runner.

``reference_data`` imports the four councils' boundaries and the party register once per
test module, inside a transaction rolled back after the module; each test then runs in a
savepoint of it (pytest-django's ordinary ``db`` handling), so tests stay independent.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from elections.models import Ballot, Candidacy, Election, Party
from results.models import CandidateResult, Result, ResultEvent, Submission

BOUNDARY_EXTRACTS = (
    "boundaries/E08000009-trafford.wd-may2023.geojson",
    "boundaries/E08000016-barnsley.wd-may2023.geojson",
    "boundaries/E08000017-doncaster.wd-may2023.geojson",
    "boundaries/S12000005-clackmannanshire.wd-may2023.geojson",
)
PARTY_REGISTER = "parties/ec_register_gb_2021-11_danielgriffin48.csv"
TRAFFORD = "results/trafford_lga_2023_onwards.csv"
DC_RESULTS = "results/dc_results_2021_barnsley_doncaster.csv"
CLACKMANNANSHIRE = "results/scotland_stv_2022_clackmannanshire.csv"


@dataclass
class ImportRun:
    """What ``import_results`` printed: the summary as {kind: {outcome: n}}, the rejection
    lines, and the ``CommandError`` message when it exited non-zero."""

    output: str
    summary: dict[str, dict[str, int]]
    rejections: list[str]
    error: str | None

    def total(self, outcome: str) -> int:
        return sum(counts[outcome] for counts in self.summary.values())


def run_import_results(path: Path, *args: str) -> ImportRun:
    out = StringIO()
    error = None
    try:
        call_command("import_results", str(path), *args, stdout=out, stderr=StringIO(), verbosity=0)
    except CommandError as exc:
        error = str(exc)
    output = out.getvalue()
    return ImportRun(output=output, summary=_parse_summary(output), error=error,
                     rejections=[line for line in output.splitlines() if line.startswith("rejected: ")])


def _parse_summary(output: str) -> dict[str, dict[str, int]]:
    lines = output.splitlines()
    starts = [i for i, line in enumerate(lines)
              if line.split() == ["created", "updated", "unchanged", "rejected"]]
    summary: dict[str, dict[str, int]] = {}
    if not starts:
        return summary
    for line in lines[starts[0] + 1:]:
        if line.startswith("rejected:") or not line.strip():
            continue
        kind, *counts = line.rsplit(maxsplit=4)
        summary[kind] = dict(zip(["created", "updated", "unchanged", "rejected"], map(int, counts),
                                 strict=True))
    return summary


def read_csv(path: Path) -> list[dict[str, str]]:
    """The file as plain dicts, read with csv only (tests compare against this)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def write_csv(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> Path:
    header = header or list(rows[0])
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def table_counts() -> dict[str, int]:
    """Rows of every table an import writes (wards' seats are checked separately)."""
    return {
        model.__name__: model.objects.count()
        for model in (Election, Ballot, Candidacy, Party, Result, CandidateResult, Submission,
                      ResultEvent)
    }


@pytest.fixture(scope="module")
def reference_data(sample_data: Path, django_db_setup: None, django_db_blocker) -> Iterator[Path]:
    """Boundaries of Trafford, Barnsley, Doncaster and Clackmannanshire and the party
    register, imported through their own commands; yields the data directory."""
    with django_db_blocker.unblock(), transaction.atomic():
        for extract in BOUNDARY_EXTRACTS:
            call_command("import_boundaries", str(sample_data / extract), stdout=StringIO(),
                         stderr=StringIO(), verbosity=0)
        call_command("import_parties", str(sample_data / PARTY_REGISTER), stdout=StringIO(),
                     stderr=StringIO(), verbosity=0)
        yield sample_data
        transaction.set_rollback(True)


@pytest.fixture(scope="session")
def import_results() -> Callable[..., ImportRun]:
    """``import_results(path, *args)`` runs the command and returns an ``ImportRun``."""
    return run_import_results
