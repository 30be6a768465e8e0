"""Publication under faults, on PostgreSQL with a real Redis, Celery worker and beat.

The test starts its own redis-server (no persistence: the outbox and the reconciler, not
Redis, carry the guarantee), a Celery worker and beat pointed at the test database and that
Redis, and uvicorn serving the ASGI front on the snapshot directory. Submissions come from
another process through ``submit_result``. Throughout, a reader polls the national document
(over HTTP and on disk) every 50 ms and must never see a torn or empty one.

- Redis stopped for 30 s during 200 submissions: 200 stored, every call answered quickly,
  all 200 published within 10 s of Redis returning.
- A worker child killed in the middle of publishing: everything is republished.
- Publishing one result after another, each worker child keeps its one PostgreSQL session.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.db import connection
from django.db.models import F

from elections.models import Ballot, Candidacy, Election, Party
from results.models import Result
from tests import support
from tests.factories.councils import make_boundary_set, make_council, make_wards

pytestmark = [pytest.mark.fault, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
BIN = Path(PYTHON).parent


free_port = support.free_port
WORKER_SESSIONS = f"fault-worker-{os.getpid()}"


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1) -> float:
    """Seconds until ``predicate()`` is true; fails after ``timeout``."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(interval)
    return time.monotonic() - started


@dataclass
class Rig:
    """The processes of one test module and how to reach them."""

    tmp: Path
    env: dict[str, str]
    redis_port: int
    http_port: int
    logs: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def snapshots(self) -> Path:
        return Path(self.env["SNAPSHOT_ROOT"])

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            args,
            cwd=ROOT,
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes[name] = process
        return process

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)

    def start_redis(self) -> None:
        self.start(
            "redis",
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(self.redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.tmp),
        )
        client = redis.Redis(port=self.redis_port, socket_connect_timeout=0.5)
        wait_until(lambda: _pings(client), 10, "redis-server")

    def stop_redis(self) -> None:
        """Stop Redis the way an outage does: nothing saved, every queued message gone."""
        with contextlib.suppress(redis.ConnectionError):
            redis.Redis(port=self.redis_port).shutdown(nosave=True)
        self.processes.pop("redis").wait(10)

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor != "postgresql":
        pytest.skip("the fault tests run on PostgreSQL (DATABASE_URL; CI sets it)")
    auth = quote(db["USER"] or "")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture(scope="module")
def rig(django_db_setup, tmp_path_factory) -> Iterator[Rig]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (CI has it)")
    tmp = tmp_path_factory.mktemp("faults")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url(),
        "DATABASE_CONN_MAX_AGE": "0",
        "SNAPSHOT_ROOT": str(tmp / "snapshots"),
        "LIVE_RECONCILE_SECONDS": "2",
        "LIVE_STREAM_PREFIX": "fault:",
        "FAULT_SLOW_FLAG": str(tmp / "slow"),
        "FAULT_PUBLISHING_MARK": str(tmp / "publishing"),
        "PYTHONUNBUFFERED": "1",
    }
    redis_port = free_port(range(6391, 6400))
    env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
    (tmp / "logs").mkdir()
    rig = Rig(
        tmp=tmp, env=env, redis_port=redis_port, http_port=free_port(range(8400, 8500)), logs=tmp / "logs"
    )
    try:
        rig.start_redis()
        rig.start(
            "worker",
            PYTHON,
            "tests/faults/worker.py",
            "--loglevel=INFO",
            "--concurrency=2",
            "--without-gossip",
            "--without-mingle",
            "-n",
            f"fault-{os.getpid()}@%h",
            # As deployed: persistent connections, named in pg_stat_activity.
            env={"DATABASE_CONN_MAX_AGE": "60", "DATABASE_APPLICATION_NAME": WORKER_SESSIONS},
        )
        rig.start(
            "beat",
            str(BIN / "celery"),
            "-A",
            "config",
            "beat",
            "--loglevel=INFO",
            "-s",
            str(tmp / "beat-schedule"),
        )
        rig.start(
            "web",
            str(BIN / "uvicorn"),
            "config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(rig.http_port),
            "--lifespan",
            "on",
            "--log-level",
            "warning",
        )
        wait_until(lambda: "ready." in rig.log("worker"), 60, "the Celery worker")
        wait_until(lambda: _answers(rig.http_port), 30, "uvicorn")
        yield rig
    finally:
        for name in ("beat", "worker", "web", "redis"):
            rig.stop(name)


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


class SnapshotReader(threading.Thread):
    """Polls /live/<date>/national.json over HTTP and the pointer on disk every 50 ms.

    Records every read that is not a whole document with every ward (a torn, empty or
    failed read), once the first version exists, and each ward's version never going back.
    """

    def __init__(self, rig: Rig, date: dt.date, wards: int) -> None:
        super().__init__(daemon=True)
        self.rig, self.path, self.wards = rig, f"/live/{date.isoformat()}/national.json", wards
        self.file = rig.snapshots / date.isoformat() / "national.json"
        self.stop = threading.Event()
        self.reads = 0
        self.bad: list[str] = []
        self.versions: dict[str, int] = {}

    def check(self, source: str, body: bytes) -> None:
        try:
            document = json.loads(body)
        except ValueError as exc:
            self.bad.append(f"{source}: not JSON ({exc}; {len(body)} bytes)")
            return
        if len(document.get("wards", ())) != self.wards:
            self.bad.append(f"{source}: {len(document.get('wards', ()))} wards")
            return
        for ward, entry in document["wards"].items():
            if entry["v"] < self.versions.get(ward, 0) and source == "http":
                self.bad.append(f"{source}: ward {ward} went back to v{entry['v']}")
            self.versions[ward] = max(entry["v"], self.versions.get(ward, 0))
        self.reads += 1

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.rig.http_port, timeout=5)
        while not self.stop.wait(0.05):
            try:
                conn.request("GET", self.path)
                response = conn.getresponse()
                body = response.read()
                if response.status == 200:
                    self.check("http", body)
                else:
                    self.bad.append(f"http: {response.status}")
            except (OSError, http.client.HTTPException) as exc:
                self.bad.append(f"http: {exc!r}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.rig.http_port, timeout=5)
            try:
                self.check("disk", self.file.read_bytes())
            except OSError as exc:
                self.bad.append(f"disk: {exc!r}")


def make_ballots(count: int, date: dt.date) -> list[Ballot]:
    council = make_council(name=f"Faultshire {date.isoformat()}")
    election = Election.objects.create(
        council=council, date=date, title="Fault test", election_id=f"local.{council.slug}.{date.isoformat()}"
    )
    labour, _ = Party.objects.get_or_create(party_id="PP53", defaults={"name": "Labour Party"})
    green, _ = Party.objects.get_or_create(party_id="PP63", defaults={"name": "Green Party"})
    ballots = []
    for ward in make_wards(make_boundary_set(council=council), count):
        ballot = Ballot.objects.create(
            ballot_paper_id=f"local.{council.slug}.{ward.slug}.{date.isoformat()}",
            election=election,
            ward=ward,
            voting_system="FPTP",
        )
        Candidacy.objects.create(ballot=ballot, person_name=f"Ann {ward.name}", party=labour)
        Candidacy.objects.create(ballot=ballot, person_name=f"Ben {ward.name}", party=green)
        ballots.append(ballot)
    return ballots


def publish_now(rig: Rig, date: dt.date) -> None:
    """The day's first documents (every ward awaiting), so the reader has something to read."""
    subprocess.run(
        [PYTHON, "manage.py", "publish_live", "--date", date.isoformat(), "-v0"],
        cwd=ROOT,
        env=rig.env,
        check=True,
        timeout=60,
    )


def submit(rig: Rig, ballots: list[Ballot], *, threads: int = 1) -> list[dict]:
    """Key a result for each ballot from another process; its JSON lines."""
    done = subprocess.run(
        [PYTHON, "tests/faults/submitter.py", *(str(b.pk) for b in ballots), "--threads", str(threads)],
        cwd=ROOT,
        env=rig.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines()]


def unpublished(ballots: list[Ballot]) -> int:
    return (
        Result.objects.filter(ballot__in=ballots).filter(published_version__lt=F("version")).count()
        + len(ballots)
        - Result.objects.filter(ballot__in=ballots).count()
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def test_redis_stopped_for_30_seconds_during_200_submissions(rig, report_figure):
    date = dt.date(2030, 5, 2)
    ballots = make_ballots(200, date)
    publish_now(rig, date)
    reader = SnapshotReader(rig, date, wards=200)
    reader.start()
    try:
        before = submit(rig, ballots[:50], threads=4)
        rig.stop_redis()
        stopped_at = time.monotonic()
        during = submit(rig, ballots[50:], threads=4)
        submitted_in = time.monotonic() - stopped_at
        time.sleep(max(0.0, 30 - (time.monotonic() - stopped_at)))
        rig.start_redis()
        restarted_at = time.monotonic()
        to_publish = wait_until(
            lambda: unpublished(ballots) == 0, 10, "all 200 published after Redis returned", interval=0.2
        )
        wait_until(
            lambda: reader.versions and min(reader.versions.values()) >= 1, 10, "the reader sees all 200"
        )
    finally:
        reader.stop.set()
        reader.join(5)
    lines = before + during
    up = [line["seconds"] for line in before]
    down = [line["seconds"] for line in during]
    report_figure(
        f"\nRedis outage: {len(lines)} submissions answered, {sum(line['stored'] for line in lines)} stored; "
        f"4 correspondents at once; with Redis up p50 "
        f"{percentile(up, 0.5) * 1000:.0f} ms, p99 {percentile(up, 0.99) * 1000:.0f} ms; with Redis down p50 "
        f"{percentile(down, 0.5) * 1000:.0f} ms, p99 {percentile(down, 0.99) * 1000:.0f} ms, max "
        f"{max(down) * 1000:.0f} ms; Redis down {restarted_at - stopped_at:.1f} s; all published "
        f"{to_publish:.1f} s after Redis returned; reader: {reader.reads} whole documents, "
        f"{len(reader.bad)} bad"
    )
    assert len(lines) == 200 and all(line["stored"] for line in lines), [
        line for line in lines if not line["stored"]
    ]
    assert restarted_at - stopped_at >= max(30, submitted_in)  # all 150 keyed while Redis was down
    # No call waits on Redis: calls during the outage cost what calls with Redis up cost
    # (plus a failed connection attempt), whatever the machine's load.
    assert percentile(down, 0.5) < percentile(up, 0.5) + 0.25
    assert max(down) < max(max(up), 1.0) + 1.0
    assert Result.objects.filter(ballot__in=ballots, status="provisional", version=1).count() == 200
    assert to_publish <= 10
    assert reader.bad == [] and reader.reads > 100
    national = json.loads((rig.snapshots / date.isoformat() / "national.json").read_bytes())
    assert {entry["status"] for entry in national["wards"].values()} == {"provisional"}
    events = redis.Redis(port=rig.redis_port).xrange(f"fault:stream:{date.isoformat()}")
    assert (
        len({json.loads(fields[b"d"])["ward"] for _, fields in events}) >= 150
    )  # those published after the outage


def test_a_worker_killed_while_publishing_is_republished(rig, report_figure):
    date = dt.date(2030, 5, 9)
    ballots = make_ballots(20, date)
    publish_now(rig, date)
    reader = SnapshotReader(rig, date, wards=20)
    reader.start()
    mark = Path(rig.env["FAULT_PUBLISHING_MARK"])
    mark.unlink(missing_ok=True)
    Path(rig.env["FAULT_SLOW_FLAG"]).touch()
    answered: list[dict] = []
    client = threading.Thread(target=lambda: answered.extend(submit(rig, ballots)), daemon=True)
    try:
        client.start()
        wait_until(mark.exists, 30, "a publication under way")
        child = int(mark.read_text())
        os.kill(child, signal.SIGKILL)
        killed_at = time.monotonic()
        Path(rig.env["FAULT_SLOW_FLAG"]).unlink()
        client.join(120)
        wait_until(lambda: unpublished(ballots) == 0, 30, "republished after the kill", interval=0.2)
        to_republish = time.monotonic() - killed_at
        wait_until(
            lambda: reader.versions and min(reader.versions.values()) >= 1, 10, "the reader sees all 20"
        )
    finally:
        reader.stop.set()
        reader.join(5)
        Path(rig.env["FAULT_SLOW_FLAG"]).unlink(missing_ok=True)
    report_figure(
        f"\nWorker killed while publishing (child {child}): all 20 republished {to_republish:.1f} s "
        "after the kill; "
        f"reader: {reader.reads} whole documents, {len(reader.bad)} bad"
    )
    assert len(answered) == 20 and all(line["stored"] for line in answered)
    # The worker's main process notices its dead child on its own schedule: wait for it to say so.
    killed = f"pid:{child} exited with 'signal 9"
    wait_until(lambda: killed in rig.log("worker"), 15, "the kill in the worker log")
    assert to_republish <= 30
    assert reader.bad == [] and reader.reads > 20
    national = json.loads((rig.snapshots / date.isoformat() / "national.json").read_bytes())
    assert {entry["v"] for entry in national["wards"].values()} == {1}


def test_worker_children_keep_their_database_sessions_across_publications(rig, report_figure):
    """Celery closes Django's connections after every task unless told otherwise: each
    publication would open a new PostgreSQL session. Watched in pg_stat_activity while 40
    results are keyed and published one after another, the worker (two children) holds
    at most two sessions."""
    import psycopg

    date = dt.date(2030, 5, 23)
    ballots = make_ballots(40, date)
    publish_now(rig, date)
    seen: set[int] = set()
    polls = 0
    stop = threading.Event()

    def watch() -> None:
        nonlocal polls
        with psycopg.connect(database_url(), autocommit=True) as watcher:
            while not stop.wait(0.02):
                rows = watcher.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = %s", [WORKER_SESSIONS]
                ).fetchall()
                seen.update(pid for (pid,) in rows)
                polls += 1

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        answered = submit(rig, ballots)
        wait_until(lambda: unpublished(ballots) == 0, 60, "all 40 published", interval=0.2)
        time.sleep(0.5)
    finally:
        stop.set()
        watcher.join(5)
    report_figure(
        f"\nWorker sessions while 40 results were published one by one: {len(seen)} "
        f"distinct PostgreSQL sessions over {polls} looks at pg_stat_activity"
    )
    assert len(answered) == 40 and all(line["stored"] for line in answered)
    assert polls > 20
    assert 1 <= len(seen) <= 2
