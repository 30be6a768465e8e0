"""The live stream (Server-Sent Events) and the raw ASGI front for ``/live/`` (docs/live-data.md).

Publishing side (``append_events``, called by ``results.publication`` under the day's lock):
a Redis Stream per day in production (``XADD`` with ``MAXLEN``); in the embedded default an
append-only spool file per day under ``SNAPSHOT_ROOT/stream/`` whose byte offsets are the
event ids, so an import or replay in another process reaches the server's clients too.

Serving side (``LiveApp``, mounted in ``config/asgi.py`` in front of Django): a raw ASGI
application, because Django's streaming responses cost an OS thread per connection. One
``Hub`` per process holds ONE Redis connection reading every day its clients follow
(``XREAD BLOCK``), or tails the spool files; it encodes each batch of events once and hands
the same bytes to every client of that day (a burst of events is one write per client).
A bounded ring per day answers reconnections (``Last-Event-ID``); older positions are read
back from Redis (``XRANGE``) or the spool. A heartbeat goes to every client every
``LIVE_HEARTBEAT_SECONDS``. The same front serves the snapshot documents from pre-built
bytes (``results.snapshots.SnapshotReader``) with the ETag and Cache-Control of the contract.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gzip
import logging
import os
import re
import threading
import time
from collections import OrderedDict, defaultdict, deque
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from django.conf import settings

from . import snapshots

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
EVENT_ID = re.compile(r"^\d{1,20}(?:-\d{1,20})?$")
RING_SIZE = 2000
BACKFILL_LIMIT = 10000
# A client that has this much unsent is too slow to follow: it is disconnected, reconnects
# with Last-Event-ID and resumes from the ring or the stream.
MAX_PENDING_BYTES = 4 * 1024 * 1024
RETRY = b"retry: 3000\n\n"
HEARTBEAT = b"event: heartbeat\ndata: {}\n\n"
POINTER_CACHE_CONTROL = b"max-age=2, stale-while-revalidate=30"
VERSION_CACHE_CONTROL = b"public, max-age=31536000, immutable"


def hub_client_name() -> str:
    """The name the hub's Redis connections carry (``CLIENT LIST``): one reader per process."""
    return f"ukresults-live-{os.getpid()}"


def stream_key(date: dt.date | str) -> str:
    day = date.isoformat() if isinstance(date, dt.date) else date
    return f"{settings.LIVE_STREAM_PREFIX}stream:{day}"


def spool_path(date: dt.date | str) -> Path:
    day = date.isoformat() if isinstance(date, dt.date) else date
    return Path(settings.SNAPSHOT_ROOT) / "stream" / f"{day}.log"


def frame(event_id: str, data: bytes) -> bytes:
    return b"id: " + event_id.encode() + b"\nevent: ward\ndata: " + data + b"\n\n"


def id_key(event_id: str) -> tuple[int, int] | None:
    """Ids in stream order: Redis ``<ms>-<n>``, spool byte offsets ``<n>``."""
    if not EVENT_ID.match(event_id):
        return None
    first, _, second = event_id.partition("-")
    return int(first), int(second or 0)


# --------------------------------------------------------------------------- publishing

_redis_lock = threading.Lock()
_redis_client: Any = None


def _redis() -> Any:
    global _redis_client
    with _redis_lock:
        if _redis_client is None:
            import redis

            # Publishing runs in a worker, never in a request: a short wait is acceptable,
            # and a failure leaves the result unmarked for the reconciler.
            from redis.backoff import ExponentialBackoff
            from redis.retry import Retry

            _redis_client = redis.Redis.from_url(
                settings.REDIS_URL,
                socket_timeout=2,
                socket_connect_timeout=2,
                health_check_interval=30,
                retry=Retry(ExponentialBackoff(cap=0.5, base=0.1), 1),
            )
        return _redis_client


def append_events(date: dt.date, payloads: list[bytes]) -> list[str]:
    """Append one event per payload (encoded JSON) to the day's stream; return their ids.

    Raises if the events cannot be appended (the caller leaves the results unpublished).
    """
    if not payloads:
        return []
    if settings.EVENT_BUS == "redis":
        key = stream_key(date)
        pipe = _redis().pipeline(transaction=False)
        for payload in payloads:
            pipe.xadd(key, {"d": payload}, maxlen=settings.LIVE_STREAM_MAXLEN, approximate=True)
        pipe.expire(key, 14 * 24 * 3600)
        replies = pipe.execute()
        ids = [r.decode() if isinstance(r, bytes) else str(r) for r in replies[:-1]]
    else:
        path = spool_path(date)
        path.parent.mkdir(parents=True, exist_ok=True)
        ids = []
        with open(path, "ab") as handle:
            position = handle.seek(0, os.SEEK_END)
            for payload in payloads:
                position += len(payload) + 1
                ids.append(str(position))
            handle.write(b"".join(payload + b"\n" for payload in payloads))
    hub = Hub.current
    if hub is not None:
        hub.wake_threadsafe()
    return ids


def _read_spool(date: str, position: int) -> tuple[list[tuple[str, bytes]], int]:
    """Complete lines of the day's spool after byte ``position``: ([(id, data)], new position)."""
    try:
        with open(spool_path(date), "rb") as handle:
            handle.seek(position)
            chunk = handle.read()
    except FileNotFoundError:
        return [], position
    end = chunk.rfind(b"\n")
    if end < 0:
        return [], position
    events = []
    offset = position
    for line in chunk[: end + 1].split(b"\n")[:-1]:
        offset += len(line) + 1
        events.append((str(offset), line))
    return events, offset


def _spool_size(date: str) -> int:
    try:
        return spool_path(date).stat().st_size
    except OSError:
        return 0


# --------------------------------------------------------------------------- fan-out


class Client:
    """One open stream. Small on purpose: thousands are held per process.

    The hub writes to the client directly (``push``): uvicorn's ``send`` of a body completes
    without suspending unless the connection's write buffer is full, so it is driven by hand
    and only a client that is behind gets a task, which finishes the write and flushes what
    came meanwhile. No task or event per client while it keeps up: a burst reaches 10,000
    clients in one pass of the hub. Events pushed before the client is ``ready`` (its
    backfill sent) wait in ``chunks``.
    """

    __slots__ = ("busy", "chunks", "closed", "date", "held", "pending", "ready", "send")

    def __init__(self, date: str, send: Send) -> None:
        self.date = date
        self.send = send
        self.chunks: list[bytes] = []
        self.held: list[tuple[tuple[int, int] | None, bytes]] = []
        self.pending = 0
        self.busy = False
        self.ready = False
        self.closed = False

    def push(self, data: bytes, last: tuple[int, int] | None = None) -> None:
        """Send ``data`` (events up to id ``last``, or a heartbeat)."""
        if self.closed:
            return
        if not self.ready:
            self.held.append((last, data))
            return
        if self.busy:
            self.chunks.append(data)
            self.pending += len(data)
            if self.pending > MAX_PENDING_BYTES:
                self.close()
            return
        self._write({"type": "http.response.body", "body": data, "more_body": True})

    def start(self, first: bytes, through: tuple[int, int] | None) -> None:
        """Send ``first`` (the retry line and any backfill, events up to id ``through``),
        then what arrived meanwhile and is not in it."""
        self.ready = True
        self.chunks = [first] + [
            data for last, data in self.held if through is None or last is None or last > through
        ]
        self.held = []
        self._flush()

    def close(self) -> None:
        """End the response: the browser reconnects with Last-Event-ID and resumes."""
        if self.closed:
            return
        self.closed = True
        self.chunks.clear()
        self._write({"type": "http.response.body", "body": b"", "more_body": False})

    def _flush(self) -> None:
        if self.chunks and not self.busy:
            data = b"".join(self.chunks)
            self.chunks.clear()
            self.pending = 0
            self._write({"type": "http.response.body", "body": data, "more_body": True})

    def _write(self, message: Message) -> None:
        coroutine = self.send(message)
        try:
            waiting = coroutine.send(None)
        except StopIteration:
            return
        except Exception:
            self.closed = True  # the connection is gone; the handler notices the disconnect
            return
        self.busy = True
        asyncio.ensure_future(self._finish(coroutine, waiting))

    async def _finish(self, coroutine: Any, waiting: Any) -> None:
        try:
            while True:
                with contextlib.suppress(Exception):
                    await (waiting if waiting is not None else asyncio.sleep(0))
                try:
                    waiting = coroutine.send(None)
                except StopIteration:
                    break
        except Exception:
            self.closed = True
            return
        self.busy = False
        if not self.closed:
            self._flush()


class Hub:
    """The process's single reader of the live stream, fanning events out to its clients."""

    current: Hub | None = None

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.clients: dict[str, set[Client]] = defaultdict(set)
        self.rings: dict[str, deque[tuple[tuple[int, int], bytes]]] = {}
        self.positions: dict[str, str] = {}
        self.redis_mode = settings.EVENT_BUS == "redis"
        self._wake = asyncio.Event()
        self._connection: Any = None
        self._backfill_connection: Any = None
        self._tasks = [loop.create_task(self._run()), loop.create_task(self._heartbeat())]

    @classmethod
    def get(cls) -> Hub:
        """The hub of the running event loop (created on first use)."""
        loop = asyncio.get_running_loop()
        hub = cls.current
        if hub is None or hub.loop is not loop:
            hub = cls.current = cls(loop)
        return hub

    def wake_threadsafe(self) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed
            self.loop.call_soon_threadsafe(self._wake.set)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for connection in (self._connection, self._backfill_connection):
            if connection is not None:
                with contextlib.suppress(Exception):
                    await connection.aclose()
        if Hub.current is self:
            Hub.current = None

    def subscribe(self, client: Client) -> None:
        self.clients[client.date].add(client)
        self._wake.set()

    def unsubscribe(self, client: Client) -> None:
        clients = self.clients.get(client.date)
        if clients is not None:
            clients.discard(client)
            if not clients:
                # Nobody follows the day: stop reading it. Its ring goes too, since the ring
                # must hold every event after its first one to answer a reconnection.
                del self.clients[client.date]
                self.positions.pop(client.date, None)
                self.rings.pop(client.date, None)

    async def start_position(self, date: str) -> str:
        """The position the hub reads ``date`` from, fixed now if the day is new to it, so
        that a client starting "now" misses nothing published after this call."""
        if date not in self.positions:
            if self.redis_mode:
                connection = await self._redis_backfill()
                newest = await connection.xrevrange(stream_key(date), max="+", min="-", count=1)
                position = _text(newest[0][0]) if newest else "0-0"
            else:
                position = str(_spool_size(date))
            self.positions.setdefault(date, position)
        return self.positions[date]

    @property
    def client_count(self) -> int:
        return sum(len(c) for c in self.clients.values())

    def _deliver(self, date: str, events: list[tuple[str, bytes]]) -> None:
        """Record a batch of (id, data) events and send it, encoded once, to the day's clients.

        Events at or before the day's position are dropped: a read issued before the day's
        position was fixed again (its clients left and a new one came) may return them.
        """
        position = id_key(self.positions.get(date, ""))
        if position is None:
            return
        events = [(i, d) for i, d in events if (id_key(i) or (0, 0)) > position]
        if not events:
            return
        ring = self.rings.setdefault(date, deque(maxlen=RING_SIZE))
        frames = []
        for event_id, data in events:
            encoded = frame(event_id, data)
            key = id_key(event_id)
            if key is not None:
                ring.append((key, encoded))
            frames.append(encoded)
        self.positions[date] = events[-1][0]
        blob = b"".join(frames)
        for client in tuple(self.clients.get(date, ())):
            client.push(blob, id_key(events[-1][0]))

    async def backfill(self, date: str, last_id: str) -> tuple[bytes, tuple[int, int] | None]:
        """Every event of ``date`` after ``last_id``, encoded, and the id of the last one
        (``last_id``'s own when there are none; None when ``last_id`` is not an id)."""
        after = id_key(last_id)
        if after is None:
            return b"", None
        ring = self.rings.get(date)
        if ring and ring[0][0] <= after:
            newer = [(key, encoded) for key, encoded in ring if key > after]
            return b"".join(encoded for _, encoded in newer), newer[-1][0] if newer else after
        if self.redis_mode:
            try:
                connection = await self._redis_backfill()
                entries = await connection.xrange(
                    stream_key(date), min=f"({last_id}", max="+", count=BACKFILL_LIMIT
                )
            except Exception:
                logger.warning("live stream: backfill of %s after %s failed", date, last_id, exc_info=True)
                return b"", None
            found = [(_text(i), f[b"d"]) for i, f in entries]
        else:
            found, _ = await asyncio.to_thread(_read_spool, date, after[0])
        return b"".join(frame(i, d) for i, d in found), id_key(found[-1][0]) if found else after

    async def _redis_backfill(self) -> Any:
        if self._backfill_connection is None:
            import redis.asyncio as aioredis

            self._backfill_connection = aioredis.Redis.from_url(
                settings.REDIS_URL,
                socket_timeout=5,
                socket_connect_timeout=2,
                single_connection_client=True,
                client_name=hub_client_name(),
            )
        return self._backfill_connection

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(settings.LIVE_HEARTBEAT_SECONDS)
            for clients in tuple(self.clients.values()):
                for client in tuple(clients):
                    client.push(HEARTBEAT)

    async def _run(self) -> None:
        backoff = 0.5
        while True:
            dates = [date for date, clients in self.clients.items() if clients]
            if not dates:
                self._wake.clear()
                await self._wake.wait()
                continue
            try:
                if self.redis_mode:
                    await self._read_redis(dates)
                else:
                    await self._read_spool(dates)
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("live stream: reading failed; retrying in %.1f s", backoff, exc_info=True)
                if self._connection is not None:
                    with contextlib.suppress(Exception):
                        await self._connection.aclose()
                    self._connection = None
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _read_redis(self, dates: list[str]) -> None:
        if self._connection is None:
            import redis.asyncio as aioredis

            self._connection = aioredis.Redis.from_url(
                settings.REDIS_URL,
                socket_timeout=10,
                socket_connect_timeout=2,
                single_connection_client=True,
                client_name=hub_client_name(),
            )
        connection = self._connection
        for date in dates:
            if date not in self.positions:
                await self.start_position(date)
        # A short block so a day followed for the first time joins the read within a second.
        response = await connection.xread(
            {stream_key(date): self.positions[date] for date in dates}, count=1000, block=1000
        )
        for key, entries in response or []:
            date = _text(key).rsplit(":", 1)[-1]
            if entries:
                self._deliver(date, [(_text(i), f[b"d"]) for i, f in entries])

    async def _read_spool(self, dates: list[str]) -> None:
        for date in dates:
            if date not in self.positions:
                self.positions[date] = str(_spool_size(date))
                continue
            position = int(self.positions[date])
            size = _spool_size(date)
            if size < position:  # the spool was removed and started again
                self.positions[date] = "0"
                position = 0
            if size > position:
                events, _ = _read_spool(date, position)
                if events:
                    self._deliver(date, events)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), 0.1)
        self._wake.clear()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


# --------------------------------------------------------------------------- ASGI front


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


def etag_matches(if_none_match: bytes | str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` value names ``etag`` (weak or strong) or is ``*``."""
    if not if_none_match:
        return False
    text = if_none_match.decode("latin-1") if isinstance(if_none_match, bytes) else if_none_match
    if text.strip() == "*":
        return True
    wanted = etag.strip('"')
    return any(tag.strip().removeprefix("W/").strip('"') == wanted for tag in text.split(","))


class LiveApp:
    """ASGI application: ``/live/stream`` and GET/HEAD of ``/live/<document>`` here, the
    rest to ``app`` (Django)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app
        self._documents: tuple[Any, DocumentServer] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path == "/live/stream":
                await self.stream(scope, receive, send)
                return
            if path.startswith("/live/") and scope["method"] in ("GET", "HEAD"):
                await self.document(scope, send, path[len("/live/") :])
                return
        elif scope["type"] == "lifespan":
            await self.lifespan(receive, send)
            return
        await self.app(scope, receive, send)

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if Hub.current is not None:
                    await Hub.current.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def documents(self) -> DocumentServer:
        root = settings.SNAPSHOT_ROOT
        if self._documents is None or self._documents[0] is not root:
            self._documents = (root, document_server(Path(root)))
        return self._documents[1]

    async def document(self, scope: Scope, send: Send, relpath: str) -> None:
        server = self.documents()
        headers = dict(scope["headers"])
        gzip_ok = accepts_gzip(headers.get(b"accept-encoding"))
        if gzip_ok:
            located = server.locate(relpath)
            found = server.prepared(*located) if located else None
            if found is not None and found.gzipped is None:
                # Compressed once per version, off the event loop; kept afterwards.
                await asyncio.to_thread(server.compress, located, found)  # type: ignore[arg-type]
        status, response_headers, body = server.respond(
            relpath, headers.get(b"if-none-match"), gzip_ok=gzip_ok
        )
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    async def stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        date = (query.get("date") or [""])[0]
        if scope["method"] != "GET" or not DATE.match(date):
            message = b"GET /live/stream?date=YYYY-MM-DD" if scope["method"] == "GET" else b"GET only"
            await send(
                {
                    "type": "http.response.start",
                    "status": 400 if scope["method"] == "GET" else 405,
                    "headers": [
                        (b"content-type", b"text/plain"),
                        (b"content-length", str(len(message)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": message})
            return
        last_id = _text(_header(scope, b"last-event-id") or b"") or (query.get("last_id") or [""])[0]
        hub = Hub.get()
        await send({"type": "http.response.start", "status": 200, "headers": STREAM_HEADERS})
        client = Client(date, send)
        hub.subscribe(client)
        try:
            first, through = RETRY, None
            try:
                # Subscribed first, then the position fixed: every later event reaches the
                # client through the hub. A reconnection is also sent what it missed, and
                # what the hub delivered meanwhile only if the backfill did not have it.
                await hub.start_position(date)
                if last_id:
                    missed, through = await hub.backfill(date, last_id)
                    first += missed
            except Exception:
                logger.warning("live stream: cannot reach the bus for %s yet", date, exc_info=True)
            client.start(first, through)
            while (await receive())["type"] != "http.disconnect":
                pass
        finally:
            client.closed = True
            hub.unsubscribe(client)


STREAM_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"x-accel-buffering", b"no"),  # nginx: do not buffer the stream
    (b"x-content-type-options", b"nosniff"),
]


def accepts_gzip(accept_encoding: bytes | str | None) -> bool:
    if not accept_encoding:
        return False
    text = accept_encoding.decode("latin-1") if isinstance(accept_encoding, bytes) else accept_encoding
    if "gzip" not in text:
        return False
    if "q=" not in text:  # what browsers send: "gzip, deflate, br, zstd"
        return True
    for coding in text.lower().split(","):
        name, _, params = coding.strip().partition(";")
        if name.strip() == "gzip":
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


GZIP_MINIMUM = snapshots.GZIP_MINIMUM
LINK_HASH = re.compile(rf"(?:^|/)v/([0-9a-f]{{{snapshots.HASH_LENGTH}}})/")
NOT_PUBLISHED = b'{"detail":"Not published."}'
NOT_PUBLISHED_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(NOT_PUBLISHED)).encode()),
    (b"cache-control", POINTER_CACHE_CONTROL),
]
Headers = list[tuple[bytes, bytes]]


class _Prepared:
    """One version of one document, with its responses' headers built once."""

    __slots__ = (
        "accounted", "body", "gzipped", "gzipped_headers", "headers", "not_modified", "strong", "weak"
    )

    def __init__(self, digest: str, body: bytes, cache_control: bytes, location: bytes | None) -> None:
        self.body = body
        self.accounted = 0  # bytes counted against the server's budget (DocumentServer)
        self.strong = f'"{digest}"'.encode()
        self.weak = b"W/" + self.strong
        compressible = len(body) > GZIP_MINIMUM
        common = [(b"cache-control", cache_control), (b"x-content-type-options", b"nosniff")]
        if compressible:
            common.append((b"vary", b"Accept-Encoding"))
        if location:
            common.append((b"content-location", location))
        self.not_modified: Headers = [(b"etag", self.strong), *common]
        self.headers: Headers = [
            (b"etag", self.strong),
            *common,
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        self.gzipped: bytes | None = None if compressible else body
        self.gzipped_headers: Headers | None = None if compressible else self.headers

    def compress(self) -> None:
        """Fill ``gzipped`` (once; idempotent, so a race only costs a second compression)."""
        if self.gzipped is None:
            data = gzip.compress(self.body, compresslevel=6, mtime=0)
            common = [h for h in self.not_modified if h[0] != b"etag"]
            self.gzipped_headers = [
                (b"etag", self.weak),
                *common,
                (b"content-encoding", b"gzip"),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
            ]
            self.gzipped = data


class DocumentServer:
    """Answers ``/live/<path>`` for a snapshot directory (docs/live-data.md).

    Pointers get a short Cache-Control and Content-Location, versions are cached forever;
    both carry the content hash as ETag and answer 304 to a matching ``If-None-Match``;
    a client accepting gzip gets documents over 1 KB compressed (same hash, weak ETag);
    anything else is 404. Versions never change, so each is read, and its headers built,
    once per process; a request costs one ``readlink`` and dictionary look-ups. Thread-safe.

    Memory is bounded: a pointer's version leaves as soon as the pointer names a newer one
    (all night long every declaration supersedes the national document), and beyond
    ``max_bytes`` (bodies and compressed copies) the least recently used go.
    """

    def __init__(self, root: Path, *, max_bytes: int = 32 * 1024 * 1024) -> None:
        self.root = root
        self.prefix = f"{root}/"
        self.max_bytes = max_bytes
        self._prepared: OrderedDict[tuple[str, str, bool], _Prepared] = OrderedDict()
        self._current: dict[str, tuple[str, str, bool]] = {}  # pointer path -> its entry
        self._size = 0
        self._links: dict[str, str] = {}
        self._lock = threading.Lock()

    def locate(self, path: str) -> tuple[str, str, bool] | None:
        """(hash, document path, versioned?) of a path under ``/live/``, or None."""
        if path.startswith("v/"):
            versioned = snapshots.VERSIONED_PATH.match(path)
            if versioned is None or not snapshots.DOCUMENT_PATH.match(versioned["path"]):
                return None
            return versioned["hash"], versioned["path"], True
        if not snapshots.DOCUMENT_PATH.match(path):
            return None
        try:
            link = os.readlink(self.prefix + path)
        except OSError:
            return None
        digest = self._links.get(link)
        if digest is None:
            found = LINK_HASH.search(link)
            if found is None:
                return None
            digest = found.group(1)
            if len(self._links) > 100_000:
                self._links.clear()
            self._links[link] = digest
        return digest, path, False

    def prepared(self, digest: str, path: str, versioned: bool) -> _Prepared | None:
        key = (digest, path, versioned)
        with self._lock:
            found = self._prepared.get(key)
            if found is not None:
                self._prepared.move_to_end(key)
                return found
        try:
            body = (self.root / "v" / digest / path).read_bytes()
        except OSError:
            return None
        made = _Prepared(
            digest,
            body,
            VERSION_CACHE_CONTROL if versioned else POINTER_CACHE_CONTROL,
            None if versioned else f"/live/v/{digest}/{path}".encode(),
        )
        with self._lock:
            if key not in self._prepared:
                self._prepared[key] = made
                made.accounted = len(body)
                self._size += made.accounted
                if not versioned:
                    superseded = self._current.get(path)
                    self._current[path] = key
                    if superseded is not None and superseded != key:
                        self._drop(superseded)
                while self._size > self.max_bytes and len(self._prepared) > 1:
                    self._drop(next(iter(self._prepared)))
        return made

    def compress(self, key: tuple[str, str, bool], found: _Prepared) -> None:
        """Compress ``found`` (the entry of ``key``) and count the copy against the budget."""
        if found.gzipped is not None:
            return
        found.compress()
        with self._lock:
            # Counted once, even when two requests compressed it at the same time.
            if self._prepared.get(key) is found and found.accounted == len(found.body):
                extra = len(found.gzipped or b"")
                found.accounted += extra
                self._size += extra

    def _drop(self, key: tuple[str, str, bool]) -> None:
        """Forget one entry (the lock held)."""
        dropped = self._prepared.pop(key, None)
        if dropped is not None:
            self._size -= dropped.accounted
            if not key[2] and self._current.get(key[1]) == key:
                del self._current[key[1]]

    @property
    def size(self) -> int:
        """Bytes held (bodies and compressed copies)."""
        return self._size

    def respond(
        self, path: str, if_none_match: bytes | str | None, *, gzip_ok: bool = False
    ) -> tuple[int, Headers, bytes]:
        """(status, headers, body) for ``/live/<path>``; compresses now if needed (the ASGI
        front compresses in a thread first, see ``LiveApp.document``)."""
        located = self.locate(path)
        found = self.prepared(*located) if located else None
        if found is None:
            return 404, NOT_PUBLISHED_HEADERS, NOT_PUBLISHED
        if if_none_match:
            wanted = if_none_match.encode("latin-1") if isinstance(if_none_match, str) else if_none_match
            if wanted in (found.strong, found.weak) or etag_matches(wanted, located[0]):
                return 304, found.not_modified, b""
        if gzip_ok:
            self.compress(located, found)  # type: ignore[arg-type]
            return 200, found.gzipped_headers, found.gzipped  # type: ignore[return-value]
        return 200, found.headers, found.body


_servers: dict[Path, DocumentServer] = {}
_servers_lock = threading.Lock()


def document_server(root: Path) -> DocumentServer:
    """The process's server of the snapshot directory ``root``."""
    with _servers_lock:
        server = _servers.get(root)
        if server is None:
            server = _servers[root] = DocumentServer(root)
        return server


# --------------------------------------------------------------------------- blocking reader


def iter_stream_blocking(date: str, last_id: str = "", *, heartbeat: float | None = None) -> Iterator[bytes]:
    """The stream for one client, read with blocking calls: for servers without the ASGI
    front (the development server, WSGI). It holds a thread and (in production) a Redis
    connection per client, so production serves ``/live/stream`` through ``LiveApp``."""
    heartbeat = heartbeat or settings.LIVE_HEARTBEAT_SECONDS
    yield RETRY
    if settings.EVENT_BUS == "redis":
        import redis

        connection = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=heartbeat + 10, socket_connect_timeout=2
        )
        try:
            key = stream_key(date)
            if last_id and id_key(last_id) is not None:
                position = last_id
            else:
                newest = connection.xrevrange(key, max="+", min="-", count=1)
                position = _text(newest[0][0]) if newest else "0-0"
            while True:
                response = connection.xread({key: position}, count=1000, block=int(heartbeat * 1000))
                entries = response[0][1] if response else []
                if not entries:
                    yield HEARTBEAT
                    continue
                position = _text(entries[-1][0])
                yield b"".join(frame(_text(i), f[b"d"]) for i, f in entries)
        finally:
            connection.close()
    else:
        key_after = id_key(last_id) if last_id else None
        position = key_after[0] if key_after else _spool_size(date)
        quiet_since = time.monotonic()
        while True:
            events, position = _read_spool(date, position)
            if events:
                quiet_since = time.monotonic()
                yield b"".join(frame(i, d) for i, d in events)
            elif time.monotonic() - quiet_since >= heartbeat:
                quiet_since = time.monotonic()
                yield HEARTBEAT
            else:
                time.sleep(0.2)
