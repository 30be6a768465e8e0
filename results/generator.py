"""A synthetic national election night for rehearsals, deterministic from a seed.

``plan_night`` reads the wards stored (the real national boundaries once
``import_boundaries`` has loaded them) and draws, from the seed alone, which councils hold
elections, each ward's contest (one to three seats; STV in Scottish and Northern Irish
councils, first past the post elsewhere; a few uncontested wards and by-elections), the
candidates (plausible names, the parties of the council's nation from the stored register),
the figures (electorate, turnout, rejected papers, votes that pass every check of
``results.checks``; STV stages from a real count of a synthetic preference profile by
``results.stv_count``) and when each ward declares. The plan is plain data: the same seed
and the same stored wards give the same plan, byte for byte (``NightPlan.fingerprint``).

``store_night`` creates the plan's elections (``rehearsal=True``), ballots and candidacies
through ``elections.services``; figures are never written here: ``results.replay`` keys
them through ``results.services``, as correspondents would.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import orjson
from django.db import transaction
from django.db.models import Q

from config.errors import ApplicationError
from councils.models import Council, Nation, Ward
from elections import ids
from elections.models import INDEPENDENT_PARTY_ID, Ballot, Candidacy, Election, Party, VotingSystem
from elections.services import (
    NewBallot,
    create_ballots,
    create_candidacies,
    upsert_election,
    upsert_party,
)

from .checks import BallotSpec, check_figures, derive_fptp_winners
from .figures import REJECTED_HEADINGS, CandidateFigures, ResultFigures, StvStageFigures
from .stv_count import count_stv

DEFAULT_DATE = dt.date(2027, 5, 6)
DEFAULT_COUNCILS = 150
PLAN_FORMAT = 1


@dataclass(frozen=True)
class PartyProfile:
    """A party as the generator uses it: stored by id if the register has it, else created
    with this name and colour. ``weight`` is its national strength, ``stands`` the share of
    wards where it fields candidates."""

    party_id: str
    name: str
    short: str
    colour: str
    weight: float
    stands: float


_LAB = PartyProfile("PP53", "Labour Party", "Lab", "#E4003B", 0.30, 0.97)
_CON = PartyProfile("PP52", "Conservative and Unionist Party", "Con", "#0087DC", 0.26, 0.97)
_LD = PartyProfile("PP90", "Liberal Democrats", "LD", "#FAA61A", 0.15, 0.85)
_GREEN = PartyProfile("PP63", "Green Party", "Green", "#00A85A", 0.10, 0.80)
_REFORM = PartyProfile("PP7931", "Reform UK", "Reform", "#00BED6", 0.14, 0.75)
_IND = PartyProfile(INDEPENDENT_PARTY_ID, "Independent", "Ind", "#CCA7C6", 0.05, 0.30)

PARTIES_BY_NATION: dict[str, tuple[PartyProfile, ...]] = {
    Nation.ENGLAND: (_LAB, _CON, _LD, _GREEN, _REFORM, _IND),
    Nation.WALES: (
        PartyProfile("PP53", "Labour Party", "Lab", "#E4003B", 0.32, 0.97),
        PartyProfile("PP77", "Plaid Cymru - The Party of Wales", "PC", "#4FBA7C", 0.20, 0.85),
        PartyProfile("PP52", "Conservative and Unionist Party", "Con", "#0087DC", 0.18, 0.90),
        PartyProfile("PP90", "Liberal Democrats", "LD", "#FAA61A", 0.08, 0.60),
        PartyProfile("PP63", "Green Party", "Green", "#00A85A", 0.05, 0.50),
        PartyProfile("PP7931", "Reform UK", "Reform", "#00BED6", 0.10, 0.60),
        _IND,
    ),
    Nation.SCOTLAND: (
        PartyProfile("PP102", "Scottish National Party (SNP)", "SNP", "#EBDB1C", 0.33, 0.99),
        PartyProfile("PP53", "Labour Party", "Lab", "#E4003B", 0.22, 0.95),
        PartyProfile("PP52", "Conservative and Unionist Party", "Con", "#0087DC", 0.18, 0.95),
        PartyProfile("PP90", "Liberal Democrats", "LD", "#FAA61A", 0.09, 0.75),
        PartyProfile("PP130", "Scottish Green Party", "SGP", "#00A85A", 0.08, 0.70),
        PartyProfile("PP12700", "Alba Party", "Alba", "#0015FF", 0.02, 0.25),
        _IND,
    ),
    Nation.NORTHERN_IRELAND: (
        PartyProfile("PP39", "Sinn Féin", "SF", "#326760", 0.30, 0.95),
        PartyProfile("PP70", "Democratic Unionist Party", "DUP", "#D46A4C", 0.24, 0.95),
        PartyProfile("PP103", "Alliance Party of Northern Ireland", "APNI", "#F6CB2F", 0.15, 0.85),
        PartyProfile("PP83", "Ulster Unionist Party", "UUP", "#48A5EE", 0.12, 0.85),
        PartyProfile("PP55", "Social Democratic and Labour Party", "SDLP", "#2AA82C", 0.10, 0.75),
        _IND,
    ),
}

_FORENAMES = (
    "Aaron", "Abigail", "Adam", "Aisha", "Alan", "Alison", "Amanda", "Amir", "Andrew", "Angela",
    "Anna", "Anthony", "Barbara", "Ben", "Bernadette", "Brian", "Carol", "Catherine", "Charlotte",
    "Chloe", "Chris", "Claire", "Colin", "Craig", "Daniel", "David", "Deborah", "Declan", "Dylan",
    "Eileen", "Eleanor", "Emily", "Emma", "Eoin", "Fatima", "Fiona", "Gareth", "Gary", "Gemma",
    "Graham", "Hannah", "Harjit", "Helen", "Iain", "Imran", "Isla", "Jack", "James", "Jane",
    "Jennifer", "Joanne", "John", "Jonathan", "Julie", "Karen", "Kate", "Keith", "Kevin", "Laura",
    "Lee", "Linda", "Lisa", "Lucy", "Mairead", "Margaret", "Mark", "Martin", "Mary", "Matthew",
    "Michael", "Mohammed", "Nadia", "Natalie", "Neil", "Nicola", "Niamh", "Oliver", "Owen",
    "Patricia", "Paul", "Peter", "Priya", "Rachel", "Rebecca", "Rhian", "Richard", "Robert",
    "Ruth", "Sadia", "Samuel", "Sarah", "Sean", "Sharon", "Simon", "Sophie", "Stephen", "Steven",
    "Stuart", "Susan", "Thomas", "Tracey", "Victoria", "William", "Yasmin", "Zoe",
)
_SURNAMES = (
    "Ahmed", "Ali", "Allen", "Anderson", "Baker", "Begum", "Bell", "Bennett", "Brown", "Campbell",
    "Carter", "Chapman", "Clark", "Clarke", "Collins", "Cook", "Cooper", "Cox", "Davies", "Davis",
    "Doherty", "Edwards", "Ellis", "Evans", "Fraser", "Gallagher", "Gill", "Graham", "Gray",
    "Green", "Griffiths", "Hall", "Harris", "Harrison", "Hughes", "Hussain", "Jackson", "James",
    "Jenkins", "Johnson", "Jones", "Kaur", "Kelly", "Kennedy", "Khan", "King", "Lewis",
    "Lloyd", "MacDonald", "Marshall", "Martin", "McCann", "McLaughlin", "Mitchell", "Moore",
    "Morgan", "Morris", "Murphy", "Murray", "O'Neill", "Owen", "Parker", "Patel", "Phillips",
    "Powell", "Price", "Quinn", "Reid", "Richards", "Roberts", "Robertson", "Robinson", "Rogers",
    "Ross", "Scott", "Shah", "Shaw", "Simpson", "Singh", "Smith", "Stewart", "Taylor", "Thomas",
    "Thompson", "Turner", "Walker", "Ward", "Watson", "White", "Williams", "Wilson", "Wood",
    "Wright", "Young",
)

# Minutes after polls close (22:00) when counts start. Overnight counts run from about
# 23:00; others verify overnight and count on Friday from about 10:00. Scottish councils
# count on the Friday.
_OVERNIGHT_START = (60, 240)
_DAYTIME_START = (720, 960)
_BY_ELECTION_DECLARE = (75, 200)


@dataclass(frozen=True)
class WardRef:
    """What the plan needs of a ward."""

    pk: int
    slug: str
    name: str


@dataclass(frozen=True)
class PlannedCandidate:
    name: str
    party_id: str
    votes: int | None
    elected: bool


@dataclass(frozen=True)
class PlannedStage:
    """Running totals by candidate position (``PlannedBallot.candidates`` index)."""

    number: int
    totals: tuple[str, ...]
    non_transferable: str


@dataclass(frozen=True)
class PlannedBallot:
    ballot_paper_id: str
    election_id: str
    council: str
    ward_id: int
    ward_name: str
    seats: int
    voting_system: str
    by_election: bool
    uncontested: bool
    candidates: tuple[PlannedCandidate, ...]
    electorate: int | None
    ballot_papers_counted: int | None
    valid_papers: int | None
    rejected_total: int | None
    rejected: dict[str, int] | None
    turnout_pct: str | None
    stv_quota: int | None = None
    stages: tuple[PlannedStage, ...] = ()
    count_starts: int = 0  # minutes after the close of poll
    declares: int = 0
    recount: bool = False

    def figures(
        self, candidacy_ids: Sequence[int], *, declared_at: dt.datetime | None = None
    ) -> ResultFigures:
        """The ballot's figures with ``candidacy_ids[i]`` for ``candidates[i]``."""
        if self.uncontested:
            return ResultFigures(
                candidates=tuple(CandidateFigures(cid, None, elected=True) for cid in candidacy_ids),
                declared_at=declared_at,
            )
        stages = tuple(
            StvStageFigures(
                number=stage.number,
                totals={cid: Decimal(t) for cid, t in zip(candidacy_ids, stage.totals, strict=True)},
                transfers={
                    cid: Decimal(t) - Decimal(before)
                    for cid, t, before in zip(candidacy_ids, stage.totals, previous, strict=True)
                },
                non_transferable=Decimal(stage.non_transferable),
            )
            for stage, previous in zip(
                self.stages,
                [tuple(str(c.votes) for c in self.candidates), *(s.totals for s in self.stages)],
                strict=False,
            )
        )
        stv = self.voting_system == VotingSystem.STV
        return ResultFigures(
            candidates=tuple(
                CandidateFigures(cid, c.votes, elected=c.elected if stv else None)
                for cid, c in zip(candidacy_ids, self.candidates, strict=True)
            ),
            electorate=self.electorate,
            ballot_papers_counted=self.ballot_papers_counted,
            valid_papers=self.valid_papers,
            rejected_total=self.rejected_total,
            rejected=dict(self.rejected or {}),
            turnout_pct=Decimal(self.turnout_pct) if self.turnout_pct is not None else None,
            declared_at=declared_at,
            stv_quota=self.stv_quota,
            stv_valid_poll=self.valid_papers if stv else None,
            stv_stages=stages,
        )

    def spec(self) -> BallotSpec:
        """The checks' view of the ballot, with candidate positions as candidacy ids."""
        return BallotSpec(
            seats=self.seats, voting_system=self.voting_system,
            candidacy_names={i: c.name for i, c in enumerate(self.candidates)},
            uncontested=self.uncontested,
        )


@dataclass(frozen=True)
class PlannedCouncil:
    slug: str
    name: str
    election_id: str
    kind: str  # "all-out", "thirds" or "by-elections"
    nation: str


@dataclass(frozen=True)
class NightPlan:
    seed: int
    date: dt.date
    councils: tuple[PlannedCouncil, ...]
    ballots: tuple[PlannedBallot, ...]
    parties: tuple[PartyProfile, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return {"format": PLAN_FORMAT, **asdict(self), "date": self.date.isoformat()}

    def to_json(self) -> bytes:
        return orjson.dumps(self.as_dict(), option=orjson.OPT_SORT_KEYS)

    def fingerprint(self) -> str:
        return hashlib.sha256(self.to_json()).hexdigest()

    @classmethod
    def from_json(cls, data: bytes | str) -> NightPlan:
        raw = orjson.loads(data)
        if raw.get("format") != PLAN_FORMAT:
            raise ApplicationError(
                f"not a night plan of format {PLAN_FORMAT}", code="invalid", field="format"
            )
        return cls(
            seed=raw["seed"],
            date=dt.date.fromisoformat(raw["date"]),
            councils=tuple(PlannedCouncil(**c) for c in raw["councils"]),
            parties=tuple(PartyProfile(**p) for p in raw["parties"]),
            ballots=tuple(
                PlannedBallot(
                    **{
                        **b,
                        "candidates": tuple(PlannedCandidate(**c) for c in b["candidates"]),
                        "stages": tuple(
                            PlannedStage(s["number"], tuple(s["totals"]), s["non_transferable"])
                            for s in b["stages"]
                        ),
                    }
                )
                for b in raw["ballots"]
            ),
        )

    @property
    def by_council(self) -> dict[str, list[PlannedBallot]]:
        out: dict[str, list[PlannedBallot]] = {}
        for b in self.ballots:
            out.setdefault(b.council, []).append(b)
        return out


# -- planning -------------------------------------------------------------------------------


def plan_night(
    *,
    seed: int,
    date: dt.date = DEFAULT_DATE,
    councils: int = DEFAULT_COUNCILS,
    by_election_councils: int | None = None,
    uncontested_share: float = 0.015,
    only: Sequence[str] = (),
) -> NightPlan:
    """Draw a night from ``seed`` over the councils and wards stored.

    ``councils`` councils hold ordinary elections (all of them if fewer are stored; a
    tenth, at least one when any is stored, are Scottish or Northern Irish councils
    counting by STV); ``by_election_councils`` more (default a tenth of ``councils``) hold
    only one or two by-elections. ``only`` restricts the draw to these council slugs.
    Councils that already have a non-rehearsal election on ``date`` are left out. Raises
    ``ApplicationError`` when no wards are stored.
    """
    # Not for security: a simulation that must repeat exactly from its seed.
    rng = random.Random(f"night:{seed}")  # noqa: S311
    taken = set(
        Election.objects.filter(date=date, rehearsal=False).values_list("council__slug", flat=True)
    )
    pool = [
        c for c in Council.objects.order_by("gss", "slug")
        if c.slug not in taken and (not only or c.slug in only)
    ]
    wards_of: dict[int, list[WardRef]] = {}
    # One query for every council's wards in force on the date, without their geometry.
    in_force = Ward.objects.filter(boundary_set__valid_from__lte=date).filter(
        Q(boundary_set__valid_to__isnull=True) | Q(boundary_set__valid_to__gt=date)
    )
    for pk, slug, name, council_id in in_force.order_by("gss", "slug").values_list(
        "pk", "slug", "name", "boundary_set__council_id"
    ):
        wards_of.setdefault(council_id, []).append(WardRef(pk=pk, slug=slug, name=name))
    pool = [c for c in pool if wards_of.get(c.pk)]
    if not pool:
        raise ApplicationError(
            "no wards are stored: import boundaries first (import_boundaries)", code="no_wards",
            field="councils",
        )
    stv_pool = [c for c in pool if c.nation in (Nation.SCOTLAND, Nation.NORTHERN_IRELAND)]
    fptp_pool = [c for c in pool if c not in stv_pool]
    wanted = min(councils, len(pool))
    n_stv = min(len(stv_pool), max(1 if stv_pool else 0, round(wanted * 0.1)))
    n_fptp = min(len(fptp_pool), wanted - n_stv)
    n_stv = min(len(stv_pool), wanted - n_fptp)
    chosen = rng.sample(stv_pool, n_stv) + rng.sample(fptp_pool, n_fptp)
    rest = [c for c in pool if c not in chosen]
    n_by = min(len(rest), max(1, wanted // 10) if by_election_councils is None else by_election_councils)
    by_only = rng.sample(rest, n_by)

    planned_councils: list[PlannedCouncil] = []
    ballots: list[PlannedBallot] = []
    used_parties: dict[str, PartyProfile] = {}
    for council in sorted(chosen + by_only, key=lambda c: c.gss or c.slug):
        crng = random.Random(f"night:{seed}:{council.slug}")  # noqa: S311
        if council in by_only:
            kind = "by-elections"
        elif council.nation in (Nation.SCOTLAND, Nation.NORTHERN_IRELAND, Nation.WALES):
            kind = "all-out"
        else:
            kind = "all-out" if crng.random() < 0.45 else "thirds"
        election_id = ids.build_election_id(council.slug, date)
        planned_councils.append(
            PlannedCouncil(slug=council.slug, name=council.name, election_id=election_id, kind=kind,
                           nation=council.nation)
        )
        council_ballots = _plan_council(
            crng, council=council, wards=wards_of[council.pk], kind=kind, date=date,
            election_id=election_id, uncontested_share=uncontested_share,
        )
        for b in council_ballots:
            for c in b.candidates:
                profile = _profile(council.nation, c.party_id)
                used_parties.setdefault(profile.party_id, profile)
        ballots.extend(council_ballots)
    return NightPlan(
        seed=seed, date=date, councils=tuple(planned_councils), ballots=tuple(ballots),
        parties=tuple(sorted(used_parties.values(), key=lambda p: p.party_id)),
    )


def _profile(nation: str, party_id: str) -> PartyProfile:
    for p in PARTIES_BY_NATION[nation]:
        if p.party_id == party_id:
            return p
    raise KeyError(party_id)


def _plan_council(
    rng: random.Random, *, council: Council, wards: list[WardRef], kind: str, date: dt.date,
    election_id: str, uncontested_share: float,
) -> list[PlannedBallot]:
    """One council's ballots and their declaration times."""
    parties = PARTIES_BY_NATION[council.nation]
    stv = council.nation in (Nation.SCOTLAND, Nation.NORTHERN_IRELAND)
    # The council's political colour: national strengths, locally skewed.
    strength = {p.party_id: p.weight * math.exp(rng.gauss(0, 0.45)) for p in parties}
    contests: list[tuple[WardRef, bool, int]] = []  # (ward, by-election?, seats)
    if kind == "by-elections":
        for ward in rng.sample(wards, min(len(wards), rng.choice((1, 1, 2)))):
            contests.append((ward, True, 1))
    else:
        for ward in wards:
            if kind == "thirds":
                seats = 1
            elif stv:
                seats = rng.choice((2, 3, 3, 3))
            else:
                seats = rng.choice((1, 1, 2, 2, 3, 3, 3))
            contests.append((ward, False, seats))
        if kind == "thirds" and rng.random() < 0.25:
            # A vacancy filled on the same day: a by-election beside the ordinary contest.
            contests.append((rng.choice(wards), True, 1))

    order = list(range(len(contests)))
    rng.shuffle(order)
    times = schedule_count(
        rng, nation=council.nation, contests=len(order), by_elections_only=kind == "by-elections"
    )
    ballots: list[PlannedBallot] = []
    for index, (starts, declares) in zip(order, times, strict=True):
        ward, by_election, seats = contests[index]
        ballot_id = ids.build_ballot_id(council.slug, ward.slug, date, by_election=by_election)
        uncontested = not by_election and rng.random() < uncontested_share
        ballots.append(
            _plan_ballot(
                rng, ballot_paper_id=ballot_id, election_id=election_id, council=council, ward=ward,
                seats=seats, stv=stv, by_election=by_election, uncontested=uncontested,
                parties=parties, strength=strength, count_starts=starts, declares=declares,
            )
        )
    ballots.sort(key=lambda b: (b.declares, b.ballot_paper_id))
    return ballots


def schedule_count(
    rng: random.Random, *, nation: str, contests: int, by_elections_only: bool = False
) -> list[tuple[int, int]]:
    """When one council's count starts and each of its ``contests`` declares, in minutes
    after the close of poll (22:00), in declaration order.

    Most English and Welsh councils count overnight, from about 23:00; the others, and every
    Scottish and Northern Irish council, count on the Friday from about 10:00. Small counts
    start earlier, so the first declarations come from small councils; declarations then
    follow every three to nine minutes. A council holding only by-elections declares each
    early in the night, as such counts do.
    """
    if by_elections_only:
        out = []
        for _ in range(contests):
            declares = int(rng.uniform(*_BY_ELECTION_DECLARE))
            out.append((declares - int(rng.uniform(20, 60)), declares))
        return sorted(out, key=lambda t: t[1])
    overnight = nation in (Nation.ENGLAND, Nation.WALES) and rng.random() < 0.6
    size_delay = min(90, contests * 1.5)
    window = _OVERNIGHT_START if overnight else _DAYTIME_START
    starts = int(rng.uniform(*window) + size_delay * rng.uniform(0.3, 1.0))
    pace = rng.uniform(3, 9)
    return [
        (starts, int(starts + 25 + position * pace + rng.uniform(0, pace))) for position in range(contests)
    ]


def _names(rng: random.Random, n: int) -> list[str]:
    names: set[str] = set()
    out = []
    while len(out) < n:
        name = f"{rng.choice(_FORENAMES)} {rng.choice(_SURNAMES)}"
        if name not in names:
            names.add(name)
            out.append(name)
    return out


def _plan_ballot(
    rng: random.Random, *, ballot_paper_id: str, election_id: str, council: Council, ward: WardRef,
    seats: int, stv: bool, by_election: bool, uncontested: bool, parties: Sequence[PartyProfile],
    strength: dict[str, float], count_starts: int, declares: int,
) -> PlannedBallot:
    # Who stands: each party by its habit; in multi-member wards a party fields up to one
    # candidate per seat (fewer under STV, where splitting the vote costs seats).
    slate: list[PartyProfile] = []
    for p in parties:
        if rng.random() < p.stands:
            if p.party_id == INDEPENDENT_PARTY_ID:
                fielded = 1 if rng.random() < 0.8 else 2
            elif stv:
                fielded = 1 if strength[p.party_id] < 0.2 or seats == 2 else rng.choice((1, 2))
            else:
                fielded = seats if rng.random() < 0.8 else rng.randint(1, seats)
            slate.extend([p] * fielded)
    if uncontested:
        slate = sorted(parties, key=lambda p: -strength[p.party_id])[:1] * seats
    while len(slate) <= seats and not uncontested:
        slate.append(rng.choice(parties))
    names = _names(rng, len(slate))
    # Each candidate's pull: the party's local strength, varied by ward and by candidate.
    ward_mood = {p.party_id: math.exp(rng.gauss(0, 0.35)) for p in parties}
    pulls = [
        strength[p.party_id] * ward_mood[p.party_id] * (0.6 if p.party_id == INDEPENDENT_PARTY_ID else 1.0)
        for p in slate
    ]
    place = {
        "ballot_paper_id": ballot_paper_id, "election_id": election_id, "council": council.slug,
        "ward_id": ward.pk, "ward_name": ward.name, "seats": seats,
        "voting_system": VotingSystem.STV if stv else VotingSystem.FPTP, "by_election": by_election,
        "count_starts": count_starts, "declares": declares,
    }
    if uncontested:
        return PlannedBallot(
            **place, uncontested=True,
            candidates=tuple(
                PlannedCandidate(n, p.party_id, None, True) for n, p in zip(names, slate, strict=True)
            ),
            electorate=None, ballot_papers_counted=None, valid_papers=None, rejected_total=None,
            rejected=None, turnout_pct=None,
        )
    size = rng.uniform(2500, 6000) * (1 + 0.8 * (seats - 1))
    electorate = int(size * (1.6 if stv else 1.0))
    turnout = rng.uniform(0.15, 0.32) if by_election else rng.uniform(0.22, 0.48)
    counted = max(seats * 40, int(electorate * turnout))
    rejected_total = max(1, int(counted * rng.uniform(0.002, 0.012)))
    valid = counted - rejected_total
    rejected = None
    if rng.random() < 0.5:
        rejected = _split(rng, rejected_total, len(REJECTED_HEADINGS))
    turnout_pct = (Decimal(counted * 100) / Decimal(electorate)).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )
    common = {
        **place, "uncontested": False, "electorate": electorate, "ballot_papers_counted": counted,
        "valid_papers": valid, "rejected_total": rejected_total,
        "rejected": dict(zip(REJECTED_HEADINGS, rejected, strict=True)) if rejected else None,
        "turnout_pct": str(turnout_pct), "recount": rng.random() < 0.02,
    }
    if stv:
        return _plan_stv(rng, common=common, names=names, slate=slate, pulls=pulls, valid=valid, seats=seats)
    votes = _fptp_votes(rng, pulls=pulls, slate=slate, valid=valid, seats=seats)
    elected, _, _ = derive_fptp_winners(dict(enumerate(votes)), seats, set())
    candidates = tuple(
        PlannedCandidate(n, p.party_id, v, i in elected)
        for i, (n, p, v) in enumerate(zip(names, slate, votes, strict=True))
    )
    planned = PlannedBallot(**common, candidates=candidates)
    _assert_passes(planned)
    return planned


def _split(rng: random.Random, total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` non-negative whole numbers."""
    cuts = sorted(rng.randint(0, total) for _ in range(parts - 1))
    bounds = [0, *cuts, total]
    return [bounds[i + 1] - bounds[i] for i in range(parts)]


def _apportion(total: int, weights: Sequence[float]) -> list[int]:
    """``total`` shared in proportion to ``weights`` by largest remainder (sums exactly)."""
    whole = sum(weights)
    exact = [total * w / whole for w in weights]
    out = [int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - out[i]), i))
    for i in order[: total - sum(out)]:
        out[i] += 1
    return out


def _fptp_votes(
    rng: random.Random, *, pulls: list[float], slate: list[PartyProfile], valid: int, seats: int
) -> list[int]:
    if seats == 1:
        votes = _apportion(valid, pulls)
    else:
        # Each voter has ``seats`` votes and mostly gives them to one party's slate: a
        # candidate's votes are the party's supporters times how many of them used a vote on
        # this candidate. Totals stay below seats × valid papers, each below valid papers.
        by_party: dict[str, float] = {}
        for p, pull in zip(slate, pulls, strict=True):
            by_party[p.party_id] = max(by_party.get(p.party_id, 0.0), pull)
        whole = sum(by_party.values())
        votes = [int(valid * by_party[p.party_id] / whole * rng.uniform(0.82, 1.0)) for p in slate]
    # A tie for the last seat would need the returning officer's lot: move one vote to the
    # first of the tied (from the second, for a single seat, so the total is unchanged).
    ranked = sorted(range(len(votes)), key=lambda i: (-votes[i], i))
    if len(ranked) > seats and votes[ranked[seats - 1]] == votes[ranked[seats]]:
        votes[ranked[seats - 1]] += 1
        if seats == 1:
            votes[ranked[seats]] -= 1
    return votes


def _plan_stv(
    rng: random.Random, *, common: dict[str, Any], names: list[str], slate: list[PartyProfile],
    pulls: list[float], valid: int, seats: int,
) -> PlannedBallot:
    first = _apportion(valid, pulls)
    n = len(slate)
    # Preference profile: each first preference splits into a few patterns. Voters go
    # on to their party's other candidates, then to other candidates weighted by pull
    # and a random affinity between parties, stopping after a random number of preferences.
    affinity = {(a.party_id, b.party_id): rng.uniform(0.2, 1.0) for a in slate for b in slate}
    profile: list[tuple[int, tuple[int, ...]]] = []
    for i in range(n):
        if first[i] == 0:
            continue
        patterns = min(first[i], rng.randint(3, 8))
        for count in _apportion(first[i], [rng.uniform(0.3, 1.0) for _ in range(patterns)]):
            if count == 0:
                continue
            order = [i]
            mates = [j for j in range(n) if j != i and slate[j].party_id == slate[i].party_id]
            rng.shuffle(mates)
            order.extend(mates)
            others = [j for j in range(n) if j not in order]
            while others:
                weights = [pulls[j] * affinity[(slate[i].party_id, slate[j].party_id)] for j in others]
                pick = rng.choices(others, weights=weights)[0]
                order.append(pick)
                others.remove(pick)
            length = rng.randint(1, n)
            profile.append((count, tuple(order[:length])))
    result = count_stv(candidates=list(range(n)), ballots=profile, seats=seats)
    elected = set(result.elected)
    candidates = tuple(
        PlannedCandidate(name, p.party_id, v, i in elected)
        for i, (name, p, v) in enumerate(zip(names, slate, first, strict=True))
    )
    stages = tuple(
        PlannedStage(
            number=stage.number,
            totals=tuple(format(stage.totals[i].normalize(), "f") for i in range(n)),
            non_transferable=format(stage.non_transferable.normalize(), "f"),
        )
        for stage in result.stages[1:]
    )
    planned = PlannedBallot(**common, candidates=candidates, stv_quota=result.quota, stages=stages)
    _assert_passes(planned)
    return planned


def _assert_passes(planned: PlannedBallot) -> None:
    report = check_figures(planned.spec(), planned.figures(list(range(len(planned.candidates)))))
    if report.errors or report.warnings:
        problems = "; ".join(p.message for p in report.errors + report.warnings)
        raise AssertionError(f"generated figures for {planned.ballot_paper_id} fail the checks: {problems}")


# -- storing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredNight:
    """Stored ids of a plan: ballot id → (ballot pk, candidacy pks in candidate order)."""

    ballots: dict[str, tuple[int, tuple[int, ...]]]
    created: int


def store_night(plan: NightPlan) -> StoredNight:
    """Create the plan's elections (``rehearsal=True``), ballots and candidacies, in one
    transaction, through ``elections.services``.

    Storing the same plan again changes nothing (and only reads). Refuses
    (``ApplicationError``, nothing written) when part of the plan, or another night, is
    already stored for the plan's councils on its date: run ``wipe_rehearsal`` first.
    """
    wanted = {b.ballot_paper_id for b in plan.ballots}
    council_slugs = [c.slug for c in plan.councils]
    on_date = set(
        Ballot.objects.filter(election__date=plan.date, election__council__slug__in=council_slugs)
        .values_list("ballot_paper_id", flat=True)
    )
    if on_date == wanted:
        return stored_ids(plan)
    if on_date:
        raise ApplicationError(
            f"other ballots are already stored for these councils on {plan.date.isoformat()} "
            f"({', '.join(sorted(on_date)[:3])}, …): run wipe_rehearsal first",
            code="rehearsal_exists", field="date",
        )
    created = 0
    with transaction.atomic():
        parties = _ensure_parties(plan.parties)
        councils = {c.slug: c for c in Council.objects.filter(slug__in=council_slugs)}
        wards = {
            w.pk: w
            for w in Ward.objects.filter(pk__in={b.ward_id for b in plan.ballots})
            .select_related("boundary_set")
            .only("id", "name", "slug", "boundary_set__id", "boundary_set__council")
        }
        stored: dict[str, tuple[int, tuple[int, ...]]] = {}
        by_election = _group(plan.ballots, lambda b: b.election_id)
        for pc in plan.councils:
            council = councils[pc.slug]
            day = plan.date
            election, outcome = upsert_election(
                election_id=pc.election_id, council=council, rehearsal=True,
                title=f"{council.name} local election {day.day} {day:%B %Y} (rehearsal)",
            )
            created += outcome == "created"
            planned = by_election.get(pc.election_id, [])
            made = create_ballots(election=election, ballots=[
                NewBallot(ballot_paper_id=b.ballot_paper_id, ward=wards[b.ward_id], seats_contested=b.seats,
                          voting_system=b.voting_system, uncontested=b.uncontested)
                for b in planned
            ])
            for b, ballot in zip(planned, made, strict=True):
                candidacies = create_candidacies(ballot=ballot, candidacies=[
                    (c.name, parties[c.party_id], parties[c.party_id].name) for c in b.candidates
                ])
                created += 1 + len(candidacies)
                stored[b.ballot_paper_id] = (ballot.pk, tuple(c.pk for c in candidacies))
    return StoredNight(ballots=stored, created=created)


def _group(items: Sequence[PlannedBallot], key: Any) -> dict[str, list[PlannedBallot]]:
    out: dict[str, list[PlannedBallot]] = {}
    for item in items:
        out.setdefault(key(item), []).append(item)
    return out


def _ensure_parties(profiles: Sequence[PartyProfile]) -> dict[str, Party]:
    """The parties by id: stored ones as they are, missing ones created (real id, name and
    conventional colour)."""
    stored = {p.party_id: p for p in Party.objects.filter(party_id__in=[p.party_id for p in profiles])}
    for profile in profiles:
        if profile.party_id not in stored:
            party, _ = upsert_party(
                party_id=profile.party_id, name=profile.name, short_name=profile.short,
                colour=profile.colour,
            )
            stored[party.party_id] = party
    return stored


def stored_ids(plan: NightPlan) -> StoredNight:
    """The stored ids of an already stored plan (``store_night`` without writing).
    Raises ``ApplicationError`` when a ballot or candidacy of the plan is missing."""
    ballots = {
        b.ballot_paper_id: b
        for b in Ballot.objects.filter(
            election__date=plan.date, election__council__slug__in=[c.slug for c in plan.councils]
        ).select_related("election")
    }
    candidacies: dict[int, dict[tuple[str, str], int]] = {}
    for cid, ballot_id, name, party_id in Candidacy.objects.filter(
        ballot__election__date=plan.date, ballot__election__council__slug__in=[c.slug for c in plan.councils]
    ).values_list("id", "ballot_id", "person_name", "party__party_id"):
        candidacies.setdefault(ballot_id, {})[(name, party_id)] = cid
    out: dict[str, tuple[int, tuple[int, ...]]] = {}
    for b in plan.ballots:
        ballot = ballots.get(b.ballot_paper_id)
        if ballot is None or not ballot.election.rehearsal:
            raise ApplicationError(
                f"{b.ballot_paper_id} is not stored as a rehearsal ballot: run generate_night",
                code="not_stored", field="ballot_paper_id",
            )
        ids_ = []
        for c in b.candidates:
            cid = candidacies.get(ballot.pk, {}).get((c.name, c.party_id))
            if cid is None:
                raise ApplicationError(
                    f"{b.ballot_paper_id}: {c.name} is not stored", code="not_stored", field="candidates"
                )
            ids_.append(cid)
        out[b.ballot_paper_id] = (ballot.pk, tuple(ids_))
    return StoredNight(ballots=out, created=0)
