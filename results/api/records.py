"""Plain-dict records of results, result histories, the change feed, tallies and the
scoreboard, for the read API and the exports.

A result record is a ballot's public record: the contest, its status and version, and (when
its figures stand) the figures. Figures stand while the result is provisional, verified or
disputed (a disputed result keeps its last accepted figures until a reviewer resolves it);
a retracted result, or a ballot with nothing recorded, shows its candidates without votes.

Every function reads in a fixed number of queries whatever the number of rows (the tests
pin them): ``result_records`` costs three queries for any number of ballots.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import connection
from django.db.models import CharField, QuerySet
from django.db.models.functions import Cast

from councils.models import Ward
from elections.api.records import BALLOT_FIELDS, ballot_base
from elections.models import Ballot, Candidacy, Party
from results.figures import REJECTED_HEADINGS
from results.models import CandidateResult, ResultEvent, ResultStatus, StvStageVote

# Statuses whose figures are public (see the module docstring).
FIGURES_STAND = frozenset({ResultStatus.PROVISIONAL, ResultStatus.VERIFIED, ResultStatus.DISPUTED})

RESULT_FIELDS: tuple[str, ...] = (
    *BALLOT_FIELDS,
    "result__id",
    "result__electorate",
    "result__ballot_papers_counted",
    "result__valid_papers",
    "result__rejected_total",
    *(f"result__rejected_{h}" for h in REJECTED_HEADINGS),
    "result__turnout_pct",
    "result__declared_at",
    "result__source",
    "result__updated_at",
    "result__verified_by_id",
)


def result_rows(queryset: QuerySet[Ballot]) -> QuerySet[Any]:
    return queryset.values(*RESULT_FIELDS)


def _number(text: str | None) -> str | None:
    """A decimal (read as text) without trailing zeros: ``"1500"``, ``"12.5"``."""
    if text is None:
        return None
    return text.rstrip("0").rstrip(".") if "." in text else text


def _verification(status: str, verified_by_id: int | None) -> str | None:
    if status != ResultStatus.VERIFIED:
        return None
    # An official import is verified with no person named; otherwise a second person (an
    # identical keying or a reviewer's approval) verified it.
    return "official_source" if verified_by_id is None else "second_person"


def result_records(rows: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Result records for ``RESULT_FIELDS`` rows: three more queries (candidacies with their
    figures, STV stages), whatever the number of rows.

    Tuples rather than dicts are read, and decimals are read as text: a page of 100 results
    of a national night has about 700 candidates and 1,500 STV stage figures, and building
    it is most of what a request costs.
    """
    ballot_ids = [row["id"] for row in rows]
    standing = [row["result__id"] for row in rows if row["result__status"] in FIGURES_STAND]
    figures = {
        candidacy_id: (votes, elected, won_by_lot)
        for candidacy_id, votes, elected, won_by_lot in CandidateResult.objects.filter(result_id__in=standing)
        .order_by()
        .values_list("candidacy_id", "votes", "elected", "won_by_lot")
    }
    candidates: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for cid, ballot_id, name, person_id, description, party_id, party_name in (
        Candidacy.objects.filter(ballot_id__in=ballot_ids)
        .order_by()
        .values_list(
            "id", "ballot_id", "person_name", "person_id", "description", "party__party_id", "party__name"
        )
    ):
        votes, elected, lot = figures.get(cid, (None, False, False))
        candidates[ballot_id].append(
            {
                "candidacy_id": cid,
                "person_name": name,
                "person_id": person_id,
                "party": {"party_id": party_id, "name": party_name},
                "description": description,
                "votes": votes,
                "elected": elected,
                "won_by_lot": lot,
            }
        )
    stv: dict[int, dict[str, Any]] = {}
    stage: dict[str, Any] = {}
    current: tuple[int, int] | None = None
    for result_id, quota, valid_poll, number, non_transferable, cid, transfer, total in (
        StvStageVote.objects.filter(stage__count__result_id__in=standing)
        .order_by("stage__count__result_id", "stage__number", "candidacy_id")
        .values_list(
            "stage__count__result_id",
            "stage__count__quota",
            "stage__count__valid_poll",
            "stage__number",
            Cast("stage__non_transferable", CharField()),
            "candidacy_id",
            Cast("transfer", CharField()),
            Cast("total", CharField()),
        )
    ):
        if (result_id, number) != current:
            current = (result_id, number)
            count = stv.setdefault(result_id, {"quota": quota, "valid_poll": valid_poll, "stages": []})
            stage = {"number": number, "non_transferable": _number(non_transferable), "votes": []}
            count["stages"].append(stage)
        stage["votes"].append({"candidacy_id": cid, "transfer": _number(transfer), "total": _number(total)})
    return [_result_record(row, candidates.get(row["id"], []), stv) for row in rows]


def _result_record(
    row: Mapping[str, Any], candidates: list[dict[str, Any]], stv: dict[int, dict[str, Any]]
) -> dict[str, Any]:
    status = row["result__status"]
    stands = status in FIGURES_STAND
    if not stands:
        # Withdrawn or not yet recorded: the candidates without figures.
        candidates = [{**c, "votes": None, "elected": False, "won_by_lot": False} for c in candidates]
    candidates.sort(
        key=lambda c: (c["votes"] is None, -(c["votes"] or 0), c["person_name"], c["candidacy_id"])
    )
    turnout = row["result__turnout_pct"] if stands else None
    record = ballot_base(row)
    record.update(
        {
            "verification": _verification(status, row["result__verified_by_id"]),
            "electorate": row["result__electorate"] if stands else None,
            "ballot_papers_counted": row["result__ballot_papers_counted"] if stands else None,
            "valid_papers": row["result__valid_papers"] if stands else None,
            "rejected_total": row["result__rejected_total"] if stands else None,
            "rejected": {h: row[f"result__rejected_{h}"] if stands else None for h in REJECTED_HEADINGS},
            "turnout_pct": None if turnout is None else format(turnout, ".2f"),
            "declared_at": row["result__declared_at"] if stands else None,
            "source": (row["result__source"] or "") if stands else "",
            "modified": row["result__updated_at"],
            "candidates": candidates,
            "stv": stv.get(row["result__id"]) if stands else None,
        }
    )
    return record


def last_modified(rows: Iterable[Mapping[str, Any]]) -> dt.datetime | None:
    stamps = [row["result__updated_at"] for row in rows if row["result__updated_at"] is not None]
    return max(stamps) if stamps else None


# -- history ------------------------------------------------------------------------------


def result_history(ballot: Mapping[str, Any]) -> dict[str, Any]:
    """Every version of a ballot's result, oldest first, from its change log (two queries).

    Each entry is the event that made the version: what kind of change, the status after it,
    the reason (corrections and retractions), the fields that changed and, where the change
    recorded figures, the figures of that version with candidates named.
    """
    names = dict(Candidacy.objects.filter(ballot_id=ballot["id"]).values_list("id", "person_name"))
    events = (
        ResultEvent.objects.filter(result__ballot_id=ballot["id"])
        .order_by("id")
        .values(
            "id", "kind", "version", "payload", "created_at", "submission__figures", "submission__channel"
        )
    )
    versions = []
    for e in events:
        payload = e["payload"] or {}
        figures = e["submission__figures"]
        versions.append(
            {
                "event_id": e["id"],
                "version": e["version"],
                "kind": e["kind"],
                "at": e["created_at"],
                "status": payload.get("status"),
                "count_state": payload.get("count_state"),
                "reason": payload.get("reason"),
                "note": payload.get("note"),
                "channel": e["submission__channel"] or payload.get("channel"),
                "changes": payload.get("changes", []),
                "figures": None if figures is None else _named_figures(figures, names),
            }
        )
    return {"ballot_paper_id": ballot["ballot_paper_id"], "versions": versions}


def _named_figures(figures: Mapping[str, Any], names: Mapping[int, str]) -> dict[str, Any]:
    return {
        "electorate": figures.get("electorate"),
        "ballot_papers_counted": figures.get("ballot_papers_counted"),
        "valid_papers": figures.get("valid_papers"),
        "rejected_total": figures.get("rejected_total"),
        "turnout_pct": figures.get("turnout_pct"),
        "candidates": [
            {
                "candidacy_id": c["candidacy_id"],
                "person_name": names.get(c["candidacy_id"], ""),
                "votes": c.get("votes"),
                "won_by_lot": bool(c.get("won_by_lot")),
            }
            for c in figures.get("candidates", [])
        ],
    }


# -- the change feed ----------------------------------------------------------------------

_EVENT_FIELDS = (
    "id",
    "kind",
    "version",
    "payload",
    "created_at",
    "result__ballot__ballot_paper_id",
    "result__ballot__election__election_id",
    "result__ballot__election__date",
    "result__ballot__election__rehearsal",
    "result__ballot__election__council__slug",
)


def feed_horizon(since: int, max_event_id: int, writers_in_flight: bool) -> int:
    """The highest event id a poller may be given now: every event at or below it is
    committed and visible, and none can still appear below it.

    Ids are drawn from a sequence before commit, so on PostgreSQL a transaction can commit
    event 11 while event 10 is still in flight; handing out 11 and moving the cursor past 10
    would lose 10 for good. When no other transaction is writing events (``change_token``),
    every id up to the maximum is settled (gaps are rollbacks). Otherwise the poller gets the
    unbroken run of ids after ``since`` and nothing past its first gap; the gap is filled by
    the commit, or found to be a rollback at the next quiet moment.
    """
    if not writers_in_flight or max_event_id <= since:
        return max_event_id
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT min(e.id) FROM {ResultEvent._meta.db_table} e
            WHERE e.id > %s AND e.id <= %s AND NOT EXISTS (
                SELECT 1 FROM {ResultEvent._meta.db_table} n WHERE n.id = e.id + 1
            )
            """,  # noqa: S608 - the table name is the model's, the values are parameters
            [since, max_event_id],
        )
        run_end = cursor.fetchone()[0]
        cursor.execute(f"SELECT 1 FROM {ResultEvent._meta.db_table} WHERE id = %s", [since + 1])  # noqa: S608
        if cursor.fetchone() is None:
            return since
    return run_end if run_end is not None else max_event_id


def feed_page(queryset: QuerySet[ResultEvent], *, since: int, horizon: int, limit: int) -> dict[str, Any]:
    """Events after ``since`` up to ``horizon`` (filtered by ``queryset``), oldest first, at
    most ``limit``; ``next`` is the cursor to ask with next time."""
    rows = list(
        queryset.filter(id__gt=since, id__lte=horizon).order_by("id").values(*_EVENT_FIELDS)[: limit + 1]
    )
    more = len(rows) > limit
    rows = rows[:limit]
    # A full page continues after its last event; otherwise everything up to the horizon
    # (including events the filters skipped) has been seen.
    next_cursor = rows[-1]["id"] if more else max(horizon, since)
    return {
        "since": since,
        "next": next_cursor,
        "more": more,
        "events": [_event_record(row) for row in rows],
    }


def _event_record(row: Mapping[str, Any]) -> dict[str, Any]:
    payload = row["payload"] or {}
    ballot = row["result__ballot__ballot_paper_id"]
    return {
        "id": row["id"],
        "kind": row["kind"],
        "at": row["created_at"],
        "ballot_paper_id": ballot,
        "election_id": row["result__ballot__election__election_id"],
        "date": row["result__ballot__election__date"],
        "council": row["result__ballot__election__council__slug"],
        "rehearsal": row["result__ballot__election__rehearsal"],
        "version": row["version"],
        "status": payload.get("status"),
        "count_state": payload.get("count_state"),
        "reason": payload.get("reason"),
        "corrects_version": payload.get("corrects_version"),
        "changes": payload.get("changes", []),
        "result_url": f"/api/v1/results/{ballot}/",
    }


# -- tallies and the scoreboard -------------------------------------------------------------


def party_info(party_ids: Iterable[str]) -> dict[str, dict[str, str]]:
    """Names and colours of the given parties (one query)."""
    wanted = {p for p in party_ids if p and p != "NOC"}
    return {
        p["party_id"]: {"name": p["name"], "short_name": p["short_name"], "colour": p["colour"]}
        for p in Party.objects.filter(party_id__in=wanted).values("party_id", "name", "short_name", "colour")
    }


def tally_record(tally: Any, council: Mapping[str, Any]) -> dict[str, Any]:
    """A ``results.tallies.CouncilTally`` as the API's council tally (two more queries)."""
    entry = tally.entry()
    ballots = dict(Ballot.objects.filter(id__in=list(tally.outcomes)).values_list("id", "ballot_paper_id"))
    ward_names = dict(
        Ward.objects.filter(id__in={o.ward_id for o in tally.outcomes.values()}).values_list("id", "name")
    )
    outcomes = []
    for ballot_id, outcome in tally.outcomes.items():
        outcomes.append(
            {
                "ballot_paper_id": ballots.get(ballot_id, ""),
                "ward": {"id": outcome.ward_id, "name": ward_names.get(outcome.ward_id, "")},
                "declared": outcome.declared,
                "result": outcome.result,
                "gain_from": outcome.gain_from,
                "winners": [{"party_id": w.party, "name": w.name, "votes": w.votes} for w in outcome.winners],
                "defending": [{"party_id": s.party, "name": s.name} for s in outcome.defending],
            }
        )
    outcomes.sort(key=lambda o: (o["ward"]["name"], o["ballot_paper_id"]))
    parties = (
        set(entry["seats"])
        | set(entry["before"]["seats"])
        | set(entry["won"])
        | {w["party_id"] for o in outcomes for w in o["winners"]}
        | {s["party_id"] for o in outcomes for s in o["defending"] if s["party_id"]}
    )
    return {
        "council": {"slug": council["slug"], "name": council["name"], "gss": council["gss"]},
        "date": tally.date,
        "rehearsal": entry["rehearsal"],
        "total": entry["total"],
        "majority": entry["majority"],
        "ballots": entry["ballots"],
        "declared": entry["declared"],
        "up": entry["up"],
        "unknown": entry["unknown"],
        "seats": entry["seats"],
        "won": entry["won"],
        "gains": entry["gains"],
        "losses": entry["losses"],
        "control": entry["control"],
        "before": entry["before"],
        "outcomes": outcomes,
        "parties": party_info(parties),
    }


def scoreboard_record(date: dt.date | None) -> dict[str, Any]:
    """The national scoreboard of ``date`` from ``results.tallies`` (a fixed number of queries)."""
    from results import tallies

    if date is None:
        return {
            "date": None,
            "councils_declared": 0,
            "councils": 0,
            "seats": {},
            "councils_gained": {},
            "councils_lost": {},
            "council_tallies": [],
            "parties": {},
        }
    loaded = tallies.load_tallies(date)
    entries = {t.slug: t.entry() for t in loaded.values()}
    board = tallies.national_scoreboard(entries)
    council_tallies = [
        {
            "slug": slug,
            "name": e["name"],
            "rehearsal": e["rehearsal"],
            "ballots": e["ballots"],
            "declared": e["declared"],
            "total": e["total"],
            "majority": e["majority"],
            "seats": e["seats"],
            "gains": e["gains"],
            "losses": e["losses"],
            "control": e["control"],
            "control_before": e["before"]["control"],
        }
        for slug, e in sorted(entries.items(), key=lambda kv: kv[1]["name"])
    ]
    parties = (
        set(board["seats"])
        | set(board["councils_gained"])
        | set(board["councils_lost"])
        | {p for e in entries.values() for p in e["seats"]}
        | {c["control"] for c in council_tallies if c["control"]}
    )
    return {
        "date": date,
        "councils_declared": board["councils_declared"],
        "councils": board["councils"],
        "seats": board["seats"],
        "councils_gained": board["councils_gained"],
        "councils_lost": board["councils_lost"],
        "council_tallies": council_tallies,
        "parties": party_info(parties),
    }
