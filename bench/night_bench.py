"""The whole election night under load, on PostgreSQL and Redis with real Celery workers and an
ASGI server: a generated national night replayed into the platform in ten minutes while
thousands of map viewers hold live streams, hundreds of API clients poll the change feed with
ETags and tens of correspondents key results. Then every result in PostgreSQL is compared with
what the snapshots, the API and a connected browser show.

Usage::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/helper_night REDIS_URL=redis://127.0.0.1:6379/7 \\
      .venv/bin/python bench/night_bench.py [--councils 150] [--duration 600] [--viewers 2000] \\
        [--api-clients 200] [--correspondents 30] [--web-workers 2] [--keying-workers 1] \\
        [--keying-threads 10] [--public-nice 0] [--port 8710]  # uses --port .. --port + 2
    ... bench/night_bench.py --soak --councils 361   # a night over one hour, half the clients
                                            # (every stored council: about 43 % of the night's
                                            # declaration rate): growth of memory,
                                            # connections and outbox backlog
    ... bench/night_bench.py --quick       # a small smoke run (a few councils, one minute)

With ``NIGHT_WORKER_LOGLEVEL=INFO`` the worker logs each publication (results, documents, the
wait for the day's lock, the duration) in ``bench/out/night/celery-worker.log``.

What runs (all on 127.0.0.1, in ``bench/out/night/``):

- the production shape of docker-compose.yml: the front (nginx with ``deploy/nginx.conf``,
  rendered by ``deploy/local.py``) on ``--port``, serving the live documents from disk and
  the read API's micro-cache, before uvicorn ``config.asgi:application`` as "web"
  (``--web-workers`` processes, a pool of 8 PostgreSQL connections each) and gunicorn
  ``config.wsgi:application`` with ``config/gunicorn.py`` as "keying" (``--keying-workers``
  processes of 10 threads, a pool of 10) for the correspondents; a Celery worker and Celery beat
  (the reconciler) with persistent connections; all with ``bench/night_settings.py`` (the
  local settings with DEBUG off);
- **correspondents** (one process): the replay's steps (``results.replay.build_actions``,
  double keying, 5 % wrong first keyings, 1 % corrections) on the replay's timetable; every
  keying is a ``POST /api/v1/ballots/<id>/result/`` by one of ``--correspondents`` accounts
  (integration tokens, each assigned to its councils), at most one request at a time per
  correspondent; count states, dispute resolutions, corrections and approvals go through the
  same services in-process (they have no JSON endpoint);
- **viewers** (one process, asyncio): ``--viewers`` connections to ``/live/stream``; 2 % of
  them ("instrumented") first load ``national.json`` and then apply every event, as the map
  does, and time each event against the keying's acknowledgement;
- **API clients** (one process, asyncio): ``--api-clients`` clients, each with its own API key,
  read the change feed ``/api/v1/events/`` from the start and then poll it every 5 s (±20 %)
  with ``If-None-Match``;
- **a browser**: headless Chromium (Debian's) with the live map open for the whole run;
- a sampler: CPU and RSS of every process (from ``/proc``), PostgreSQL connections to the
  database and the outbox backlog (results whose published version is behind), every 5 s.

Figures (printed and written to ``bench/night.md``): keying latency p50/p95/p99, publish-to-
browser latency p50/p99 (event received minus the keying's HTTP response), API latency and
304 share, error rates, CPU and memory of each process, and the consistency check (0
differences is the goal). Goals (issue 6): 0 differences, 0 errors, keying p99 < 250 ms,
publish p99 < 1 s; soak: memory growth < 10 % and no growth of connections or backlog.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "night"
REPORT = ROOT / "bench" / "night.md"
VENV_BIN = ROOT / ".venv" / "bin"
CLK_TCK = os.sysconf("SC_CLK_TCK")
# The PostgreSQL server (max_connections 100) is shared with other work: the load is stopped,
# and the run reported as braked, if this run holds more than OWN_CONNECTION_BRAKE
# connections (the pools allow about 45) or the server nears its limit.
OWN_CONNECTION_BRAKE = 60
SERVER_CONNECTION_BRAKE = 95


@dataclass
class Config:
    councils: int = 150
    duration: float = 600.0
    viewers: int = 2000
    api_clients: int = 200
    correspondents: int = 30
    web_workers: int = 2
    keying_workers: int = 1
    keying_threads: int = 10
    celery_concurrency: int = 2
    port: int = 8710
    seed: int = 2027
    date: str = "2027-05-06"
    wrong_share: float = 0.05
    correct_share: float = 0.01
    poll_seconds: float = 5.0
    drain_seconds: float = 120.0
    mode: str = "night"
    instrumented_share: float = 0.02
    browser: bool = True
    # The niceness of the processes that only make load (the stream viewers that measure
    # nothing, the browser): on a real night they are other people's machines, so here they
    # take what CPU the platform leaves. The processes that measure (correspondents,
    # instrumented viewers, API clients) run at the platform's priority.
    load_nice: int = 10
    # The niceness of the public side of the platform (web, the front, the Celery worker)
    # beside the correspondents' server and PostgreSQL at 0: what CPU weights would do in a
    # deployment (docker-compose's cpu_shares) to keep keying ahead when the machine is full.
    public_nice: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


# ------------------------------------------------------------------------------ /proc sampling


def proc_times(pid: int) -> tuple[float, int] | None:
    """(CPU seconds used, proportional set size in bytes) of a process, or None once it has
    gone. PSS shares each shared page among the processes using it, so the memory of a group
    (PostgreSQL backends and their shared buffers, forked workers) adds up honestly."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
            pss = next(int(line.split()[1]) * 1024 for line in handle if line.startswith(b"Pss:"))
    except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError, StopIteration):
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK, pss


def children(pid: int) -> list[int]:
    """The children of every thread of ``pid`` (the kernel lists a child under the thread
    that started it: the browser's driver is started by this script's browser thread)."""
    found: list[int] = []
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return found
    for thread in threads:
        try:
            with open(f"/proc/{pid}/task/{thread}/children") as handle:
                found.extend(int(p) for p in handle.read().split())
        except FileNotFoundError:
            continue
    return found


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(children(current))
    return out


# ------------------------------------------------------------------------- a small HTTP client


def run_loop(coroutine: Any) -> Any:
    """Run a client's event loop on uvloop (what uvicorn runs the platform's on): the clients
    stand for other people's machines, and the less of these two cores their loops take, the
    more the figures are the platform's."""
    import uvloop

    return uvloop.run(coroutine)


class HttpError(Exception):
    pass


class Connection:
    """One HTTP/1.1 keep-alive connection (Content-Length or chunked bodies)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port, limit=2**22)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        timeout: float = 30.0,
    ) -> tuple[int, dict[str, str], bytes]:
        reused = self.writer is not None
        try:
            return await self._request(method, path, headers, body, timeout)
        except (HttpError, ConnectionResetError, BrokenPipeError, asyncio.IncompleteReadError):
            if not reused:
                raise
            # The server closed an idle keep-alive connection: open a new one and retry once,
            # as HTTP clients do.
            await self.close()
            return await self._request(method, path, headers, body, timeout)

    async def _request(
        self, method: str, path: str, headers: dict[str, str] | None, body: bytes, timeout: float
    ) -> tuple[int, dict[str, str], bytes]:
        if self.writer is None:
            await self.open()
        assert self.reader is not None
        assert self.writer is not None
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        if body:
            lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await self.writer.drain()
        status, response_headers = await asyncio.wait_for(read_head(self.reader), timeout)
        data = await asyncio.wait_for(read_body(self.reader, status, response_headers, method), timeout)
        if response_headers.get("connection", "").lower() == "close":
            await self.close()
        return status, response_headers, data


async def read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    line = await reader.readline()
    if not line:
        raise HttpError("connection closed")
    status = int(line.split()[1])
    headers: dict[str, str] = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            return status, headers
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()


async def read_body(reader: asyncio.StreamReader, status: int, headers: dict[str, str], method: str) -> bytes:
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return b""
    if "content-length" in headers:
        return await reader.readexactly(int(headers["content-length"]))
    if headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            if size == 0:
                await reader.readline()
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
    return await reader.read()


async def chunks(reader: asyncio.StreamReader, chunked: bool) -> Any:
    """The body of a streaming response, piece by piece."""
    while True:
        if chunked:
            size_line = await reader.readline()
            if not size_line:
                return
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                return
            data = await reader.readexactly(size)
            await reader.readexactly(2)
        else:
            data = await reader.read(65536)
            if not data:
                return
        yield data


# ---------------------------------------------------------------------------------- viewers


@dataclass
class ViewerStats:
    connected: int = 0
    reconnects: int = 0
    errors: Counter = field(default_factory=Counter)
    events: int = 0
    heartbeats: int = 0
    # (ballot, version, received at, stream event id: the Redis id starts with its append time in ms)
    latencies: list[tuple[str, int, float, str]] = field(default_factory=list)
    states: list[dict[str, Any]] = field(default_factory=list)  # instrumented viewers' final wards
    # Their final scoreboard and council summaries (the latest each event carried).
    boards: list[dict[str, Any]] = field(default_factory=list)


async def viewer(cfg: Config, index: int, stats: ViewerStats, stop: asyncio.Event) -> None:
    instrumented = index < instrumented_count(cfg)
    wards: dict[str, dict[str, Any]] = {}
    board: dict[str, Any] = {"scoreboard": None, "councils": {}}
    last_id = ""
    if instrumented:
        connection = Connection(cfg.port)
        for _ in range(30):
            try:
                status, _, body = await connection.request("GET", f"/live/{cfg.date}/national.json")
            except (TimeoutError, OSError, HttpError):
                status, body = 0, b""
            if status == 200:
                document = json.loads(body)
                wards = {k: dict(v) for k, v in document["wards"].items()}
                board = {
                    "scoreboard": document.get("scoreboard"),
                    "councils": dict(document.get("councils", {})),
                }
                last_id = str(document.get("stream") or "")
                break
            await asyncio.sleep(1)
        await connection.close()
    if instrumented:
        # The same dict is updated in place by every event: its state at the end is the
        # viewer's, even when the task is cancelled while waiting for the next event.
        stats.states.append(wards)
        stats.boards.append(board)
    first = True
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", cfg.port, limit=2**22)
        except OSError as exc:
            stats.errors[f"connect: {type(exc).__name__}"] += 1
            await asyncio.sleep(1)
            continue
        try:
            headers = [
                f"GET /live/stream?date={cfg.date} HTTP/1.1",
                "Host: 127.0.0.1",
                "Accept: text/event-stream",
            ]
            if last_id:
                headers.append(f"Last-Event-ID: {last_id}")
            writer.write(("\r\n".join(headers) + "\r\n\r\n").encode())
            await writer.drain()
            status, response_headers = await asyncio.wait_for(read_head(reader), 60)
            if status != 200:
                stats.errors[f"status {status}"] += 1
                await asyncio.sleep(1)
                continue
            if first:
                stats.connected += 1
                first = False
            else:
                stats.reconnects += 1
            chunked = response_headers.get("transfer-encoding", "").lower() == "chunked"
            buffer = tail = b""
            event_id, event_type, data = "", "", b""
            # Most viewers only hold their stream: they read it raw (chunk framing and all)
            # and count its events, which keeps the load generator's share of the CPU down.
            async for piece in chunks(reader, chunked and instrumented):
                received = time.time()
                if not instrumented:
                    # The last complete event's id is kept to resume with.
                    joined = tail + piece
                    stats.events += joined.count(b"event: ward") - tail.count(b"event: ward")
                    stats.heartbeats += joined.count(b"event: heartbeat") - tail.count(b"event: heartbeat")
                    end = joined.rfind(b"\n\n")
                    start = joined.rfind(b"id: ", 0, end) if end >= 0 else -1
                    if start >= 0:
                        last_id = joined[start + 4 : joined.index(b"\n", start)].decode()
                    tail = joined[-64:]
                    if stop.is_set():
                        break
                    continue
                # One split per piece (a client that is behind gets its events joined into
                # one large piece: splitting line by line off the front would be quadratic).
                *lines, buffer = (buffer + piece).split(b"\n")
                for raw in lines:
                    line = raw.rstrip(b"\r")
                    if not line:
                        if event_type == "ward" and data:
                            stats.events += 1
                            if instrumented:
                                entry = json.loads(data)
                                ward = str(entry.pop("ward"))
                                if "scoreboard" in entry:
                                    board["scoreboard"] = entry.pop("scoreboard")
                                if "council_summary" in entry:
                                    board["councils"][entry.get("council")] = entry.pop("council_summary")
                                entry.pop("latest", None)
                                wards[ward] = {**wards.get(ward, {}), **entry}
                                stats.latencies.append(
                                    (entry.get("ballot", ""), int(entry.get("v", 0)), received, event_id)
                                )
                        elif event_type == "heartbeat":
                            stats.heartbeats += 1
                        if event_id:
                            last_id = event_id
                        event_id, event_type, data = "", "", b""
                    elif line.startswith(b"id:"):
                        event_id = line[3:].strip().decode()
                    elif line.startswith(b"event:"):
                        event_type = line[6:].strip().decode()
                    elif line.startswith(b"data:"):
                        data += line[5:].strip()
                if stop.is_set():
                    break
            if not stop.is_set():
                stats.errors["stream ended"] += 1
        except (TimeoutError, OSError, HttpError, asyncio.IncompleteReadError, ValueError) as exc:
            if not stop.is_set():
                stats.errors[type(exc).__name__] += 1
                await asyncio.sleep(0.5)
        finally:
            writer.close()


def instrumented_count(cfg: Config) -> int:
    return max(1, int(cfg.viewers * cfg.instrumented_share))


async def run_viewers(cfg: Config, result_path: Path, indices: range) -> None:
    """The viewers ``indices`` (the instrumented ones, below ``instrumented_count``, run in a
    process of their own: each real viewer has its own machine, and their clocks must not
    wait behind thousands of other connections)."""
    stats = ViewerStats()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    tasks = []
    for n, i in enumerate(indices):
        tasks.append(asyncio.create_task(viewer(cfg, i, stats, stop)))
        if n % 50 == 49:
            await asyncio.sleep(0.05)  # connect in waves, as browsers do
    await stop.wait()
    await asyncio.sleep(0.5)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    result_path.write_text(
        json.dumps(
            {
                "connected": stats.connected,
                "reconnects": stats.reconnects,
                "errors": dict(stats.errors),
                "events": stats.events,
                "heartbeats": stats.heartbeats,
                "latencies": stats.latencies,
                "states": stats.states,
                "boards": stats.boards,
            }
        )
    )


def merge_viewers(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The viewers' figures from their processes, as one."""
    if not parts:
        return {}
    errors: Counter = Counter()
    for part in parts:
        errors.update(part.get("errors", {}))
    merged: dict[str, Any] = {"errors": dict(errors)}
    for key in ("connected", "reconnects", "events", "heartbeats"):
        merged[key] = sum(part.get(key, 0) for part in parts)
    for key in ("latencies", "states", "boards"):
        merged[key] = [item for part in parts for item in part.get(key, [])]
    return merged


# ------------------------------------------------------------------------------ API clients


@dataclass
class PollerStats:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    events: int = 0


async def poller(cfg: Config, key: str, stats: PollerStats, stop: asyncio.Event) -> None:
    connection = Connection(cfg.port)
    since, etag = 0, ""
    rng = random.Random(key)
    await asyncio.sleep(rng.uniform(0, cfg.poll_seconds))
    while not stop.is_set():
        headers = {"Authorization": f"Api-Key {key}", "Accept": "application/json"}
        if etag:
            headers["If-None-Match"] = etag
        started = time.perf_counter()
        try:
            status, response_headers, body = await connection.request(
                "GET", f"/api/v1/events/?since={since}&limit=500", headers
            )
        except (TimeoutError, OSError, HttpError, asyncio.IncompleteReadError, ValueError) as exc:
            stats.errors[type(exc).__name__] += 1
            await connection.close()
            await asyncio.sleep(1)
            continue
        stats.latencies.append(time.perf_counter() - started)
        stats.statuses[status] += 1
        more = False
        if status == 200:
            page = json.loads(body)
            stats.events += len(page["events"])
            if page["next"] != since:
                since, etag = page["next"], ""
            else:
                etag = response_headers.get("etag", "")
            more = page.get("more", False)
        elif status == 304:
            pass
        elif status == 429:
            await asyncio.sleep(float(response_headers.get("retry-after", "5")))
        if not more:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), cfg.poll_seconds * rng.uniform(0.8, 1.2))
    await connection.close()


async def run_pollers(cfg: Config, keys: list[str], result_path: Path) -> None:
    stats = PollerStats()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    tasks = [asyncio.create_task(poller(cfg, key, stats, stop)) for key in keys]
    await stop.wait()
    await asyncio.gather(*tasks, return_exceptions=True)
    result_path.write_text(
        json.dumps(
            {
                "latencies": stats.latencies,
                "statuses": {str(k): v for k, v in stats.statuses.items()},
                "errors": dict(stats.errors),
                "events": stats.events,
            }
        )
    )


# --------------------------------------------------------------------------- correspondents


def figures_body(figures: Any, source: str, token: str) -> dict[str, Any]:
    """A ``ResultFigures`` as the JSON submit API takes it."""
    canonical = figures.canonical()
    body: dict[str, Any] = {
        "candidates": [
            {
                "candidacy_id": c["candidacy_id"],
                "votes": c["votes"],
                "won_by_lot": c["won_by_lot"],
                **({"elected": c["elected"]} if "elected" in c else {}),
            }
            for c in canonical["candidates"]
        ],
        "source": source,
        "client_token": token,
        "confirm_warnings": True,
        "rejected": {k: v for k, v in canonical["rejected"].items() if v is not None},
    }
    for name in ("electorate", "ballot_papers_counted", "valid_papers", "rejected_total", "turnout_pct"):
        if canonical[name] is not None:
            body[name] = canonical[name]
    if canonical["stv"] is not None:
        stv = canonical["stv"]
        body["stv"] = {
            "quota": stv["quota"],
            "valid_poll": stv["valid_poll"],
            "stages": [
                {
                    "number": s["number"],
                    "totals": s["totals"],
                    "transfers": s["transfers"],
                    **(
                        {"non_transferable": s["non_transferable"]}
                        if s["non_transferable"] is not None
                        else {}
                    ),
                }
                for s in stv["stages"]
            ],
        }
    return body


def one_line(text: str) -> str:
    """An error body as one line of text for the report's table (an HTML error page's tags
    and line breaks would break it)."""
    return " ".join(re.sub(r"<[^>]*>", " ", text).split()).replace("|", "/")


class _ServiceDesk:
    """The steps that have no JSON endpoint (count states, resolutions, corrections,
    approvals), played through the services in processes of their own: in threads of the
    correspondents' process their Python would hold its interpreter lock while the keyings'
    responses wait to be read, and the keying latencies would count that wait."""

    actions: list[Any] = []
    desk: Any = None

    @classmethod
    def start(cls, cfg_json: str, setup_path: str) -> None:
        import django

        django.setup()
        from results import replay
        from results.generator import NightPlan

        cfg = Config(**json.loads(cfg_json))
        setup = json.loads(Path(setup_path).read_text())
        cls.actions = _night_actions(cfg, NightPlan.from_json(Path(setup["plan"]).read_bytes()))
        cls.desk = replay.Replayer(
            [], offsets=[], users=replay.rehearsal_users(), source="night bench", token_prefix=setup["run"]
        )

    @classmethod
    def play(cls, index: int) -> tuple[float, str, list[str], str, int | None, float]:
        """(service time, outcome label, errors, ballot, its version after, when done)."""
        from django.db import close_old_connections

        from results import replay
        from results.models import Result

        close_old_connections()
        action = cls.actions[index]
        report = replay.ReplayReport()
        started = time.perf_counter()
        outcome = cls.desk.play(action, report)
        finished = time.time()
        elapsed = time.perf_counter() - started
        version = (
            Result.objects.filter(ballot_id=action.ballot.ballot_pk).values_list("version", flat=True).first()
        )
        return (
            elapsed, f"{action.kind} {action.label}: {outcome}",
            [f"{action.kind}: {e}" for e in report.errors], action.ballot.ballot_paper_id, version, finished,
        )


def _night_actions(cfg: Config, plan: Any) -> list[Any]:
    """The replay's steps of the night ``plan`` (deterministic from the plan and seed)."""
    from results import replay

    options = replay.ReplayOptions(
        double_key=True, wrong_share=cfg.wrong_share, correct_share=cfg.correct_share, seed=cfg.seed
    )
    return replay.build_actions(replay.ballots_from_plan(plan), options)


def run_correspondents(cfg: Config, setup_path: Path, result_path: Path) -> None:
    """Play the night: keyings over HTTP, the other steps through the services."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import django

    django.setup()
    from django.db import connection

    from results import replay
    from results.generator import NightPlan

    setup = json.loads(setup_path.read_text())
    plan = NightPlan.from_json(Path(setup["plan"]).read_bytes())
    actions = _night_actions(cfg, plan)
    offsets = replay.timetable(actions, duration=cfg.duration)
    tokens: dict[str, str] = setup["tokens"]  # correspondent email -> token key
    keyers: dict[str, list[str]] = setup["keyers"]  # council slug -> [keyer A email, keyer B email]
    ward_of = {b.ballot_paper_id: b.ward_id for b in plan.ballots}
    acks: list[tuple[str, int, float]] = []
    keyings: list[tuple[float, int, str, float]] = []  # (latency, status, label, answered at)
    other: list[tuple[float, str]] = []
    errors: Counter = Counter()
    played: list[int] = []
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    connection.close()
    desks = ProcessPoolExecutor(
        max_workers=3,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_ServiceDesk.start,
        initargs=(json.dumps(asdict(cfg)), str(setup_path)),
    )

    async def service_step(index: int) -> None:
        loop = asyncio.get_running_loop()
        elapsed, label, step_errors, ballot, version, finished = await loop.run_in_executor(
            desks, _ServiceDesk.play, index
        )
        other.append((elapsed, label))
        errors.update(step_errors)
        if version is not None:
            acks.append((ballot, version, finished))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        semaphores = {email: asyncio.Semaphore(1) for email in tokens}
        connections = {email: Connection(cfg.port) for email in tokens}
        previous: dict[str, asyncio.Future] = {}

        async def play(action: Any, index: int, after: asyncio.Future | None, done: asyncio.Future) -> None:
            try:
                if after is not None:
                    await after
                if stop.is_set():
                    return
                played.append(index)
                if action.kind != "key":
                    await service_step(index)
                    return
                keyer_a, keyer_b = keyers[action.ballot.council]
                email = keyer_a if action.actor == replay.KEYER_A else keyer_b
                body = json.dumps(
                    figures_body(action.figures, "night bench", f"nb{setup['run'][-8:]}{index}")
                )
                async with semaphores[email]:
                    if stop.is_set():
                        played.remove(index)
                        return
                    started = time.perf_counter()
                    try:
                        status, _, data = await connections[email].request(
                            "POST",
                            f"/api/v1/ballots/{action.ballot.ballot_paper_id}/result/",
                            {"Authorization": f"Token {tokens[email]}", "Content-Type": "application/json"},
                            body.encode(),
                        )
                    except (TimeoutError, OSError, HttpError, asyncio.IncompleteReadError) as exc:
                        errors[f"key: {type(exc).__name__}"] += 1
                        await connections[email].close()
                        return
                    finished = time.time()
                    keyings.append((time.perf_counter() - started, status, action.label, finished))
                if status in (200, 201):
                    acks.append((action.ballot.ballot_paper_id, json.loads(data)["version"], finished))
                elif not (status == 400 and action.expect == "refused"):
                    errors[f"key: HTTP {status}: {one_line(data[:200].decode(errors='replace'))}"] += 1
            finally:
                done.set_result(None)

        start = time.monotonic()
        tasks = []
        for index, (action, offset) in enumerate(zip(actions, offsets, strict=True)):
            delay = start + offset - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if stop.is_set():
                break
            done = loop.create_future()
            tasks.append(
                asyncio.create_task(play(action, index, previous.get(action.ballot.ballot_paper_id), done))
            )
            previous[action.ballot.ballot_paper_id] = done
        await asyncio.gather(*tasks, return_exceptions=True)
        for c in connections.values():
            await c.close()

    started = time.time()
    try:
        run_loop(main())
    finally:
        desks.shutdown(cancel_futures=True)
    result_path.write_text(
        json.dumps(
            {
                "started": started,
                "finished": time.time(),
                "actions": len(actions),
                "played": len(played),
                "stopped": stop.is_set(),
                "acks": acks,
                "keyings": keyings,
                "other": other,
                "errors": dict(errors),
                "ward_of": ward_of,
            }
        )
    )


# ------------------------------------------------------------------------------ orchestration


def django_env(cfg: Config) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.night_settings",
            "DJANGO_DEBUG": "false",
            "PYTHONPATH": str(ROOT),
            "SNAPSHOT_ROOT": str(OUT / "snapshots"),
            "BOUNDARY_LAYER_ROOT": str(OUT / "layers"),
            "LIVE_STREAM_PREFIX": "night-bench:",
            "PYTHONUNBUFFERED": "1",
            # A connection pool per process (bench/night_settings.py).
            "NIGHT_BENCH_POOL": "8",
        }
    )
    env.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/helper_night")
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/7")
    return env


def ensure_database(database_url: str) -> None:
    """Create the bench's PostgreSQL database when it does not exist yet (a fresh machine)."""
    import psycopg

    base, _, name = database_url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            connection.execute(f'CREATE DATABASE "{name}"')


def prepare(cfg: Config) -> dict[str, Any]:
    """Migrate, load boundaries and parties if missing, wipe earlier rehearsals, generate and
    store the night, create the correspondents, their tokens and the API keys."""
    import django

    ensure_database(os.environ["DATABASE_URL"])

    django.setup()
    from io import StringIO

    from django.conf import settings
    from django.core.management import call_command
    from rest_framework_api_key.models import APIKey

    from accounts.models import IntegrationToken, Role
    from accounts.services import assign_role, create_integration_token, get_or_create_user_by_email
    from councils.models import Ward
    from elections.models import Election, Party
    from results.generator import plan_night, store_night
    from results.rehearsal import wipe_rehearsal

    call_command("migrate", verbosity=0)
    data = Path(settings.ELECTIONS_SAMPLE_DATA)
    if Ward.objects.count() < 8000:
        call_command(
            "import_boundaries",
            str(data / "boundaries/wards_may2023_uk_bsc.geojson"),
            verbosity=0,
            stdout=StringIO(),
        )
    if not Party.objects.filter(party_id="PP52").exists():
        for name in ("ec_register_gb_2021-11_danielgriffin48.csv", "party_colours_core.csv"):
            call_command("import_parties", str(data / "parties" / name), verbosity=0, stdout=StringIO())
    wipe_rehearsal()
    date = dt.date.fromisoformat(cfg.date)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    plan = plan_night(seed=cfg.seed, date=date, councils=cfg.councils)
    timings["plan"] = time.perf_counter() - started
    started = time.perf_counter()
    store_night(plan)
    timings["store"] = time.perf_counter() - started
    # The servers run with DEBUG off, as in production: static files come from STATIC_ROOT.
    call_command("collectstatic", "--noinput", verbosity=0)
    # The map's boundary layer of the day, so the first view does not build it.
    call_command("build_boundary_layer", "--date", cfg.date, verbosity=0, stdout=StringIO())
    plan_path = OUT / "plan.json"
    plan_path.write_bytes(plan.to_json())

    correspondents = [
        get_or_create_user_by_email(email=f"bench-keyer-{i:02d}@rehearsal.invalid", create=True)[0]
        for i in range(cfg.correspondents)
    ]
    IntegrationToken.objects.filter(user__in=correspondents).delete()
    tokens = {u.email: create_integration_token(user=u, name="night bench")[1] for u in correspondents}
    elections = {
        e.council.slug: e
        for e in Election.objects.filter(date=date, rehearsal=True).select_related("council")
    }
    keyers = {}
    for index, council in enumerate(c.slug for c in plan.councils):
        pair = [
            correspondents[index % len(correspondents)],
            correspondents[(index + 1) % len(correspondents)],
        ]
        for user in pair:
            assign_role(
                user=user,
                role=Role.CORRESPONDENT,
                council=elections[council].council,
                election=elections[council],
            )
        keyers[council] = [u.email for u in pair]
    APIKey.objects.filter(name__startswith="night-bench-").delete()
    keys = [APIKey.objects.create_key(name=f"night-bench-{i}")[1] for i in range(max(cfg.api_clients, 10))]
    setup = {
        "plan": str(plan_path),
        "tokens": tokens,
        "keyers": keyers,
        "keys": keys,
        "run": f"nb{int(time.time())}",
        "timings": timings,
        "ballots": len(plan.ballots),
        "councils": len(plan.councils),
        "candidacies": sum(len(b.candidates) for b in plan.ballots),
    }
    (OUT / "setup.json").write_text(json.dumps(setup))
    return setup


class Processes:
    """The servers and load processes, by role, stopped in reverse order."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(
        self, role: str, args: list[str], env: dict[str, str], log: str, nice: int = 0
    ) -> subprocess.Popen:
        handle = open(OUT / log, "w")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=(lambda: os.nice(nice)) if nice else None,  # noqa: PLW1509 - no threads yet
        )
        self.procs.append((role, proc))
        return proc

    def pids(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = defaultdict(list)
        for role, proc in self.procs:
            if proc.poll() is None:
                out[role].extend(descendants(proc.pid))
        return out

    def stop(self, roles: Iterable[str] | None = None, timeout: float = 30) -> None:
        wanted = set(roles) if roles is not None else None
        for role, proc in reversed(self.procs):
            if (wanted is None or role in wanted) and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for role, proc in reversed(self.procs):
            if wanted is None or role in wanted:
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def front_command(cfg: Config) -> list[str]:
    """nginx with deploy/nginx.conf (deploy/local.py) on ``cfg.port``, in front of web on
    ``port + 1`` and keying on ``port + 2``, with room for every viewer's two connections."""
    from deploy import local

    work = OUT / "front"
    (work / "cache").mkdir(parents=True, exist_ok=True)
    site = local.site(
        listen=f"127.0.0.1:{cfg.port}",
        web=f"127.0.0.1:{cfg.port + 1}",
        keying=f"127.0.0.1:{cfg.port + 2}",
        snapshots=OUT / "snapshots",
        cache=work / "cache",
    )
    connections = 2 * (cfg.viewers + cfg.api_clients + cfg.correspondents) + 1024
    text = local.main_config(work, site, connections=connections)
    # The keyings as the front saw them (from the request's first byte to the response's
    # last, and the upstream's share): the server's side of the correspondents' latency.
    (work / "keying-times.log").unlink(missing_ok=True)
    text = text.replace(
        "access_log off;",
        "log_format keying_times '$request_method $uri $status $request_time $upstream_response_time';\n"
        "    map $request_method $keying_post { POST 1; default 0; }\n"
        f"    access_log {work}/keying-times.log keying_times if=$keying_post;",
        1,
    )
    (work / "nginx.conf").write_text(text)
    return [local.nginx_binary(), "-c", str(work / "nginx.conf"), "-p", str(work)]


def wait_http(url: str, timeout: float) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own loopback server
                return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


class Sampler(threading.Thread):
    """Every ``interval`` s: CPU and RSS per role, PostgreSQL connections, outbox backlog."""

    def __init__(self, processes: Processes, cfg: Config, brake: Any, interval: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.brake = brake
        self.braked = ""
        self.processes = processes
        self.cfg = cfg
        self.interval = interval
        self.halt = threading.Event()
        self.samples: list[dict[str, Any]] = []

    def run(self) -> None:
        from django.db import close_old_connections, connection
        from django.db.models import F

        from results.models import Result

        previous: dict[int, float] = {}
        last = time.monotonic()
        date = dt.date.fromisoformat(self.cfg.date)
        while not self.halt.wait(self.interval):
            now = time.monotonic()
            elapsed, last = now - last, now
            roles: dict[str, dict[str, float]] = {}
            pids = self.processes.pids()
            pids["generator (this script)"] = [os.getpid()]
            # The script's other descendants are the browser: Playwright's driver and Chromium.
            started = {pid for role_pids in pids.values() for pid in role_pids}
            pids["browser (Chromium)"] = [p for p in descendants(os.getpid()) if p not in started]
            close_old_connections()
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pid, datname = current_database() AND pid <> pg_backend_pid() "
                    "FROM pg_stat_activity"
                )
                rows = cursor.fetchall()
                pids["postgres backends"] = [pid for pid, ours in rows if ours]
                connections = len(pids["postgres backends"])
            if (
                connections > OWN_CONNECTION_BRAKE or len(rows) > SERVER_CONNECTION_BRAKE
            ) and not self.braked:
                self.braked = f"{connections} connections of this run, {len(rows)} on the server"
                self.brake()
            for role, role_pids in pids.items():
                cpu = rss = 0.0
                for pid in role_pids:
                    sample = proc_times(pid)
                    if sample is None:
                        continue
                    used, memory = sample
                    cpu += (used - previous.get(pid, used)) / elapsed * 100
                    previous[pid] = used
                    rss += memory
                roles[role] = {"cpu": cpu, "rss": rss, "processes": len(role_pids)}
            backlog = Result.objects.filter(
                ballot__election__date=date, published_version__lt=F("version")
            ).count()
            self.samples.append(
                {
                    "t": time.time(),
                    "roles": roles,
                    "pg_connections": connections,
                    "pg_server_connections": len(rows),
                    "backlog": backlog,
                }
            )
        connection.close()


def browser_thread(
    cfg: Config, ready: threading.Event, halt: threading.Event, result: dict[str, Any]
) -> None:
    """Headless Chromium with the live map open from before the first declaration to the end;
    its ``ResultsMap.state`` (wards, scoreboard, council summaries) is read at the end."""
    try:
        from playwright.sync_api import sync_playwright

        # Linux keeps a niceness per thread, and the browser inherits this thread's.
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), cfg.load_nice)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            page = browser.new_page()
            page.goto(f"{cfg.base}/map/?date={cfg.date}", timeout=300_000)
            page.wait_for_function(
                "window.ResultsMap && Object.keys(window.ResultsMap.state.wards).length > 0", timeout=300_000
            )
            ready.set()
            halt.wait()
            page.wait_for_timeout(3000)
            state = page.evaluate(
                "(s => JSON.parse(JSON.stringify({wards: s.wards, scoreboard: s.scoreboard, "
                "councils: s.councils})))(window.ResultsMap.state)"
            )
            result.update(state)
            browser.close()
    except Exception as exc:  # noqa: BLE001 - reported, not fatal to the run
        result["error"] = f"{type(exc).__name__}: {exc}"
        ready.set()


def verify(
    cfg: Config, setup: dict[str, Any], viewers: dict[str, Any], browser: dict[str, Any]
) -> dict[str, Any]:
    """Every result of the night in PostgreSQL against the snapshots, the API, the instrumented
    viewers and the browser: version, status, count state, winners' parties and votes."""
    import urllib.request

    from django.db import close_old_connections

    from results.models import CandidateResult, Result

    close_old_connections()
    date = dt.date.fromisoformat(cfg.date)
    truth: dict[str, dict[str, Any]] = {}
    for r in Result.objects.filter(ballot__election__date=date).select_related("ballot"):
        truth[r.ballot.ballot_paper_id] = {
            "ward": str(r.ballot.ward_id),
            "v": r.version,
            "status": r.status,
            "count": r.count_state,
            "votes": {},
            "named_votes": {},
            "winners": [],
        }
    for cr in CandidateResult.objects.filter(result__ballot__election__date=date).select_related(
        "result__ballot", "candidacy__party"
    ):
        entry = truth[cr.result.ballot.ballot_paper_id]
        if cr.votes is not None:  # uncontested: elected unopposed, no votes
            entry["votes"][str(cr.candidacy_id)] = cr.votes
            entry["named_votes"][f"{cr.candidacy.person_name}|{cr.candidacy.party.party_id}"] = cr.votes
        if cr.elected:
            entry["winners"].append(cr.candidacy.party.party_id)
    for entry in truth.values():
        entry["winners"].sort()
    # A ward with two contests on the day has one entry on the map (docs/live-data.md): those
    # are checked ballot by ballot (snapshots and API), not ward by ward.
    contests = Counter(e["ward"] for e in truth.values())
    by_ward = {b: e for b, e in truth.items() if contests[e["ward"]] == 1}

    failures: Counter = Counter()
    reasons: Counter = Counter()

    def fetch(path: str, key: str | None = None) -> dict[str, Any] | None:
        request = urllib.request.Request(cfg.base + path)  # noqa: S310 - our own loopback server
        if key:
            request.add_header("Authorization", f"Api-Key {key}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return json.loads(response.read())
        except Exception as exc:
            failures[path.split("/")[1 if path.startswith("/live") else 3]] += 1
            reasons[str(getattr(exc, "code", type(exc).__name__))] += 1
            return None

    differences: dict[str, list[str]] = defaultdict(list)
    national = fetch(f"/live/{cfg.date}/national.json") or {"wards": {}}
    keys = setup["keys"]
    for n, (ballot, expected) in enumerate(sorted(truth.items())):
        snapshot = fetch(f"/live/ballot/{ballot}.json")
        if snapshot is None:
            differences["snapshot"].append(f"{ballot}: missing")
        else:
            votes = {
                f"{c['name']}|{c['party']}": c["votes"]
                for c in snapshot.get("candidates", [])
                if c.get("votes") is not None
            }
            problems = [k for k in ("v", "status", "count") if snapshot.get(k) != expected[k]]
            if votes != expected["named_votes"]:
                problems.append("votes")
            if problems:
                differences["snapshot"].append(f"{ballot}: {', '.join(problems)}")
        api = fetch(f"/api/v1/results/{ballot}/", keys[n % len(keys)])
        if api is None:
            differences["API"].append(f"{ballot}: missing")
        else:
            api_votes = {
                str(c["candidacy_id"]): c["votes"]
                for c in api.get("candidates", [])
                if c.get("votes") is not None
            }
            problems = [
                k
                for k, a in (("v", "version"), ("status", "status"), ("count", "count_state"))
                if api.get(a) != expected[k]
            ]
            if api_votes != expected["votes"]:
                problems.append("votes")
            if problems:
                differences["API"].append(f"{ballot}: {', '.join(problems)}")

    def compare_wards(name: str, wards: dict[str, dict[str, Any]]) -> None:
        for ballot, expected in by_ward.items():
            entry = wards.get(expected["ward"])
            if (
                entry is None
                or entry.get("v") != expected["v"]
                or entry.get("status") != expected["status"]
                or (sorted(entry.get("winners", [])) != expected["winners"])
            ):
                differences[name].append(f"{ballot}: {entry and {k: entry.get(k) for k in ('v', 'status')}}")

    compare_wards("national.json", national["wards"])
    for i, wards in enumerate(viewers.get("states", [])[:20]):
        compare_wards(f"stream viewer {i}", wards)
    if "wards" in browser:
        compare_wards("browser (Chromium, live map)", browser["wards"])
    # The day's scoreboard and every council's summary, which ride on a publication's last
    # events: what each instrumented viewer and the browser hold at the end against national.json.
    summaries = [(f"stream viewer {i}", b) for i, b in enumerate(viewers.get("boards", [])[:20])]
    if "wards" in browser:
        summaries.append(("browser (Chromium, live map)", browser))
    summary_differences: dict[str, list[str]] = {}
    for name, held in summaries:
        wrong = [] if held.get("scoreboard") == national.get("scoreboard") else ["scoreboard"]
        councils = held.get("councils") or {}
        wrong += sorted(
            slug
            for slug in set(councils) | set(national.get("councils", {}))
            if councils.get(slug) != national.get("councils", {}).get(slug)
        )
        if wrong:
            summary_differences[name] = wrong[:5]
    checked = ["snapshot", "national.json", "API"] + [
        f"stream viewer {i}" for i in range(min(20, len(viewers.get("states", []))))
    ]
    if "wards" in browser:
        checked.append("browser (Chromium, live map)")
    return {
        "fetch_failures": dict(reasons),
        "results": len(truth),
        "checked": checked,
        "ward_level": len(by_ward),
        "differences": {k: len(v) for k, v in differences.items()},
        "examples": {k: v[:5] for k, v in differences.items()},
        "statuses": Counter(e["status"] for e in truth.values()),
        "summaries": {"checked": len(summaries), "councils": len(national.get("councils", {})),
                      "differences": summary_differences},
    }


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def summarise(
    cfg: Config,
    setup: dict[str, Any],
    sampler: Sampler,
    keyers: dict[str, Any],
    viewers: dict[str, Any],
    pollers: dict[str, Any],
    check: dict[str, Any],
    browser: dict[str, Any],
    wall: dict[str, float],
) -> list[str]:
    load = os.getloadavg()
    lines = [
        f"# Night bench ({cfg.mode})",
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPUs (load average before "
        f"the run {wall['load_before']:.1f}, after {load[0]:.1f}; the machine is shared), PostgreSQL "
        f"`{os.environ.get('DATABASE_URL', '').rsplit('/', 1)[-1]}`, Redis db "
        f"`{os.environ.get('REDIS_URL', '').rsplit('/', 1)[-1]}`.",
        "",
        f"Night: seed {cfg.seed}, {setup['councils']} councils, {setup['ballots']} ballots, "
        f"{setup['candidacies']} candidacies; generated in {setup['timings']['plan']:.1f} s and "
        f"stored in {setup['timings']['store']:.1f} s. Replayed over {cfg.duration:.0f} s with double "
        f"keying, {cfg.wrong_share:.0%} wrong first keyings and {cfg.correct_share:.0%} corrections; "
        f"{keyers.get('played', keyers['actions'])} of {keyers['actions']} steps played in "
        f"{keyers['finished'] - keyers['started']:.0f} s"
        + (
            " (**stopped**: the machine could not play the night in twice its time)."
            if keyers.get("stopped")
            else "."
        ),
        f"Load: {cfg.viewers} stream viewers ({viewers.get('connected', 0)} connected, "
        f"{viewers.get('reconnects', 0)} reconnections), {cfg.api_clients} API clients, "
        f"{cfg.correspondents} correspondents; nginx front (deploy/nginx.conf) before uvicorn "
        f"web ({cfg.web_workers} workers) and gunicorn keying ({cfg.keying_workers} × "
        f"{cfg.keying_threads} threads), Celery worker concurrency {cfg.celery_concurrency}. "
        "The viewers that only make load and the browser ran "
        f"at nice {cfg.load_nice}, the measuring clients at the platform's priority"
        + (
            f"; web, the front and the Celery worker at nice {cfg.public_nice}."
            if cfg.public_nice
            else "."
        ),
        "",
        "| figure | value | goal |",
        "|---|---|---|",
    ]
    key_latencies = [k[0] for k in keyers["keyings"]]
    key_status = Counter(k[1] for k in keyers["keyings"])
    key_errors = sum(keyers["errors"].values())
    lines.append(
        f"| keying latency (HTTP) p50 / p95 / p99 | {percentile(key_latencies, 50) * 1000:.0f} / "
        f"{percentile(key_latencies, 95) * 1000:.0f} / {percentile(key_latencies, 99) * 1000:.0f} ms "
        f"({len(key_latencies)} keyings: {', '.join(f'{n}× {s}' for s, n in sorted(key_status.items()))}) "
        f"| p99 < 250 ms |"
    )
    front_times = OUT / "front" / "keying-times.log"
    if front_times.exists():
        at_front, upstream = [], []
        for line in front_times.read_text().splitlines():
            parts = line.split()
            if len(parts) == 5 and parts[1].startswith("/api/v1/ballots/"):
                with contextlib.suppress(ValueError):
                    at_front.append(float(parts[3]))
                    upstream.append(float(parts[4]))
        if at_front:
            lines.append(
                f"| the same keyings at the front (nginx): whole request / keying server p50 / p95 / p99 | "
                f"{percentile(at_front, 50) * 1000:.0f} / {percentile(at_front, 95) * 1000:.0f} / "
                f"{percentile(at_front, 99) * 1000:.0f} ms and {percentile(upstream, 50) * 1000:.0f} / "
                f"{percentile(upstream, 95) * 1000:.0f} / {percentile(upstream, 99) * 1000:.0f} ms | |"
            )
    others = [o[0] for o in keyers["other"]]
    if others:
        lines.append(
            f"| other steps through the services (count state, resolve, correct, approve) p50 / p99 | "
            f"{percentile(others, 50) * 1000:.0f} / {percentile(others, 99) * 1000:.0f} ms "
            f"({len(others)}) | |"
        )
    acks = {(b, v): t for b, v, t in keyers["acks"]}
    publish, to_stream, from_stream = [], [], []
    for b, v, received, event_id in viewers.get("latencies", []):
        if (b, v) not in acks:
            continue
        publish.append(max(0.0, received - acks[(b, v)]))
        appended = int(event_id.split("-")[0]) / 1000 if "-" in event_id else None
        if appended is not None:
            to_stream.append(max(0.0, appended - acks[(b, v)]))
            from_stream.append(max(0.0, received - appended))
    lines.append(
        f"| publish to browser p50 / p99 | {percentile(publish, 50) * 1000:.0f} / "
        f"{percentile(publish, 99) * 1000:.0f} ms ({len(publish)} events at instrumented viewers) "
        "| p99 < 1 s |"
    )
    if to_stream:
        lines.append(
            f"| of which keying to the stream (publisher) / stream to viewer (fan-out) p50 / p99 | "
            f"{percentile(to_stream, 50) * 1000:.0f} / {percentile(to_stream, 99) * 1000:.0f} ms and "
            f"{percentile(from_stream, 50) * 1000:.0f} / {percentile(from_stream, 99) * 1000:.0f} ms | |"
        )
    api = pollers.get("latencies", [])
    statuses = pollers.get("statuses", {})
    api_total = sum(statuses.values()) + sum(pollers.get("errors", {}).values())
    api_bad = sum(n for s, n in statuses.items() if not (s.startswith("2") or s == "304")) + sum(
        pollers.get("errors", {}).values()
    )
    lines.append(
        f"| API change feed p50 / p95 / p99 | {percentile(api, 50) * 1000:.0f} / "
        f"{percentile(api, 95) * 1000:.0f}"
        f" / {percentile(api, 99) * 1000:.0f} ms ({len(api)} requests, "
        f"{statuses.get('304', 0) / max(1, len(api)):.0%} 304) | |"
    )
    viewer_errors = sum(viewers.get("errors", {}).values())
    all_errors = {**keyers["errors"], **pollers.get("errors", {}), **viewers.get("errors", {})}
    lines.append(
        f"| errors | keying {key_errors}, API {api_bad} of {api_total}, streams {viewer_errors} "
        f"({', '.join(f'{k}: {v}' for k, v in all_errors.items()) or 'none'}) | 0 |"
    )
    total_diff = sum(check["differences"].values())
    lines.append(
        f"| results in PostgreSQL ≠ snapshots / API / viewers / browser | {total_diff} differences over "
        f"{check['results']} results × {len(check['checked'])} views (ward-level views: the "
        f"{check['ward_level']} wards with one contest) "
        f"({', '.join(f'{k}: {v}' for k, v in check['differences'].items()) or 'none'}) | 0 |"
    )
    summaries = check.get("summaries")
    if summaries:
        lines.append(
            f"| scoreboard and council summaries at the viewers and the browser ≠ national.json | "
            f"{len(summaries['differences'])} of {summaries['checked']} clients differ (the scoreboard and "
            f"{summaries['councils']} councils each) "
            f"({'; '.join(f'{k}: {v}' for k, v in summaries['differences'].items()) or 'none'}) | 0 |"
        )
    if "error" in browser:
        lines.append(f"| browser | not checked: {browser['error']} | |")
    if sampler.braked:
        lines.append(
            f"| **braked** | the load was stopped ({sampler.braked}; limits {OWN_CONNECTION_BRAKE} "
            f"and {SERVER_CONNECTION_BRAKE}) | |"
        )
    if check["fetch_failures"]:
        lines.append(f"| verification requests that failed | {check['fetch_failures']} | |")
    lines += ["", f"Final statuses: {dict(check['statuses'])}."]
    for name, examples in check["examples"].items():
        lines.append(f"- {name}: e.g. {'; '.join(examples)}")
    lines += [
        "",
        "Processes (CPU % of one core, mean and max over the run; memory (PSS) at the first sample, the "
        "last and the maximum):",
        "",
        "| process | count | CPU mean | CPU max | memory first | last | max | growth | growth, second half |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    samples = sampler.samples
    warm = samples[min(len(samples) - 1, 12 if cfg.mode == "soak" else 1) :] if samples else []
    roles = sorted({r for s in samples for r in s["roles"]})
    for role in roles:
        cpu = [s["roles"][role]["cpu"] for s in samples if role in s["roles"]]
        rss = [s["roles"][role]["rss"] for s in warm if role in s["roles"] and s["roles"][role]["rss"]]
        if not cpu or not rss:
            continue
        count = max(s["roles"][role]["processes"] for s in samples if role in s["roles"])
        growth = (rss[-1] - rss[0]) / rss[0] if rss[0] else 0.0
        # From the middle of the run: what a process keeps adding once the night's data and
        # caches have filled in (a leak keeps growing; a filled cache does not).
        middle = rss[len(rss) // 2]
        late = (rss[-1] - middle) / middle if middle else 0.0
        lines.append(
            f"| {role} | {count} | {statistics.fmean(cpu):.0f} | {max(cpu):.0f} | {rss[0] / 2**20:.0f} MB | "
            f"{rss[-1] / 2**20:.0f} MB | {max(rss) / 2**20:.0f} MB | {growth:+.1%} | {late:+.1%} |"
        )
    lines += [
        "",
        "The platform's processes are the front, uvicorn, gunicorn, Celery and PostgreSQL; the others "
        "are the load and measuring clients, which keep every figure they measure in memory until the end.",
    ]
    if samples:
        connections = [s["pg_connections"] for s in warm]
        backlog = [s["backlog"] for s in samples]

        def by_quarter(values: list[int]) -> str:
            bounds = [round(len(values) * q / 4) for q in range(5)]
            pairs = zip(bounds, bounds[1:], strict=False)
            return " / ".join(str(max(values[a:b])) for a, b in pairs if b > a)

        lines += [
            "",
            f"PostgreSQL connections to the database: first {connections[0]}, last {connections[-1]}, "
            f"max {max(connections)}, max in each quarter of the run {by_quarter(connections)} (the whole "
            f"server: max {max(s.get('pg_server_connections', 0) for s in samples)}). Outbox backlog "
            f"(results behind their publication): max {max(backlog)}, max in each quarter "
            f"{by_quarter(backlog)}, at the end {backlog[-1]}.",
        ]
    lines += timeline(keyers, viewers, samples, cfg)
    return lines


PLATFORM_ROLES = ("front (nginx)", "uvicorn (web)", "gunicorn (keying)", "celery worker", "postgres backends")


def timeline(
    keyers: dict[str, Any], viewers: dict[str, Any], samples: list[dict[str, Any]], cfg: Config
) -> list[str]:
    """The run minute by minute: how the latencies follow the night's rhythm and the CPU.

    Keyings by the time they were answered, publications by the time their keying was; CPU
    as a mean of the sampler's readings in the minute (the browser among the clients)."""
    start = keyers["started"]
    minute = 60.0 if cfg.duration <= 1200 else 300.0

    def bucket(t: float) -> int:
        return int((t - start) // minute)

    answered: dict[int, list[float]] = defaultdict(list)
    for k in keyers["keyings"]:
        if len(k) > 3:
            answered[bucket(k[3])].append(k[0])
    acks = {(b, v): t for b, v, t in keyers["acks"]}
    published: dict[int, list[float]] = defaultdict(list)
    steps: Counter[int] = Counter(bucket(t) for t in acks.values())
    for b, v, received, _ in viewers.get("latencies", []):
        if (b, v) in acks:
            published[bucket(acks[(b, v)])].append(max(0.0, received - acks[(b, v)]))
    cpu: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for sample in samples:
        roles = sample["roles"]
        platform = sum(roles[r]["cpu"] for r in PLATFORM_ROLES if r in roles)
        clients = sum(v["cpu"] for r, v in roles.items() if r not in PLATFORM_ROLES)
        cpu[bucket(sample["t"])].append((platform, clients))
    if not answered:
        return []
    last = max(max(answered), max(steps, default=0))
    lines = [
        "",
        f"Minute by minute{'' if minute == 60 else ' (five minutes a row)'}: results answered (new "
        "versions a second), keying latency at the correspondents, publish to browser by the time "
        "of the keying, and CPU (% of one core; the machine has "
        f"{os.cpu_count()} cores; the clients include the browser):",
        "",
        "| from | versions a second | keying p50 / p99 ms | publish p50 / p99 ms | CPU platform "
        "| CPU clients |",
        "|---|---|---|---|---|---|",
    ]

    def pair(values: list[float]) -> str:
        if not values:
            return "–"
        return f"{percentile(values, 50) * 1000:.0f} / {percentile(values, 99) * 1000:.0f}"

    for i in range(last + 1):
        keys, pubs, used = answered.get(i, []), published.get(i, []), cpu.get(i, [])
        platform = statistics.fmean(u[0] for u in used) if used else 0.0
        clients = statistics.fmean(u[1] for u in used) if used else 0.0
        lines.append(
            f"| {i * minute / 60:.0f} min | {steps.get(i, 0) / minute:.1f} | {pair(keys)} | {pair(pubs)} "
            f"| {platform:.0f} % | {clients:.0f} % |"
        )
    return lines


def orchestrate(cfg: Config) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    env = django_env(cfg)
    os.environ.update(env)
    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", cfg.port)) == 0:
            print(f"port {cfg.port} is in use", file=sys.stderr)
            return 2
    load_before = os.getloadavg()[0]
    # An earlier run's documents would be served (from disk, by the front) until the first
    # publication of this one: a map loading them would hold that run's later versions.
    shutil.rmtree(OUT / "snapshots", ignore_errors=True)
    shutil.rmtree(OUT / "front" / "cache", ignore_errors=True)  # the API micro-cache of the front
    for name in ("viewers.json", "watchers.json", "pollers.json", "correspondents.json"):
        (OUT / name).unlink(missing_ok=True)  # an earlier run's figures are never read as this one's
    print("preparing: migrate, boundaries, parties, the night, accounts and keys…", flush=True)
    setup = prepare(cfg)
    print(
        f"night: {setup['councils']} councils, {setup['ballots']} ballots "
        f"(planned in {setup['timings']['plan']:.1f} s, stored in {setup['timings']['store']:.1f} s)",
        flush=True,
    )
    config_path = OUT / "config.json"
    config_path.write_text(json.dumps(asdict(cfg)))
    me = [sys.executable, str(Path(__file__).resolve())]
    # Tasks left in this Redis database by earlier runs (or test runs without a worker).
    subprocess.run(
        [str(VENV_BIN / "celery"), "-A", "config", "purge", "-f"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        check=False,
    )
    processes = Processes()
    try:
        # As docker-compose deploys it: the front (deploy/nginx.conf) serving the live
        # documents from disk and the API micro-cache, "web" for the public and the streams,
        # "keying" for the correspondents.
        processes.start(
            "uvicorn (web)",
            [
                str(VENV_BIN / "uvicorn"),
                "config.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(cfg.port + 1),
                "--workers",
                str(cfg.web_workers),
                "--lifespan",
                "off",
                "--log-level",
                "warning",
                "--no-access-log",
                "--backlog",
                "4096",
            ],
            {**env, "NIGHT_BENCH_POOL": "8", "DATABASE_APPLICATION_NAME": "night-web"},
            "web.log",
            nice=cfg.public_nice,
        )
        processes.start(
            "gunicorn (keying)",
            [
                str(VENV_BIN / "gunicorn"),
                "config.wsgi:application",
                "--config",
                str(ROOT / "config" / "gunicorn.py"),
                "--backlog",
                "4096",
            ],
            {
                **env,
                "NIGHT_BENCH_POOL": "10",
                "DATABASE_APPLICATION_NAME": "night-keying",
                "KEYING_BIND": f"127.0.0.1:{cfg.port + 2}",
                "WEB_CONCURRENCY": str(cfg.keying_workers),
                "KEYING_THREADS": str(cfg.keying_threads),
                "KEYING_LOG_LEVEL": "warning",
            },
            "keying.log",
        )
        processes.start("front (nginx)", front_command(cfg), env, "front.log", nice=cfg.public_nice)
        # The worker and beat as deployed: persistent connections, no pool.
        celery_env = {k: v for k, v in env.items() if k != "NIGHT_BENCH_POOL"}
        processes.start(
            "celery worker",
            [
                str(VENV_BIN / "celery"),
                "-A",
                "config",
                "worker",
                "--loglevel",
                os.environ.get("NIGHT_WORKER_LOGLEVEL", "WARNING"),
                "--concurrency",
                str(cfg.celery_concurrency),
                "--without-gossip",
                "--without-mingle",
                "--hostname",
                f"night-bench-{os.getpid()}@localhost",
            ],
            {**celery_env, "DATABASE_APPLICATION_NAME": "night-worker"},
            "celery-worker.log",
            nice=cfg.public_nice,
        )
        processes.start(
            "celery beat",
            [
                str(VENV_BIN / "celery"),
                "-A",
                "config",
                "beat",
                "--loglevel",
                "WARNING",
                "--schedule",
                str(OUT / "beat-schedule"),
            ],
            {**celery_env, "DATABASE_APPLICATION_NAME": "night-beat"},
            "celery-beat.log",
        )
        wait_http(f"http://127.0.0.1:{cfg.port + 1}/", 120)
        wait_http(f"http://127.0.0.1:{cfg.port + 2}/keying/", 120)
        wait_http(f"{cfg.base}/", 60)
        # The reconciler (beat) publishes the day's documents before the first declaration.
        wait_http(f"{cfg.base}/live/{cfg.date}/national.json", 120)

        def brake() -> None:
            print("too many PostgreSQL connections on the server: stopping the load", flush=True)
            processes.stop(["correspondents", "viewers", "viewers (instrumented)", "API clients"], timeout=60)

        sampler = Sampler(processes, cfg, brake)
        sampler.start()
        browser: dict[str, Any] = {}
        browser_ready, browser_halt = threading.Event(), threading.Event()
        if cfg.browser:
            threading.Thread(
                target=browser_thread, args=(cfg, browser_ready, browser_halt, browser), daemon=True
            ).start()
        processes.start(
            "viewers",
            [*me, "--role", "viewers", "--config", str(config_path)],
            env,
            "viewers.log",
            nice=cfg.load_nice,
        )
        processes.start(
            "viewers (instrumented)",
            [*me, "--role", "watchers", "--config", str(config_path)],
            env,
            "watchers.log",
        )
        processes.start(
            "API clients", [*me, "--role", "pollers", "--config", str(config_path)], env, "pollers.log"
        )
        if cfg.browser:
            browser_ready.wait(180)
        time.sleep(min(30, 5 + cfg.viewers / 200))  # let the viewers connect
        print(f"replaying the night over {cfg.duration:.0f} s…", flush=True)
        keyers_proc = processes.start(
            "correspondents",
            [*me, "--role", "correspondents", "--config", str(config_path)],
            env,
            "correspondents.log",
        )
        try:
            keyers_proc.wait(timeout=cfg.duration * 2 + 300)
        except subprocess.TimeoutExpired:
            print("the night could not be played in time: stopping the correspondents", flush=True)
            keyers_proc.send_signal(signal.SIGTERM)
            keyers_proc.wait(timeout=600)
        print("night replayed; draining publication…", flush=True)
        deadline = time.monotonic() + cfg.drain_seconds
        while time.monotonic() < deadline:
            time.sleep(2)
            if sampler.samples and sampler.samples[-1]["backlog"] == 0:
                break
        time.sleep(5)
        browser_halt.set()
        processes.stop(["viewers", "viewers (instrumented)", "API clients"])
        time.sleep(3)
        keyers = json.loads((OUT / "correspondents.json").read_text())
        viewers = merge_viewers(
            [json.loads(p.read_text()) for p in (OUT / "viewers.json", OUT / "watchers.json") if p.exists()]
        )
        pollers = json.loads((OUT / "pollers.json").read_text()) if (OUT / "pollers.json").exists() else {}
        for _ in range(60):
            if "wards" in browser or "error" in browser or not cfg.browser:
                break
            time.sleep(1)
        print(
            "checking every result against the snapshots, the API, the viewers and the browser…", flush=True
        )
        # Through the front, as clients read it: past the API's longest live Cache-Control
        # (max-age 5, stale-while-revalidate 10), nothing the micro-cache holds is older.
        time.sleep(16)
        check = verify(cfg, setup, viewers, browser)
        sampler.halt.set()
        sampler.join(10)
        lines = summarise(
            cfg, setup, sampler, keyers, viewers, pollers, check, browser, {"load_before": load_before}
        )
    finally:
        processes.stop()
    text = "\n".join(lines) + "\n"
    report = REPORT if cfg.mode != "quick" else OUT / "night-quick.md"
    if cfg.mode == "soak":
        report = ROOT / "bench" / "night-soak.md"
    report.write_text(text)
    (OUT / "samples.json").write_text(json.dumps(sampler.samples))
    print(text)
    print(f"report written to {report.relative_to(ROOT)}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    defaults = Config()
    for name, value in asdict(defaults).items():
        if name in ("mode", "browser"):
            continue
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    parser.add_argument("--quick", action="store_true", help="A small smoke run.")
    parser.add_argument("--soak", action="store_true", help="One hour at half the load.")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument(
        "--role", choices=["viewers", "watchers", "pollers", "correspondents"], help=argparse.SUPPRESS
    )
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.role:
        cfg = Config(**json.loads(args.config.read_text()))
        setup = json.loads((OUT / "setup.json").read_text())
        if args.role == "viewers":
            run_loop(run_viewers(cfg, OUT / "viewers.json", range(instrumented_count(cfg), cfg.viewers)))
        elif args.role == "watchers":
            run_loop(run_viewers(cfg, OUT / "watchers.json", range(instrumented_count(cfg))))
        elif args.role == "pollers":
            run_loop(run_pollers(cfg, setup["keys"][: cfg.api_clients], OUT / "pollers.json"))
        else:
            run_correspondents(cfg, OUT / "setup.json", OUT / "correspondents.json")
        return 0
    values = {k: getattr(args, k) for k in asdict(defaults) if k not in ("mode", "browser")}
    cfg = Config(**values, browser=not args.no_browser)
    if args.quick:
        cfg.mode, cfg.councils, cfg.duration = "quick", min(cfg.councils, 8), min(cfg.duration, 60)
        cfg.viewers, cfg.api_clients, cfg.correspondents = min(cfg.viewers, 200), min(cfg.api_clients, 20), 6
        cfg.drain_seconds = 60
    elif args.soak:
        cfg.mode, cfg.duration = "soak", 3600
        cfg.viewers, cfg.api_clients = cfg.viewers // 2, cfg.api_clients // 2
        cfg.correspondents = max(2, cfg.correspondents // 2)
    return orchestrate(cfg)


if __name__ == "__main__":
    sys.exit(main())
