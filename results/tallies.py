"""Council tallies: who holds every seat before and after a polling day, control, and each
ward's hold or gain; and the national scoreboard of a day.

The seats of a council's wards are replayed from the earliest thing known about them, in
date order (same day: ordinary contests, then by-elections):

- the latest composition an administrator entered before the day (``CouncilComposition``),
  or else nothing (every seat unknown);
- then each stored election on the same wards (the boundary set of the day's ballots):
  - a contest for every seat of a ward (all-out) replaces them all;
  - a contest for fewer seats (thirds, halves) replaces the seats it defends: those an
    administrator named (``DefendedSeat``), else the longest-serving ones, and among seats
    won at the same election those won with the fewest votes (after an all-out election the
    councillor elected with the fewest votes retires first: the usual rule);
  - a by-election fills the seat it defends (chosen the same way) for the rest of that seat's
    term, so the seat keeps its place in the retirement order.

A result counts when its figures stand (provisional, verified, or disputed with its last
accepted figures); a retracted result or a ballot without figures changes no seat. Ids in
the output are party ids (``PP53``) and ``"NOC"``; see docs/live-data.md for the documents.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from councils.models import Council, Ward
from elections.models import Ballot

from .models import CandidateResult, CompositionSeat, DefendedSeat, Result, ResultStatus

NO_OVERALL_CONTROL = "NOC"
COUNTING_STATUSES = (ResultStatus.PROVISIONAL, ResultStatus.VERIFIED, ResultStatus.DISPUTED)


@dataclass(frozen=True)
class Winner:
    party: str
    name: str
    votes: int | None
    candidacy_id: int


@dataclass(frozen=True)
class Seat:
    """One seat's holder. ``party`` None: not known. ``elected_on`` and ``votes`` place the
    seat in the retirement order (a by-election winner keeps the vacated seat's place)."""

    party: str | None
    name: str | None
    elected_on: dt.date | None
    votes: int | None
    order: int
    candidacy_id: int | None = None
    composition_seat_id: int | None = None

    def retirement_key(self) -> tuple[dt.date, int, int]:
        return (self.elected_on or dt.date.min, -1 if self.votes is None else self.votes, self.order)


@dataclass
class BallotOutcome:
    """A contest of the day against the seats it defends."""

    ballot_id: int
    ward_id: int
    declared: bool
    defending: list[Seat]
    winners: list[Winner]
    result: str | None = None  # "hold" | "gain" | None (undeclared, or a previous holder unknown)
    gain_from: str | None = None
    gains: Counter[str] = field(default_factory=Counter)
    losses: Counter[str] = field(default_factory=Counter)


@dataclass
class CouncilTally:
    """A council's seats on one polling day (see the module docstring)."""

    council_id: int
    slug: str
    name: str
    date: dt.date
    total: int
    before: Counter[str]
    control_before: str | None
    seats: Counter[str]
    won: Counter[str]
    gains: Counter[str]
    losses: Counter[str]
    control: str | None
    ballots: int
    declared: int
    up: int
    unknown: int
    outcomes: dict[int, BallotOutcome]
    holders: dict[int, list[tuple[Seat, bool]]]
    not_up: list[int]
    rehearsal: bool = False

    @property
    def majority(self) -> int:
        return self.total // 2 + 1

    def entry(self) -> dict[str, Any]:
        """The council entry of the live documents (docs/live-data.md)."""
        return {
            "name": self.name,
            "declared": self.declared,
            "ballots": self.ballots,
            "seats": _sorted_counts(self.seats),
            "total": self.total,
            "majority": self.majority,
            "control": self.control,
            "gains": _sorted_counts(self.gains),
            "losses": _sorted_counts(self.losses),
            "won": _sorted_counts(self.won),
            "up": self.up,
            "unknown": self.unknown,
            "before": {"seats": _sorted_counts(self.before), "control": self.control_before},
            "rehearsal": self.rehearsal,
        }


def _sorted_counts(counts: Counter[str]) -> dict[str, int]:
    return {party: n for party, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n}


def control_of(seats: Counter[str], *, total: int, settled: bool) -> str | None:
    """The party holding a majority of ``total``; else ``NOC`` when nothing is left to
    decide (``settled``); else None."""
    majority = total // 2 + 1
    for party, n in seats.items():
        if n >= majority:
            return party
    return NO_OVERALL_CONTROL if settled else None


@dataclass
class _Contest:
    ballot_id: int
    ward_id: int
    date: dt.date
    seats_contested: int
    by_election: bool
    rehearsal: bool = False


DAY_BALLOT_FIELDS = (
    "id",
    "ward_id",
    "ward__boundary_set_id",
    "seats_contested",
    "by_election",
    "cancelled",
    "election__council_id",
    "election__council__slug",
    "election__council__name",
    "election__rehearsal",
)


def load_tallies(
    date: dt.date,
    *,
    council_ids: Iterable[int] | None = None,
    day_ballots: list[dict[str, Any]] | None = None,
    counting: set[int] | None = None,
) -> dict[int, CouncilTally]:
    """Tallies of every council with a contest on ``date`` (or only of ``council_ids``),
    keyed by council id. Five queries whatever the number of councils; three when the
    caller has read the day's ballots (``day_ballots``: rows with ``DAY_BALLOT_FIELDS``)
    and which of them have a result that counts (``counting``: ballot ids)."""
    if day_ballots is None:
        day = Ballot.objects.filter(election__date=date)
        if council_ids is not None:
            day = day.filter(election__council_id__in=list(council_ids))
        day_ballots = list(day.values(*DAY_BALLOT_FIELDS))
    day_rows = [row for row in day_ballots if not row["cancelled"]]
    if not day_rows:
        return {}
    if counting is None:
        counting = set(
            Result.objects.filter(
                ballot_id__in=[r["id"] for r in day_rows], status__in=COUNTING_STATUSES
            ).values_list("ballot_id", flat=True)
        )
    boundary_sets = {row["ward__boundary_set_id"] for row in day_rows}
    councils = {
        row["election__council_id"]: {
            "id": row["election__council_id"],
            "slug": row["election__council__slug"],
            "name": row["election__council__name"],
        }
        for row in day_rows
    }
    wards: dict[int, dict[str, Any]] = {
        w["id"]: w
        for w in Ward.objects.filter(boundary_set_id__in=boundary_sets).values(
            "id", "name", "seats", "boundary_set_id"
        )
    }

    # The latest composition stated before the day, per council, with its seats.
    compositions: dict[int, dt.date] = {}
    composition_rows: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in (
        CompositionSeat.objects.filter(
            composition__council_id__in=councils,
            composition__as_of__lt=date,
            ward__boundary_set_id__in=boundary_sets,
        )
        .order_by("composition__council_id", "-composition__as_of", "id")
        .values(
            "id",
            "ward_id",
            "party__party_id",
            "seats",
            "elected_on",
            "councillors",
            "composition__council_id",
            "composition__as_of",
        )
    ):
        council_id = row["composition__council_id"]
        if compositions.setdefault(council_id, row["composition__as_of"]) == row["composition__as_of"]:
            composition_rows[row["ward_id"]].append(row)

    # Every winner on these wards up to the day, with their contest: a contest with no
    # result that counts changes no seat, so the winners are all the history needed.
    winners: dict[int, list[Winner]] = defaultdict(list)
    contests: dict[int, dict[int, _Contest]] = defaultdict(dict)
    for row in CandidateResult.objects.filter(
        result__ballot__ward__boundary_set_id__in=boundary_sets,
        result__ballot__election__date__lte=date,
        result__ballot__cancelled=False,
        result__status__in=COUNTING_STATUSES,
        elected=True,
    ).values(
        "result__ballot_id",
        "candidacy_id",
        "candidacy__person_name",
        "candidacy__party__party_id",
        "votes",
        "result__ballot__ward_id",
        "result__ballot__seats_contested",
        "result__ballot__by_election",
        "result__ballot__election__date",
        "result__ballot__election__council_id",
    ):
        ballot_id = row["result__ballot_id"]
        winners[ballot_id].append(
            Winner(
                party=row["candidacy__party__party_id"],
                name=row["candidacy__person_name"],
                votes=row["votes"],
                candidacy_id=row["candidacy_id"],
            )
        )
        if row["result__ballot__election__date"] < date:
            contests[row["result__ballot__election__council_id"]][ballot_id] = _Contest(
                ballot_id,
                row["result__ballot__ward_id"],
                row["result__ballot__election__date"],
                row["result__ballot__seats_contested"],
                row["result__ballot__by_election"],
            )
    for listed in winners.values():
        listed.sort(key=lambda w: (-(w.votes or 0), w.name))
    overrides: dict[int, list[tuple[int | None, int | None]]] = defaultdict(list)
    for row in (
        DefendedSeat.objects.filter(
            ballot__ward__boundary_set_id__in=boundary_sets, ballot__election__date__lte=date
        )
        .order_by("id")
        .values("ballot_id", "candidacy_id", "composition_seat_id")
    ):
        overrides[row["ballot_id"]].append((row["candidacy_id"], row["composition_seat_id"]))

    today: dict[int, list[_Contest]] = defaultdict(list)
    for row in day_rows:
        today[row["election__council_id"]].append(
            _Contest(
                row["id"],
                row["ward_id"],
                date,
                row["seats_contested"],
                row["by_election"],
                row["election__rehearsal"],
            )
        )

    tallies = {}
    for council_id, council in councils.items():
        council_sets = {
            r["ward__boundary_set_id"] for r in day_rows if r["election__council_id"] == council_id
        }
        council_wards = {wid: w for wid, w in wards.items() if w["boundary_set_id"] in council_sets}
        baseline = compositions.get(council_id)
        tallies[council_id] = _tally_council(
            council=council,
            date=date,
            wards=council_wards,
            composition_seats={wid: composition_rows.get(wid, []) for wid in council_wards}
            if baseline
            else {},
            baseline_date=baseline,
            history=[c for c in contests[council_id].values() if c.ward_id in council_wards],
            today=today[council_id],
            winners=winners,
            declared=counting,
            overrides=overrides,
        )
    return tallies


def council_tally(council: Council, date: dt.date) -> CouncilTally | None:
    """The tally of one council on ``date``, or None if it has no contest that day."""
    return load_tallies(date, council_ids=[council.pk]).get(council.pk)


def _tally_council(
    *,
    council: dict[str, Any],
    date: dt.date,
    wards: dict[int, dict[str, Any]],
    composition_seats: dict[int, list[dict[str, Any]]],
    baseline_date: dt.date | None,
    history: list[_Contest],
    today: list[_Contest],
    winners: dict[int, list[Winner]],
    declared: set[int],
    overrides: dict[int, list[tuple[int | None, int | None]]],
) -> CouncilTally:
    counter = iter(range(1_000_000_000))
    seats: dict[int, list[Seat]] = {}
    for ward_id, ward in wards.items():
        known: list[Seat] = []
        for row in composition_seats.get(ward_id, []):
            for _ in range(row["seats"]):
                known.append(
                    Seat(
                        party=row["party__party_id"],
                        name=row["councillors"] or None,
                        elected_on=row["elected_on"],
                        votes=None,
                        order=next(counter),
                        composition_seat_id=row["id"],
                    )
                )
        known = known[: ward["seats"]]
        unknown = [Seat(None, None, None, None, next(counter)) for _ in range(ward["seats"] - len(known))]
        seats[ward_id] = unknown + known

    def chronological(contest: _Contest) -> tuple[dt.date, bool, int]:
        return (contest.date, contest.by_election, contest.ballot_id)

    for contest in sorted(history, key=chronological):
        if baseline_date is not None and contest.date <= baseline_date:
            continue
        elected = winners.get(contest.ballot_id, [])
        if elected:
            _apply(seats, contest, elected, wards, overrides.get(contest.ballot_id, []), counter)

    before = Counter(s.party for ward_seats in seats.values() for s in ward_seats if s.party)
    total = sum(len(ward_seats) for ward_seats in seats.values())
    unknown_before = sum(1 for ward_seats in seats.values() for s in ward_seats if s.party is None)
    control_before = control_of(before, total=total, settled=unknown_before == 0) if total else None
    holders_before = {ward_id: list(ward_seats) for ward_id, ward_seats in seats.items()}

    outcomes: dict[int, BallotOutcome] = {}
    up_seats: set[int] = set()  # order numbers of seats defended by undeclared contests
    for contest in sorted(today, key=chronological):
        is_declared = contest.ballot_id in declared and bool(winners.get(contest.ballot_id))
        elected = winners.get(contest.ballot_id, []) if is_declared else []
        # A seat still up in an undeclared contest of the day is not defended twice.
        defending = _defending(seats, contest, wards, overrides.get(contest.ballot_id, []), exclude=up_seats)
        outcome = BallotOutcome(contest.ballot_id, contest.ward_id, is_declared, defending, elected)
        if is_declared:
            _apply(seats, contest, elected, wards, overrides.get(contest.ballot_id, []), counter)
            previous = [s.party for s in defending]
            if previous and None not in previous:
                outcome.gains = Counter(w.party for w in elected) - Counter(previous)  # type: ignore[arg-type]
                outcome.losses = Counter(previous) - Counter(w.party for w in elected)  # type: ignore[arg-type]
                outcome.result = "gain" if outcome.gains else "hold"
                if outcome.losses:
                    outcome.gain_from = sorted(outcome.losses.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        else:
            up_seats.update(s.order for s in defending)
        outcomes[contest.ballot_id] = outcome

    current = Counter(
        s.party for ward_seats in seats.values() for s in ward_seats if s.party and s.order not in up_seats
    )
    unknown_after = sum(
        1 for ward_seats in seats.values() for s in ward_seats if s.party is None and s.order not in up_seats
    )
    ballots = len(today)
    declared_count = sum(1 for o in outcomes.values() if o.declared)
    total = sum(len(ward_seats) for ward_seats in seats.values())
    gains: Counter[str] = Counter()
    losses: Counter[str] = Counter()
    for outcome in outcomes.values():
        gains.update(outcome.gains)
        losses.update(outcome.losses)
    defended_orders = {s.order for o in outcomes.values() for s in o.defending}
    contested_wards = {c.ward_id for c in today}
    return CouncilTally(
        council_id=council["id"],
        slug=council["slug"],
        name=council["name"],
        date=date,
        total=total,
        before=before,
        control_before=control_before,
        seats=current,
        won=Counter(w.party for o in outcomes.values() for w in o.winners),
        gains=gains,
        losses=losses,
        control=control_of(current, total=total, settled=declared_count == ballots and unknown_after == 0),
        ballots=ballots,
        declared=declared_count,
        up=sum(c.seats_contested for c in today),
        unknown=unknown_after,
        outcomes=outcomes,
        holders={
            ward_id: [(s, s.order in defended_orders) for s in ward_seats]
            for ward_id, ward_seats in holders_before.items()
        },
        not_up=sorted(
            (wid for wid in wards if wid not in contested_wards), key=lambda wid: wards[wid]["name"]
        ),
        rehearsal=any(c.rehearsal for c in today),
    )


def _is_all_out(contest: _Contest, ward_seats: int) -> bool:
    return not contest.by_election and contest.seats_contested >= ward_seats


def _defending(
    seats: dict[int, list[Seat]],
    contest: _Contest,
    wards: dict[int, dict[str, Any]],
    named: list[tuple[int | None, int | None]],
    *,
    exclude: set[int] | frozenset[int] = frozenset(),
) -> list[Seat]:
    """The seats ``contest`` defends, in retirement order (see the module docstring)."""
    ward_seats = [s for s in seats.get(contest.ward_id, []) if s.order not in exclude]
    if _is_all_out(contest, wards[contest.ward_id]["seats"]):
        return sorted(ward_seats, key=Seat.retirement_key)
    chosen: list[Seat] = []
    for candidacy_id, composition_seat_id in named:
        for seat in ward_seats:
            if seat in chosen:
                continue
            if (candidacy_id is not None and seat.candidacy_id == candidacy_id) or (
                composition_seat_id is not None and seat.composition_seat_id == composition_seat_id
            ):
                chosen.append(seat)
                break
    # A named seat that no longer exists (filled since) falls back to the usual rule.
    for seat in sorted(ward_seats, key=Seat.retirement_key):
        if len(chosen) >= contest.seats_contested:
            break
        if seat not in chosen:
            chosen.append(seat)
    return chosen[: contest.seats_contested]


def _apply(
    seats: dict[int, list[Seat]],
    contest: _Contest,
    elected: list[Winner],
    wards: dict[int, dict[str, Any]],
    named: list[tuple[int | None, int | None]],
    counter: Any,
) -> None:
    """Replace the seats ``contest`` defends with its winners (largest vote first)."""
    ward_seats = seats.setdefault(contest.ward_id, [])
    if _is_all_out(contest, wards[contest.ward_id]["seats"]):
        seats[contest.ward_id] = [
            Seat(w.party, w.name, contest.date, w.votes, next(counter), candidacy_id=w.candidacy_id)
            for w in elected
        ]
        return
    defending = _defending(seats, contest, wards, named)
    replaced = {id(s) for s in defending[: len(elected)]}
    kept = [s for s in ward_seats if id(s) not in replaced]
    new = []
    for seat, winner in zip(defending, elected, strict=False):
        if contest.by_election:
            # The by-election winner serves the rest of the vacated seat's term.
            new.append(
                Seat(
                    winner.party,
                    winner.name,
                    seat.elected_on,
                    seat.votes,
                    seat.order,
                    candidacy_id=winner.candidacy_id,
                )
            )
        else:
            new.append(
                Seat(
                    winner.party,
                    winner.name,
                    contest.date,
                    winner.votes,
                    next(counter),
                    candidacy_id=winner.candidacy_id,
                )
            )
    seats[contest.ward_id] = kept + new


def national_scoreboard(councils: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The day's scoreboard from its council entries (``CouncilTally.entry()`` by slug)."""
    won: Counter[str] = Counter()
    change: Counter[str] = Counter()
    gained: Counter[str] = Counter()
    lost: Counter[str] = Counter()
    declared = 0
    for entry in councils.values():
        won.update(entry["won"])
        change.update(entry["gains"])
        change.subtract(entry["losses"])
        if entry["ballots"] and entry["declared"] == entry["ballots"]:
            declared += 1
            before, after = entry["before"]["control"], entry["control"]
            if before is not None and after is not None and before != after:
                gained[after] += 1
                lost[before] += 1
    parties = sorted(set(won) | {p for p, n in change.items() if n}, key=lambda p: (-won[p], -change[p], p))
    return {
        "councils_declared": declared,
        "councils": len(councils),
        "seats": {p: {"won": won[p], "change": change[p]} for p in parties},
        "councils_gained": _sorted_counts(gained),
        "councils_lost": _sorted_counts(lost),
    }
