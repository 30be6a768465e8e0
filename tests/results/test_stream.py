"""The live stream through a real uvicorn server running the ASGI front (``LiveApp``), on
the embedded bus (spool files) and on Redis Streams: delivery, resumption from
Last-Event-ID, heartbeats, one Redis connection per process whatever the number of
clients, and the blocking fallback used without the ASGI front."""

from __future__ import annotations

import datetime as dt
import itertools
import socket
import threading
import time
import uuid
from dataclasses import dataclass

import orjson
import pytest
import redis
import uvicorn
from django.conf import settings
from django.test import override_settings

from results import publication, stream
from results.stream import LiveApp, hub_client_name
from tests import support
from tests.factories.contests import make_contest
from tests.factories.councils import make_boundary_set, make_council, make_wards

_dates = (dt.date(2031, 1, 1) + dt.timedelta(days=n) for n in itertools.count())


def next_date() -> str:
    """A day no other test follows (the hub keeps per-day state)."""
    return next(_dates).isoformat()


def free_port() -> int:
    return support.free_port(range(8400, 8500))


class SseClient:
    """A raw-socket Server-Sent Events client: the status, then events as dicts."""

    def __init__(self, port: int, path: str, headers: dict[str, str] | None = None) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv(5)
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        self.status = int(head.split(b" ", 2)[1])
        self.headers = dict(
            line.decode().lower().split(": ", 1) for line in head.split(b"\r\n")[1:] if b": " in line
        )
        self.chunked = self.headers.get("transfer-encoding") == "chunked"
        self.raw = b""

    def _recv(self, timeout: float) -> bytes:
        self.sock.settimeout(timeout)
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("closed")
        return data

    def _dechunk(self) -> None:
        if not self.chunked:
            self.raw += self.buffer
            self.buffer = b""
            return
        while b"\r\n" in self.buffer:
            size_line, rest = self.buffer.split(b"\r\n", 1)
            size = int(size_line, 16)
            if len(rest) < size + 2:
                return
            self.raw += rest[:size]
            self.buffer = rest[size + 2 :]

    def events(self, count: int, *, timeout: float = 5.0, kinds: tuple[str, ...] = ("ward",)) -> list[dict]:
        """The next ``count`` events of these kinds (others are skipped)."""
        found: list[dict] = []
        deadline = time.monotonic() + timeout
        while len(found) < count:
            self._dechunk()
            while b"\n\n" in self.raw and len(found) < count:
                block, self.raw = self.raw.split(b"\n\n", 1)
                fields: dict[str, str] = {}
                for line in block.decode().split("\n"):
                    if line and not line.startswith(":"):
                        name, _, value = line.partition(": ")
                        fields[name] = value
                if fields.get("event", "message" if "data" in fields else "") in kinds:
                    found.append(fields)
            if len(found) >= count:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{len(found)} of {count} events within {timeout} s")
            self.buffer += self._recv(remaining)
        return found

    def close(self) -> None:
        self.sock.close()


@dataclass
class Front:
    port: int
    bus: str

    def connect(self, date: str, **headers: str) -> SseClient:
        query = f"date={date}"
        if "last_id" in headers:
            query += f"&last_id={headers.pop('last_id')}"
        client = SseClient(
            self.port, f"/live/stream?{query}", {k.replace("_", "-"): v for k, v in headers.items()}
        )
        assert client.status == 200 and client.headers["content-type"].startswith("text/event-stream")
        client.events(1, kinds=("",))  # the "retry:" block: subscribed from here on
        return client


@pytest.fixture(scope="module", params=["memory", "redis"])
def front(request, tmp_path_factory):
    """uvicorn serving ``LiveApp`` in a thread of this process, on one bus."""
    if request.param == "redis" and not settings.REDIS_URL:
        pytest.skip("the Redis bus needs REDIS_URL (set in CI)")
    overrides = override_settings(
        EVENT_BUS=request.param,
        SNAPSHOT_ROOT=tmp_path_factory.mktemp("live"),
        LIVE_STREAM_PREFIX=f"test-{uuid.uuid4().hex[:8]}:",
        LIVE_HEARTBEAT_SECONDS=0.5,
    )
    overrides.enable()

    async def not_found(scope, receive, send):
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(LiveApp(not_found), host="127.0.0.1", port=port, lifespan="on", log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield Front(port, request.param)
    server.should_exit = True
    thread.join(10)
    overrides.disable()


def payload(n: int) -> bytes:
    return orjson.dumps({"ward": str(n), "v": n})


def test_an_event_reaches_every_connected_client(front):
    date = next_date()
    clients = [front.connect(date) for _ in range(3)]
    started = time.monotonic()
    [event_id] = stream.append_events(dt.date.fromisoformat(date), [payload(1)])
    for client in clients:
        [event] = client.events(1)
        assert (event["id"], event["event"], orjson.loads(event["data"])) == (
            event_id,
            "ward",
            {"ward": "1", "v": 1},
        )
        client.close()
    assert time.monotonic() - started < 2


def test_a_client_reconnecting_with_last_event_id_misses_nothing(front):
    date = next_date()
    day = dt.date.fromisoformat(date)
    client = front.connect(date)
    first = stream.append_events(day, [payload(1), payload(2), payload(3)])
    assert [e["id"] for e in client.events(3)] == first
    client.close()
    time.sleep(0.3)  # the server notices the disconnection: nobody follows the day any more
    missed = stream.append_events(day, [payload(4), payload(5)])

    again = front.connect(date, Last_Event_ID=first[-1])
    assert [e["id"] for e in again.events(2)] == missed
    later = stream.append_events(day, [payload(6)])
    assert [e["id"] for e in again.events(1)] == later
    again.close()
    by_query = front.connect(date, last_id=first[0])
    assert [orjson.loads(e["data"])["v"] for e in by_query.events(5)] == [2, 3, 4, 5, 6]
    by_query.close()


def test_a_new_client_starts_at_the_next_event_and_hears_heartbeats(front):
    date = next_date()
    stream.append_events(dt.date.fromisoformat(date), [payload(1)])
    client = front.connect(date)
    [heartbeat] = client.events(1, kinds=("heartbeat",), timeout=3)
    assert heartbeat["data"] == "{}"
    stream.append_events(dt.date.fromisoformat(date), [payload(2)])
    assert [orjson.loads(e["data"])["v"] for e in client.events(1)] == [2]
    client.close()


def test_one_reader_per_process_fans_a_burst_out_to_every_client(front):
    date = next_date()
    clients = [front.connect(date) for _ in range(100)]
    ids = stream.append_events(dt.date.fromisoformat(date), [payload(n) for n in range(50)])
    for client in clients:
        assert [e["id"] for e in client.events(50)] == ids
    if front.bus == "redis":
        names = [c.get("name") for c in redis.Redis.from_url(settings.REDIS_URL).client_list()]
        assert 1 <= names.count(hub_client_name()) <= 2  # the reader, and one for reconnections
    for client in clients:
        client.close()


def test_bad_stream_requests_are_refused(front):
    for path, status in (("/live/stream", 400), ("/live/stream?date=tomorrow", 400)):
        sock = socket.create_connection(("127.0.0.1", front.port), timeout=5)
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert sock.recv(1024).split(b" ")[1] == str(status).encode()
        sock.close()


@pytest.mark.django_db
def test_a_publication_reaches_the_stream_with_its_ward_entry(front, settings):
    date = dt.date.fromisoformat(next_date())
    council = make_council(name="Streamford")
    [ward] = make_wards(make_boundary_set(council=council), 1)
    ballot = make_contest(council, ward, date, [("PP53", 300), ("PP52", 200)], names=["<b>Ann</b>", "Bob"])
    client = front.connect(date.isoformat())
    report = publication.publish_day(date)
    [event] = client.events(1)
    data = orjson.loads(event["data"])
    assert event["id"] == report.events[0]
    assert (data["ward"], data["ballot"], data["winners"], data["v"]) == (
        str(ward.pk),
        ballot.ballot_paper_id,
        ["PP53"],
        1,
    )
    assert data["council_summary"]["declared"] == 1 and data["latest"]["ballot"] == ballot.ballot_paper_id
    assert data["scoreboard"]["councils_declared"] == 1 and data["parties"]["PP53"]["name"]
    client.close()
    national = orjson.loads((settings.SNAPSHOT_ROOT / date.isoformat() / "national.json").read_bytes())
    assert national["stream"] == ""  # the position before this publication's events
    publication.publish_day(date, full=True)
    national = orjson.loads((settings.SNAPSHOT_ROOT / date.isoformat() / "national.json").read_bytes())
    assert national["stream"] == report.events[0]


@pytest.mark.django_db
def test_a_publication_carries_the_scoreboard_once_and_each_council_summary_once(front, settings):
    """At a peak one publication holds a hundred wards: the day's scoreboard rides on its
    last event and each council's summary on that council's last, and a client applying the
    events in order ends with national.json's scoreboard and council entries."""
    date = dt.date.fromisoformat(next_date())
    north, south = make_council(name="Northwick"), make_council(name="Southwick")
    north_wards = make_wards(make_boundary_set(council=north), 2)
    [south_ward] = make_wards(make_boundary_set(council=south), 1)
    for council, ward, votes in (
        (north, north_wards[0], [("PP53", 300), ("PP52", 200)]),
        (south, south_ward, [("PP52", 410), ("PP53", 120)]),
        (north, north_wards[1], [("PP52", 250), ("PP53", 240)]),
    ):
        make_contest(council, ward, date, votes)
    client = front.connect(date.isoformat())
    report = publication.publish_day(date)
    events = [orjson.loads(event["data"]) for event in client.events(3)]
    client.close()
    assert len(report.events) == 3
    assert ["scoreboard" in e for e in events] == [False, False, True]
    last_of = {e["council"]: i for i, e in enumerate(events)}
    assert [i for i, e in enumerate(events) if "council_summary" in e] == sorted(last_of.values())
    board, councils = None, {}
    for event in events:
        board = event.get("scoreboard", board)
        if "council_summary" in event:
            councils[event["council"]] = event["council_summary"]
    national = orjson.loads((settings.SNAPSHOT_ROOT / date.isoformat() / "national.json").read_bytes())
    assert board == national["scoreboard"] and board["councils_declared"] == 2
    assert councils == national["councils"] and councils[north.slug]["declared"] == 2


def test_the_blocking_fallback_reads_the_same_stream(front):
    date = next_date()
    day = dt.date.fromisoformat(date)
    [before] = stream.append_events(day, [payload(1)])
    frames = stream.iter_stream_blocking(date, before, heartbeat=0.5)
    assert next(frames) == b"retry: 3000\n\n"
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(next(frames)), daemon=True)
    reader.start()
    [after] = stream.append_events(day, [payload(2)])
    reader.join(5)
    assert received == [stream.frame(after, payload(2))]
    assert next(frames) == stream.HEARTBEAT
    frames.close()
