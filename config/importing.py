"""What every importer shares: the refusal that names file, row and field; the summary of
rows created / updated / unchanged / rejected; the progress bar; and the command shell that
runs an importer in one transaction (rolled back for ``--dry-run`` or on refusal).

Importers are plain classes with ``run(path, *, progress) -> ImportSummary``; commands are thin.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from tqdm import tqdm

from config.errors import ApplicationError

T = TypeVar("T")


class ImportRefused(ApplicationError):
    """A file (or one ballot of it) is refused; the message names file, row and field."""

    def __init__(
        self, message: str, *, path: str | Path, row: int | None = None, field: str | None = None,
        code: str = "import_refused",
    ) -> None:
        where = str(path)
        if row is not None:
            where += f", row {row}"
        if field:
            where += f", field {field!r}"
        super().__init__(f"{where}: {message}", code=code, field=field)
        self.path = str(path)
        self.row = row


class DryRunRollback(Exception):
    """Raised inside the import transaction to roll back a ``--dry-run``."""


@dataclass
class ImportSummary:
    """Counts per kind of row: ``summary.created["ward"] += 1``."""

    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    rejections: list[str] = field(default_factory=list)

    def count(self, outcome: str, kind: str, n: int = 1) -> None:
        getattr(self, outcome)[kind] += n

    def reject(self, kind: str, message: str) -> None:
        self.rejected[kind] += 1
        self.rejections.append(message)

    @property
    def changed(self) -> bool:
        return bool(sum(self.created.values()) or sum(self.updated.values()))

    def merge(self, other: ImportSummary) -> None:
        for name in ("created", "updated", "unchanged", "rejected"):
            getattr(self, name).update(getattr(other, name))
        self.rejections.extend(other.rejections)

    def lines(self) -> list[str]:
        kinds = sorted(
            set(self.created) | set(self.updated) | set(self.unchanged) | set(self.rejected)
        )
        out = [f"{'':<16}{'created':>9}{'updated':>9}{'unchanged':>11}{'rejected':>10}"]
        for kind in kinds:
            out.append(
                f"{kind:<16}{self.created[kind]:>9}{self.updated[kind]:>9}"
                f"{self.unchanged[kind]:>11}{self.rejected[kind]:>10}"
            )
        out.extend(f"rejected: {message}" for message in self.rejections)
        return out


class Progress(Protocol):
    def __call__(self, items: Iterable[T], *, total: int | None = ..., desc: str = ...) -> Iterator[T]: ...


def no_progress(items: Iterable[T], *, total: int | None = None, desc: str = "") -> Iterator[T]:
    yield from items


def tqdm_progress(stream: Any = None) -> Progress:
    """A progress bar on stderr (the summary goes to stdout, so piping it stays clean)."""

    def progress(items: Iterable[T], *, total: int | None = None, desc: str = "") -> Iterator[T]:
        yield from tqdm(items, total=total, desc=desc, file=stream or sys.stderr, unit="row",
                        leave=False, dynamic_ncols=True)

    return progress


class Importer(Protocol):
    def run(self, path: Path, *, progress: Progress) -> ImportSummary: ...


class ImportCommand(BaseCommand):
    """Shell for ``import_*`` commands: PATH, ``--dry-run``, progress bar, summary.

    Subclasses implement ``make_importer(options)``. The whole file is imported in one
    transaction: a refusal or ``--dry-run`` leaves the database as it was.
    """

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="File to import.")
        parser.add_argument(
            "--dry-run", action="store_true",
            help="Check and count everything, then roll back: nothing is written.",
        )

    def make_importer(self, options: dict[str, Any]) -> Importer:  # pragma: no cover - abstract
        raise NotImplementedError

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        if not path.exists():
            raise CommandError(f"{path}: no such file")
        importer = self.make_importer(options)
        progress = tqdm_progress(self.stderr._out) if options["verbosity"] >= 1 else no_progress
        try:
            with transaction.atomic():
                summary = importer.run(path, progress=progress)
                if options["dry_run"]:
                    raise DryRunRollback
        except DryRunRollback:
            self.stdout.write("Dry run: nothing was written.")
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        for line in summary.lines():
            self.stdout.write(line)
        if summary.rejections:
            # The accepted rows are committed; the exit status still tells scripts that
            # part of the file was refused.
            raise CommandError(f"{len(summary.rejections)} item(s) rejected; see above.")
