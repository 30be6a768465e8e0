"""The one write path for results: the form, the API, imports and replay all call these.

``submit_result`` runs in one transaction: lock the ballot, check the figures, append the
``Submission``, move the ``Result`` to its new state and version, append a ``ResultEvent``
(the publication outbox). Nothing here waits on Redis or Celery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

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
    if client_token:
        earlier = _submission_for_token(client_token, ballot)
        if earlier is not None:
            return SubmissionOutcome(Result.objects.get(ballot=ballot), earlier, "duplicate")
    if ballot.cancelled:
        raise ApplicationError(
            f"{ballot.ballot_paper_id} was cancelled: it has no result.", code="ballot_cancelled",
            field="ballot",
        )
    fingerprint = figures.fingerprint()

    with transaction.atomic():
        Ballot.objects.select_for_update().only("id").get(pk=ballot.pk)
        # Checked under the lock, so the candidate list cannot change underneath.
        report = validate_figures(ballot=ballot, figures=figures, confirm_warnings=confirm_warnings)
        result, _ = Result.objects.select_for_update().get_or_create(ballot=ballot)
        if client_token:
            # A concurrent retry may have committed while we waited for the lock.
            earlier = _submission_for_token(client_token, ballot)
            if earlier is not None:
                return SubmissionOutcome(result, earlier, "duplicate")
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
            _apply_figures(result, figures, report.elected, source=source.strip())
            result.current_submission = submission
        result.status = new_status
        result.count_state = CountState.DECLARED
        if new_status == ResultStatus.VERIFIED:
            result.verified_by = submitted_by if not official else None
        elif adopt:
            result.verified_by = None
        result.version = new_version
        result.save()
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
    return SubmissionOutcome(result, submission, "accepted", report.warnings)


def _submission_for_token(client_token: str, ballot: Ballot) -> Submission | None:
    earlier = Submission.objects.filter(client_token=client_token).first()
    if earlier is not None and earlier.ballot_id != ballot.pk:
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
    """Copy accepted figures onto the result and its candidate and STV rows.

    Caller holds the ballot lock.
    """
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

    existing = {cr.candidacy_id: cr for cr in result.candidate_results.all()} if result.pk else {}
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
    _apply_stv(result, figures)


def _apply_stv(result: Result, figures: ResultFigures) -> None:
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
        Ballot.objects.select_for_update().only("id").get(pk=ballot.pk)
        result, _ = Result.objects.select_for_update().get_or_create(ballot=ballot)
        if result.count_state == state:
            return result
        result.count_state = state
        result.version += 1
        result.save(update_fields=["count_state", "version", "updated_at"])
        ResultEvent.objects.create(
            result=result, kind=EventKind.COUNT_STATE, version=result.version, actor=actor,
            payload={"ballot_paper_id": ballot.ballot_paper_id, "count_state": state},
        )
    return result

