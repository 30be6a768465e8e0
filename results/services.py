"""The one write path for results: the form, the API, imports and replay all call these.

``submit_result`` runs in one transaction: lock the ballot, check the figures, append the
``Submission``, move the ``Result`` to its new state and version, append a ``ResultEvent``
(the publication outbox). Nothing here waits on Redis or Celery.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cache, partial
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet, Subquery

from config.errors import ApplicationError, ConflictError, Problem
from elections.models import Ballot

from .checks import BallotSpec, CheckReport, check_figures
from .figures import REJECTED_HEADINGS, ResultFigures
from .models import (
    CandidateResult,
    CorrectionReason,
    CountState,
    EventKind,
    Result,
    ResultEvent,
    ResultStatus,
    StvCount,
    StvStage,
    StvStageVote,
    Submission,
    SubmissionChannel,
)
from .tasks import queue_publication

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SubmissionOutcome:
    """What ``submit_result`` did.

    ``outcome`` is ``accepted`` (a new submission was stored), ``duplicate`` (the client
    token matched an earlier submission: a retry, nothing new stored) or ``unchanged`` (an
    import identical to the verified result: nothing stored).
    """

    result: Result
    submission: Submission | None
    outcome: str
    warnings: list[Problem] = field(default_factory=list)
    # The candidacies now elected, when this keying's figures became the result's (else
    # None: read them from the result's candidate rows).
    elected: frozenset[int] | None = None


def schedule_publication(result: Result) -> None:
    """Start publishing ``result`` once the current transaction commits (best effort).

    Every service that appends a ``ResultEvent`` calls this inside its transaction. The
    nudge never makes the caller wait on Redis: one attempt, no retries, the broker's short
    socket timeouts (settings), and a failure is logged and swallowed, because the
    reconciler (``results.tasks``) publishes whatever is behind. A nudge while a
    publication task is queued and not started queues nothing (``queue_publication``). In
    the embedded default (eager Celery) the publication runs in-process right after the
    commit.
    """
    transaction.on_commit(partial(_nudge_publication, result.pk))


def _nudge_publication(result_id: int) -> None:
    try:
        queue_publication(result_id)
    except Exception:
        logger.warning("publication of result %s not started; the reconciler will publish it",
                       result_id, exc_info=True)


def ballot_spec(ballot: Ballot) -> BallotSpec:
    return BallotSpec(
        seats=ballot.seats_contested,
        voting_system=ballot.voting_system,
        candidacy_names=dict(ballot.candidacies.values_list("id", "person_name")),
        uncontested=ballot.uncontested,
    )


def validate_figures(*, ballot: Ballot, figures: ResultFigures, confirm_warnings: bool) -> CheckReport:
    """Run the checks; raise ``ApplicationError`` listing every problem if the figures are
    refused, or if there are warnings the caller has not confirmed (code
    ``needs_confirmation``)."""
    report = check_figures(ballot_spec(ballot), figures)
    if report.errors:
        first = report.errors[0]
        raise ApplicationError(
            first.message if len(report.errors) == 1
            else f"{first.message} (and {len(report.errors) - 1} more problem(s))",
            code="figures_refused", field=first.field, problems=report.errors + report.warnings,
        )
    if report.warnings and not confirm_warnings:
        raise ApplicationError(
            "Please confirm: " + " ".join(w.message for w in report.warnings),
            code="needs_confirmation", field=report.warnings[0].field, problems=report.warnings,
        )
    return report


def submit_result(
    *,
    ballot: Ballot,
    figures: ResultFigures,
    source: str,
    channel: str,
    submitted_by: AbstractBaseUser | None = None,
    client_token: str | None = None,
    based_on_version: int | None = None,
    confirm_warnings: bool = False,
    official: bool = False,
    correction_reason: str = "",
    note: str = "",
) -> SubmissionOutcome:
    """Record one keying (or import) of a ballot's declared figures.

    - One keying makes the result provisional; an identical keying by someone else makes it
      verified; a differing one makes it disputed, held for a reviewer. Nobody verifies their
      own keying: the same person keying again replaces their own provisional figures.
    - ``official=True`` (imports of the returning officer's published figures) records the
      figures as verified with ``source`` as provenance; changing a verified result this way
      needs ``correction_reason``. Re-importing identical figures stores nothing.
    - ``client_token`` makes retries idempotent: the same token returns the first submission.
    - ``based_on_version`` is the version the keyer saw; replacing figures that changed since
      raises ``ConflictError`` carrying both sets of figures.

    Raises ``ApplicationError`` (with every failed check) for refused figures or unconfirmed
    warnings. Side effect: a ``ResultEvent`` is appended for each change of public state.
    """
    if not source or not source.strip():
        raise ApplicationError("Say where the figures come from.", code="required", field="source")
    if channel not in SubmissionChannel.values:
        raise ApplicationError(f"Unknown channel {channel!r}.", code="invalid", field="channel")
    if correction_reason and correction_reason not in CorrectionReason.values:
        raise ApplicationError(
            f"Unknown correction reason {correction_reason!r}.", code="invalid", field="correction_reason"
        )
    fingerprint = figures.fingerprint()

    with transaction.atomic():
        locked = _lock_ballot_result(ballot.pk, client_token=client_token)
        result = locked.result
        if locked.earlier_submission_id is not None:
            # Under the lock: a retry that arrives while its first attempt commits finds it.
            earlier = Submission.objects.get(pk=locked.earlier_submission_id)
            return SubmissionOutcome(result, _for_ballot(earlier, ballot), "duplicate")
        if ballot.cancelled:
            raise ApplicationError(
                f"{ballot.ballot_paper_id} was cancelled: it has no result.", code="ballot_cancelled",
                field="ballot",
            )
        # Checked under the lock, so the candidate list cannot change underneath.
        report = validate_figures(ballot=ballot, figures=figures, confirm_warnings=confirm_warnings)
        current = result.current_submission
        same_as_current = current is not None and current.figures_hash == fingerprint
        transition = _decide(
            result=result, current=current, same_as_current=same_as_current,
            submitted_by=submitted_by, official=official, based_on_version=based_on_version,
            correction_reason=correction_reason, figures=figures,
        )
        if transition is None:
            return SubmissionOutcome(result, None, "unchanged", report.warnings)
        new_status, event_kind, adopt = transition
        if event_kind not in (EventKind.CORRECTED, EventKind.RESOLVED):
            correction_reason = ""
        new_version = result.version + (1 if event_kind else 0)
        submission = Submission.objects.create(
            ballot=ballot, submitted_by=submitted_by, channel=channel, source=source.strip(),
            figures=figures.canonical(), figures_hash=fingerprint, client_token=client_token or None,
            based_on_version=result.version if based_on_version is None else based_on_version,
            resulting_version=new_version, resulting_status=new_status,
            correction_reason=correction_reason, note=note,
        )
        previous = ResultFigures.from_canonical(current.figures) if current else None
        if adopt:
            _copy_figures(result, figures, source=source.strip())
            result.current_submission = submission
        result.status = new_status
        result.count_state = CountState.DECLARED
        if new_status == ResultStatus.VERIFIED and event_kind:
            result.verified_by = submitted_by if not official else None
        elif adopt:
            result.verified_by = None
        result.version = new_version
        _save_result(result)  # a new result is inserted with its figures: one statement
        if adopt:
            _store_figure_rows(result, figures, report.elected, new=locked.new)
        if event_kind:
            payload: dict[str, Any] = {
                "ballot_paper_id": ballot.ballot_paper_id,
                "status": new_status,
                "channel": channel,
            }
            if previous is not None and not same_as_current:
                payload["changes"] = diff_figures(previous, figures)
            if correction_reason:
                payload["reason"] = correction_reason
            ResultEvent.objects.create(
                result=result, kind=event_kind, version=new_version, submission=submission,
                actor=submitted_by, payload=payload,
            )
            schedule_publication(result)
    return SubmissionOutcome(
        result, submission, "accepted", report.warnings, frozenset(report.elected) if adopt else None
    )


# Every writer of a result holds its ballot's row lock (``_lock_ballot_result``), so a
# result's fields cannot change between a writer's read and its save. The one exception is
# ``published_version``, which only the publisher moves (compare-and-set, without the ballot
# lock): writers save every other field (``_save_result``) and never write it back.
@cache
def _result_writable_fields() -> list[str]:
    return [
        f.name
        for f in Result._meta.concrete_fields
        if not f.primary_key and f.name not in ("ballot", "published_version")
    ]


def _save_result(result: Result) -> None:
    """Insert a new result, or update an existing one without touching ``published_version``."""
    if result.pk is None:
        result.save()
    else:
        result.save(update_fields=_result_writable_fields())


@dataclass(frozen=True)
class _Locked:
    """A ballot locked for the rest of the transaction, with its result as it stands."""

    result: Result
    new: bool  # not stored yet: ``_save_result`` inserts it
    earlier_submission_id: int | None  # a submission already stored under the client token


def _lock_ballot_result(ballot_id: int, *, client_token: str | None = None) -> _Locked:
    """Lock the ballot, then read its result with its current submission (and, given
    ``client_token``, the id of a submission already stored under it) in one query. Without
    a result yet, an unsaved one: nobody else can create it while the lock is held.

    Two statements on purpose: under READ COMMITTED, a statement that waited for a lock
    sees the locked row's new version but the other rows it joins as they were when it
    started, so a result, submission or token committed by the writer it waited for would
    be missed. The read starts after the lock is held, and sees them all."""
    Ballot.objects.select_for_update().filter(pk=ballot_id).values_list("pk").get()
    ballots = Ballot.objects.select_related("result__current_submission")
    if client_token:
        ballots = ballots.annotate(
            earlier_submission_id=Subquery(_token_submissions(client_token).values("pk")[:1])
        )
    ballot = ballots.get(pk=ballot_id)
    earlier = getattr(ballot, "earlier_submission_id", None)
    try:
        return _Locked(ballot.result, False, earlier)
    except Result.DoesNotExist:
        return _Locked(Result(ballot=ballot), True, earlier)


def _token_submissions(client_token: str) -> QuerySet[Submission]:
    # Unordered: the model's ordering (by ballot, through its own ordering) costs joins.
    return Submission.objects.filter(client_token=client_token).order_by()


def _submission_for_token(client_token: str, ballot: Ballot) -> Submission | None:
    earlier = _token_submissions(client_token).first()
    return _for_ballot(earlier, ballot) if earlier is not None else None


def _for_ballot(earlier: Submission, ballot: Ballot) -> Submission:
    """The submission a client token already names; refused when it was for another ballot."""
    if earlier.ballot_id != ballot.pk:
        raise ApplicationError(
            "This submission token was already used for another ballot.", code="token_reused",
            field="client_token",
        )
    return earlier


def _decide(
    *,
    result: Result,
    current: Submission | None,
    same_as_current: bool,
    submitted_by: AbstractBaseUser | None,
    official: bool,
    based_on_version: int | None,
    correction_reason: str,
    figures: ResultFigures,
) -> tuple[str, str | None, bool] | None:
    """The transition for a new submission: (new status, event kind or None, adopt figures?).

    None means nothing to store (an official re-import of the figures already verified).
    """
    status = result.status

    def require_version() -> None:
        if based_on_version is not None and based_on_version != result.version:
            if based_on_version < result.version and not result.events.filter(
                version__gt=based_on_version
            ).exclude(kind=EventKind.COUNT_STATE).exists():
                # Only the count state moved (counting, recount): no one's figures are
                # being replaced, so this is not a conflict.
                return
            raise ConflictError(
                f"The result changed since you opened it (you saw version {based_on_version}, "
                f"it is now version {result.version}).",
                code="version_conflict", field="version",
                extra={
                    "current_version": result.version,
                    "current_figures": current.figures if current else None,
                    "your_figures": figures.canonical(),
                },
            )

    if status in (ResultStatus.NO_FIGURES, ResultStatus.RETRACTED) or current is None:
        require_version()
        if official:
            return ResultStatus.VERIFIED, EventKind.VERIFIED, True
        return ResultStatus.PROVISIONAL, EventKind.PROVISIONAL, True

    if official:
        if same_as_current:
            if status == ResultStatus.VERIFIED:
                return None
            return ResultStatus.VERIFIED, EventKind.VERIFIED, True
        if status == ResultStatus.VERIFIED and not correction_reason:
            raise ApplicationError(
                "This result is verified: changing it is a correction and needs a reason.",
                code="correction_needs_reason", field="correction_reason",
            )
        require_version()
        kind = EventKind.RESOLVED if status == ResultStatus.DISPUTED else EventKind.CORRECTED
        return ResultStatus.VERIFIED, kind, True

    own_keying = (
        submitted_by is not None and current.submitted_by_id == submitted_by.pk
    )
    if status == ResultStatus.PROVISIONAL:
        if own_keying:
            if same_as_current:
                return ResultStatus.PROVISIONAL, None, False
            require_version()
            return ResultStatus.PROVISIONAL, EventKind.CORRECTED, True
        if same_as_current:
            return ResultStatus.VERIFIED, EventKind.VERIFIED, False
        return ResultStatus.DISPUTED, EventKind.DISPUTED, False
    if status == ResultStatus.VERIFIED:
        if same_as_current:
            return ResultStatus.VERIFIED, None, False
        return ResultStatus.DISPUTED, EventKind.DISPUTED, False
    # Disputed: every further keying is kept for the reviewer; public state is unchanged.
    return ResultStatus.DISPUTED, None, False


def _apply_figures(result: Result, figures: ResultFigures, elected: set[int], *, source: str) -> None:
    """Copy accepted figures onto a stored result and its candidate and STV rows. Caller
    holds the ballot lock and saves the result."""
    _copy_figures(result, figures, source=source)
    _store_figure_rows(result, figures, elected)


def _copy_figures(result: Result, figures: ResultFigures, *, source: str) -> None:
    """The result's own fields from accepted figures (not saved)."""
    result.electorate = figures.electorate
    result.ballot_papers_issued = figures.ballot_papers_issued
    result.ballot_papers_counted = figures.ballot_papers_counted
    result.rejected_total = figures.rejected_sum
    for heading in REJECTED_HEADINGS:
        setattr(result, f"rejected_{heading}", figures.rejected.get(heading))
    result.valid_papers = figures.effective_valid_papers
    result.turnout_pct = figures.turnout_pct if figures.turnout_pct is not None else _turnout(figures)
    result.declared_at = figures.declared_at or result.declared_at
    result.source = source


def _store_figure_rows(
    result: Result, figures: ResultFigures, elected: set[int], *, new: bool = False
) -> None:
    """The candidate and STV rows of a stored result from accepted figures (``new``: the
    result was created in this transaction, so it has none yet)."""
    existing = {} if new else {cr.candidacy_id: cr for cr in result.candidate_results.all()}
    to_create, to_update = [], []
    for c in figures.candidates:
        row = existing.pop(c.candidacy_id, None)
        values = {"votes": c.votes, "elected": c.candidacy_id in elected, "won_by_lot": c.won_by_lot}
        if row is None:
            to_create.append(CandidateResult(result=result, candidacy_id=c.candidacy_id, **values))
        elif any(getattr(row, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(row, k, v)
            to_update.append(row)
    CandidateResult.objects.bulk_create(to_create)
    CandidateResult.objects.bulk_update(to_update, ["votes", "elected", "won_by_lot"])
    if existing:
        CandidateResult.objects.filter(pk__in=[r.pk for r in existing.values()]).delete()
    _apply_stv(result, figures, new=new)


def _apply_stv(result: Result, figures: ResultFigures, *, new: bool = False) -> None:
    if not new:
        StvCount.objects.filter(result=result).delete()
    if figures.stv_quota is None and not figures.stv_stages:
        return
    first = {c.candidacy_id: Decimal(c.votes or 0) for c in figures.candidates}
    valid_poll = figures.stv_valid_poll or figures.effective_valid_papers or int(sum(first.values()))
    count = StvCount.objects.create(
        result=result, quota=figures.stv_quota or valid_poll // (result.ballot.seats_contested + 1) + 1,
        valid_poll=valid_poll,
    )
    stages = [(1, first, {}, Decimal(0))]
    previous = first
    for stage in sorted(figures.stv_stages, key=lambda s: s.number):
        if stage.number == 1:
            continue
        transfers = {cid: stage.transfers.get(cid, stage.totals[cid] - previous[cid]) for cid in stage.totals}
        nt = stage.non_transferable
        if nt is None:
            nt = Decimal(valid_poll) - sum(stage.totals.values())
        stages.append((stage.number, stage.totals, transfers, nt))
        previous = stage.totals
    for number, totals, transfers, nt in stages:
        row = StvStage.objects.create(count=count, number=number, non_transferable=max(nt, Decimal(0)))
        StvStageVote.objects.bulk_create(
            StvStageVote(stage=row, candidacy_id=cid, total=total,
                         transfer=transfers.get(cid, Decimal(0)) if number > 1 else total)
            for cid, total in totals.items()
        )


def _turnout(figures: ResultFigures) -> Decimal | None:
    if figures.ballot_papers_counted is None or not figures.electorate:
        return None
    pct = Decimal(figures.ballot_papers_counted * 100) / Decimal(figures.electorate)
    return pct.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def diff_figures(before: ResultFigures, after: ResultFigures) -> list[dict[str, Any]]:
    """Field-by-field differences, for disputes, conflicts and the change feed."""
    changes: list[dict[str, Any]] = []
    a, b = before.canonical(), after.canonical()
    for key in ("electorate", "ballot_papers_issued", "ballot_papers_counted", "valid_papers",
                "rejected_total", "turnout_pct"):
        if a[key] != b[key]:
            changes.append({"field": key, "before": a[key], "after": b[key]})
    for heading in REJECTED_HEADINGS:
        if a["rejected"][heading] != b["rejected"][heading]:
            changes.append({"field": f"rejected_{heading}", "before": a["rejected"][heading],
                            "after": b["rejected"][heading]})
    votes_a = {c["candidacy_id"]: c for c in a["candidates"]}
    votes_b = {c["candidacy_id"]: c for c in b["candidates"]}
    for cid in sorted(set(votes_a) | set(votes_b)):
        ca, cb = votes_a.get(cid, {}), votes_b.get(cid, {})
        for key in ("votes", "won_by_lot"):
            if ca.get(key) != cb.get(key):
                changes.append({"field": f"{key}_{cid}" if key == "votes" else f"won_by_lot_{cid}",
                                "candidacy_id": cid, "before": ca.get(key), "after": cb.get(key)})
    if a["stv"] != b["stv"]:
        changes.append({"field": "stv", "before": a["stv"], "after": b["stv"]})
    return changes


def set_count_state(*, ballot: Ballot, state: str, actor: AbstractBaseUser | None) -> Result:
    """Mark a ballot's count as awaiting, counting or in recount (before figures exist).

    ``declared`` is set by ``submit_result``, not here. Appends a ``count_state`` event.
    """
    if state not in (CountState.AWAITING, CountState.COUNTING, CountState.RECOUNT):
        raise ApplicationError(
            f"Count state {state!r} cannot be set by hand (use awaiting, counting or recount).",
            code="invalid", field="count_state",
        )
    with transaction.atomic():
        locked = _lock_ballot_result(ballot.pk)
        result = locked.result
        if result.count_state == state:
            return result
        result.count_state = state
        result.version += 1
        _save_result(result)
        ResultEvent.objects.create(
            result=result, kind=EventKind.COUNT_STATE, version=result.version, actor=actor,
            payload={"ballot_paper_id": ballot.ballot_paper_id, "count_state": state},
        )
        schedule_publication(result)
    return result


# --- Review and corrections -------------------------------------------------------------
# Reviewers approve a provisional result or settle a dispute by naming the exact keying they
# approve and the result version they looked at; a correction changes figures already
# accepted, with a reason; a retraction withdraws a result. Each runs in one transaction
# under the ballot lock, appends a ``ResultEvent`` and (except a retraction, which has no
# figures) a ``Submission`` recording who did it, so every version stays readable.


def _lock_result(result: Result) -> Result:
    """Lock the ballot and re-read its result (the caller's copy may be stale)."""
    return _lock_ballot_result(result.ballot_id).result


def _require_expected_version(
    result: Result, expected_version: int, your_figures: ResultFigures | None = None
) -> None:
    if expected_version != result.version:
        current = result.current_submission
        extra: dict[str, Any] = {
            "current_version": result.version,
            "current_status": result.status,
            "current_figures": current.figures if current else None,
        }
        if your_figures is not None:
            extra["your_figures"] = your_figures.canonical()
        raise ConflictError(
            f"The result changed since you opened it (you saw version {expected_version}, "
            f"it is now version {result.version}). Look at it again before deciding.",
            code="version_conflict", field="version", extra=extra,
        )


def _earlier_review(client_token: str | None, ballot: Ballot) -> Submission | None:
    return _submission_for_token(client_token, ballot) if client_token else None


def _refuse_own_keying(submission: Submission, reviewer: AbstractBaseUser) -> None:
    if submission.submitted_by_id is not None and submission.submitted_by_id == reviewer.pk:
        raise ApplicationError(
            "You keyed these figures: someone else must verify them.", code="own_keying",
            field="submission_id",
        )


def approve_result(
    *,
    result: Result,
    submission_id: int,
    expected_version: int,
    reviewer: AbstractBaseUser,
    note: str = "",
    client_token: str | None = None,
) -> SubmissionOutcome:
    """A reviewer verifies a provisional result: the keying ``submission_id`` it stands on,
    at ``expected_version``.

    Refused with ``ConflictError`` if the result changed since the reviewer looked (another
    version, or another keying now current), and with ``ApplicationError`` if the result is
    not provisional or the reviewer keyed those figures (nobody verifies their own keying).
    Appends a review ``Submission`` (the figures approved) and a ``verified`` event; the
    figures themselves do not change. A retry with the same ``client_token`` returns the
    first approval.
    """
    earlier = _earlier_review(client_token, result.ballot)
    if earlier is not None:
        return SubmissionOutcome(Result.objects.get(pk=result.pk), earlier, "duplicate")
    with transaction.atomic():
        result = _lock_result(result)
        _require_expected_version(result, expected_version)
        current = result.current_submission
        if result.status != ResultStatus.PROVISIONAL or current is None:
            raise ApplicationError(
                f"Only a provisional result can be approved; this one is {result.get_status_display()}.",
                code="not_provisional", field="status",
            )
        if current.pk != submission_id:
            raise ConflictError(
                "The figures you approved are no longer the current ones.", code="version_conflict",
                field="submission_id",
                extra={"current_version": result.version, "current_submission_id": current.pk,
                       "current_figures": current.figures},
            )
        _refuse_own_keying(current, reviewer)
        new_version = result.version + 1
        review = Submission.objects.create(
            ballot=result.ballot, submitted_by=reviewer, channel=SubmissionChannel.REVIEW,
            source=current.source, figures=current.figures, figures_hash=current.figures_hash,
            client_token=client_token or None, based_on_version=expected_version,
            resulting_version=new_version, resulting_status=ResultStatus.VERIFIED,
            note=f"Approved submission {current.pk}. {note}".strip(),
        )
        result.status = ResultStatus.VERIFIED
        result.verified_by = reviewer
        result.version = new_version
        _save_result(result)
        ResultEvent.objects.create(
            result=result, kind=EventKind.VERIFIED, version=new_version, submission=review,
            actor=reviewer,
            payload={"ballot_paper_id": result.ballot.ballot_paper_id, "status": result.status,
                     "channel": SubmissionChannel.REVIEW, "approved_submission": current.pk,
                     **({"note": note} if note else {})},
        )
        schedule_publication(result)
    return SubmissionOutcome(result, review, "accepted")


def disputed_submissions(result: Result) -> list[Submission]:
    """The keyings a reviewer chooses between: the figures currently accepted and every keying
    since (reviewers' own records excluded), oldest first, one per distinct set of figures."""
    current = result.current_submission
    if current is None:
        return []
    later = (
        Submission.objects.filter(ballot_id=result.ballot_id, pk__gt=current.pk)
        .exclude(channel=SubmissionChannel.REVIEW)
        .select_related("submitted_by")
        .order_by("pk")
    )
    seen = {current.figures_hash}
    keyings = [current]
    for submission in later:
        if submission.figures_hash not in seen:
            seen.add(submission.figures_hash)
            keyings.append(submission)
    return keyings


def resolve_dispute(
    *,
    result: Result,
    submission_id: int,
    expected_version: int,
    reviewer: AbstractBaseUser,
    reason: str,
    client_token: str | None = None,
) -> SubmissionOutcome:
    """A reviewer settles a disputed result by approving one exact keying.

    ``submission_id`` must be one of ``disputed_submissions(result)`` and not the reviewer's
    own; ``expected_version`` is the version the reviewer compared. The chosen figures are
    checked again (warnings count as confirmed: they were when keyed), become the result's,
    and it is verified at a new version with a ``resolved`` event carrying the reason and what
    changed. Refused with ``ConflictError`` if the result changed meanwhile, and with
    ``ApplicationError`` if it is not disputed, the keying is not one in dispute, or the
    reason is empty. A retry with the same ``client_token`` returns the first resolution.
    """
    if not reason or not reason.strip():
        raise ApplicationError("Say why you chose these figures.", code="required", field="reason")
    earlier = _earlier_review(client_token, result.ballot)
    if earlier is not None:
        return SubmissionOutcome(Result.objects.get(pk=result.pk), earlier, "duplicate")
    with transaction.atomic():
        result = _lock_result(result)
        _require_expected_version(result, expected_version)
        if result.status != ResultStatus.DISPUTED:
            raise ApplicationError(
                f"This result is not disputed (it is {result.get_status_display()}).",
                code="not_disputed", field="status",
            )
        candidates = {s.pk: s for s in disputed_submissions(result)}
        chosen = candidates.get(submission_id)
        if chosen is None:
            raise ApplicationError(
                f"Submission {submission_id} is not one of the keyings in dispute.",
                code="unknown_submission", field="submission_id",
            )
        _refuse_own_keying(chosen, reviewer)
        ballot = result.ballot
        figures = ResultFigures.from_canonical(chosen.figures)
        report = validate_figures(ballot=ballot, figures=figures, confirm_warnings=True)
        current = result.current_submission
        previous = ResultFigures.from_canonical(current.figures) if current else None
        new_version = result.version + 1
        review = Submission.objects.create(
            ballot=ballot, submitted_by=reviewer, channel=SubmissionChannel.REVIEW,
            source=chosen.source, figures=chosen.figures, figures_hash=chosen.figures_hash,
            client_token=client_token or None, based_on_version=expected_version,
            resulting_version=new_version, resulting_status=ResultStatus.VERIFIED,
            note=f"Approved submission {chosen.pk}. {reason.strip()}",
        )
        if current is None or chosen.pk != current.pk:
            _apply_figures(result, figures, report.elected, source=chosen.source)
            result.current_submission = chosen
        result.status = ResultStatus.VERIFIED
        result.count_state = CountState.DECLARED
        result.verified_by = reviewer
        result.version = new_version
        _save_result(result)
        payload: dict[str, Any] = {
            "ballot_paper_id": ballot.ballot_paper_id, "status": result.status,
            "channel": SubmissionChannel.REVIEW, "approved_submission": chosen.pk,
            "note": reason.strip(),
        }
        if previous is not None and chosen.figures_hash != current.figures_hash:
            payload["changes"] = diff_figures(previous, figures)
        ResultEvent.objects.create(
            result=result, kind=EventKind.RESOLVED, version=new_version, submission=review,
            actor=reviewer, payload=payload,
        )
        schedule_publication(result)
    return SubmissionOutcome(result, review, "accepted")


def correct_result(
    *,
    result: Result,
    figures: ResultFigures,
    expected_version: int,
    corrected_by: AbstractBaseUser,
    reason: str,
    source: str,
    channel: str = SubmissionChannel.FORM,
    note: str = "",
    confirm_warnings: bool = False,
    client_token: str | None = None,
) -> SubmissionOutcome:
    """Change the figures of a provisional or verified result: a correction with a reason
    (``CorrectionReason``: keying error, recount, official correction).

    The corrected figures are checked like any keying, replace the accepted ones at a new
    version, and the result is provisional again: it needs a second identical keying by
    someone else, or a reviewer's approval, to be verified (nobody verifies their own
    correction). Appends a ``Submission`` (with the reason) and a ``corrected`` event carrying
    the reason, the version corrected and what changed. Refused with ``ConflictError``
    (carrying both sets of figures) if the result changed since ``expected_version``, and with
    ``ApplicationError`` for refused figures, unconfirmed warnings, identical figures, a
    disputed result (a reviewer resolves it) or a result without figures.
    """
    if reason not in CorrectionReason.values:
        raise ApplicationError(
            "Choose why the result is corrected: keying error, recount or official correction.",
            code="required" if not reason else "invalid", field="correction_reason",
        )
    if not source or not source.strip():
        raise ApplicationError("Say where the figures come from.", code="required", field="source")
    if channel not in SubmissionChannel.values:
        raise ApplicationError(f"Unknown channel {channel!r}.", code="invalid", field="channel")
    earlier = _earlier_review(client_token, result.ballot)
    if earlier is not None:
        return SubmissionOutcome(Result.objects.get(pk=result.pk), earlier, "duplicate")
    with transaction.atomic():
        result = _lock_result(result)
        _require_expected_version(result, expected_version, figures)
        current = result.current_submission
        if result.status == ResultStatus.DISPUTED:
            raise ApplicationError(
                "This result is disputed: a reviewer resolves it before it can be corrected.",
                code="result_disputed", field="status",
            )
        if result.status not in (ResultStatus.PROVISIONAL, ResultStatus.VERIFIED) or current is None:
            raise ApplicationError(
                "There are no accepted figures to correct: key the result instead.",
                code="nothing_to_correct", field="status",
            )
        ballot = result.ballot
        report = validate_figures(ballot=ballot, figures=figures, confirm_warnings=True)
        fingerprint = figures.fingerprint()
        if fingerprint == current.figures_hash:
            raise ApplicationError(
                "These are the figures already recorded: there is nothing to correct.",
                code="no_change", field="votes",
            )
        warnings = report.warnings + _winners_change(result, report.elected)
        if warnings and not confirm_warnings:
            raise ApplicationError(
                "Please confirm: " + " ".join(w.message for w in warnings),
                code="needs_confirmation", field=warnings[0].field, problems=warnings,
            )
        previous = ResultFigures.from_canonical(current.figures)
        new_version = result.version + 1
        submission = Submission.objects.create(
            ballot=ballot, submitted_by=corrected_by, channel=channel, source=source.strip(),
            figures=figures.canonical(), figures_hash=fingerprint, client_token=client_token or None,
            based_on_version=expected_version, resulting_version=new_version,
            resulting_status=ResultStatus.PROVISIONAL, correction_reason=reason, note=note,
        )
        previous_status = result.status
        _apply_figures(result, figures, report.elected, source=source.strip())
        result.current_submission = submission
        result.status = ResultStatus.PROVISIONAL
        result.count_state = CountState.DECLARED
        result.verified_by = None
        result.version = new_version
        _save_result(result)
        ResultEvent.objects.create(
            result=result, kind=EventKind.CORRECTED, version=new_version, submission=submission,
            actor=corrected_by,
            payload={"ballot_paper_id": ballot.ballot_paper_id, "status": result.status,
                     "channel": channel, "reason": reason, "corrects_version": expected_version,
                     "previous_status": previous_status, "changes": diff_figures(previous, figures),
                     **({"note": note} if note else {})},
        )
        schedule_publication(result)
    return SubmissionOutcome(result, submission, "accepted", warnings)


def _winners_change(result: Result, elected: set[int]) -> list[Problem]:
    """A warning when a correction changes who is elected (a recount can; a slip often does)."""
    before = dict(
        result.candidate_results.filter(elected=True).values_list("candidacy_id", "candidacy__person_name")
    )
    if set(before) == elected:
        return []
    names = dict(result.ballot.candidacies.filter(pk__in=elected).values_list("id", "person_name"))
    out = sorted(before[c] for c in set(before) - elected)
    new = sorted(names[c] for c in elected - set(before))
    return [Problem(
        code="winners_change", field="elected", severity="warning",
        message=f"This correction changes who is elected: {', '.join(out)} out, {', '.join(new)} in.",
        numbers={"out": out, "in": new},
    )]


def retract_result(
    *, result: Result, expected_version: int, retracted_by: AbstractBaseUser, reason: str
) -> Result:
    """Withdraw a result (provisional, verified or disputed): it no longer counts anywhere.

    Nothing is deleted: the figures and every submission stay in the history, and a later
    keying starts the result again. Appends a ``retracted`` event with the reason. Refused
    with ``ConflictError`` if the result changed since ``expected_version`` (except a repeat
    of this same retraction, which returns the result unchanged) and with
    ``ApplicationError`` without a reason or when there is nothing to retract.
    """
    if not reason or not reason.strip():
        raise ApplicationError("Say why the result is withdrawn.", code="required", field="reason")
    with transaction.atomic():
        result = _lock_result(result)
        if result.status == ResultStatus.RETRACTED and result.version == expected_version + 1:
            last = result.events.order_by("-id").first()
            if last is not None and last.kind == EventKind.RETRACTED and last.actor_id == retracted_by.pk:
                return result
        _require_expected_version(result, expected_version)
        if result.status not in (ResultStatus.PROVISIONAL, ResultStatus.VERIFIED, ResultStatus.DISPUTED):
            raise ApplicationError(
                "There is no result to withdraw.", code="nothing_to_retract", field="status"
            )
        previous_status = result.status
        result.status = ResultStatus.RETRACTED
        result.verified_by = None
        result.version += 1
        _save_result(result)
        ResultEvent.objects.create(
            result=result, kind=EventKind.RETRACTED, version=result.version, actor=retracted_by,
            payload={"ballot_paper_id": result.ballot.ballot_paper_id, "status": result.status,
                     "reason": reason.strip(), "previous_status": previous_status},
        )
        schedule_publication(result)
    return result
