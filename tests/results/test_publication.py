"""Publication: the snapshot documents of docs/live-data.md, written atomically under
versioned names, served with ETag/304/Cache-Control, published once per version, caught up
by the reconciler, and started by a nudge that never waits on a broken broker and queues
one task for any number of results while that task waits."""

from __future__ import annotations

import datetime as dt
import gzip
import logging
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import orjson
import pytest
import redis

from config.celery_app import app as celery_app
from results import publication, snapshots, tasks
from results.models import CompositionSeat, CouncilComposition, PublicationDay, Result
from results.services import set_count_state
from results.stream import LiveApp
from tests.factories.contests import declare, make_contest
from tests.factories.councils import make_boundary_set, make_council, make_wards
from tests.support import free_port

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 5, 7)
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def live_root(tmp_path, settings) -> Path:
    """A fresh snapshot directory and the embedded bus (a spool file per day)."""
    settings.SNAPSHOT_ROOT = tmp_path / "snapshots"
    settings.EVENT_BUS = "memory"
    return settings.SNAPSHOT_ROOT


@pytest.fixture
def night():
    """Two councils voting on DAY: Ashby (three wards, one not up) and Beeston (one ward)."""
    ashby = make_council(name="Ashby")
    north, south, west = make_wards(make_boundary_set(council=ashby), 3)
    beeston = make_council(name="Beeston")
    [central] = make_wards(make_boundary_set(council=beeston), 1)
    ballots = {
        "north": make_contest(ashby, north, DAY, [("PP53", 900), ("PP52", 400)], names=[XSS, "Bea Baker"]),
        "south": make_contest(ashby, south, DAY, [("PP52", 800), ("PP53", 700)], declare_result=False),
        "central": make_contest(beeston, central, DAY, [("PP90", 500), ("PP52", 450)], declare_result=False),
    }
    bea = ballots["north"].candidacies.get(person_name="Bea Baker")
    return {"ashby": ashby, "beeston": beeston, "west": west, "bea": bea, **ballots}


def read(root: Path, relpath: str) -> dict:
    return orjson.loads(snapshots.read_current(root, relpath))


def test_publishing_writes_the_documents_of_the_contract(live_root, night):
    report = publication.publish_day(DAY)
    assert report.full and set(report.published) == {night["north"].result.pk}

    national = read(live_root, "2026-05-07/national.json")
    assert set(national) >= {
        "date",
        "seq",
        "stream",
        "epoch",
        "generated_at",
        "rehearsal",
        "parties",
        "wards",
        "not_up",
        "councils",
        "scoreboard",
        "latest",
    }
    north = national["wards"][str(night["north"].ward_id)]
    assert north == {
        "ballot": night["north"].ballot_paper_id,
        "council": "ashby",
        "name": night["north"].ward.name,
        "status": "verified",
        "count": "declared",
        "winners": ["PP53"],
        "seats": 1,
        "uncontested": False,
        "by": False,
        "rehearsal": False,
        "v": 1,
        "result": None,
        "gain_from": None,
    }
    south = national["wards"][str(night["south"].ward_id)]
    assert (south["status"], south["count"], south["winners"], south["v"]) == ("none", "awaiting", [], 0)
    assert national["not_up"] == {"ashby": [night["west"].pk], "beeston": []}
    assert national["councils"]["ashby"]["declared"] == 1 and national["councils"]["ashby"]["ballots"] == 2
    assert national["scoreboard"]["councils"] == 2 and national["scoreboard"]["councils_declared"] == 0
    assert [e["ballot"] for e in national["latest"]] == [night["north"].ballot_paper_id]
    assert national["seq"] == night["north"].result.events.get().pk
    assert national["parties"]["PP53"]["name"] == "Party PP53"

    record = read(live_root, f"ballot/{night['north'].ballot_paper_id}.json")
    assert record["candidates"][0]["name"] == XSS  # a name is data, carried verbatim
    assert (record["candidates"][0]["votes"], record["candidates"][0]["share"]) == (900, "69.2")
    assert [h["kind"] for h in record["history"]] == ["verified"]
    council = read(live_root, "2026-05-07/council/ashby.json")
    assert [b["ballot"] for b in council["ballots"]] == [
        night["north"].ballot_paper_id,
        night["south"].ballot_paper_id,
    ]
    assert council["scoreboard"] == national["councils"]["ashby"]
    assert council["ballots"][0]["candidates"][0]["name"] == XSS

    pointer = live_root / "2026-05-07" / "national.json"
    assert pointer.is_symlink()
    digest = snapshots.current_hash(live_root, "2026-05-07/national.json")
    assert (live_root / "v" / digest / "2026-05-07" / "national.json").read_bytes() == pointer.read_bytes()
    assert Result.objects.get(pk=night["north"].result.pk).published_version == 1


def test_publishing_twice_or_an_old_version_changes_nothing(live_root, night):
    publication.publish_day(DAY)
    digest = snapshots.current_hash(live_root, "2026-05-07/national.json")
    again = publication.publish_day(DAY)
    assert (again.published, again.documents, again.events) == ({}, 0, [])
    assert publication.publish_pending() == []
    assert snapshots.current_hash(live_root, "2026-05-07/national.json") == digest

    declare(night["north"], [900, 950], correction_reason="official_correction")
    result = Result.objects.get(pk=night["north"].result.pk)
    assert (result.version, result.published_version) == (2, 1)
    [report] = publication.publish_pending()
    assert report.published == {result.pk: 2}
    national = read(live_root, "2026-05-07/national.json")
    assert national["wards"][str(result.ballot.ward_id)]["winners"] == ["PP52"]
    # A late task for the old version, or a second run, leaves version 2 published.
    assert publication.publish_pending() == []
    assert Result.objects.get(pk=result.pk).published_version == 2


def test_a_declaration_rewrites_only_its_own_council(live_root, night):
    publication.publish_day(DAY)
    beeston = snapshots.current_hash(live_root, "2026-05-07/council/beeston.json")
    ashby = snapshots.current_hash(live_root, "2026-05-07/council/ashby.json")
    before = read(live_root, "2026-05-07/national.json")

    declare(night["south"], [800, 700])
    report = publication.publish_day(DAY)
    assert not report.full and set(report.published) == {night["south"].result.pk}
    assert snapshots.current_hash(live_root, "2026-05-07/council/beeston.json") == beeston
    assert snapshots.current_hash(live_root, "2026-05-07/council/ashby.json") != ashby
    national = read(live_root, "2026-05-07/national.json")
    assert national["wards"][str(night["south"].ward_id)]["winners"] == ["PP52"]
    assert national["councils"]["beeston"] == before["councils"]["beeston"]
    assert national["councils"]["ashby"]["declared"] == 2
    assert national["scoreboard"]["councils_declared"] == 1
    assert [e["ballot"] for e in national["latest"]][0] == night["south"].ballot_paper_id
    assert national["seq"] > before["seq"]


def test_the_reconciler_publishes_whatever_is_behind(live_root, night):
    assert [r.date for r in publication.reconcile()] == [DAY]
    assert publication.reconcile() == []
    set_count_state(ballot=night["central"], state="counting", actor=None)
    declare(night["south"], [800, 700])
    [report] = publication.reconcile()
    assert set(report.published) == {night["central"].result.pk, night["south"].result.pk}
    national = read(live_root, "2026-05-07/national.json")
    assert national["wards"][str(night["central"].ward_id)]["count"] == "counting"

    # A ballot added to a published day changes the day's fingerprint: rebuilt in full.
    extra = make_contest(night["ashby"], night["west"], DAY, [("PP63", 1)], declare_result=False)
    [report] = publication.reconcile()
    assert report.full
    national = read(live_root, "2026-05-07/national.json")
    assert national["wards"][str(extra.ward_id)]["status"] == "none"
    assert national["not_up"]["ashby"] == []


def test_documents_of_ballots_no_longer_stored_stop_being_published(live_root, night):
    extra = make_contest(night["ashby"], night["west"], DAY, [("PP63", 1)], declare_result=False)
    publication.reconcile()
    assert snapshots.read_current(live_root, f"ballot/{extra.ballot_paper_id}.json")
    extra.delete()  # e.g. a wiped rehearsal
    [report] = publication.reconcile()
    assert report.full
    assert snapshots.read_current(live_root, f"ballot/{extra.ballot_paper_id}.json") is None
    assert str(night["west"].pk) not in read(live_root, "2026-05-07/national.json")["wards"]

    other = make_council(name="Gone By")
    [ward] = make_wards(make_boundary_set(council=other), 1)
    lonely = make_contest(other, ward, dt.date(2026, 6, 4), [("PP53", 1)], declare_result=False)
    publication.reconcile()
    assert snapshots.read_current(live_root, "2026-06-04/national.json")
    lonely.delete()
    lonely.election.delete()
    publication.reconcile()
    assert snapshots.read_current(live_root, "2026-06-04/national.json") is None
    assert snapshots.read_current(live_root, "2026-06-04/council/gone-by.json") is None
    assert not PublicationDay.objects.filter(date=dt.date(2026, 6, 4)).exists()


def test_the_epoch_changes_only_when_the_day_goes_back(live_root, night):
    """national.json's ``epoch`` tells an open map to drop what it holds: kept while results
    only move forward (a declaration, a full rebuild of the same day), new when a ward goes
    (a rehearsal wiped) and when a withdrawn day is published again."""
    publication.publish_day(DAY)
    epoch = read(live_root, "2026-05-07/national.json")["epoch"]
    declare(night["south"], [800, 700])
    publication.publish_day(DAY)
    publication.publish_day(DAY, full=True)
    assert read(live_root, "2026-05-07/national.json")["epoch"] == epoch

    extra = make_contest(night["ashby"], night["west"], DAY, [("PP63", 9)], declare_result=False)
    publication.reconcile()
    assert read(live_root, "2026-05-07/national.json")["epoch"] == epoch  # a ward added
    extra.delete()  # e.g. a wiped rehearsal: the ward goes
    publication.reconcile()
    wiped = read(live_root, "2026-05-07/national.json")["epoch"]
    assert wiped != epoch

    other = make_council(name="Withdrawnby")
    [ward] = make_wards(make_boundary_set(council=other), 1)
    day = dt.date(2026, 6, 4)
    lonely = make_contest(other, ward, day, [("PP53", 5)], declare_result=False)
    publication.reconcile()
    first = read(live_root, "2026-06-04/national.json")["epoch"]
    lonely.delete()
    lonely.election.delete()
    publication.reconcile()  # the day is withdrawn: its documents go
    again = make_contest(other, ward, day, [("PP52", 7)], declare_result=False)
    publication.reconcile()
    national = read(live_root, "2026-06-04/national.json")
    assert national["epoch"] != first and national["wards"][str(ward.pk)]["ballot"] == again.ballot_paper_id


def test_an_administrators_composition_republishes_the_days_after_it(
    live_root, night, monkeypatch, django_capture_on_commit_callbacks
):
    publication.publish_day(DAY)
    assert (
        read(live_root, "2026-05-07/national.json")["councils"]["ashby"]["unknown"] == 1
    )  # west: not up, holder unknown
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    with django_capture_on_commit_callbacks(execute=True):
        composition = CouncilComposition.objects.create(
            council=night["ashby"], as_of=dt.date(2022, 5, 5), source="council website"
        )
        for ward in (night["north"].ward, night["south"].ward, night["west"]):
            CompositionSeat.objects.create(composition=composition, ward=ward, party_id=night["bea"].party_id)
        publication.schedule_republication(council_ids=[night["ashby"].pk])
    ashby = read(live_root, "2026-05-07/national.json")["councils"]["ashby"]
    assert (ashby["unknown"], ashby["before"]["seats"], ashby["before"]["control"]) == (
        0,
        {"PP52": 3},
        "PP52",
    )
    # North: Labour gain; south: still up (nobody's); west: not up this time.
    assert (ashby["seats"], ashby["gains"], ashby["losses"]) == (
        {"PP52": 1, "PP53": 1},
        {"PP53": 1},
        {"PP52": 1},
    )
    assert PublicationDay.objects.get(date=DAY).structure != ""


def test_a_failed_write_marks_nothing_published_and_the_next_run_publishes(live_root, night, settings):
    blocked = live_root.parent / "not-a-directory"
    blocked.write_text("")
    settings.SNAPSHOT_ROOT = blocked / "snapshots"
    with pytest.raises(NotADirectoryError):
        publication.publish_day(DAY)
    assert Result.objects.get(pk=night["north"].result.pk).published_version == 0
    assert not PublicationDay.objects.filter(date=DAY, published_at__isnull=False).exists()
    settings.SNAPSHOT_ROOT = live_root
    [report] = publication.reconcile()
    assert set(report.published) == {night["north"].result.pk}


def test_a_reader_never_sees_a_torn_or_empty_document(live_root, night):
    publication.publish_day(DAY)
    pointer = live_root / "2026-05-07" / "national.json"
    stop = threading.Event()
    reads: list[int] = []
    failures: list[str] = []

    def poll() -> None:
        while not stop.is_set():
            try:
                document = orjson.loads(pointer.read_bytes())
                assert len(document["wards"]) == 3
                reads.append(document["wards"][str(night["north"].ward_id)]["v"])
            except Exception as exc:  # noqa: BLE001 - any failure to read is the finding
                failures.append(repr(exc))

    reader = threading.Thread(target=poll)
    reader.start()
    try:
        for votes in range(901, 926):
            declare(night["north"], [votes, 400], correction_reason="official_correction")
            publication.publish_day(DAY)
    finally:
        stop.set()
        reader.join()
    assert failures == []
    assert reads and reads == sorted(reads)  # each read a whole document, never an older one
    assert orjson.loads(pointer.read_bytes())["wards"][str(night["north"].ward_id)]["v"] == 26


def test_old_versions_are_kept_for_the_keep_period_then_collected(live_root, night):
    publication.publish_day(DAY)
    first = snapshots.current_hash(live_root, "2026-05-07/national.json")
    declare(night["south"], [800, 700])
    publication.publish_day(DAY)
    current = snapshots.current_hash(live_root, "2026-05-07/national.json")
    assert snapshots.collect_garbage(live_root, keep_seconds=600) == 0
    assert (live_root / "v" / first).exists()
    removed = snapshots.collect_garbage(live_root, keep_seconds=600, now=time.time() + 601)
    assert removed >= 2  # the old national and Ashby documents; never a current one
    assert not (live_root / "v" / first).exists() and (live_root / "v" / current).exists()
    assert snapshots.read_current(live_root, f"ballot/{night['north'].ballot_paper_id}.json")


def test_a_front_server_finds_each_version_compressed_beside_it(live_root, night):
    """nginx's gzip_static serves ``<pointer>.gz``: it must always be the pointer's own
    version, compressed, and small documents have none."""
    publication.publish_day(DAY)
    pointer = live_root / "2026-05-07" / "national.json"
    first = pointer.read_bytes()
    assert gzip.decompress(pointer.with_name("national.json.gz").read_bytes()) == first
    declare(night["south"], [800, 700])
    publication.publish_day(DAY)
    assert pointer.read_bytes() != first
    assert gzip.decompress(pointer.with_name("national.json.gz").read_bytes()) == pointer.read_bytes()
    assert snapshots.collect_garbage(live_root, keep_seconds=600, now=time.time() + 601) >= 1
    assert gzip.decompress(pointer.with_name("national.json.gz").read_bytes()) == pointer.read_bytes()
    small = live_root / "tiny"
    snapshots.write_document(small, "ballot/local.x.y.2026-05-07.json", b"{}")
    assert not (small / "ballot" / "local.x.y.2026-05-07.json.gz").exists()


# --------------------------------------------------------------------------- serving


@pytest.fixture
def published(live_root, night):
    publication.publish_day(DAY)
    return snapshots.current_hash(live_root, "2026-05-07/national.json")


def test_the_live_views_serve_etag_304_and_cache_control(client, published, night):
    response = client.get("/live/2026-05-07/national.json")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response["ETag"] == f'"{published}"'
    assert response["Cache-Control"] == "max-age=2, stale-while-revalidate=30"
    assert response["Content-Location"] == f"/live/v/{published}/2026-05-07/national.json"
    assert orjson.loads(response.content)["date"] == "2026-05-07"

    not_modified = client.get("/live/2026-05-07/national.json", HTTP_IF_NONE_MATCH=f'"{published}"')
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert client.get("/live/2026-05-07/national.json", HTTP_IF_NONE_MATCH='"other"').status_code == 200

    versioned = client.get(f"/live/v/{published}/2026-05-07/national.json")
    assert (
        versioned.status_code == 200 and versioned["Cache-Control"] == "public, max-age=31536000, immutable"
    )
    assert versioned.content == response.content

    ballot = client.get(f"/live/ballot/{night['north'].ballot_paper_id}.json")
    assert ballot.status_code == 200 and orjson.loads(ballot.content)["candidates"][0]["name"] == XSS
    assert client.get("/live/2026-05-08/national.json").status_code == 404
    assert client.get("/live/../config/settings/base.py").status_code == 404
    assert client.get("/live/2026-05-07/council/..%2F..%2Fv.json").status_code == 404
    head = client.head("/live/2026-05-07/national.json")
    assert head.status_code == 200 and head.content == b"" and head["ETag"] == f'"{published}"'
    assert client.post("/live/2026-05-07/national.json").status_code == 405


def test_documents_are_sent_gzipped_to_clients_that_accept_it(client, published):
    plain = client.get("/live/2026-05-07/national.json")
    packed = client.get("/live/2026-05-07/national.json", HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert packed["Content-Encoding"] == "gzip" and packed["Vary"] == "Accept-Encoding"
    assert gzip.decompress(packed.content) == plain.content
    assert packed["ETag"] == f'W/"{published}"' and "Content-Encoding" not in plain
    assert int(packed["Content-Length"]) == len(packed.content) < len(plain.content)
    assert (
        client.get(
            "/live/2026-05-07/national.json", HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=packed["ETag"]
        ).status_code
        == 304
    )
    refused = client.get("/live/2026-05-07/national.json", HTTP_ACCEPT_ENCODING="gzip;q=0, identity")
    assert "Content-Encoding" not in refused and refused.content == plain.content


def test_the_stream_view_without_the_asgi_front(client, live_root):
    assert client.get("/live/stream").status_code == 400
    assert client.get("/live/stream?date=2026-13-99x").status_code == 400
    assert client.post("/live/stream?date=2026-05-07").status_code == 405
    response = client.get("/live/stream?date=2026-05-07")
    assert response.status_code == 200 and response["Content-Type"] == "text/event-stream; charset=utf-8"
    assert response["Cache-Control"] == "no-cache, no-transform"
    frames = iter(response.streaming_content)
    assert next(frames) == b"retry: 3000\n\n"
    response.close()


async def asgi_get(app, path: str, *, method: str = "GET", headers=()) -> tuple[int, dict, bytes]:
    messages = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        messages.append(message)

    await app(
        {
            "type": "http",
            "method": method,
            "path": path,
            "query_string": b"",
            "headers": [(k.encode(), v.encode()) for k, v in headers],
        },
        receive,
        send,
    )
    if not messages:
        return 0, {}, b""
    start = messages[0]
    return (
        start["status"],
        {k.decode(): v.decode() for k, v in start["headers"]},
        b"".join(m.get("body", b"") for m in messages[1:]),
    )


def test_the_asgi_front_serves_the_same_documents_without_django(published, live_root):
    passed_on = []

    async def django(scope, receive, send):
        passed_on.append(scope["path"])

    import asyncio

    app = LiveApp(django)
    status, headers, body = asyncio.run(asgi_get(app, "/live/2026-05-07/national.json"))
    assert status == 200 and headers["etag"] == f'"{published}"'
    assert headers["cache-control"] == "max-age=2, stale-while-revalidate=30"
    assert body == (live_root / "2026-05-07" / "national.json").read_bytes()
    status, headers, body = asyncio.run(
        asgi_get(app, "/live/2026-05-07/national.json", headers=[("if-none-match", f'W/"{published}"')])
    )
    assert (status, body) == (304, b"")
    status, headers, _ = asyncio.run(asgi_get(app, f"/live/v/{published}/2026-05-07/national.json"))
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    assert asyncio.run(asgi_get(app, "/live/2026-05-09/national.json"))[0] == 404
    status, headers, packed = asyncio.run(
        asgi_get(app, "/live/2026-05-07/national.json", headers=[("accept-encoding", "gzip")])
    )
    assert headers["content-encoding"] == "gzip"
    assert gzip.decompress(packed) == (live_root / "2026-05-07" / "national.json").read_bytes()
    assert asyncio.run(asgi_get(app, "/live/2026-05-07/national.json", method="HEAD"))[2] == b""
    asyncio.run(asgi_get(app, "/map/"))
    asyncio.run(asgi_get(app, "/live/2026-05-07/national.json", method="POST"))
    assert passed_on == ["/map/", "/live/2026-05-07/national.json"]


# --------------------------------------------------------------------------- the nudge


def test_the_nudge_publishes_in_process_after_commit_in_the_embedded_default(
    live_root, night, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    with django_capture_on_commit_callbacks(execute=True):
        declare(night["south"], [800, 700])
    assert Result.objects.get(pk=night["south"].result.pk).published_version == 1
    national = read(live_root, "2026-05-07/national.json")
    assert national["wards"][str(night["south"].ward_id)]["status"] == "verified"
    assert (live_root / "stream" / "2026-05-07.log").read_bytes().count(
        b"\n"
    ) == 2  # one event for each result of the day


@pytest.mark.parametrize("broker", ["refused", "hung"])
def test_the_nudge_never_waits_on_a_broken_broker(
    broker, live_root, night, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    """A request's commit with the broker refusing connections, or accepting and never
    answering (a hung Redis): the result is stored, the call returns in about a socket
    timeout (0.5 s), the failure is logged, and nothing is published until the reconciler."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    if broker == "hung":
        listener.listen(16)  # the kernel completes connections nobody ever answers
    else:
        listener.close()
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    monkeypatch.setitem(celery_app.conf, "broker_url", f"redis://127.0.0.1:{port}/0")
    monkeypatch.setattr(celery_app, "_pool", None)
    monkeypatch.setattr(celery_app.amqp, "_producer_pool", None)
    try:
        with caplog.at_level(logging.WARNING, logger="results.services"):
            started = time.monotonic()
            with django_capture_on_commit_callbacks(execute=True):
                declare(night["south"], [800, 700])
            elapsed = time.monotonic() - started
    finally:
        listener.close()
        if celery_app._pool is not None:
            celery_app._pool.force_close_all()
    print(f"nudge with the broker {broker}: the commit returned in {elapsed:.2f} s")
    assert elapsed < 2.0, f"the commit waited {elapsed:.2f} s on the broker"
    assert Result.objects.get(pk=night["south"].result.pk).published_version == 0
    assert "the reconciler will publish it" in caplog.text
    assert publication.reconcile()[0].published == {night["south"].result.pk: 1, night["north"].result.pk: 1}


def test_nudges_wait_behind_one_queued_publication_task_that_publishes_them_all(
    live_root, night, settings, monkeypatch, tmp_path, django_capture_on_commit_callbacks
):
    """On election night a keying arrives every few milliseconds: while a publication task
    waits in the queue, further results queue nothing (that task publishes whatever is
    behind when it starts), so no worker spends its time on tasks that find their result
    already published. A result committed after the task started queues one of its own.
    On a redis-server of its own, so no worker takes the task before the test does."""
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("CI installs redis-server")
        pytest.skip("redis-server is not installed")
    port = free_port(range(6381, 6391))
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    broker = redis.Redis(port=port, socket_connect_timeout=0.5)
    url = f"redis://127.0.0.1:{port}/0"
    settings.REDIS_URL = url
    monkeypatch.setattr(tasks, "_redis_client", None)
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    monkeypatch.setitem(celery_app.conf, "broker_url", url)
    monkeypatch.setattr(celery_app, "_pool", None)
    monkeypatch.setattr(celery_app.amqp, "_producer_pool", None)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                broker.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        with django_capture_on_commit_callbacks(execute=True):
            declare(night["south"], [800, 700])
        with django_capture_on_commit_callbacks(execute=True):
            declare(night["central"], [500, 450])
        assert broker.llen("celery") == 1  # two results, one task
        assert broker.exists("live:publication:queued")
        broker.delete("celery")  # the worker takes the message ...
        tasks.publish_result_task(night["south"].result.pk)  # ... and runs it
        for name in ("north", "south", "central"):
            result = Result.objects.get(pk=night[name].result.pk)
            assert result.published_version == result.version, name
        assert not broker.exists("live:publication:queued")
        national = read(live_root, "2026-05-07/national.json")
        assert national["wards"][str(night["central"].ward_id)]["status"] == "verified"
        west = make_contest(night["ashby"], night["west"], DAY, [("PP63", 1)], declare_result=False)
        with django_capture_on_commit_callbacks(execute=True):
            set_count_state(ballot=west, state="counting", actor=None)
        assert broker.llen("celery") == 1  # the mark was cleared: a task of its own
    finally:
        if celery_app._pool is not None:
            celery_app._pool.force_close_all()
        server.terminate()
        server.wait(10)


def test_rehearsal_days_are_marked(live_root):
    council = make_council(name="Rehearsalton")
    [ward] = make_wards(make_boundary_set(council=council), 1)
    ballot = make_contest(council, ward, DAY, [("PP53", 10), ("PP52", 5)], rehearsal=True)
    publication.publish_day(DAY)
    national = read(live_root, "2026-05-07/national.json")
    assert national["rehearsal"] is True and national["councils"]["rehearsalton"]["rehearsal"] is True
    assert national["wards"][str(ward.pk)]["rehearsal"] is True
    assert read(live_root, f"ballot/{ballot.ballot_paper_id}.json")["rehearsal"] is True
    assert read(live_root, "2026-05-07/council/rehearsalton.json")["rehearsal"] is True
    assert os.path.islink(live_root / "2026-05-07" / "council" / "rehearsalton.json")
