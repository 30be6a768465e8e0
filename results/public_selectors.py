"""Reads for the public pages: the map page, ward and council pages, the national table and
search. Read-only, a fixed number of queries per page whatever the number of wards.

Records are plain dicts shaped like the ballot record of docs/live-data.md (same keys), so
a page shows what the map's popup shows for the same ballot.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from councils.models import Council, Ward
from elections.models import Ballot, Candidacy, Election, Party

from .models import CandidateResult, CountState, Result, ResultEvent, ResultStatus
from .tallies import NO_OVERALL_CONTROL, council_tally

# Figures the public sees: provisional and verified results, and a disputed one's last
# accepted figures (held for a reviewer, so labelled as such). Retracted results have none.
FIGURES_SHOWN = (ResultStatus.PROVISIONAL, ResultStatus.VERIFIED, ResultStatus.DISPUTED)

SEARCH_LIMIT = 25


def list_polling_dates() -> list[dt.date]:
    """Every date with an election, latest first."""
    return list(Election.objects.order_by("-date").values_list("date", flat=True).distinct())


def default_polling_date(today: dt.date | None = None) -> dt.date | None:
    """The polling day the map opens on: the latest one not after ``today`` (tonight's, or
    the last), else the earliest one still to come; None when there are no elections."""
    dates = list_polling_dates()
    if not dates:
        return None
    today = today or timezone.localdate()
    past = [d for d in dates if d <= today]
    return past[0] if past else dates[-1]


def _share(votes: int | None, total: int) -> str | None:
    if votes is None or not total:
        return None
    return str((Decimal(votes) * 100 / total).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _party(party: Party) -> dict[str, str]:
    return {"id": party.party_id, "name": party.name, "short": party.short_name or party.name,
            "colour": party.colour}


def _candidates(ballot: Ballot, result: Result | None) -> list[dict[str, Any]]:
    """Candidates with their figures (by votes, then name), or the ballot's candidacies by
    name before figures are shown."""
    if result is not None and result.status in FIGURES_SHOWN:
        rows = list(result.candidate_results.all())
        total = sum(r.votes or 0 for r in rows)
        rows.sort(key=lambda r: (-(r.votes or 0), r.candidacy.person_name))
        return [
            {
                "name": r.candidacy.person_name, "party": r.candidacy.party.party_id,
                "party_name": r.candidacy.party.name, "party_obj": _party(r.candidacy.party),
                "description": r.candidacy.description, "votes": r.votes,
                "share": _share(r.votes, total), "elected": r.elected, "won_by_lot": r.won_by_lot,
            }
            for r in rows
        ]
    return [
        {
            "name": c.person_name, "party": c.party.party_id, "party_name": c.party.name,
            "party_obj": _party(c.party), "description": c.description, "votes": None,
            "share": None, "elected": False, "won_by_lot": False,
        }
        for c in sorted(ballot.candidacies.all(), key=lambda c: c.person_name)
    ]


def _history(events: list[ResultEvent]) -> list[dict[str, Any]]:
    return [
        {"v": e.version, "kind": e.kind, "kind_label": e.get_kind_display(), "at": e.created_at,
         "changes": (e.payload or {}).get("changes", []),
         "reason": (e.payload or {}).get("correction_reason", "")}
        for e in events
    ]


def ballot_record(ballot: Ballot, result: Result | None, events: list[ResultEvent]) -> dict[str, Any]:
    """The public record of one ballot (docs/live-data.md's keys, plus display helpers).

    ``ballot`` must have its election, council, ward and candidacies (with parties) loaded;
    ``result`` its candidate results (with candidacies and parties).
    """
    election = ballot.election
    status = result.status if result else ResultStatus.NO_FIGURES
    figures = result is not None and status in FIGURES_SHOWN
    candidates = _candidates(ballot, result)
    winners = [c["party_obj"] for c in candidates if c["elected"]] if figures else []
    return {
        "ballot": ballot.ballot_paper_id,
        "ballot_pk": ballot.pk,
        "ward": ballot.ward_id,
        "ward_name": ballot.ward.name,
        "council": election.council.slug,
        "council_name": election.council.name,
        "election": election.election_id,
        "election_title": election.title,
        "date": election.date,
        "seats": ballot.seats_contested,
        "voting_system": ballot.voting_system,
        "by": ballot.by_election,
        "uncontested": ballot.uncontested,
        "cancelled": ballot.cancelled,
        "status": status,
        "status_label": ResultStatus(status).label,
        "count": result.count_state if result else CountState.AWAITING,
        "count_label": CountState(result.count_state if result else CountState.AWAITING).label,
        "v": result.version if result else 0,
        "rehearsal": election.rehearsal,
        "electorate": result.electorate if figures else None,
        "ballot_papers_counted": result.ballot_papers_counted if figures else None,
        "rejected": result.rejected_total if figures else None,
        "turnout": result.turnout_pct if figures else None,
        "declared_at": result.declared_at if figures else None,
        "source": result.source if figures else "",
        "candidates": candidates,
        "winners": winners,
        "history": _history(events),
        "result": None,
        "gain_from": None,
    }


def _candidacies_prefetch() -> Prefetch:
    return Prefetch("candidacies", queryset=Candidacy.objects.select_related("party"))


def _result_prefetch() -> Prefetch:
    return Prefetch(
        "candidate_results",
        queryset=CandidateResult.objects.select_related("candidacy__party"),
    )


def get_ballot_page(ballot_paper_id: str) -> dict[str, Any] | None:
    """The record of one ballot for its page (with its hold or gain from the council's
    tally), or None if no such ballot. A fixed number of queries."""
    ballot = (
        Ballot.objects.select_related("election__council", "ward")
        .prefetch_related(_candidacies_prefetch())
        .filter(ballot_paper_id=ballot_paper_id)
        .first()
    )
    if ballot is None:
        return None
    result = Result.objects.filter(ballot=ballot).prefetch_related(_result_prefetch()).first()
    events = list(ResultEvent.objects.filter(result=result).order_by("id")) if result else []
    record = ballot_record(ballot, result, events)
    tally = council_tally(ballot.election.council, ballot.election.date)
    if tally is not None:
        _add_outcomes([record], tally.outcomes)
    return record


def _add_outcomes(records: list[dict[str, Any]], outcomes: dict[int, Any]) -> None:
    """Each record's hold or gain (and from whom) against the seats it defends."""
    losers = {o.gain_from for o in outcomes.values() if o.gain_from}
    parties = {p.party_id: _party(p) for p in Party.objects.filter(party_id__in=losers)} if losers else {}
    for record in records:
        outcome = outcomes.get(record["ballot_pk"])
        if outcome is not None and record["winners"]:
            record["result"] = outcome.result
            record["gain_from"] = parties.get(outcome.gain_from) if outcome.gain_from else None


def get_ward(ward_id: int) -> Ward | None:
    return Ward.objects.select_related("boundary_set__council").filter(pk=ward_id).first()


def list_ballots_for_ward(ward: Ward) -> list[dict[str, Any]]:
    """Every ballot held in the ward (latest first), each with its winners. Four queries."""
    ballots = (
        Ballot.objects.filter(ward=ward)
        .select_related("election__council", "ward", "result")
        .prefetch_related(_candidacies_prefetch(), Prefetch("result__candidate_results",
                                                             queryset=_result_prefetch().queryset))
        .order_by("-election__date", "by_election")
    )
    return [ballot_record(b, getattr(b, "result", None), []) for b in ballots]


def get_election_for_council(council_slug: str, on_date: dt.date) -> Election | None:
    return Election.objects.select_related("council").filter(council__slug=council_slug, date=on_date).first()


def list_council_records(election: Election) -> list[dict[str, Any]]:
    """Every ballot of the election (by ward name; by-elections after the ward's scheduled
    contest) as a record without history. Four queries."""
    ballots = (
        Ballot.objects.filter(election=election)
        .select_related("election__council", "ward", "result")
        .prefetch_related(_candidacies_prefetch(), Prefetch("result__candidate_results",
                                                             queryset=_result_prefetch().queryset))
        .order_by("ward__name", "by_election")
    )
    return [ballot_record(b, getattr(b, "result", None), []) for b in ballots]


def election_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Declared ballots and seats won at this election by party (largest first), from the
    records of ``list_council_records``. Seats not up at this election are not counted."""
    seats: Counter[str] = Counter()
    parties: dict[str, dict[str, str]] = {}
    for record in records:
        for party in record["winners"]:
            seats[party["id"]] += 1
            parties[party["id"]] = party
    declared = sum(1 for r in records if r["winners"])
    return {
        "declared": declared,
        "ballots": len(records),
        "seats_contested": sum(r["seats"] for r in records),
        "seats": [{"party": parties[p], "seats": n}
                  for p, n in sorted(seats.items(), key=lambda i: (-i[1], i[0]))],
    }


def council_scoreboard(election: Election, records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The council's seats on the day (``results.tallies``: seats not up this time included),
    majority, control and each party's gains and losses; also sets each record's hold or gain.
    None when the council has no contest that day (every ballot cancelled)."""
    tally = council_tally(election.council, election.date)
    if tally is None:
        return None
    _add_outcomes(records, tally.outcomes)
    entry = tally.entry()
    ids = set(entry["seats"]) | set(entry["won"]) | set(entry["gains"]) | set(entry["losses"])
    if entry["control"] and entry["control"] != NO_OVERALL_CONTROL:
        ids.add(entry["control"])
    parties = {p.party_id: _party(p) for p in Party.objects.filter(party_id__in=ids)}
    order = sorted(ids, key=lambda p: (-entry["seats"].get(p, 0), -entry["won"].get(p, 0), p))
    total = entry["total"]
    rows = [
        {"party": parties.get(p, {"id": p, "name": p, "short": p, "colour": ""}),
         "seats": entry["seats"].get(p, 0), "won": entry["won"].get(p, 0),
         "gains": entry["gains"].get(p, 0), "losses": entry["losses"].get(p, 0),
         "width": round(100 * entry["seats"].get(p, 0) / total, 2) if total else 0}
        for p in order
    ]
    control = entry["control"]
    return {
        **entry,
        "rows": rows,
        "majority_at": round(100 * entry["majority"] / total, 2) if total else None,
        "control_label": "No overall control" if control == NO_OVERALL_CONTROL
        else f"{parties[control]['name']} control" if control in parties
        else "Control not yet known",
    }


def list_national_councils(on_date: dt.date) -> QuerySet[Election]:
    """The elections on ``on_date`` with their council and ballot counts, by council name."""
    return (
        Election.objects.filter(date=on_date)
        .select_related("council")
        .annotate(
            ballot_count=Count("ballots", distinct=True),
            declared_count=Count(
                "ballots",
                filter=Q(ballots__result__status__in=FIGURES_SHOWN),
                distinct=True,
            ),
        )
        .order_by("council__name")
    )


def search(query: str) -> dict[str, list[Any]]:
    """Councils (with their elections, latest first) and wards whose name contains ``query``
    (case-insensitive; at most ``SEARCH_LIMIT`` of each). Three queries."""
    query = query.strip()
    if len(query) < 2:
        return {"councils": [], "wards": []}
    councils = list(
        Council.objects.filter(name__icontains=query)
        .prefetch_related(Prefetch("elections", queryset=Election.objects.order_by("-date")))
        .order_by("name")[:SEARCH_LIMIT]
    )
    wards = list(
        Ward.objects.filter(name__icontains=query)
        .select_related("boundary_set__council")
        .order_by("name", "boundary_set__council__name", "-boundary_set__valid_from")[:SEARCH_LIMIT]
    )
    return {"councils": councils, "wards": wards}
