"""Generate a rehearsal election night from a seed and store its elections.

Usage::

    python manage.py generate_night --seed 2027 [--date 2027-05-06] [--councils 150]
        [--by-election-councils N] [--uncontested-share 0.015] [--council SLUG ...]
        [--plan-out PATH] [--dry-run]

Draws the night from the wards stored (import the national boundaries first with
``import_boundaries``), stores its elections (marked ``rehearsal``), ballots and candidacies,
and writes the plan (every figure and declaration time) to ``--plan-out`` (default
``var/rehearsal/night-<date>-<seed>.json``) for ``replay --plan``. No result is keyed here.
The same seed and wards give the same night; storing it again changes nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections import Counter
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.errors import ApplicationError
from results.generator import DEFAULT_COUNCILS, DEFAULT_DATE, NightPlan, plan_night, store_night


def iso_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date in the form YYYY-MM-DD") from None


def default_plan_path(date: dt.date, seed: int) -> Path:
    return Path(settings.VAR_DIR) / "rehearsal" / f"night-{date.isoformat()}-{seed}.json"


def add_night_arguments(parser: CommandParser) -> None:
    """The options that choose a generated night (shared with ``replay``)."""
    parser.add_argument("--seed", type=int, help="Seed of the night: the same seed gives the same night.")
    parser.add_argument("--date", type=iso_date, default=DEFAULT_DATE, metavar="YYYY-MM-DD",
                        help=f"Polling day (default {DEFAULT_DATE.isoformat()}).")
    parser.add_argument("--councils", type=int, default=DEFAULT_COUNCILS,
                        help=f"Councils holding ordinary elections (default {DEFAULT_COUNCILS}).")
    parser.add_argument("--by-election-councils", type=int, default=None,
                        help="Further councils holding only by-elections (default a tenth of --councils).")
    parser.add_argument("--uncontested-share", type=float, default=0.015,
                        help="Share of ordinary contests that are uncontested (default 0.015).")
    parser.add_argument("--council", action="append", default=[], metavar="SLUG",
                        help="Draw only from these councils (repeatable).")


def plan_from_options(options: dict[str, Any]) -> NightPlan:
    if options.get("seed") is None:
        raise CommandError("give --seed N")
    if options["councils"] < 1:
        raise CommandError("--councils must be at least 1")
    if not 0 <= options["uncontested_share"] <= 1:
        raise CommandError("--uncontested-share is between 0 and 1")
    try:
        return plan_night(
            seed=options["seed"], date=options["date"], councils=options["councils"],
            by_election_councils=options["by_election_councils"],
            uncontested_share=options["uncontested_share"], only=options["council"],
        )
    except ApplicationError as exc:
        raise CommandError(exc.message) from exc


def describe(plan: NightPlan) -> list[str]:
    kinds = Counter(c.kind for c in plan.councils)
    systems = Counter(b.voting_system for b in plan.ballots)
    seats = Counter(b.seats for b in plan.ballots)
    return [
        f"Night of {plan.date.isoformat()} (seed {plan.seed}, plan {plan.fingerprint()[:12]}):",
        f"  councils: {len(plan.councils)} ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))})",
        f"  ballots: {len(plan.ballots)} ({', '.join(f'{n} {k}' for k, n in sorted(systems.items()))}; "
        f"seats {', '.join(f'{s}: {n}' for s, n in sorted(seats.items()))}; "
        f"{sum(b.uncontested for b in plan.ballots)} uncontested; "
        f"{sum(b.by_election for b in plan.ballots)} by-elections)",
        f"  candidacies: {sum(len(b.candidates) for b in plan.ballots)}",
    ]


class Command(BaseCommand):
    help = "Generate a rehearsal election night (deterministic from --seed) and store its elections."

    def add_arguments(self, parser: CommandParser) -> None:
        add_night_arguments(parser)
        parser.add_argument("--plan-out", type=Path, default=None,
                            help="Where to write the plan (default var/rehearsal/night-<date>-<seed>.json).")
        parser.add_argument("--dry-run", action="store_true",
                            help="Draw and describe the night; store and write nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        plan = plan_from_options(options)
        planned = time.perf_counter()
        for line in describe(plan):
            self.stdout.write(line)
        if options["dry_run"]:
            self.stdout.write(f"Dry run: nothing stored (drawn in {planned - started:.1f} s).")
            return
        try:
            stored = store_night(plan)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        path = options["plan_out"] or default_plan_path(plan.date, plan.seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(plan.to_json())
        done = time.perf_counter()
        self.stdout.write(
            f"Stored {stored.created} rows (elections, ballots, candidacies) marked rehearsal; "
            f"drawn in {planned - started:.1f} s, stored in {done - planned:.1f} s."
        )
        self.stdout.write(f"Plan written to {path}")
