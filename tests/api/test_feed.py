"""The change feed: a poller that always asks with the cursor it was last given receives
every change once, in order — provisional results, verifications, corrections, disputes,
resolutions, retractions and count states — and never skips an event whose transaction
commits after a later one."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction

from config import api_http
from results.api.records import feed_horizon
from results.models import CorrectionReason, EventKind, Result, ResultEvent, SubmissionChannel
from results.services import correct_result, retract_result, set_count_state, submit_result
from tests.api.conftest import build_night, declare, figures_for


class Poller:
    """A consumer polling ``/api/v1/events/`` as a newsroom would."""

    def __init__(self, client, **filters: str) -> None:  # type: ignore[no-untyped-def]
        self.client = client
        self.cursor = 0
        self.filters = filters
        self.seen: list[dict] = []
        self.etag: str | None = None

    def poll(self) -> list[dict]:
        new: list[dict] = []
        while True:
            response = self.client.get("/api/v1/events/", {"since": self.cursor, "limit": 3, **self.filters})
            assert response.status_code == 200, response.content
            page = response.json()
            assert page["since"] == self.cursor
            new += page["events"]
            self.cursor = page["next"]
            if not page["more"]:
                self.etag = response["ETag"]
                break
        self.seen += new
        return new


@pytest.mark.django_db
def test_the_feed_carries_every_change_once_in_order(client) -> None:
    users = get_user_model()
    keyer = users.objects.create_user("keyer-a", password="unused-password-123")
    second = users.objects.create_user("keyer-b", password="unused-password-123")
    night = build_night(councils=1, wards=3, declared=1)
    poller = Poller(client)
    first = poller.poll()
    assert [e["kind"] for e in first] == ["verified"]

    # A count starts, a provisional keying, a second identical keying verifies it.
    b2 = night.ballots[1]
    set_count_state(ballot=b2, state="counting", actor=keyer)
    submit_result(
        ballot=b2,
        figures=figures_for(b2, [300, 200, 100]),
        source="count",
        channel=SubmissionChannel.FORM,
        submitted_by=keyer,
        confirm_warnings=True,
    )
    submit_result(
        ballot=b2,
        figures=figures_for(b2, [300, 200, 100]),
        source="count",
        channel=SubmissionChannel.FORM,
        submitted_by=second,
        confirm_warnings=True,
    )
    assert [e["kind"] for e in poller.poll()] == ["count_state", "provisional", "verified"]

    # A correction after a recount, then a retraction.
    result = Result.objects.get(ballot=b2)
    correct_result(
        result=result,
        expected_version=result.version,
        corrected_by=keyer,
        confirm_warnings=True,
        reason=CorrectionReason.RECOUNT,
        source="recount",
        figures=figures_for(b2, [300, 210, 100]),
    )
    correction = poller.poll()
    assert [e["kind"] for e in correction] == ["corrected"]
    assert correction[0]["reason"] == "recount"
    assert correction[0]["corrects_version"] == result.version
    assert {"field": f"votes_{b2.candidacies.order_by('id')[1].pk}", "before": 200, "after": 210} in [
        {k: c[k] for k in ("field", "before", "after")} for c in correction[0]["changes"]
    ]
    result.refresh_from_db()
    retract_result(result=result, expected_version=result.version, retracted_by=second, reason="Wrong ward")
    retraction = poller.poll()
    assert [(e["kind"], e["status"], e["reason"]) for e in retraction] == [
        ("retracted", "retracted", "Wrong ward")
    ]

    # Disputed keyings of the third ballot.
    b3 = night.ballots[2]
    submit_result(
        ballot=b3,
        figures=figures_for(b3, [500, 400, 300]),
        source="count",
        channel=SubmissionChannel.FORM,
        submitted_by=keyer,
        confirm_warnings=True,
    )
    submit_result(
        ballot=b3,
        figures=figures_for(b3, [500, 300, 400]),
        source="count",
        channel=SubmissionChannel.FORM,
        submitted_by=second,
        confirm_warnings=True,
    )
    assert [e["kind"] for e in poller.poll()] == ["provisional", "disputed"]

    # Nothing new: an empty page, the same cursor, and a 304 for the same question.
    assert poller.poll() == []
    again = client.get(
        "/api/v1/events/", {"since": poller.cursor, "limit": 3}, HTTP_IF_NONE_MATCH=poller.etag
    )
    assert again.status_code == 304

    every = list(ResultEvent.objects.order_by("id").values_list("id", flat=True))
    assert [e["id"] for e in poller.seen] == every
    # Each event's version is the result's version after it; the last one per ballot is current.
    latest = {e["ballot_paper_id"]: e["version"] for e in poller.seen}
    for ballot in night.ballots:
        assert (
            client.get(f"/api/v1/results/{ballot.ballot_paper_id}/").json()["version"]
            == latest[ballot.ballot_paper_id]
        )


@pytest.mark.django_db
def test_a_filtered_poller_moves_past_events_it_does_not_want(client) -> None:
    one = build_night(councils=1, wards=2)
    other = build_night(councils=1, wards=2)
    poller = Poller(client, council=one.elections[0].council.slug)
    assert {e["ballot_paper_id"] for e in poller.poll()} == {b.ballot_paper_id for b in one.ballots}
    assert poller.cursor == ResultEvent.objects.order_by("-id").first().pk
    declare_other = other.ballots[0]
    result = Result.objects.get(ballot=declare_other)
    correct_result(
        result=result,
        expected_version=result.version,
        corrected_by=None,  # type: ignore[arg-type]
        confirm_warnings=True,
        reason=CorrectionReason.OFFICIAL_CORRECTION,
        source="council",
        figures=figures_for(declare_other, [400, 100, 50]),
    )
    assert poller.poll() == []
    assert poller.cursor == ResultEvent.objects.order_by("-id").first().pk


@pytest.mark.django_db
def test_the_feed_stops_before_an_event_that_may_still_commit(client, monkeypatch) -> None:
    """With another transaction writing events, a gap in the ids may be an event not yet
    committed: the feed hands out the unbroken run before it and no further."""
    night = build_night(councils=1, wards=1)
    first = ResultEvent.objects.order_by("id").first()
    assert first is not None
    # An event stored after a gap of one id (as when a transaction that drew the id between
    # them has not committed yet).
    later = ResultEvent.objects.create(
        id=first.pk + 2,
        result=first.result,
        kind=EventKind.COUNT_STATE,
        version=first.version,
        payload={"ballot_paper_id": night.ballots[0].ballot_paper_id, "count_state": "counting"},
    )
    before = first.pk - 1  # the cursor of a poller that has seen everything before this night
    assert feed_horizon(before, later.pk, writers_in_flight=True) == first.pk
    assert feed_horizon(before, later.pk, writers_in_flight=False) == later.pk
    # With a writer in flight, not even the first event is handed out if its id could be
    # preceded by one still to commit.
    assert feed_horizon(before - 1, later.pk, writers_in_flight=True) == before - 1

    monkeypatch.setattr(api_http, "change_token", lambda: api_http.ChangeToken(later.pk, True))
    page = client.get("/api/v1/events/", {"since": before}).json()
    assert [e["id"] for e in page["events"]] == [first.pk]
    assert page["next"] == first.pk

    # Once nothing is in flight the gap is known to be a rollback: the poller moves on.
    monkeypatch.setattr(api_http, "change_token", lambda: api_http.ChangeToken(later.pk, False))
    page = client.get("/api/v1/events/", {"since": first.pk}).json()
    assert [e["id"] for e in page["events"]] == [later.pk]


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite has one writer at a time: no reordering"
)
@pytest.mark.django_db(transaction=True)
def test_an_event_committed_late_is_not_skipped(client) -> None:
    """PostgreSQL: transaction A draws event id n and stays open; B draws n+1 and commits.
    A poller must not be handed n+1 (and a cursor past n) before A commits."""
    night = build_night(councils=1, wards=2, declared=0)
    slow_ballot, fast_ballot = night.ballots
    poller = Poller(client)
    assert poller.poll() == []
    drawn, release, done = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def slow_keying() -> None:
        try:
            with transaction.atomic():
                declare(slow_ballot, [300, 200, 100])
                drawn.set()
                release.wait(timeout=30)
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            errors.append(exc)
        finally:
            connection.close()
            done.set()

    thread = threading.Thread(target=slow_keying)
    thread.start()
    try:
        assert drawn.wait(timeout=30)
        declare(fast_ballot, [300, 200, 100])  # commits with the higher id
        assert poller.poll() == []
        assert poller.cursor == 0
    finally:
        release.set()
        thread.join(timeout=30)
    assert done.is_set() and not errors, errors
    got = poller.poll()
    assert [e["ballot_paper_id"] for e in got] == [slow_ballot.ballot_paper_id, fast_ballot.ballot_paper_id]
    assert [e["id"] for e in got] == sorted(e["id"] for e in got)


def test_feed_parameters_are_validated(client, db) -> None:
    for params, field in (
        ({"since": "-1"}, "since"),
        ({"since": "x"}, "since"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"since": ""}, "since"),
        ({"kind": "deleted"}, "kind"),
    ):
        response = client.get("/api/v1/events/", params)
        assert response.status_code == 400, params
        assert response.json()["field"] == field
