"""Replaying an election night through the real write path, at a chosen speed.

A replay is a list of timed ``Action``s built from ballots with known figures — a generated
night (``results.generator``) or real results read from a file by the importers' parsers —
and played in order by ``Replayer``, each through the same service as the form and the API:
``set_count_state`` when a count starts (and ``recount`` before a few declarations),
``submit_result`` for each keying (channel ``replay``), ``resolve_dispute``,
``approve_result`` and ``correct_result`` for reviewers and corrections.

Options (``ReplayOptions``), drawn deterministically from the seed:

- ``double_key``: each result is keyed again by a second simulated correspondent, which
  verifies it;
- ``wrong_share``: that share of first keyings is wrong. Half of them (and every wrong STV
  keying) are impossible figures that the checks refuse, after which the correspondent keys
  the right ones; the other half are plausible (two candidates' votes transposed, as at
  Nelson) and are caught by the second keying (disputed, then resolved by a reviewer) or,
  without double keying, corrected by the correspondent;
- ``correct_share``: that share of published first-past-the-post results is corrected
  later (a recount moving a few votes), then verified again.

Timing: the night's minutes (after the 22:00 close of poll) are mapped to wall-clock seconds
by ``speed`` (× real time) or so that the whole night lasts ``duration`` seconds; quiet spells
longer than ``MAX_GAP_MINUTES`` (between the overnight and the Friday counts) are shortened
first. Each keying carries a client token derived from the night and its position, so a
replay interrupted and started again skips what was already stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from config.errors import ApplicationError, ConflictError
from councils.models import Council
from elections import ids
from elections.models import Ballot
from elections.services import upsert_ballot, upsert_candidacy, upsert_election

from . import services
from .checks import BallotSpec, check_figures
from .figures import ResultFigures
from .generator import NightPlan, schedule_count, store_night
from .importers import BallotProblem, CandidateRow, ParsedBallot, ResultsFileImporter, ResultsImporter
from .models import CorrectionReason, CountState, Result, ResultStatus, Submission, SubmissionChannel
from .rehearsal import REHEARSAL_EMAIL_DOMAIN

MAX_GAP_MINUTES = 20
CLOSE_OF_POLL = dt.time(22, 0)


@dataclass(frozen=True)
class ReplayBallot:
    """A ballot to replay: its stored ids, its correct figures and when it declares."""

    ballot_paper_id: str
    ballot_pk: int
    council: str
    voting_system: str
    seats: int
    uncontested: bool
    figures: ResultFigures
    count_starts: float  # minutes after the close of poll
    declares: float
    recount: bool = False

    def spec(self) -> BallotSpec:
        return BallotSpec(
            seats=self.seats, voting_system=self.voting_system,
            candidacy_names={c.candidacy_id: f"candidate {c.candidacy_id}" for c in self.figures.candidates},
            uncontested=self.uncontested,
        )


@dataclass(frozen=True)
class ReplayOptions:
    double_key: bool = False
    wrong_share: float = 0.0
    correct_share: float = 0.0
    seed: int = 0


KEYER_A, KEYER_B, REVIEWER = "keyer-a", "keyer-b", "reviewer"


@dataclass(frozen=True)
class Action:
    """One step: ``kind`` is ``count``, ``key``, ``resolve``, ``approve`` or ``correct``.

    ``expect`` is what the step should meet: ``accepted`` or ``refused`` (figures the
    checks must refuse). ``choose`` (resolve) is the fingerprint of the keying to approve.
    """

    at: float
    order: int
    kind: str
    ballot: ReplayBallot
    actor: str
    state: str = ""
    figures: ResultFigures | None = None
    expect: str = "accepted"
    reason: str = ""
    choose: str = ""
    label: str = ""  # what the step is, for the report: "first", "second", "wrong", ...


@dataclass
class ReplayReport:
    """What a replay did. ``outcomes`` counts (label, outcome) pairs; ``latencies`` are the
    service calls' durations in seconds; ``lag`` the worst delay behind the schedule."""

    planned: int = 0
    done: int = 0
    stopped: bool = False
    started_at: float = 0.0
    finished_at: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    lag: float = 0.0
    errors: list[str] = field(default_factory=list)

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    def lines(self) -> list[str]:
        elapsed = self.finished_at - self.started_at
        out = [
            f"{'Stopped' if self.stopped else 'Finished'} after {self.done} of {self.planned} steps "
            f"in {elapsed:.1f} s (at most {self.lag:.1f} s behind schedule).",
        ]
        for key, n in sorted(self.outcomes.items()):
            out.append(f"  {key:<32}{n:>7}")
        if self.latencies:
            out.append(
                f"  service time p50 {self.percentile(50) * 1000:.0f} ms, p95 "
                f"{self.percentile(95) * 1000:.0f} ms, p99 {self.percentile(99) * 1000:.0f} ms, "
                f"mean {statistics.fmean(self.latencies) * 1000:.0f} ms"
            )
        out.extend(f"  error: {e}" for e in self.errors[:10])
        return out


# -- ballots to replay ---------------------------------------------------------------------


def ballots_from_plan(plan: NightPlan) -> list[ReplayBallot]:
    """The plan's ballots, stored first if they are not (``store_night`` is idempotent)."""
    stored = store_night(plan)
    out = []
    for b in plan.ballots:
        ballot_pk, candidacy_ids = stored.ballots[b.ballot_paper_id]
        out.append(
            ReplayBallot(
                ballot_paper_id=b.ballot_paper_id, ballot_pk=ballot_pk, council=b.council,
                voting_system=b.voting_system, seats=b.seats, uncontested=b.uncontested,
                figures=b.figures(candidacy_ids), count_starts=b.count_starts, declares=b.declares,
                recount=b.recount,
            )
        )
    return out


@dataclass
class FileBallots:
    ballots: list[ReplayBallot]
    skipped: list[str]
    source_date: dt.date


def ballots_from_file(
    path: Path, *, date: dt.date, from_date: dt.date | None = None, seed: int = 0
) -> FileBallots:
    """Real results of one polling day of a results file, moved to the rehearsal ``date``.

    The file is read by the importers' own parsers (any of the three formats
    ``import_results`` reads). The ballots of ``from_date`` (default: the day with most
    ballots in the file) are stored as rehearsal elections on ``date``, in the same wards,
    with the same candidates; their figures are those of the file, keyed later by the
    replay. A declaration order and rhythm are drawn from ``seed``. Ballots the parser
    refuses, or whose council or ward is not stored, are skipped and listed. Raises
    ``ApplicationError`` for a file refused as a whole or an empty selection.
    """
    importer, parsed = ResultsImporter().parse(path)
    days = Counter(p.date for p in parsed if p.problem is None and p.date is not None)
    if not days:
        raise ApplicationError(f"{path.name}: no ballot can be read", code="empty", field="path")
    chosen_day = from_date or days.most_common(1)[0][0]
    if chosen_day not in days:
        raise ApplicationError(
            f"{path.name} has no ballot on {chosen_day.isoformat()} "
            f"(it has {', '.join(d.isoformat() for d in sorted(days))})",
            code="empty", field="from_date",
        )
    skipped = [p.problem.message for p in parsed if p.problem is not None]
    rng = random.Random(f"replay-file:{seed}:{path.name}")  # noqa: S311 - a repeatable simulation
    by_council: dict[str, list[tuple[ParsedBallot, Ballot, ResultFigures]]] = {}
    with transaction.atomic():
        for p in parsed:
            if p.problem is not None or p.date != chosen_day:
                continue
            try:
                with transaction.atomic():
                    council, ballot, figures = _store_file_ballot(importer, p, date)
            except (ApplicationError, BallotProblem) as exc:
                skipped.append(f"row {p.first_row}: {exc.message}")
                continue
            by_council.setdefault(council.slug, []).append((p, ballot, figures))
    out: list[ReplayBallot] = []
    for slug in sorted(by_council):
        items = by_council[slug]
        council = items[0][1].election.council
        only_by = all(ballot.by_election for _, ballot, _ in items)
        times = schedule_count(rng, nation=council.nation, contests=len(items), by_elections_only=only_by)
        rng.shuffle(items)
        for (_p, ballot, figures), (starts, declares) in zip(items, times, strict=True):
            out.append(
                ReplayBallot(
                    ballot_paper_id=ballot.ballot_paper_id, ballot_pk=ballot.pk, council=slug,
                    voting_system=ballot.voting_system, seats=ballot.seats_contested,
                    uncontested=ballot.uncontested, figures=figures, count_starts=starts,
                    declares=declares, recount=rng.random() < 0.02,
                )
            )
    if not out:
        raise ApplicationError(
            f"{path.name}: no ballot of {chosen_day.isoformat()} could be stored ({'; '.join(skipped[:3])})",
            code="empty", field="path",
        )
    return FileBallots(ballots=out, skipped=skipped, source_date=chosen_day)


def _store_file_ballot(
    importer: ResultsFileImporter, parsed: ParsedBallot, date: dt.date
) -> tuple[Council, Ballot, ResultFigures]:
    council, ward = importer.locate(parsed)
    election_id = ids.build_election_id(council.slug, date)
    election, _ = upsert_election(
        election_id=election_id, council=council, rehearsal=True,
        title=f"{council.name} local election {date.day} {date:%B %Y} (rehearsal replay)",
    )
    ballot, _ = upsert_ballot(
        ballot_paper_id=ids.build_ballot_id(council.slug, ward.slug, date, by_election=parsed.by_election),
        election=election, ward=ward, seats_contested=parsed.seats, uncontested=parsed.uncontested,
    )
    importer.check_ballot(ballot, parsed)
    candidacies: dict[int, CandidateRow] = {}
    for c in parsed.candidates:
        party, _ = importer.resolve_party(c.party, c.row)
        candidacy, _ = upsert_candidacy(
            ballot=ballot, person_name=c.person_name, party=party, person_id=c.person_id,
            description=c.description,
        )
        candidacies[candidacy.pk] = c
    return council, ballot, importer.figures(parsed, candidacies)


# -- the steps ------------------------------------------------------------------------------


def build_actions(ballots: Sequence[ReplayBallot], options: ReplayOptions) -> list[Action]:
    """The replay's steps in the order they happen (deterministic from ``options.seed``)."""
    rng = random.Random(f"replay:{options.seed}")  # noqa: S311 - a repeatable simulation
    actions: list[Action] = []

    def add(at: float, kind: str, ballot: ReplayBallot, actor: str, **kw: object) -> None:
        actions.append(Action(at=at, order=len(actions), kind=kind, ballot=ballot, actor=actor, **kw))

    for b in sorted(ballots, key=lambda b: (b.declares, b.ballot_paper_id)):
        t = float(b.declares)
        add(float(b.count_starts), "count", b, KEYER_A, state=CountState.COUNTING, label="counting")
        if b.recount:
            add(t - rng.uniform(4, 12), "count", b, KEYER_A, state=CountState.RECOUNT, label="recount")
        right = b.figures
        wrong = None
        if not b.uncontested and rng.random() < options.wrong_share:
            plausible = b.voting_system == "FPTP" and rng.random() < 0.5
            wrong = transposed(b, rng) if plausible else None
            if wrong is None:
                impossible = mistyped(b, rng)
                add(t, "key", b, KEYER_A, figures=impossible, expect="refused", label="wrong (refused)")
                t += rng.uniform(1, 3)
        if wrong is not None:
            add(t, "key", b, KEYER_A, figures=wrong, label="wrong (plausible)")
            if options.double_key:
                t2 = t + rng.uniform(2, 8)
                add(t2, "key", b, KEYER_B, figures=right, label="second (disputes)")
                add(t2 + rng.uniform(3, 12), "resolve", b, REVIEWER, choose=right.fingerprint(),
                    reason="Checked against the declaration sheet.", label="resolve")
                t = t2
            else:
                t += rng.uniform(2, 6)
                add(t, "correct", b, KEYER_A, figures=right, reason=CorrectionReason.KEYING_ERROR,
                    label="own correction")
        else:
            add(t, "key", b, KEYER_A, figures=right, label="first")
            if options.double_key:
                t += rng.uniform(2, 8)
                add(t, "key", b, KEYER_B, figures=right, label="second (verifies)")
        if b.voting_system == "FPTP" and not b.uncontested and rng.random() < options.correct_share:
            corrected = recounted(b, rng)
            if corrected is not None:
                t += rng.uniform(15, 45)
                add(t, "correct", b, KEYER_A, figures=corrected, reason=CorrectionReason.RECOUNT,
                    label="correction")
                t += rng.uniform(2, 8)
                if options.double_key:
                    add(t, "key", b, KEYER_B, figures=corrected, label="second (verifies correction)")
                else:
                    add(t, "approve", b, REVIEWER, label="approve correction")
    actions.sort(key=lambda a: (a.at, a.order))
    return actions


def transposed(ballot: ReplayBallot, rng: random.Random) -> ResultFigures | None:
    """The figures with two candidates' votes swapped (Nelson's mistake), when that passes
    every check and changes something; else None."""
    cands = list(ballot.figures.candidates)
    pairs = [(i, j) for i in range(len(cands)) for j in range(i + 1, len(cands))
             if cands[i].votes != cands[j].votes]
    rng.shuffle(pairs)
    for i, j in pairs[:6]:
        swapped = list(cands)
        swapped[i] = replace(cands[i], votes=cands[j].votes)
        swapped[j] = replace(cands[j], votes=cands[i].votes)
        figures = replace(ballot.figures, candidates=tuple(swapped))
        report = check_figures(ballot.spec(), figures)
        if not report.errors and not report.warnings:
            return figures
    return None


def mistyped(ballot: ReplayBallot, rng: random.Random) -> ResultFigures:
    """Figures the checks refuse: a digit too many on one candidate's votes (Highworth's
    41,939 votes from 2,477 papers), or, where that still passes, a stray minus sign."""
    cands = list(ballot.figures.candidates)
    i = rng.randrange(len(cands))
    cands[i] = replace(cands[i], votes=(cands[i].votes or 0) * 10 + rng.randint(0, 9))
    figures = replace(ballot.figures, candidates=tuple(cands))
    if check_figures(ballot.spec(), figures).errors:
        return figures
    # A minus sign keyed by mistake: refused by every ballot.
    cands[i] = replace(cands[i], votes=-(cands[i].votes or 1))
    return replace(ballot.figures, candidates=tuple(cands))


def recounted(ballot: ReplayBallot, rng: random.Random) -> ResultFigures | None:
    """The figures after a recount: a few votes moved between two candidates, keeping every
    check (and the winners' order at the last seat untied); None if no such move is found."""
    cands = list(ballot.figures.candidates)
    for _ in range(10):
        i, j = rng.sample(range(len(cands)), 2)
        moved = min(cands[i].votes or 0, rng.randint(1, 25))
        if moved == 0:
            continue
        changed = list(cands)
        changed[i] = replace(cands[i], votes=(cands[i].votes or 0) - moved)
        changed[j] = replace(cands[j], votes=(cands[j].votes or 0) + moved)
        figures = replace(ballot.figures, candidates=tuple(changed))
        report = check_figures(ballot.spec(), figures)
        if not report.errors and not report.warnings:
            return figures
    return None


# -- playing ---------------------------------------------------------------------------------


def timetable(
    actions: Sequence[Action], *, speed: float | None = None, duration: float | None = None
) -> list[float]:
    """Seconds from the start at which each action runs.

    Quiet spells longer than ``MAX_GAP_MINUTES`` are shortened to it; then the night's
    minutes are scaled by ``speed`` (× real time: 60 s a minute at 1) or to fit ``duration``
    seconds. With neither, every offset is 0 (as fast as possible).
    """
    if not actions:
        return []
    compressed = [0.0]
    for previous, current in zip(actions, actions[1:], strict=False):
        compressed.append(compressed[-1] + min(current.at - previous.at, MAX_GAP_MINUTES))
    if speed:
        per_minute = 60.0 / speed
    elif duration:
        per_minute = duration / compressed[-1] if compressed[-1] else 0.0
    else:
        per_minute = 0.0
    return [m * per_minute for m in compressed]


class Replayer:
    """Plays actions at their times through ``results.services``; ``stop`` (an event set
    by Ctrl-C) ends it between two steps, never inside one."""

    def __init__(
        self,
        actions: Sequence[Action],
        *,
        offsets: Sequence[float],
        users: dict[str, object],
        source: str,
        token_prefix: str,
        stop: threading.Event | None = None,
        progress: Callable[[ReplayReport, Action], None] | None = None,
    ) -> None:
        self.actions = list(actions)
        self.offsets = list(offsets)
        self.users = users
        self.source = source
        self.token_prefix = token_prefix
        self.stop = stop or threading.Event()
        self.progress = progress

    def run(self) -> ReplayReport:
        report = ReplayReport(planned=len(self.actions), started_at=time.monotonic())
        start = report.started_at
        for action, offset in zip(self.actions, self.offsets, strict=True):
            delay = start + offset - time.monotonic()
            if delay > 0 and self.stop.wait(delay):
                break
            if self.stop.is_set():
                break
            report.lag = max(report.lag, -delay)
            began = time.perf_counter()
            outcome = self.play(action, report)
            if action.kind != "count":
                report.latencies.append(time.perf_counter() - began)
            report.outcomes[f"{action.kind} {action.label}: {outcome}"] += 1
            report.done += 1
            if self.progress is not None:
                self.progress(report, action)
        report.stopped = report.done < report.planned
        report.finished_at = time.monotonic()
        return report

    def _token(self, action: Action) -> str:
        return f"{self.token_prefix}-{action.order}"

    def play(self, action: Action, report: ReplayReport) -> str:
        """Run one step now, through its service; returns what happened (``verified``,
        ``refused by the checks``, ``duplicate``, ``skipped (…)``…). Unexpected refusals
        and conflicts are added to ``report.errors``, never raised."""
        ballot = Ballot.objects.select_related("election").get(pk=action.ballot.ballot_pk)
        user = self.users[action.actor]
        try:
            if action.kind == "count":
                return self._count(action, ballot, user)
            if action.kind == "key":
                assert action.figures is not None
                figures = replace(action.figures, declared_at=timezone.now())
                outcome = services.submit_result(
                    ballot=ballot, figures=figures, source=self.source, channel=SubmissionChannel.REPLAY,
                    submitted_by=user, client_token=self._token(action), confirm_warnings=True,
                )
                if action.expect == "refused":
                    report.errors.append(f"{ballot.ballot_paper_id}: wrong figures were accepted")
                    return "accepted (should be refused)"
                return outcome.outcome if outcome.outcome != "accepted" else outcome.result.status
            result = Result.objects.get(ballot=ballot)
            if action.kind == "resolve":
                return self._resolve(action, result, user)
            if action.kind == "approve":
                if result.status != ResultStatus.PROVISIONAL or result.current_submission_id is None:
                    return f"skipped ({result.status})"
                outcome = services.approve_result(
                    result=result, submission_id=result.current_submission_id,
                    expected_version=result.version, reviewer=user, client_token=self._token(action),
                )
                return outcome.outcome if outcome.outcome != "accepted" else outcome.result.status
            if action.kind == "correct":
                if result.status not in (ResultStatus.PROVISIONAL, ResultStatus.VERIFIED):
                    return f"skipped ({result.status})"
                assert action.figures is not None
                current = result.current_submission
                if current is not None and current.figures_hash == action.figures.fingerprint():
                    return "duplicate"
                outcome = services.correct_result(
                    result=result, figures=action.figures, expected_version=result.version,
                    corrected_by=user, reason=action.reason, source=self.source,
                    channel=SubmissionChannel.REPLAY, confirm_warnings=True,
                    client_token=self._token(action),
                )
                return outcome.outcome if outcome.outcome != "accepted" else f"{outcome.result.status}"
            raise ValueError(f"unknown action {action.kind!r}")
        except ConflictError as exc:
            report.errors.append(f"{ballot.ballot_paper_id}: {exc.message}")
            return "conflict"
        except ApplicationError as exc:
            if action.expect == "refused":
                return "refused by the checks"
            report.errors.append(f"{ballot.ballot_paper_id}: {exc.message}")
            return f"error ({exc.code})"

    def _count(self, action: Action, ballot: Ballot, user: object) -> str:
        result = Result.objects.filter(ballot=ballot).only("count_state", "current_submission").first()
        if result is not None and (result.current_submission_id or result.count_state == action.state):
            return "skipped"
        services.set_count_state(ballot=ballot, state=action.state, actor=user)
        return action.state

    def _resolve(self, action: Action, result: Result, user: object) -> str:
        if result.status != ResultStatus.DISPUTED:
            return f"skipped ({result.status})"
        chosen = (
            Submission.objects.filter(ballot_id=result.ballot_id, figures_hash=action.choose)
            .exclude(channel=SubmissionChannel.REVIEW)
            .order_by("-id")
            .first()
        )
        if chosen is None:
            return "skipped (no such keying)"
        outcome = services.resolve_dispute(
            result=result, submission_id=chosen.pk, expected_version=result.version, reviewer=user,
            reason=action.reason, client_token=self._token(action),
        )
        return outcome.outcome if outcome.outcome != "accepted" else outcome.result.status


def rehearsal_users() -> dict[str, object]:
    """The simulated correspondents and reviewer (accounts at ``rehearsal.invalid``, with
    unusable passwords: nobody can log in as them)."""
    from accounts.services import get_or_create_user_by_email

    return {
        role: get_or_create_user_by_email(email=f"{role}@{REHEARSAL_EMAIL_DOMAIN}", create=True)[0]
        for role in (KEYER_A, KEYER_B, REVIEWER)
    }


def night_clock(date: dt.date, minutes: float) -> dt.datetime:
    """The wall-clock time of the night ``minutes`` after the close of poll on ``date``."""
    return dt.datetime.combine(date, CLOSE_OF_POLL) + dt.timedelta(minutes=minutes)


def token_prefix(parts: Iterable[str]) -> str:
    """A short prefix for the replay's client tokens, the same for the same night and options."""
    return "rh-" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
