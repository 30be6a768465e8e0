"""Removing rehearsal data: the one write path that deletes results.

Elections marked ``rehearsal`` (fixed at creation by a database trigger, see
``elections.rehearsal_guard``) are generated or replayed for practice. ``wipe_rehearsal``
deletes them with everything under them — ballots, candidacies, results, and the
submissions and events that are otherwise append-only — in one transaction, and checks in
that same transaction that no row of real data went with them.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import connection, models, transaction

from config.errors import ApplicationError
from elections.models import Ballot, Candidacy, Election

from . import append_only
from .models import Result, ResultEvent, Submission

logger = logging.getLogger(__name__)

# Simulated correspondents and reviewers of replays have addresses in this reserved domain
# (RFC 2606: .invalid never resolves), so they can be told from real accounts.
REHEARSAL_EMAIL_DOMAIN = "rehearsal.invalid"


class RealDataTouched(ApplicationError):
    """The wipe would have removed or changed real rows: it was rolled back."""


@dataclass
class WipeSummary:
    """Rows deleted, by kind, and the polling days whose public documents changed."""

    deleted: dict[str, int] = field(default_factory=dict)
    dates: list[dt.date] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


def _real_counts() -> dict[str, int]:
    real = {"election__rehearsal": False}
    return {
        "elections": Election.objects.filter(rehearsal=False).count(),
        "ballots": Ballot.objects.filter(**real).count(),
        "candidacies": Candidacy.objects.filter(ballot__election__rehearsal=False).count(),
        "results": Result.objects.filter(ballot__election__rehearsal=False).count(),
        "submissions": Submission.objects.filter(ballot__election__rehearsal=False).count(),
        "events": ResultEvent.objects.filter(result__ballot__election__rehearsal=False).count(),
    }


def _real_fingerprint() -> tuple[int | None, ...]:
    """Highest ids and versions of real rows: a changed real row changes one of them."""
    agg = models.Max
    return (
        Submission.objects.filter(ballot__election__rehearsal=False).aggregate(m=agg("id"))["m"],
        ResultEvent.objects.filter(result__ballot__election__rehearsal=False).aggregate(m=agg("id"))["m"],
        Result.objects.filter(ballot__election__rehearsal=False).aggregate(m=models.Sum("version"))["m"],
    )


def wipe_rehearsal(*, date: dt.date | None = None, users: bool = True) -> WipeSummary:
    """Delete every rehearsal election (only those of ``date`` when given) and all rows
    under it; with ``users``, also the simulated accounts of replays (email at
    ``rehearsal.invalid``) that nothing else refers to any more.

    One transaction: the append-only protection of submissions and events is lifted for
    this transaction only (``append_only.deletes_allowed_in_this_transaction``), the rows of
    rehearsal ballots are deleted, the protection is put back, and the real rows are
    counted again; if any count differs the whole wipe is rolled back and
    ``RealDataTouched`` raised. Real submissions and events stay undeletable throughout.
    Returns what was deleted. Wiping when there is nothing to wipe deletes nothing.
    """
    with transaction.atomic():
        elections = Election.objects.filter(rehearsal=True)
        if date is not None:
            elections = elections.filter(date=date)
        election_ids = list(elections.values_list("id", flat=True))
        dates = sorted(set(elections.values_list("date", flat=True)))
        summary = WipeSummary(dates=dates)
        if not election_ids:
            return summary
        before = _real_counts(), _real_fingerprint()
        in_scope = {"ballot__election_id__in": election_ids}
        summary.deleted["candidacies"] = Candidacy.objects.filter(**in_scope).count()
        # The ballots' locks first, as every writer of a result takes them: a keying in
        # progress finishes before its rows go, and none starts until they have gone.
        summary.deleted["ballots"] = len(
            Ballot.objects.filter(election_id__in=election_ids)
            .select_for_update()
            .values_list("id", flat=True)
        )
        with append_only.deletes_allowed_in_this_transaction(connection):
            # Order matters: events refer to submissions and results, results to their
            # current submission, submissions and results to ballots.
            summary.deleted["events"] = _delete(
                ResultEvent.objects.filter(result__ballot__election_id__in=election_ids)
            )
            summary.deleted["results"] = _delete(Result.objects.filter(**in_scope))
            summary.deleted["submissions"] = _delete(Submission.objects.filter(**in_scope))
        _delete(Ballot.objects.filter(election_id__in=election_ids))
        summary.deleted["elections"] = _delete(Election.objects.filter(id__in=election_ids))
        if users:
            summary.deleted["users"] = _delete_unused_rehearsal_users()
        after = _real_counts(), _real_fingerprint()
        if before != after:
            transaction.set_rollback(True)
            raise RealDataTouched(
                f"the wipe would have changed real data ({before} before, {after} after): "
                "nothing was deleted",
                code="real_data_touched",
            )
    logger.info("wiped rehearsal data: %s", summary.deleted)
    return summary


def _delete(queryset: models.QuerySet) -> int:
    """Delete through the ORM (so CASCADE rules of every app apply); the count of the
    queryset's own model. A PROTECT rule from elsewhere raises ``ApplicationError``."""
    try:
        _, per_model = queryset.delete()
    except models.ProtectedError as exc:
        blockers = sorted({type(obj).__name__ for obj in exc.protected_objects})
        raise ApplicationError(
            f"rehearsal rows are still referred to by {', '.join(blockers)}: nothing was deleted",
            code="rehearsal_protected",
        ) from exc
    return per_model.get(queryset.model._meta.label, 0)


def _delete_unused_rehearsal_users() -> int:
    deleted = 0
    for user in get_user_model().objects.filter(email__iendswith=f"@{REHEARSAL_EMAIL_DOMAIN}"):
        try:
            with transaction.atomic():
                user.delete()
            deleted += 1
        except models.ProtectedError:
            # Still named by real rows (a real submission keyed from a rehearsal account
            # would be a mistake, but its record must stay): the account stays too.
            continue
    return deleted
