"""Who may do what, for which ballots. Every view and the submit API ask here.

- ``can_key``: correspondents of the ballot's election (and administrators);
- ``can_review``: reviewers of the ballot's council (all its elections or this one), national
  reviewers, administrators;
- ``can_see``: either of those. A ballot a user cannot see is answered as not found (404),
  the same for a stored ballot of another council as for a guessed id, so ids reveal nothing;
  a ballot they can see but an action their role does not allow is 403. Both are logged.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet, Value

from elections.models import Ballot, Election

from .models import Assignment, Role


def is_administrator(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and user.is_superuser)


def _active(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def _keying_assignments(user: Any) -> QuerySet[Assignment]:
    return Assignment.objects.filter(user=user, role=Role.CORRESPONDENT)


def keyable_elections(user: Any) -> QuerySet[Election]:
    """The elections whose ballots the user may key."""
    if is_administrator(user):
        return Election.objects.all()
    if not _active(user):
        return Election.objects.none()
    return Election.objects.filter(pk__in=_keying_assignments(user).values("election_id"))


def _review_filter(user: Any) -> Q | None:
    """A filter on ``Ballot`` for the user's reviewer scope; None for national scope."""
    scopes = list(
        Assignment.objects.filter(user=user, role=Role.REVIEWER).values_list("council_id", "election_id")
    )
    if any(council is None for council, _ in scopes):
        return None
    condition = Q(pk__in=[])
    for council, election in scopes:
        condition |= Q(election_id=election) if election else Q(election__council_id=council)
    return condition


def reviewable_ballots(user: Any) -> QuerySet[Ballot]:
    if is_administrator(user):
        return Ballot.objects.all()
    if not _active(user):
        return Ballot.objects.none()
    condition = _review_filter(user)
    return Ballot.objects.all() if condition is None else Ballot.objects.filter(condition)


def keyable_ballots(user: Any) -> QuerySet[Ballot]:
    return Ballot.objects.filter(election__in=keyable_elections(user))


def is_reviewer(user: Any) -> bool:
    return is_administrator(user) or (
        _active(user) and Assignment.objects.filter(user=user, role=Role.REVIEWER).exists()
    )


def can_key(user: Any, ballot: Ballot) -> bool:
    if is_administrator(user):
        return True
    return _active(user) and _keying_assignments(user).filter(election_id=ballot.election_id).exists()


def with_can_key(ballots: QuerySet[Ballot], user: Any) -> QuerySet[Ballot]:
    """``ballots`` with a ``can_key`` attribute (``can_key``'s answer for each), so a view
    reads a ballot and the user's right to key it in one query."""
    if is_administrator(user):
        return ballots.annotate(can_key=Value(True))
    if not _active(user):
        return ballots.annotate(can_key=Value(False))
    return ballots.annotate(
        can_key=Exists(_keying_assignments(user).filter(election_id=OuterRef("election_id")))
    )


def can_review(user: Any, ballot: Ballot) -> bool:
    if is_administrator(user):
        return True
    if not _active(user):
        return False
    return Assignment.objects.filter(user=user, role=Role.REVIEWER).filter(
        Q(council__isnull=True)
        | Q(council_id=ballot.election.council_id, election__isnull=True)
        | Q(election_id=ballot.election_id)
    ).exists()


def can_see(user: Any, ballot: Ballot) -> bool:
    return can_key(user, ballot) or can_review(user, ballot)
