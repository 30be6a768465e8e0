"""The correspondents' and reviewers' pages: "My counts", the keying form, corrections, the
history of a ballot, and the review of disputed and provisional results.

Thin views: permissions come from ``accounts.permissions``, every write is a service of
``results.services`` and every arithmetic check is the service's. A ballot the user may not
see is a 404 whether it exists or not; an action their role does not allow on a ballot they
can see is a 403; both are logged. Every form works without JavaScript (the "Check figures"
button shows the winners and any problems before submitting); static/js/keying.js adds live
arithmetic and the winner preview.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts import permissions
from accounts.denials import log_denial
from config.errors import ApplicationError, ConflictError, Problem
from elections import ids
from elections.models import Ballot, Candidacy

from . import selectors
from .checks import CheckReport, check_figures
from .figures import REJECTED_HEADINGS, ResultFigures
from .forms import (
    REJECTED_LABELS,
    CountStateForm,
    KeyingForm,
    RetractForm,
    ReviewDecisionForm,
    ballot_paper_order,
    initial_from_figures,
    now_for_input,
)
from .models import EventKind, Result, ResultEvent, ResultStatus, Submission, SubmissionChannel
from .services import (
    approve_result,
    ballot_spec,
    correct_result,
    diff_figures,
    disputed_submissions,
    resolve_dispute,
    retract_result,
    set_count_state,
    submit_result,
)

Allowed = Callable[[Any, Ballot], bool]


# --- access -----------------------------------------------------------------------------


def _ballot_for(request: HttpRequest, ballot_paper_id: str, allowed: Allowed, action: str) -> Ballot:
    """The ballot if the user may see it and do ``action`` on it; else 404 (not theirs, or no
    such ballot: indistinguishable) or 403 (theirs to see, not to do this), logged."""
    ballot = None
    try:
        ids.validate_ballot_id(ballot_paper_id)
    except ApplicationError:
        pass
    else:
        ballot = selectors.ballots_to_key(ballot_paper_id).first()
    if ballot is not None and allowed(request.user, ballot):
        return ballot
    if ballot is None or not permissions.can_see(request.user, ballot):
        log_denial(request, reason=f"{action}: ballot not visible", status=404)
        raise Http404("No such ballot among yours.")
    log_denial(request, reason=f"{action}: role does not allow it", status=403)
    raise PermissionDenied


def _client_token(user: Any, raw: str) -> str:
    """Namespace the form's token by user, so one person's token can never replay another's."""
    return f"u{user.pk}-{raw}"


def _new_token() -> str:
    return uuid.uuid4().hex


# --- presenting problems ------------------------------------------------------------------


def _problem_anchor(name: str, form: KeyingForm) -> str:
    """Which part of the form a service problem belongs beside."""
    if name in form.fields:
        return name
    if name in ("votes", "elected", "candidates"):
        return "candidates"
    if name.startswith("won_by_lot"):
        return "won_by_lot"
    if name in ("valid_papers", "turnout_pct"):
        return "ballot_papers_counted"
    if name.startswith("stv_stage_"):
        return f"stage_{name.removeprefix('stv_stage_')}"
    return "__all__"


@dataclass
class Problems:
    """Service problems grouped by where they are shown."""

    by_anchor: dict[str, list[Problem]] = field(default_factory=lambda: defaultdict(list))
    all: list[Problem] = field(default_factory=list)

    @classmethod
    def of(cls, problems: list[Problem], form: KeyingForm) -> Problems:
        grouped = cls()
        for problem in problems:
            grouped.by_anchor[_problem_anchor(problem.field, form)].append(problem)
            grouped.all.append(problem)
        return grouped

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.all if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.all if p.severity == "warning"]


def _mark_invalid(form: KeyingForm, problems: Problems) -> None:
    """aria-invalid and aria-describedby on each input with a problem or a form error."""
    names = set(form.errors) | set(problems.by_anchor)
    for name in names:
        if name in form.fields:
            attrs = form.fields[name].widget.attrs
            attrs["aria-describedby"] = " ".join(
                [f"{name}-hint"] * bool(form.fields[name].help_text) + [f"{name}-problems"]
            )
            if name in form.errors or any(p.severity == "error" for p in problems.by_anchor.get(name, [])):
                attrs["aria-invalid"] = "true"


# --- the form page --------------------------------------------------------------------------


def _candidacies(ballot: Ballot) -> list[Candidacy]:
    return ballot_paper_order(Candidacy.objects.filter(ballot=ballot).select_related("party"))


def _result(ballot: Ballot) -> Result | None:
    return (
        Result.objects.filter(ballot=ballot)
        .select_related("current_submission__submitted_by", "verified_by")
        .first()
    )


def _known_electorate(ballot: Ballot, result: Result | None) -> int | None:
    """The electorate to prefill: this ballot's when a keying gave it, else the ward's latest."""
    if result is not None and result.electorate:
        return result.electorate
    return (
        Result.objects.filter(ballot__ward=ballot.ward, electorate__isnull=False)
        .exclude(ballot=ballot)
        .order_by("-ballot__election__date")
        .values_list("electorate", flat=True)
        .first()
    )


def _stage_count(request: HttpRequest, initial: dict[str, Any]) -> int:
    raw = request.POST.get("stages") if request.method == "POST" else initial.get("stages")
    try:
        n = int(raw or 0)
    except (TypeError, ValueError):
        n = 0
    if request.method == "POST" and request.POST.get("action") == "add_stage":
        n += 1
    if request.method == "POST" and request.POST.get("action") == "remove_stage":
        n -= 1
    return max(0, min(n, 20))


@dataclass
class Row:
    candidacy: Candidacy
    votes: Any
    won_by_lot: Any
    elected: Any
    problems: list[Problem]


def _rows(form: KeyingForm, problems: Problems) -> list[Row]:
    rows = []
    for c in form.candidacies:
        rows.append(Row(
            candidacy=c,
            votes=form[f"votes_{c.pk}"] if f"votes_{c.pk}" in form.fields else None,
            won_by_lot=form[f"won_by_lot_{c.pk}"] if f"won_by_lot_{c.pk}" in form.fields else None,
            elected=form[f"elected_{c.pk}"] if f"elected_{c.pk}" in form.fields else None,
            problems=problems.by_anchor.get(f"votes_{c.pk}", []),
        ))
    return rows


def _stages(form: KeyingForm, problems: Problems) -> list[dict[str, Any]]:
    return [
        {
            "number": n,
            "anchor": f"stage_{n}",
            "fields": [(c, form[f"stage_{n}_{c.pk}"]) for c in form.candidacies],
            "non_transferable": form[f"stage_{n}_non_transferable"],
            "problems": problems.by_anchor.get(f"stage_{n}", []),
        }
        for n in range(2, form.stage_count + 2)
    ]


def _winners(
    report: CheckReport | None, figures: ResultFigures | None, form: KeyingForm
) -> list[dict[str, Any]]:
    if report is None or figures is None or report.errors:
        return []
    names = {c.pk: c for c in form.candidacies}
    votes = figures.votes_by_candidacy()
    lot = {c.candidacy_id for c in figures.candidates if c.won_by_lot}
    return [
        {"candidacy": names[cid], "votes": votes.get(cid), "by_lot": cid in lot}
        for cid in sorted(report.elected, key=lambda cid: (-(votes.get(cid) or 0), names[cid].person_name))
    ]


def _keying_config(ballot: Ballot, candidacies: list[Candidacy]) -> dict[str, Any]:
    """What keying.js needs; handed over with json_script, so names stay data."""
    return {
        "seats": ballot.seats_contested,
        "system": ballot.voting_system,
        "uncontested": ballot.uncontested,
        "headings": list(REJECTED_HEADINGS),
        "candidates": [{"id": c.pk, "name": c.person_name, "party": c.party.name} for c in candidacies],
    }


def _figures_rows(figures: dict[str, Any] | None, candidacies: list[Candidacy]) -> list[tuple[str, Any]]:
    """A canonical figure set as (label, value) rows, for conflict and history displays."""
    if not figures:
        return []
    votes = {c["candidacy_id"]: c for c in figures.get("candidates", [])}
    rows: list[tuple[str, Any]] = []
    for c in candidacies:
        entry = votes.get(c.pk, {})
        value = entry.get("votes")
        if entry.get("won_by_lot"):
            value = f"{value} (won by lot)"
        rows.append((c.person_name, value))
    rows.append(("Ballot papers counted", figures.get("ballot_papers_counted")))
    rows.append(("Rejected papers", figures.get("rejected_total")))
    for heading in REJECTED_HEADINGS:
        value = (figures.get("rejected") or {}).get(heading)
        if value is not None:
            rows.append((REJECTED_LABELS[heading], value))
    rows.append(("Electorate", figures.get("electorate")))
    return rows


def _conflict_rows(
    current: dict[str, Any] | None, yours: dict[str, Any] | None, candidacies: list[Candidacy]
) -> list[dict[str, Any]]:
    theirs = dict(_figures_rows(current, candidacies))
    mine = _figures_rows(yours, candidacies)
    return [{"label": label, "current": theirs.get(label), "yours": value,
             "differs": theirs.get(label) != value} for label, value in mine]


def _own_provisional(result: Result | None, user: Any) -> bool:
    current = result.current_submission if result else None
    return bool(
        result is not None and current is not None and result.status == ResultStatus.PROVISIONAL
        and current.submitted_by_id == user.pk
    )


def _may_show_figures(result: Result | None, user: Any) -> bool:
    """A second keyer keys blind: they see the accepted figures only once verified, or their own."""
    if result is None or result.current_submission is None:
        return False
    return result.status == ResultStatus.VERIFIED or result.current_submission.submitted_by_id == user.pk


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def ballot_keying(request: HttpRequest, ballot_paper_id: str) -> HttpResponse:
    """Key a ballot's declared result (or check it first)."""
    ballot = _ballot_for(request, ballot_paper_id, permissions.can_key, "key")
    return _keying_page(request, ballot, correction=False)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def ballot_correct(request: HttpRequest, ballot_paper_id: str) -> HttpResponse:
    """Correct an accepted (provisional or verified) result, with a reason."""
    ballot = _ballot_for(
        request, ballot_paper_id,
        lambda user, b: permissions.can_key(user, b) or permissions.can_review(user, b), "correct",
    )
    return _keying_page(request, ballot, correction=True)


def _keying_page(request: HttpRequest, ballot: Ballot, *, correction: bool) -> HttpResponse:
    user = request.user
    candidacies = _candidacies(ballot)
    result = _result(ballot)
    version = result.version if result else 0
    own = _own_provisional(result, user)
    if correction and (result is None or result.status not in (ResultStatus.PROVISIONAL,
                                                                  ResultStatus.VERIFIED)):
        messages.info(request, "There are no accepted figures to correct: key the result instead.")
        return HttpResponseRedirect(reverse("keying:ballot", args=[ballot.ballot_paper_id]))

    initial: dict[str, Any] = {"client_token": _new_token(), "based_on_version": version,
                               "declared_at": now_for_input()}
    if (own or correction) and result is not None and result.current_submission is not None:
        initial.update(initial_from_figures(result.current_submission.figures,
                                            stv=ballot.voting_system == "STV"))
        initial["source"] = result.source or None
        if result.declared_at:
            initial["declared_at"] = result.declared_at
    if initial.get("electorate") is None:
        initial["electorate"] = _known_electorate(ballot, result)
    if own:
        initial["correction_reason"] = "keying_error"
    initial = {k: v for k, v in initial.items() if v is not None}

    stage_count = _stage_count(request, initial)
    form_kwargs = {"ballot": ballot, "candidacies": candidacies, "stage_count": stage_count,
                   "correction": correction}
    status = 200
    problems = Problems()
    report: CheckReport | None = None
    figures: ResultFigures | None = None
    conflict: dict[str, Any] | None = None
    checked = False

    if request.method != "POST":
        form = KeyingForm(initial=initial, **form_kwargs)
    else:
        data = request.POST.copy()
        data["stages"] = str(stage_count)
        form = KeyingForm(data, **form_kwargs)
        action = request.POST.get("action", "submit")
        if action in ("add_stage", "remove_stage"):
            # Re-shown unbound with what was typed, so half-keyed figures show no errors yet.
            form = KeyingForm(initial=data.dict(), **form_kwargs)
            return _render_keying(request, ballot, form, result, problems, None, None, conflict,
                                  correction, checked=False, status=200, own=own)
        if not form.is_valid():
            status = 400
        else:
            figures = form.to_figures()
            report = check_figures(ballot_spec(ballot), figures)
            problems = Problems.of(report.errors + report.warnings, form)
            if action == "check":
                checked = True
            else:
                response, status, problems, conflict = _store(
                    request, ballot, result, form, figures, correction=correction, own=own,
                    report_problems=problems,
                )
                if response is not None:
                    return response
    return _render_keying(request, ballot, form, result, problems, report, figures, conflict,
                          correction, checked=checked, status=status, own=own)


def _store(
    request: HttpRequest, ballot: Ballot, result: Result | None, form: KeyingForm,
    figures: ResultFigures, *, correction: bool, own: bool, report_problems: Problems,
) -> tuple[HttpResponse | None, int, Problems, dict[str, Any] | None]:
    """Call the service; a redirect on success, else the status, problems and any conflict."""
    data = form.cleaned_data
    token = _client_token(request.user, data["client_token"])
    try:
        if correction:
            assert result is not None
            outcome = correct_result(
                result=result, figures=figures, expected_version=data["based_on_version"],
                corrected_by=request.user, reason=data["correction_reason"], source=data["source"],
                note=data.get("note", ""), confirm_warnings=data["confirm_warnings"],
                client_token=token,
            )
        else:
            outcome = submit_result(
                ballot=ballot, figures=figures, source=data["source"], channel=SubmissionChannel.FORM,
                submitted_by=request.user, client_token=token,
                based_on_version=data["based_on_version"], confirm_warnings=data["confirm_warnings"],
                correction_reason=(data.get("correction_reason") or "") if own else "",
                note=data.get("note", ""),
            )
    except ConflictError as exc:
        body = exc.as_dict()
        # The figures stay in the form; submitting again now replaces the newer version.
        form.data = form.data.copy()
        form.data["based_on_version"] = str(body.get("current_version", 0))
        return None, exc.status_code, Problems.of(exc.problems, form), body
    except ApplicationError as exc:
        problems = Problems.of(exc.problems or [Problem(code=exc.code, field=exc.field or "__all__",
                                                        message=exc.message)], form)
        return None, exc.status_code, problems, None
    messages.success(request, _outcome_message(outcome.result, outcome.outcome, correction))
    url = reverse("keying:ballot", args=[ballot.ballot_paper_id])
    return HttpResponseRedirect(url, status=303), 303, report_problems, None


def _outcome_message(result: Result, outcome: str, correction: bool) -> str:
    name = result.ballot.ward.name
    if outcome == "duplicate":
        return f"{name}: already received (your earlier submission stands)."
    if correction:
        return (f"{name}: corrected. Provisional until someone else keys the same figures "
                "or a reviewer approves.")
    return {
        ResultStatus.PROVISIONAL: f"{name}: keyed. Provisional until someone else keys the same figures.",
        ResultStatus.VERIFIED: f"{name}: your figures match. The result is verified.",
        ResultStatus.DISPUTED: f"{name}: your figures differ from the first keying. "
                               "The result is held for a reviewer.",
    }.get(result.status, f"{name}: received.")


def _render_keying(
    request: HttpRequest, ballot: Ballot, form: KeyingForm, result: Result | None, problems: Problems,
    report: CheckReport | None, figures: ResultFigures | None, conflict: dict[str, Any] | None,
    correction: bool, *, checked: bool, status: int, own: bool,
) -> HttpResponse:
    _mark_invalid(form, problems)
    candidacies = form.candidacies
    tie = bool(problems.by_anchor.get("won_by_lot")) or any(
        form.data.get(f"won_by_lot_{c.pk}") for c in candidacies
    )
    context = {
        "ballot": ballot,
        "form": form,
        "result": result,
        "result_status": result.status if result else "none",
        "correction": correction,
        "own": own,
        "rows": _rows(form, problems),
        "stages": _stages(form, problems) if form.is_stv else [],
        "rejected_fields": [form[f"rejected_{h}"] for h in REJECTED_HEADINGS
                            if f"rejected_{h}" in form.fields],
        "problems": problems,
        "problem_anchor": dict(problems.by_anchor),
        "winners": _winners(report, figures, form),
        "checked": checked,
        "show_tie": tie,
        "needs_confirmation": bool(problems.warnings) and not problems.errors,
        "conflict": conflict,
        "conflict_rows": _conflict_rows(conflict.get("current_figures"), conflict.get("your_figures"),
                                        candidacies) if conflict else [],
        "show_figures": _may_show_figures(result, request.user),
        "current_rows": _figures_rows(result.current_submission.figures, candidacies)
        if result is not None and result.current_submission is not None else [],
        "keying_config": _keying_config(ballot, candidacies),
    }
    return render(request, "results/keying/ballot.html", context, status=status)


# --- My counts ----------------------------------------------------------------------------


def _needs(ballot: Ballot, user: Any) -> str:
    result = getattr(ballot, "result", None)
    if result is None or result.status == ResultStatus.NO_FIGURES:
        return "Needs keying"
    current = result.current_submission
    if result.status == ResultStatus.PROVISIONAL:
        if current is not None and current.submitted_by_id == user.pk:
            return "Keyed by you: needs a second keying by someone else"
        return "Needs a second keying to verify"
    return {
        ResultStatus.VERIFIED: "Verified",
        ResultStatus.DISPUTED: "Keyings disagree: with a reviewer",
        ResultStatus.RETRACTED: "Withdrawn: needs keying again",
    }.get(result.status, "")


@login_required
@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """The user's elections, each ballot with its count state and what still needs keying."""
    elections = (
        permissions.keyable_elections(request.user)
        .select_related("council")
        .prefetch_related(Prefetch(
            "ballots",
            queryset=Ballot.objects.select_related("ward", "result__current_submission")
            .order_by("ward__name", "by_election"),
        ))
        .order_by("-date", "council__name")
    )
    groups = []
    for election in elections:
        ballots = [{"ballot": b, "result": getattr(b, "result", None), "needs": _needs(b, request.user)}
                   for b in election.ballots.all()]
        groups.append({"election": election, "ballots": ballots,
                       "to_key": sum(1 for b in ballots if b["needs"].startswith("Needs"))})
    return render(request, "results/keying/home.html", {
        "groups": groups,
        "is_reviewer": permissions.is_reviewer(request.user),
        "count_state_form": CountStateForm(),
    })


@login_required
@require_POST
def ballot_count_state(request: HttpRequest, ballot_paper_id: str) -> HttpResponse:
    """Set a ballot's count to awaiting, counting or recount (shown on the public map)."""
    ballot = _ballot_for(request, ballot_paper_id, permissions.can_key, "count state")
    form = CountStateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose awaiting, counting or recount.")
        return HttpResponseRedirect(reverse("keying:home"), status=303)
    try:
        set_count_state(ballot=ballot, state=form.cleaned_data["state"], actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{ballot.ward.name}: {form.cleaned_data['state']}.")
    return HttpResponseRedirect(reverse("keying:home") + f"#ballot-{ballot.pk}", status=303)


# --- history ------------------------------------------------------------------------------


_EVENT_LABELS = dict(EventKind.choices)


@login_required
@require_safe
def ballot_history(request: HttpRequest, ballot_paper_id: str) -> HttpResponse:
    """Every version of the ballot's result: who, when, what changed and why, and every
    keying as received."""
    ballot = _ballot_for(request, ballot_paper_id, permissions.can_see, "history")
    candidacies = _candidacies(ballot)
    names = {c.pk: c.person_name for c in candidacies}
    result = _result(ballot)
    events = (
        ResultEvent.objects.filter(result=result).select_related("actor", "submission").order_by("id")
        if result else []
    )
    submissions = Submission.objects.filter(ballot=ballot).select_related("submitted_by").order_by("id")
    event_rows = []
    for event in events:
        changes = []
        for change in event.payload.get("changes", []):
            label = names.get(change.get("candidacy_id"), change["field"].replace("_", " "))
            changes.append({"label": label, "before": change.get("before"), "after": change.get("after")})
        event_rows.append({"event": event, "label": _EVENT_LABELS.get(event.kind, event.kind),
                           "changes": changes, "payload": event.payload})
    submission_rows = [{"submission": s, "rows": _figures_rows(s.figures, candidacies)} for s in submissions]
    return render(request, "results/keying/history.html", {
        "ballot": ballot, "result": result, "events": event_rows, "submissions": submission_rows,
    })


# --- review -------------------------------------------------------------------------------


def _reviewer_required(request: HttpRequest) -> None:
    if not permissions.is_reviewer(request.user):
        log_denial(request, reason="review: not a reviewer", status=403)
        raise PermissionDenied


@login_required
@require_safe
def review_queue(request: HttpRequest) -> HttpResponse:
    """Disputed and provisional results in the reviewer's councils, disputes first."""
    _reviewer_required(request)
    ballots = permissions.reviewable_ballots(request.user)
    results = (
        Result.objects.filter(ballot__in=ballots,
                              status__in=[ResultStatus.DISPUTED, ResultStatus.PROVISIONAL])
        .select_related("ballot__ward", "ballot__election__council", "current_submission__submitted_by")
        .order_by("-status", "ballot__election__council__name", "ballot__ward__name")
    )
    disputed = [r for r in results if r.status == ResultStatus.DISPUTED]
    provisional = [r for r in results if r.status == ResultStatus.PROVISIONAL]
    return render(request, "results/keying/review_queue.html",
                  {"disputed": disputed, "provisional": provisional})


def _reviewable(user: Any, ballot: Ballot) -> bool:
    return permissions.can_review(user, ballot)


@login_required
@require_safe
def review_ballot(request: HttpRequest, ballot_paper_id: str) -> HttpResponse:
    """The keyings of a disputed (or provisional) result side by side, field by field."""
    ballot = _ballot_for(request, ballot_paper_id, _reviewable, "review")
    return _render_review(request, ballot)


def _render_review(
    request: HttpRequest, ballot: Ballot, *, status: int = 200, error: ApplicationError | None = None
) -> HttpResponse:
    result = _result(ballot)
    candidacies = _candidacies(ballot)
    keyings = []
    if result is not None and result.status == ResultStatus.DISPUTED:
        keyings = disputed_submissions(result)
    elif result is not None and result.current_submission is not None:
        keyings = [result.current_submission]
    columns = [{"submission": s, "rows": dict(_figures_rows(s.figures, candidacies)),
                "own": s.submitted_by_id == request.user.pk} for s in keyings]
    labels = [label for label, _ in _figures_rows(keyings[0].figures, candidacies)] if keyings else []
    table = [{"label": label, "values": [col["rows"].get(label) for col in columns],
              "differs": len({repr(col["rows"].get(label)) for col in columns}) > 1} for label in labels]
    diffs = []
    if len(keyings) > 1:
        base = ResultFigures.from_canonical(keyings[0].figures)
        names = {c.pk: c.person_name for c in candidacies}
        for other in keyings[1:]:
            changes = diff_figures(base, ResultFigures.from_canonical(other.figures))
            diffs.append({"submission": other, "changes": [
                {**ch, "label": names.get(ch.get("candidacy_id"), ch["field"].replace("_", " "))}
                for ch in changes]})
    version = result.version if result else 0
    decision_forms = {col["submission"].pk: ReviewDecisionForm(initial={
        "submission_id": col["submission"].pk, "expected_version": version, "client_token": _new_token(),
    }) for col in columns}
    for col in columns:
        col["form"] = decision_forms[col["submission"].pk]
    return render(request, "results/keying/review_ballot.html", {
        "ballot": ballot, "result": result, "columns": columns, "table": table, "diffs": diffs,
        "retract_form": RetractForm(initial={"expected_version": version}),
        "error": error.as_dict() if error else None,
    }, status=status)


@login_required
@require_POST
def review_approve(request: HttpRequest, ballot_paper_id: str) -> HttpResponse:
    """Approve one exact keying at one exact version: resolves a dispute, or verifies a
    provisional result."""
    ballot = _ballot_for(request, ballot_paper_id, _reviewable, "approve")
    form = ReviewDecisionForm(request.POST)
    if not form.is_valid():
        return _render_review(request, ballot, status=400, error=ApplicationError(
            "The approval form is incomplete: reload the page.", code="invalid", field="submission_id"))
    result = Result.objects.filter(ballot=ballot).first()
    if result is None:
        return _render_review(request, ballot, status=400, error=ApplicationError(
            "There is nothing to approve.", code="nothing_to_approve", field="status"))
    data = form.cleaned_data
    token = _client_token(request.user, data["client_token"])
    try:
        if result.status == ResultStatus.DISPUTED:
            resolve_dispute(result=result, submission_id=data["submission_id"],
                            expected_version=data["expected_version"], reviewer=request.user,
                            reason=data["reason"], client_token=token)
        else:
            approve_result(result=result, submission_id=data["submission_id"],
                           expected_version=data["expected_version"], reviewer=request.user,
                           note=data["reason"], client_token=token)
    except ApplicationError as exc:
        return _render_review(request, ballot, status=exc.status_code, error=exc)
    messages.success(request, f"{ballot.ward.name}: approved; the result is verified.")
    return HttpResponseRedirect(reverse("keying:review_ballot", args=[ballot.ballot_paper_id]), status=303)


@login_required
@require_POST
def review_retract(request: HttpRequest, ballot_paper_id: str) -> HttpResponse:
    """Withdraw a result, with a reason."""
    ballot = _ballot_for(request, ballot_paper_id, _reviewable, "retract")
    form = RetractForm(request.POST)
    result = Result.objects.filter(ballot=ballot).first()
    if not form.is_valid() or result is None:
        return _render_review(request, ballot, status=400, error=ApplicationError(
            "Say why the result is withdrawn.", code="required", field="reason"))
    try:
        retract_result(result=result, expected_version=form.cleaned_data["expected_version"],
                       retracted_by=request.user, reason=form.cleaned_data["reason"])
    except ApplicationError as exc:
        return _render_review(request, ballot, status=exc.status_code, error=exc)
    messages.success(request, f"{ballot.ward.name}: the result is withdrawn.")
    return HttpResponseRedirect(reverse("keying:review_ballot", args=[ballot.ballot_paper_id]), status=303)
