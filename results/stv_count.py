"""A single transferable vote count under the Scottish local election rules.

The Scottish Local Government Elections Order 2011 (schedule 1, rules 45–52) counts by the
weighted inclusive Gregory method: a surplus is transferred by passing on every paper the
elected candidate holds, each at ``value × surplus / total`` truncated to five decimal
places; an excluded candidate's papers pass on at the value they arrived with. Papers
with no further continuing preference are non-transferable, and the fractions lost to
truncation count with them, so at every stage the candidates' totals plus the
non-transferable papers equal the valid poll (what ``results.checks`` verifies).

Pure functions on plain data: the rehearsal generator counts its synthetic preference
profiles with ``count_stv`` so the stages it keys are those of a real count, and the tests
check the counter against the published Clackmannanshire 2022 count sheets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

PLACES = Decimal("0.00001")


@dataclass(frozen=True)
class Stage:
    """Running totals after one stage; ``transfers`` is the change since the previous stage."""

    number: int
    totals: dict[int, Decimal]
    transfers: dict[int, Decimal]
    non_transferable: Decimal
    action: str  # "first preferences", "surplus of <id>" or "exclusion of <id>"


@dataclass(frozen=True)
class StvCountResult:
    quota: int
    valid_poll: int
    stages: tuple[Stage, ...]
    elected: tuple[int, ...]  # in order of election


def droop_quota(valid_poll: int, seats: int) -> int:
    return valid_poll // (seats + 1) + 1


def _truncate(value: Decimal) -> Decimal:
    return value.quantize(PLACES, rounding=ROUND_DOWN)


class _Parcel:
    """Identical papers: how many, their current value each, their preferences, and the
    position of the preference currently counted."""

    __slots__ = ("count", "position", "preferences", "value")

    def __init__(self, count: int, preferences: tuple[int, ...], value: Decimal, position: int) -> None:
        self.count = count
        self.preferences = preferences
        self.value = value
        self.position = position

    @property
    def worth(self) -> Decimal:
        return self.value * self.count


def count_stv(
    *,
    candidates: Sequence[int],
    ballots: Sequence[tuple[int, Sequence[int]]],
    seats: int,
    choose_by_lot: Callable[[list[int]], int] | None = None,
) -> StvCountResult:
    """Count ``ballots`` ((number of papers, preferences in order), preferences naming ids
    of ``candidates``) for ``seats`` seats.

    Surpluses are transferred largest first, one per stage; when no surplus is left the
    candidate with the fewest votes is excluded (a tie goes to the earliest stage at which
    the tied candidates differed, then ``choose_by_lot``, default the first tied id). The
    count ends when every seat is filled, or when the continuing candidates are no more
    than the seats left (all of them are then elected without a further stage).
    Raises ``ValueError`` for a paper naming an unknown candidate or a candidate twice.
    """
    if seats < 1:
        raise ValueError("an STV count needs at least one seat")
    known = set(candidates)
    parcels: dict[int, list[_Parcel]] = {cid: [] for cid in candidates}
    valid_poll = 0
    for count, preferences in ballots:
        prefs = tuple(preferences)
        if not prefs or count <= 0:
            continue
        if len(set(prefs)) != len(prefs) or not set(prefs) <= known:
            raise ValueError(f"invalid preferences {prefs!r}")
        parcels[prefs[0]].append(_Parcel(count, prefs, Decimal(1), 0))
        valid_poll += count
    quota = droop_quota(valid_poll, seats)
    totals = {cid: sum((p.worth for p in parcels[cid]), Decimal(0)) for cid in candidates}
    history: list[dict[int, Decimal]] = [dict(totals)]
    stages = [Stage(1, dict(totals), dict(totals), Decimal(0), "first preferences")]
    elected: list[int] = []
    excluded: set[int] = set()
    pending: list[int] = []  # elected, surplus not yet transferred

    def continuing() -> list[int]:
        return [c for c in candidates if c not in excluded and c not in elected]

    def elect_reaching_quota() -> None:
        reached = sorted(
            (c for c in continuing() if totals[c] >= quota), key=lambda c: (-totals[c], candidates.index(c))
        )
        for c in reached:
            if len(elected) < seats:
                elected.append(c)
                pending.append(c)

    def break_tie(tied: list[int], lowest: bool) -> int:
        for earlier in history:
            values = {c: earlier[c] for c in tied}
            target = min(values.values()) if lowest else max(values.values())
            narrowed = [c for c in tied if values[c] == target]
            if len(narrowed) == 1:
                return narrowed[0]
            tied = narrowed
        return choose_by_lot(tied) if choose_by_lot else tied[0]

    def pass_on(moving: list[_Parcel], new_value: Callable[[_Parcel], Decimal]) -> dict[int, Decimal]:
        """Move papers to their next continuing preference; returns what each received.
        Papers with none left are non-transferable: they simply leave the count."""
        received = {c: Decimal(0) for c in candidates}
        still = set(continuing())
        for parcel in moving:
            value = new_value(parcel)
            position = parcel.position + 1
            while position < len(parcel.preferences) and parcel.preferences[position] not in still:
                position += 1
            if position >= len(parcel.preferences):
                continue
            target = parcel.preferences[position]
            parcels[target].append(_Parcel(parcel.count, parcel.preferences, value, position))
            received[target] += value * parcel.count
        return received

    elect_reaching_quota()
    while len(elected) < seats:
        remaining_seats = seats - len(elected)
        if len(continuing()) <= remaining_seats:
            break
        before = dict(totals)
        if pending:
            surplus_of = max(pending, key=lambda c: (totals[c] - quota, -candidates.index(c)))
            top = [c for c in pending if totals[c] == totals[surplus_of]]
            if len(top) > 1:
                surplus_of = break_tie(top, lowest=False)
            pending.remove(surplus_of)
            surplus = totals[surplus_of] - quota
            total = totals[surplus_of]
            moving, parcels[surplus_of] = parcels[surplus_of], []
            received = pass_on(moving, lambda p, s=surplus, t=total: _truncate(p.value * s / t))
            # The elected candidate keeps exactly the quota; fractions lost to truncation
            # and papers with no further preference become non-transferable.
            totals[surplus_of] = Decimal(quota)
            action = f"surplus of {surplus_of}"
            for c, amount in received.items():
                totals[c] += amount
        else:
            standing = continuing()
            low = min(totals[c] for c in standing)
            tied = [c for c in standing if totals[c] == low]
            out = tied[0] if len(tied) == 1 else break_tie(tied, lowest=True)
            excluded.add(out)
            moving, parcels[out] = parcels[out], []
            received = pass_on(moving, lambda p: p.value)
            totals[out] = Decimal(0)
            action = f"exclusion of {out}"
            for c, amount in received.items():
                totals[c] += amount
        history.append(dict(totals))
        stages.append(
            Stage(
                number=len(stages) + 1,
                totals=dict(totals),
                transfers={c: totals[c] - before[c] for c in candidates},
                non_transferable=Decimal(valid_poll) - sum(totals.values()),
                action=action,
            )
        )
        elect_reaching_quota()
    if len(elected) < seats:
        for c in sorted(continuing(), key=lambda c: (-totals[c], candidates.index(c))):
            if len(elected) < seats:
                elected.append(c)
    return StvCountResult(quota=quota, valid_poll=valid_poll, stages=tuple(stages), elected=tuple(elected))

