"""Replay an election night through the real write path, at a chosen speed.

Usage::

    python manage.py replay --seed 2027 [--date 2027-05-06] [--councils 150] ...  # a generated night
    python manage.py replay --plan var/rehearsal/night-2027-05-06-2027.json       # a stored plan
    python manage.py replay --file results.csv [--from-date 2023-05-04] [--date 2027-05-06]
        [--duration 10m | --speed 36] [--double-key] [--wrong-share 0.08] [--correct-share 0.01]

A generated night is stored first if it is not (as ``generate_night`` does). A results
file (any format ``import_results`` reads) is replayed as a rehearsal on ``--date``: the
ballots of one of its polling days, in the same wards with the same candidates. Every
keying goes through ``results.services`` (channel ``replay``) as two simulated
correspondents and a reviewer (accounts at ``rehearsal.invalid``). Without ``--duration``
or ``--speed`` the steps run as fast as they can. Ctrl-C stops after the current step;
running the same replay again carries on where it stopped.
"""

from __future__ import annotations

import argparse
import hashlib
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.errors import ApplicationError
from results.generator import NightPlan
from results.management.commands.generate_night import add_night_arguments, iso_date, plan_from_options
from results.replay import (
    Action,
    Replayer,
    ReplayOptions,
    ReplayReport,
    ballots_from_file,
    ballots_from_plan,
    build_actions,
    night_clock,
    rehearsal_users,
    timetable,
    token_prefix,
)


def duration_seconds(value: str) -> float:
    """``600``, ``90s``, ``10m`` or ``1h`` as seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    text = value.strip().lower()
    factor = units.get(text[-1:])
    number = text[:-1] if factor else text
    try:
        seconds = float(number) * (factor or 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a duration (e.g. 600, 90s, 10m, 1h)") from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError("a duration is more than zero")
    return seconds


def share(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 0 <= number <= 1:
        raise argparse.ArgumentTypeError(f"{value} is not a share between 0 and 1")
    return number


class Command(BaseCommand):
    help = "Replay an election night (generated, or real results from a file) through the write path."

    def add_arguments(self, parser: CommandParser) -> None:
        add_night_arguments(parser)
        source = parser.add_argument_group("what to replay (one of --seed, --plan, --file)")
        source.add_argument("--plan", type=Path, help="A plan written by generate_night.")
        source.add_argument("--file", type=Path, help="A results file (LGA, Democracy Club or STV sheets).")
        source.add_argument("--from-date", type=iso_date, default=None, metavar="YYYY-MM-DD",
                            help="With --file: the polling day of the file to replay (default: its largest).")
        pace = parser.add_mutually_exclusive_group()
        pace.add_argument("--duration", type=duration_seconds, default=None,
                          help="Compress the night into this long (600, 90s, 10m, 1h).")
        pace.add_argument("--speed", type=float, default=None,
                          help="Times real time (36: a six-hour night in ten minutes).")
        parser.add_argument("--double-key", action="store_true",
                            help="A second correspondent keys every result again (verifying it).")
        parser.add_argument("--wrong-share", type=share, default=0.0,
                            help="Share of first keyings that are wrong (refused, or disputed and resolved).")
        parser.add_argument("--correct-share", type=share, default=0.0,
                            help="Share of published results corrected later (a recount).")
        parser.add_argument("--replay-seed", type=int, default=None,
                            help="Seed of the replay's choices (default: --seed, else 0).")

    def handle(self, *args: Any, **options: Any) -> None:
        chosen = [name for name in ("seed", "plan", "file") if options.get(name) is not None]
        if len(chosen) != 1:
            raise CommandError("give exactly one of --seed, --plan or --file")
        if options["speed"] is not None and options["speed"] <= 0:
            raise CommandError("--speed must be more than zero")
        replay_seed = options["replay_seed"] if options["replay_seed"] is not None else (options["seed"] or 0)
        try:
            if options["file"] is not None:
                path: Path = options["file"]
                if not path.exists():
                    raise CommandError(f"{path}: no such file")
                loaded = ballots_from_file(path, date=options["date"], from_date=options["from_date"],
                                           seed=replay_seed)
                ballots, date = loaded.ballots, options["date"]
                identity = [hashlib.sha256(path.read_bytes()).hexdigest(), loaded.source_date.isoformat()]
                for message in loaded.skipped:
                    self.stdout.write(f"skipped: {message}")
                self.stdout.write(
                    f"Replaying {len(ballots)} ballots of {loaded.source_date.isoformat()} from {path.name} "
                    f"as a rehearsal on {date.isoformat()}."
                )
                source = f"rehearsal replay of {path.name}"
            else:
                if options["plan"] is not None:
                    try:
                        plan = NightPlan.from_json(options["plan"].read_bytes())
                    except OSError as exc:
                        raise CommandError(f"{options['plan']}: {exc.strerror}") from exc
                else:
                    plan = plan_from_options(options)
                ballots, date = ballots_from_plan(plan), plan.date
                identity = [plan.fingerprint()]
                source = f"rehearsal replay of generated night {plan.seed}"
                self.stdout.write(
                    f"Replaying the generated night {plan.seed} of {date.isoformat()}: "
                    f"{len(plan.councils)} councils, {len(ballots)} ballots."
                )
            users = rehearsal_users()
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc

        replay_options = ReplayOptions(
            double_key=options["double_key"], wrong_share=options["wrong_share"],
            correct_share=options["correct_share"], seed=replay_seed,
        )
        actions = build_actions(ballots, replay_options)
        offsets = timetable(actions, speed=options["speed"], duration=options["duration"])
        prefix = token_prefix([*identity, repr(replay_options)])
        if offsets:
            self.stdout.write(
                f"{len(actions)} steps over {offsets[-1]:.0f} s (Ctrl-C stops after the current step)."
            )
        stop = threading.Event()
        progress = _Progress(self, date=date, ballots=len(ballots), quiet=options["verbosity"] < 1)
        replayer = Replayer(actions, offsets=offsets, users=users, source=source, token_prefix=prefix,
                            stop=stop, progress=progress)
        with _stop_on_signals(stop, self):
            report = replayer.run()
        progress.flush(report)
        for line in report.lines():
            self.stdout.write(line)


class _Progress:
    """A line at most every two seconds: the night's clock, declarations so far, and what
    the last steps did."""

    def __init__(self, command: BaseCommand, *, date: Any, ballots: int, quiet: bool) -> None:
        self.command = command
        self.date = date
        self.ballots = ballots
        self.quiet = quiet
        self.declared: set[str] = set()
        self.last = 0.0
        self.action: Action | None = None

    def __call__(self, report: ReplayReport, action: Action) -> None:
        if action.kind == "key" and action.expect == "accepted":
            self.declared.add(action.ballot.ballot_paper_id)
        self.action = action
        now = time.monotonic()
        if not self.quiet and now - self.last >= 2:
            self.last = now
            self.flush(report)

    def flush(self, report: ReplayReport) -> None:
        if self.quiet or self.action is None:
            return
        clock = night_clock(self.date, self.action.at)
        disputes = sum(n for key, n in report.outcomes.items() if key.endswith(": disputed"))
        self.command.stdout.write(
            f"[{clock:%a %H:%M}] {len(self.declared)}/{self.ballots} declared, "
            f"{report.done}/{report.planned} steps, {disputes} disputed so far"
        )


class _stop_on_signals:
    """Ctrl-C (SIGINT) and SIGTERM set ``stop`` instead of interrupting a step; the
    previous handlers come back afterwards. Only the main thread can take signals."""

    def __init__(self, stop: threading.Event, command: BaseCommand) -> None:
        self.stop = stop
        self.command = command
        self.previous: dict[int, Any] = {}

    def _handler(self, signum: int, frame: Any) -> None:
        if not self.stop.is_set():
            self.command.stderr.write("Stopping after the current step…")
        self.stop.set()

    def __enter__(self) -> _stop_on_signals:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self.previous[signum] = signal.signal(signum, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        sys.stdout.flush()
