"""Publication: the live documents of a polling day and its stream (docs/live-data.md).

``publish_day(date)`` is the one writer. Under the day's ``PublicationDay`` row lock it
takes every result of the day whose ``published_version`` is behind its ``version``,
rebuilds the documents they touch (each ballot record and council document of their
councils, and the national document, patched in place), writes them atomically
(``results.snapshots``), appends one stream event per changed ward, and moves each result's
``published_version`` up to the version it read (compare-and-set). Anything that fails
rolls the marks back, so the reconciler publishes it again: running twice, out of order or
after a crash is harmless. Documents are plain dicts encoded with orjson.

A day is built in full the first time, when the reconciler finds its ballots changed (the
fingerprint of ``_fingerprints``), or after ``invalidate_days``; otherwise only the affected
councils are read from the database, which keeps a declaration's cost to a few councils'
rows whatever the size of the night.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import orjson
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Max, Q, Sum
from django.utils import timezone

from elections.models import Ballot, Candidacy, Party, VotingSystem

from . import snapshots, stream
from .models import (
    CandidateResult,
    EventKind,
    PublicationDay,
    Result,
    ResultEvent,
    ResultStatus,
    StvStage,
    StvStageVote,
)
from .tallies import COUNTING_STATUSES, DAY_BALLOT_FIELDS, CouncilTally, load_tallies, national_scoreboard

logger = logging.getLogger(__name__)

LATEST_LENGTH = 20
# Events that put figures in front of the public: the first one of a ballot is its declaration.
FIGURE_EVENTS = (EventKind.PROVISIONAL, EventKind.VERIFIED, EventKind.RESOLVED, EventKind.CORRECTED)
_JSON_OPTIONS = orjson.OPT_UTC_Z


def encode(document: dict[str, Any]) -> bytes:
    return orjson.dumps(document, option=_JSON_OPTIONS)


def national_path(date: dt.date) -> str:
    return f"{date.isoformat()}/national.json"


def council_path(date: dt.date, slug: str) -> str:
    return f"{date.isoformat()}/council/{slug}.json"


def ballot_path(ballot_paper_id: str) -> str:
    return f"ballot/{ballot_paper_id}.json"


@dataclass
class PublishReport:
    """What ``publish_day`` did: results marked published (id → version), documents
    written, stream events appended, and whether the day was built in full."""

    date: dt.date
    published: dict[int, int] = field(default_factory=dict)
    documents: int = 0
    events: list[str] = field(default_factory=list)
    full: bool = False


# --------------------------------------------------------------------------- entry points


def _days_behind() -> set[dt.date]:
    """The days with a result whose published version is behind its version (the outbox's
    partial index finds them)."""
    return set(
        Result.objects.filter(published_version__lt=F("version"))
        .values_list("ballot__election__date", flat=True)
        .distinct()
        .order_by()
    )


def publish_pending() -> list[PublishReport]:
    """Publish every day that has a result behind its version; one report per day
    published, none when nothing is behind (a late or repeated task)."""
    return [publish_day(date) for date in sorted(_days_behind())]


def reconcile() -> list[PublishReport]:
    """Publish every day that is behind: results whose published version is behind their
    version, days whose ballots changed or that were invalidated, days never published.
    The periodic safety net for lost nudges, outages and killed workers."""
    dates = _days_behind()
    known = dict(PublicationDay.objects.values_list("date", "structure"))
    fingerprints = _fingerprints()
    changed = {date for date, fingerprint in fingerprints.items() if known.get(date) != fingerprint}
    for date in set(known) - set(fingerprints):
        retire_day(date)
    reports = []
    for date in sorted(dates | changed):
        report = publish_day(date, full=date in changed)
        if report.published or report.documents:
            reports.append(report)
    return reports


def invalidate_days(*, council_ids: Iterable[int], after: dt.date | None = None) -> int:
    """Have the reconciler rebuild in full every published day of these councils (after
    ``after``): for changes the result versions do not show, such as a composition or a
    defended seat an administrator entered. Returns the number of days marked."""
    days = PublicationDay.objects.exclude(structure="")
    ballots = Ballot.objects.filter(election__council_id__in=list(council_ids))
    if after is not None:
        days = days.filter(date__gt=after)
        ballots = ballots.filter(election__date__gt=after)
    if not days.exists():  # election night: no later day is published
        return 0
    return days.filter(date__in=ballots.values("election__date")).update(structure="")


def schedule_republication(*, council_ids: Iterable[int], after: dt.date | None = None) -> None:
    """After the current transaction commits, rebuild the councils' published days after
    ``after`` (``invalidate_days``) and start the reconciler (best effort: the periodic one
    catches up otherwise). For administrators' changes to compositions and defended seats."""
    council_ids = list(council_ids)

    def nudge() -> None:
        invalidate_days(council_ids=council_ids, after=after)
        from .tasks import reconcile_publication_task

        try:
            reconcile_publication_task.apply_async(retry=False)
        except Exception:
            logger.warning("reconciler not started; the periodic run will republish", exc_info=True)

    transaction.on_commit(nudge)


def publish_day(date: dt.date, *, full: bool = False) -> PublishReport:
    """Bring the day's documents and stream up to date with the database (module docstring).

    Holds the day's lock for the duration. Raises on a failure to write a document or to
    append to the stream, leaving the results unmarked for the next attempt.
    """
    root = Path(settings.SNAPSHOT_ROOT)
    report = PublishReport(date=date)
    started = time.monotonic()
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                # A publisher never waits long: it fails, and the reconciler tries again.
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '15s'; SET LOCAL statement_timeout = '60s'")
            day = _lock_day(date)
            locked = time.monotonic()
            pending = {
                row["id"]: (row["version"], row["ballot__election__council_id"])
                for row in Result.objects.filter(
                    ballot__election__date=date, published_version__lt=F("version")
                ).values("id", "version", "ballot__election__council_id")
            }
            national = _NATIONAL_CACHE.load(root, date)
            # New or changed ballots are the reconciler's to notice (``reconcile``), which
            # keeps the day's fingerprint query off every declaration.
            report.full = full or national is None or not day.structure
            if not pending and not report.full:
                return report
            council_ids = None if report.full else {council for _, council in pending.values()}
            # Taken before the build reads the ballots: a ballot added meanwhile changes the
            # fingerprint again, so the reconciler rebuilds (taken after, it would be missed).
            fingerprint = _fingerprints(date).get(date, "") if report.full else day.structure
            _build_and_write(root, date, day, pending, council_ids, national, report)
            for version in sorted({v for v, _ in pending.values()}):
                ids = [rid for rid, (v, _) in pending.items() if v == version]
                Result.objects.filter(pk__in=ids, published_version__lt=version).update(
                    published_version=version
                )
            report.published = {rid: v for rid, (v, _) in pending.items()}
            day.structure = fingerprint
            day.published_at = timezone.now()
            day.save(update_fields=["seq", "stream_id", "structure", "published_at"])
            if pending:
                later = invalidate_days(council_ids={c for _, c in pending.values()}, after=date)
                if later:
                    logger.info("publication: %d later day(s) to rebuild after %s", later, date)
        logger.info(
            "publication: %s, %d result(s), %d document(s)%s; waited %.0f ms for the day, %.0f ms in all",
            date, len(report.published), report.documents, " (in full)" if report.full else "",
            (locked - started) * 1000, (time.monotonic() - started) * 1000,
        )
    except BaseException:
        _NATIONAL_CACHE.forget(date)
        raise
    return report


def _lock_day(date: dt.date) -> PublicationDay:
    """The day's row, locked for the rest of the transaction (created if new)."""
    try:
        return PublicationDay.objects.select_for_update().get(date=date)
    except PublicationDay.DoesNotExist:
        pass
    try:
        with transaction.atomic():
            PublicationDay.objects.create(date=date)
    except IntegrityError:
        pass  # another publisher created it first
    return PublicationDay.objects.select_for_update().get(date=date)


def _fingerprints(date: dt.date | None = None) -> dict[dt.date, str]:
    """A fingerprint of each day's ballots (one grouped query): it changes when a ballot is
    added, removed, cancelled, made uncontested or its seats change."""
    ballots = Ballot.objects.all() if date is None else Ballot.objects.filter(election__date=date)
    rows = (
        ballots.values("election__date")
        .annotate(
            n=Count("id"),
            last=Max("id"),
            seats=Sum("seats_contested"),
            cancelled=Count("id", filter=Q(cancelled=True)),
            uncontested=Count("id", filter=Q(uncontested=True)),
            rehearsal=Count("id", filter=Q(election__rehearsal=True)),
        )
        .order_by()
    )
    return {
        row["election__date"]: hashlib.sha256(
            f"{row['n']}:{row['last']}:{row['seats']}:{row['cancelled']}:{row['uncontested']}:{row['rehearsal']}".encode()
        ).hexdigest()
        for row in rows
    }


class _NationalCache:
    """The last national document this process wrote for each day, with its content hash.

    Patching the national document needs its current content; reading and decoding it
    costs more than the rest of a declaration's work at national scale. The copy is used
    only while the pointer on disk still names the same hash (another process may have
    written since), and is dropped whenever a build fails part-way.
    """

    def __init__(self) -> None:
        self._documents: dict[tuple[Path, dt.date], tuple[str, dict[str, Any]]] = {}

    def load(self, root: Path, date: dt.date) -> dict[str, Any] | None:
        digest = snapshots.current_hash(root, national_path(date))
        if digest is None:
            return None
        cached = self._documents.get((root, date))
        if cached is not None and cached[0] == digest:
            return cached[1]
        data = snapshots.read_current(root, national_path(date))
        if data is None:
            return None
        document = orjson.loads(data)
        self._documents[(root, date)] = (digest, document)
        return document

    def store(self, root: Path, date: dt.date, digest: str, document: dict[str, Any]) -> None:
        self._documents[(root, date)] = (digest, document)

    def forget(self, date: dt.date) -> None:
        for key in [k for k in self._documents if k[1] == date]:
            del self._documents[key]


_NATIONAL_CACHE = _NationalCache()


# --------------------------------------------------------------------------- building


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _decimal(value: Decimal | None) -> str | None:
    if value is None:
        return None
    text = format(value.normalize(), "f")
    return text


def _share(votes: int | None, total: int) -> str | None:
    if votes is None or not total:
        return None
    return str((Decimal(votes) * 100 / total).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


@dataclass
class _DayRows:
    """The database rows of a day's ballots (all, or those of some councils)."""

    ballots: list[dict[str, Any]]
    results: dict[int, dict[str, Any]]
    candidacies: dict[int, list[dict[str, Any]]]
    candidate_results: dict[int, dict[str, Any]]
    events: dict[int, list[dict[str, Any]]]
    stv: dict[int, dict[str, Any]]
    parties: dict[str, dict[str, Any]]


def _load_day(date: dt.date, council_ids: set[int] | None) -> tuple[_DayRows, dict[int, CouncilTally]]:
    """The rows of the day's ballots (all, or those of ``council_ids``) and their councils'
    tallies. A fixed number of queries; related rows are read by ballot id (indexed) when
    only some councils are read, through a subquery on the ballots rather than a list of
    their ids: at a peak a publication reads a thousand ballots, and a thousand parameters
    cost Django and the driver more to prepare than PostgreSQL takes to run the query."""
    scope = Q(election__date=date)
    if council_ids is not None:
        scope &= Q(election__council_id__in=council_ids)
    ballots = list(
        Ballot.objects.filter(scope)
        .order_by("ward__name", "by_election", "id")
        .values(
            *DAY_BALLOT_FIELDS,
            "ballot_paper_id",
            "ward__name",
            "voting_system",
            "uncontested",
            "election__election_id",
        )
    )

    in_scope = Ballot.objects.filter(scope).values("id")

    def via(prefix: str) -> Q:
        if council_ids is None:
            return Q(**{f"{prefix}election__date": date})
        return Q(**{f"{prefix}id__in": in_scope})

    results = {
        row["ballot_id"]: row
        for row in Result.objects.filter(via("ballot__")).values(
            "id",
            "ballot_id",
            "status",
            "count_state",
            "version",
            "electorate",
            "ballot_papers_counted",
            "rejected_total",
            "valid_papers",
            "turnout_pct",
            "declared_at",
            "source",
        )
    }
    tallies = load_tallies(
        date,
        day_ballots=ballots,
        counting={ballot_id for ballot_id, r in results.items() if r["status"] in COUNTING_STATUSES},
    )
    candidacies: dict[int, list[dict[str, Any]]] = defaultdict(list)
    parties: dict[str, dict[str, str]] = {}
    for row in (
        Candidacy.objects.filter(via("ballot__"))
        .order_by("id")
        .values(
            "id",
            "ballot_id",
            "person_name",
            "party__party_id",
            "description",
            "party__name",
            "party__short_name",
            "party__colour",
        )
    ):
        candidacies[row["ballot_id"]].append(row)
        parties[row["party__party_id"]] = _party(
            row["party__name"], row["party__short_name"], row["party__colour"]
        )
    candidate_results = {
        row["candidacy_id"]: row
        for row in CandidateResult.objects.filter(via("result__ballot__")).values(
            "candidacy_id", "votes", "elected", "won_by_lot"
        )
    }
    events: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in (
        ResultEvent.objects.filter(via("result__ballot__"))
        .order_by("id")
        .values("id", "result__ballot_id", "kind", "version", "created_at", "payload")
    ):
        events[row["result__ballot_id"]].append(row)
    stv: dict[int, dict[str, Any]] = {}
    if any(b["voting_system"] == VotingSystem.STV for b in ballots):
        stages: dict[int, list[dict[str, Any]]] = defaultdict(list)
        stage_votes: dict[int, dict[str, dict[str, str | None]]] = defaultdict(dict)
        for row in StvStageVote.objects.filter(via("stage__count__result__ballot__")).values(
            "stage_id", "candidacy_id", "transfer", "total"
        ):
            stage_votes[row["stage_id"]][str(row["candidacy_id"])] = {
                "transfer": _decimal(row["transfer"]),
                "total": _decimal(row["total"]),
            }
        for row in (
            StvStage.objects.filter(via("count__result__ballot__"))
            .order_by("number")
            .values(
                "id",
                "count__result__ballot_id",
                "count__quota",
                "count__valid_poll",
                "number",
                "non_transferable",
            )
        ):
            stages[row["count__result__ballot_id"]].append(row)
            stv[row["count__result__ballot_id"]] = {
                "quota": row["count__quota"],
                "valid_poll": row["count__valid_poll"],
            }
        for ballot_id, rows in stages.items():
            stv[ballot_id]["stages"] = [
                {
                    "number": r["number"],
                    "non_transferable": _decimal(r["non_transferable"]),
                    "votes": stage_votes.get(r["id"], {}),
                }
                for r in rows
            ]
    missing = _tally_parties(tallies) - set(parties)
    if missing:  # parties holding seats without a candidate today
        for row in Party.objects.filter(party_id__in=missing).values(
            "party_id", "name", "short_name", "colour"
        ):
            parties[row["party_id"]] = _party(row["name"], row["short_name"], row["colour"])
    return _DayRows(ballots, results, candidacies, candidate_results, events, stv, parties), tallies


def _party(name: str, short_name: str, colour: str) -> dict[str, str]:
    return {"name": name, "short": short_name or name, "colour": colour}


def _tally_parties(tallies: dict[int, CouncilTally]) -> set[str]:
    parties: set[str] = set()
    for tally in tallies.values():
        parties.update(tally.before)
        parties.update(tally.seats)
        for seats in tally.holders.values():
            parties.update(s.party for s, _ in seats if s.party)
    return parties


def ballot_record(ballot: dict[str, Any], rows: _DayRows, tally: CouncilTally | None) -> dict[str, Any]:
    """The public record of one ballot (docs/live-data.md), from ``_load_day_rows`` rows."""
    result = rows.results.get(ballot["id"])
    status = result["status"] if result else ResultStatus.NO_FIGURES
    shown = status in COUNTING_STATUSES
    candidates = []
    for candidacy in rows.candidacies.get(ballot["id"], []):
        figures = rows.candidate_results.get(candidacy["id"]) if shown else None
        candidates.append(
            {
                "id": candidacy["id"],
                "name": candidacy["person_name"],
                "party": candidacy["party__party_id"],
                "party_name": rows.parties.get(candidacy["party__party_id"], {}).get("name", ""),
                "description": candidacy["description"],
                "votes": figures["votes"] if figures else None,
                "share": None,
                "elected": bool(figures and figures["elected"]),
                "won_by_lot": bool(figures and figures["won_by_lot"]),
            }
        )
    total = sum(c["votes"] or 0 for c in candidates)
    for candidate in candidates:
        candidate["share"] = _share(candidate["votes"], total)
    candidates.sort(key=lambda c: (c["votes"] is None, -(c["votes"] or 0), c["name"]))
    events = rows.events.get(ballot["id"], [])
    history = []
    for event in events:
        item: dict[str, Any] = {
            "v": event["version"],
            "kind": event["kind"],
            "at": _iso(event["created_at"]),
            "changes": event["payload"].get("changes", []),
        }
        if event["payload"].get("reason"):
            item["reason"] = event["payload"]["reason"]
        if event["kind"] == EventKind.COUNT_STATE:
            item["count"] = event["payload"].get("count_state")
        history.append(item)
    first_figures = next((e for e in events if e["kind"] in FIGURE_EVENTS), None)
    outcome = tally.outcomes.get(ballot["id"]) if tally else None
    declared_at = (result or {}).get("declared_at") or (
        first_figures["created_at"] if first_figures and shown else None
    )
    return {
        "ballot": ballot["ballot_paper_id"],
        "ward": ballot["ward_id"],
        "ward_name": ballot["ward__name"],
        "council": ballot["election__council__slug"],
        "council_name": ballot["election__council__name"],
        "election": ballot["election__election_id"],
        "date": None,  # filled by the caller (one date per build)
        "seats": ballot["seats_contested"],
        "voting_system": ballot["voting_system"],
        "by": ballot["by_election"],
        "uncontested": ballot["uncontested"],
        **({"cancelled": True} if ballot["cancelled"] else {}),
        "status": status,
        "count": result["count_state"] if result else "awaiting",
        "v": result["version"] if result else 0,
        "rehearsal": ballot["election__rehearsal"],
        "electorate": result["electorate"] if result and shown else None,
        "ballot_papers_counted": result["ballot_papers_counted"] if result and shown else None,
        "rejected": result["rejected_total"] if result and shown else None,
        "turnout": str(result["turnout_pct"])
        if result and shown and result["turnout_pct"] is not None
        else None,
        "declared_at": _iso(declared_at),
        "source": result["source"] if result and shown else "",
        "candidates": candidates,
        "stv": rows.stv.get(ballot["id"]) if shown else None,
        "result": outcome.result if outcome else None,
        "gain_from": outcome.gain_from if outcome else None,
        "history": history,
        "_first_figures": first_figures["id"] if first_figures and shown else None,
    }


def ward_entry(record: dict[str, Any]) -> dict[str, Any]:
    """The ward's entry in national.json from its ballot record."""
    return {
        "ballot": record["ballot"],
        "council": record["council"],
        "name": record["ward_name"],
        "status": record["status"],
        "count": record["count"],
        "winners": [c["party"] for c in record["candidates"] if c["elected"]],
        "seats": record["seats"],
        "uncontested": record["uncontested"],
        "by": record["by"],
        "rehearsal": record["rehearsal"],
        "v": record["v"],
        "result": record["result"],
        "gain_from": record["gain_from"],
        **({"cancelled": True} if record.get("cancelled") else {}),
    }


def _merge_ward_entries(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """One entry for a ward with two contests on the day (ordinary first, then by-election)."""
    if len(entries) == 1:
        return entries[0]
    first = dict(entries[0])
    first["ballots"] = [e["ballot"] for e in entries]
    first["winners"] = [p for e in entries for p in e["winners"]]
    first["seats"] = sum(e["seats"] for e in entries)
    first["v"] = max(e["v"] for e in entries)
    if first["result"] != "gain":
        gain = next((e for e in entries if e["result"] == "gain"), None)
        if gain is not None:
            first["result"], first["gain_from"] = "gain", gain["gain_from"]
    return first


def _latest_entry(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "ballot": record["ballot"],
        "ward": record["ward"],
        "name": record["ward_name"],
        "council": record["council"],
        "council_name": record["council_name"],
        "declared_at": record["declared_at"],
        "winners": [c["party"] for c in record["candidates"] if c["elected"]],
        "result": record["result"],
        "gain_from": record["gain_from"],
        "seq": record["_first_figures"],
    }


def _holders(tally: CouncilTally) -> dict[str, list[dict[str, Any]]]:
    return {
        str(ward_id): [
            {
                "party": seat.party,
                "name": seat.name,
                "elected_on": seat.elected_on.isoformat() if seat.elected_on else None,
                "up": up,
            }
            for seat, up in sorted(seats, key=lambda su: su[0].retirement_key())
        ]
        for ward_id, seats in tally.holders.items()
    }


def _build_and_write(
    root: Path,
    date: dt.date,
    day: PublicationDay,
    pending: dict[int, tuple[int, int]],
    council_ids: set[int] | None,
    national: dict[str, Any] | None,
    report: PublishReport,
) -> None:
    """Build the documents of ``council_ids`` (None: every council of the day), patch or
    rebuild national.json, write them, append the stream events. Caller holds the day lock."""
    rows, tallies = _load_day(date, council_ids)
    generated_at = _iso(timezone.now())
    records_by_council: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for ballot in rows.ballots:
        record = ballot_record(ballot, rows, tallies.get(ballot["election__council_id"]))
        record["date"] = date.isoformat()
        records_by_council[ballot["election__council_id"]].append(record)

    # Ballot records, then council documents, then the national document: a reader who
    # follows a newer national document to a ballot always finds that ballot up to date.
    # Incrementally, only the records of the wards with a change are rewritten: another
    # ward's record (its figures, history and hold or gain) cannot have changed.
    seq = max((e["id"] for events in rows.events.values() for e in events), default=0)
    changed_ballots = {ballot_id for ballot_id, result in rows.results.items() if result["id"] in pending}
    changed_wards = {b["ward_id"] for b in rows.ballots if b["id"] in changed_ballots}
    for records in records_by_council.values():
        for record in records:
            if council_ids is not None and record["ward"] not in changed_wards:
                continue
            public = {k: v for k, v in record.items() if not k.startswith("_")}
            snapshots.write_document(root, ballot_path(record["ballot"]), encode(public))
            report.documents += 1

    ward_entries: dict[str, dict[str, Any]] = {}
    council_entries: dict[str, dict[str, Any]] = {}
    not_up: dict[str, list[int]] = {}
    latest_candidates: list[dict[str, Any]] = []
    affected_slugs: set[str] = set()
    for council_id, records in records_by_council.items():
        tally = tallies.get(council_id)
        slug = records[0]["council"]
        affected_slugs.add(slug)
        by_ward: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for record in records:
            by_ward[record["ward"]].append(ward_entry(record))
            if record["_first_figures"] is not None:
                latest_candidates.append(_latest_entry(record))
        for ward_id, entries in by_ward.items():
            ward_entries[str(ward_id)] = _merge_ward_entries(entries)
        if tally is None:
            continue  # every ballot of the council cancelled: no contest, no entry
        council_entries[slug] = tally.entry()
        not_up[slug] = tally.not_up
        council_parties = {p for r in records for c in r["candidates"] for p in [c["party"]]}
        council_parties |= _tally_parties({council_id: tally})
        council_document = {
            "date": date.isoformat(),
            "seq": seq,
            "generated_at": generated_at,
            "rehearsal": tally.rehearsal,
            "council": slug,
            "name": tally.name,
            "scoreboard": council_entries[slug],
            "parties": {p: rows.parties[p] for p in sorted(council_parties) if p in rows.parties},
            "ballots": [{k: v for k, v in r.items() if not k.startswith("_")} for r in records],
            "not_up": tally.not_up,
            "holders": _holders(tally),
        }
        snapshots.write_document(root, council_path(date, slug), encode(council_document))
        report.documents += 1

    previous = national
    if national is None or council_ids is None:
        national = {
            "date": date.isoformat(),
            "seq": 0,
            "stream": "",
            "generated_at": generated_at,
            "rehearsal": False,
            "parties": {},
            "wards": {},
            "not_up": {},
            "councils": {},
            "scoreboard": {},
            "latest": [],
        }
        previous_latest: list[dict[str, Any]] = []
    else:
        national = {**national}  # the cached copy is replaced, never mutated in place
        national["wards"] = {k: v for k, v in national["wards"].items() if v["council"] not in affected_slugs}
        previous_latest = [e for e in national["latest"] if e["council"] not in affected_slugs]
        national["councils"] = {k: v for k, v in national["councils"].items() if k not in affected_slugs}
        national["not_up"] = {k: v for k, v in national["not_up"].items() if k not in affected_slugs}
    national["wards"].update(ward_entries)
    national["councils"].update(council_entries)
    national["not_up"].update(not_up)
    national["councils"] = dict(sorted(national["councils"].items()))
    national["parties"] = {**national["parties"], **rows.parties}
    national["scoreboard"] = national_scoreboard(national["councils"])
    national["latest"] = sorted(previous_latest + latest_candidates, key=lambda e: -e["seq"])[:LATEST_LENGTH]
    national["seq"] = max(national["seq"], seq)
    national["stream"] = day.stream_id
    national["generated_at"] = generated_at
    national["rehearsal"] = any(entry["rehearsal"] for entry in national["councils"].values())
    national["epoch"] = _epoch(previous, national)
    digest = snapshots.write_document(root, national_path(date), encode(national))
    report.documents += 1
    _NATIONAL_CACHE.store(root, date, digest, national)
    day.seq = national["seq"]
    if council_ids is None:
        # A full build knows every document of the day: those of ballots and councils no
        # longer stored (a wiped rehearsal, a withdrawn ballot) stop being published.
        _unpublish_others(
            root,
            date,
            ballots={r["ballot"] for rs in records_by_council.values() for r in rs},
            councils=affected_slugs,
        )

    # One event per ward whose result was published now.
    ballot_by_result = {r["id"]: ballot_id for ballot_id, r in rows.results.items()}
    ward_of_ballot = {b["id"]: b["ward_id"] for b in rows.ballots}
    slug_of_ballot = {b["id"]: b["election__council__slug"] for b in rows.ballots}
    latest_by_ballot = {e["ballot"]: e for e in national["latest"]}
    event_wards: dict[int, str] = {}
    for result_id in sorted(pending):
        ballot_id = ballot_by_result.get(result_id)
        if ballot_id is not None:
            event_wards[ward_of_ballot[ballot_id]] = slug_of_ballot[ballot_id]
    # The day's scoreboard rides on the publication's last event and each council's summary
    # on that council's last: a publication's events reach a client together, and a peak's
    # publication of a hundred wards would otherwise carry the same scoreboard a hundred
    # times to every viewer (docs/live-data.md).
    events = [
        (ward_id, slug, entry)
        for ward_id, slug in event_wards.items()
        if (entry := national["wards"].get(str(ward_id))) is not None
    ]
    last_of_council = {slug: i for i, (_, slug, _) in enumerate(events)}
    payloads = []
    for i, (ward_id, slug, entry) in enumerate(events):
        payload = {
            "ward": str(ward_id),
            **entry,
            "date": date.isoformat(),
            "seq": national["seq"],
            "latest": latest_by_ballot.get(entry["ballot"]),
            "parties": {p: national["parties"][p] for p in entry["winners"] if p in national["parties"]},
        }
        if last_of_council[slug] == i:
            payload["council_summary"] = national["councils"].get(slug)
        if i == len(events) - 1:
            payload["scoreboard"] = national["scoreboard"]
        payloads.append(encode(payload))
    if payloads:
        report.events = stream.append_events(date, payloads)
        day.stream_id = report.events[-1]


def _epoch(previous: dict[str, Any] | None, national: dict[str, Any]) -> str:
    """The national document's ``epoch`` (docs/live-data.md): kept while the day only moves
    forward, new when a build drops a ward or takes one back to an earlier version (a
    rehearsal wiped, a ballot withdrawn) or follows a withdrawn day. A client holding an
    older epoch replaces what it holds, whatever the versions."""
    if previous is not None and previous.get("epoch"):
        wards = national["wards"]
        if all(
            key in wards and wards[key]["v"] >= entry["v"] for key, entry in previous["wards"].items()
        ):
            return previous["epoch"]
    return secrets.token_hex(8)


def _unpublish_others(root: Path, date: dt.date, *, ballots: set[str], councils: set[str]) -> int:
    """Remove the day's pointers other than these ballots' and councils' (their versions
    are left to ``snapshots.collect_garbage``). Returns how many were removed."""
    removed = 0
    stale = [p for p in (root / date.isoformat() / "council").glob("*.json") if p.stem not in councils]
    # Democracy Club ballot ids end with the date: ``ballot/<…>.<date>.json`` are the day's.
    stale += [p for p in (root / "ballot").glob(f"*.{date.isoformat()}.json") if p.name[:-5] not in ballots]
    for pointer in stale:
        if pointer.is_symlink():
            pointer.unlink(missing_ok=True)
            removed += 1
    return removed


def retire_day(date: dt.date) -> None:
    """A day that no longer has any ballot: its documents stop being published and its
    publication state goes. Holds the day's lock."""
    root = Path(settings.SNAPSHOT_ROOT)
    with transaction.atomic():
        day = PublicationDay.objects.select_for_update().filter(date=date).first()
        if day is None or Ballot.objects.filter(election__date=date).exists():
            return
        _unpublish_others(root, date, ballots=set(), councils=set())
        (root / national_path(date)).unlink(missing_ok=True)
        _NATIONAL_CACHE.forget(date)
        day.delete()


def rebuild_all() -> list[PublishReport]:
    """Rebuild every day in full (the ``publish_live`` command)."""
    started = time.monotonic()
    reports = [publish_day(date, full=True) for date in sorted(_fingerprints())]
    logger.info("publication: %d day(s) rebuilt in %.1f s", len(reports), time.monotonic() - started)
    return reports
