"""Keying latency: 20 correspondents posting results at once, then the same while the public
map is read hard.

Usage::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/helper_keying \\
    REDIS_URL=redis://127.0.0.1:6379/3 \\
    .venv/bin/python bench/keying_bench.py [--correspondents 20] [--keyings 40] [--readers 8] \\
        [--port 8310] [--workers 2]

What runs (all on 127.0.0.1, on this machine's 2 cores, load generator included):

- uvicorn serving ``config.asgi`` with ``--workers`` processes on ``--port``
  (``config.settings.test``: DEBUG off, the API throttles raised so the load is not refused);
- a Celery worker publishing each accepted result (the production shape: every keying is
  followed by a snapshot rebuild), on ``REDIS_URL``;
- seeding, in a new council each run: 2 × correspondents/2 × keyings ballots of 3 candidates,
  the correspondents (each pair assigned to the same election) and their integration tokens.

Phase 1, keying: each correspondent posts ``--keyings`` results to
``POST /api/v1/ballots/<id>/result/`` (token auth, keep-alive), back to back (closed loop:
latency is then mostly queueing behind the other 19) or, with ``--interval``, one every
``--interval`` seconds (open loop, the way a count hall keys). The two of a
pair key the same ballots in the same order, so every ballot is keyed twice at nearly the
same moment: a first keying (provisional) and a second (verified), contending for the ballot
lock as at a real count. Phase 2: the same on fresh ballots while ``--readers`` clients fetch
the public national snapshot (``/live/<date>/national.json``; the home page if the snapshot
is not served) as fast as they can.

Latency is measured by the client, from sending the request to reading the whole answer.
Prints the figures and writes them to ``bench/keying.md``. Goal (issue 3): p99 < 250 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
REPORT = ROOT / "bench" / "keying.md"
DATE = dt.date(2031, 5, 1)  # a polling day no real data uses


def setup_environment() -> dict[str, str]:
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("keying_bench: set DATABASE_URL to a PostgreSQL database (and REDIS_URL)")
    OUT.mkdir(parents=True, exist_ok=True)
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "SNAPSHOT_ROOT": str(OUT / "keying_snapshots"),
        "DJANGO_LOG_LEVEL": "ERROR",
        # Under ASGI each request runs in a pool thread: persistent connections pile up per
        # thread until PostgreSQL refuses more (Django advises 0 under ASGI).
        "DATABASE_CONN_MAX_AGE": "0",
    }
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    return env


@dataclass
class Seeded:
    ballots: list[list[dict[str, Any]]]  # per phase: [{"id": ballot id, "candidates": [ids]}]
    tokens: list[str]
    read_path: str
    council: str


def seed(correspondents: int, keyings: int) -> Seeded:
    import django

    django.setup()
    from io import StringIO

    from django.core.management import call_command
    from django.db import transaction

    from accounts.models import Role
    from accounts.services import assign_role, create_integration_token
    from tests.factories.councils import make_council
    from tests.factories.keying import candidacy_ids, make_keying_ballot, make_user

    call_command("migrate", "--noinput", stdout=StringIO(), stderr=StringIO(), verbosity=0)
    run = uuid.uuid4().hex[:6]
    pairs = correspondents // 2
    with transaction.atomic():
        council = make_council(name=f"Benchshire {run}", gss=None)
        phases = []
        for _ in range(2):
            ballots = []
            for _ in range(pairs * keyings):
                ballot = make_keying_ballot(council=council, date=DATE)
                ballots.append({"id": ballot.ballot_paper_id, "candidates": candidacy_ids(ballot)})
            phases.append(ballots)
        election = council.elections.get()
        tokens = []
        for i in range(correspondents):
            user = make_user(f"bench-{run}-{i}-")
            assign_role(user=user, role=Role.CORRESPONDENT, council=council, election=election)
            tokens.append(create_integration_token(user=user, name="keying bench")[1])
    read_path = "/"
    try:
        from results.publication import national_path, publish_day

        publish_day(DATE, full=True)
        read_path = "/live/" + national_path(DATE).lstrip("/")
    except Exception as exc:  # noqa: BLE001 - the bench says which endpoint it read
        print(f"(no national snapshot: {exc!r}; reading the home page instead)")
    return Seeded(phases, tokens, read_path, council.slug)


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    handle = log.open("w")
    return subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=handle, stderr=subprocess.STDOUT)


def wait_for(port: int, path: str = "/", timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"nothing answered on 127.0.0.1:{port}")


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, seconds: float, status: int) -> None:
        with self.lock:
            self.latencies.append(seconds)
            self.statuses[status] = self.statuses.get(status, 0) + 1


def body(ballot: dict[str, Any], n: int) -> bytes:
    votes = [1200 + (n * 37) % 300, 700 + (n * 11) % 200, 300 + (n * 7) % 100]
    return json.dumps({
        "candidates": [{"candidacy_id": c, "votes": v}
                       for c, v in zip(ballot["candidates"], votes, strict=True)],
        "ballot_papers_counted": sum(votes) + 12, "rejected_total": 12, "electorate": 6000,
        "source": "Declaration at the count", "client_token": uuid.uuid4().hex, "confirm_warnings": True,
    }).encode()


def correspondent(port: int, token: str, ballots: list[dict[str, Any]], tally: Tally,
                  barrier: threading.Barrier, interval: float, offset: float) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    barrier.wait()
    origin = time.perf_counter() + offset
    for n, ballot in enumerate(ballots):
        if interval:
            # Paced (open loop): each keying starts on schedule, whatever the last one took.
            time.sleep(max(0.0, origin + n * interval - time.perf_counter()))
        payload = body(ballot, n)
        started = time.perf_counter()
        try:
            conn.request("POST", f"/api/v1/ballots/{ballot['id']}/result/", payload, headers)
            response = conn.getresponse()
            response.read()
            status = response.status
        except OSError:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            status = 0
        tally.add(time.perf_counter() - started, status)
    conn.close()


def reader(port: int, path: str, tally: Tally, stop: threading.Event, interval: float = 0.0) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    origin, n = time.perf_counter(), 0
    while not stop.is_set():
        if interval:
            # Paced: a steady read rate, whatever each read took (0: back to back).
            n += 1
            time.sleep(max(0.0, origin + n * interval - time.perf_counter()))
        started = time.perf_counter()
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            status = response.status
        except OSError:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            status = 0
        tally.add(time.perf_counter() - started, status)
    conn.close()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


def summary(tally: Tally, seconds: float) -> dict[str, Any]:
    lat = tally.latencies
    return {
        "requests": len(lat), "per_second": len(lat) / seconds, "p50": pct(lat, 50), "p95": pct(lat, 95),
        "p99": pct(lat, 99), "max": max(lat) * 1000, "mean": statistics.fmean(lat) * 1000,
        "statuses": dict(sorted(tally.statuses.items())),
    }


def run_phase(
    port: int, seeded: Seeded, phase: int, readers: int, interval: float = 0.0, read_rate: float = 0.0
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    pairs = len(seeded.tokens) // 2
    keyings = len(seeded.ballots[phase]) // pairs
    tally, reads = Tally(), Tally()
    stop = threading.Event()
    read_interval = readers / read_rate if read_rate else 0.0
    read_threads = [threading.Thread(target=reader, args=(port, seeded.read_path, reads, stop, read_interval))
                    for _ in range(readers)]
    for t in read_threads:
        t.start()
    if readers:
        time.sleep(2)  # the read load is running before the first keying
        reads.latencies.clear()
        reads.statuses.clear()
    barrier = threading.Barrier(len(seeded.tokens))
    threads = []
    for i, token in enumerate(seeded.tokens):
        pair = i // 2
        mine = seeded.ballots[phase][pair * keyings:(pair + 1) * keyings]
        # A pair keys the same ballot within the same second, as at a real count.
        offset = (pair / max(pairs, 1)) * interval + (i % 2) * 0.05 * interval
        threads.append(threading.Thread(target=correspondent,
                                        args=(port, token, mine, tally, barrier, interval, offset)))
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    stop.set()
    for t in read_threads:
        t.join()
    return summary(tally, elapsed), (summary(reads, elapsed) if readers else None)


def outcomes(seeded: Seeded) -> dict[str, int]:
    from results.models import Result, Submission

    ids = [b["id"] for phase in seeded.ballots for b in phase]
    statuses: dict[str, int] = {}
    for status in Result.objects.filter(ballot__ballot_paper_id__in=ids).values_list("status", flat=True):
        statuses[status] = statuses.get(status, 0) + 1
    statuses["submissions"] = Submission.objects.filter(ballot__ballot_paper_id__in=ids).count()
    return statuses


def line(name: str, s: dict[str, Any]) -> str:
    return (f"| {name} | {s['requests']} | {s['per_second']:.0f} | {s['p50']:.0f} | {s['p95']:.0f} | "
            f"{s['p99']:.0f} | {s['max']:.0f} | {s['statuses']} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--correspondents", type=int, default=20)
    parser.add_argument("--keyings", type=int, default=40, help="results each correspondent posts per phase")
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--port", type=int, default=8310)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-publisher", action="store_true", help="do not start the Celery worker")
    parser.add_argument("--interval", type=float, default=0.0,
                        help="seconds between one correspondent's keyings (0: back to back, closed loop)")
    parser.add_argument("--read-rate", type=float, default=0.0,
                        help="public reads per second over all readers (0: each reader back to back)")
    parser.add_argument("--report", type=Path, default=REPORT, help="where the Markdown report goes")
    args = parser.parse_args()
    env = setup_environment()
    print(f"seeding {args.correspondents} correspondents and "
          f"{2 * args.correspondents // 2 * args.keyings} ballots…", flush=True)
    seeded = seed(args.correspondents, args.keyings)
    venv = Path(sys.executable).parent
    server = start([str(venv / "uvicorn"), "config.asgi:application", "--host", "127.0.0.1", "--port",
                    str(args.port), "--workers", str(args.workers), "--lifespan", "off", "--no-access-log",
                    "--log-level", "warning"], env, OUT / "keying_uvicorn.log")
    worker = None
    if not args.no_publisher and os.environ.get("REDIS_URL"):
        worker = start([str(venv / "celery"), "-A", "config", "worker", "--concurrency", "1", "--loglevel",
                        "WARNING", "--without-gossip", "--without-mingle", "--hostname",
                        f"keying-bench-{os.getpid()}@bench"], env, OUT / "keying_worker.log")
    try:
        wait_for(args.port)
        # Warm every worker process (imports, connections) before measuring.
        warm = Tally()
        for _ in range(20):
            started = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", args.port)
            conn.request("GET", seeded.read_path)
            response = conn.getresponse()
            response.read()
            warm.add(time.perf_counter() - started, response.status)
        read_status = sorted(warm.statuses)
        print(f"server up; the public read endpoint {seeded.read_path} answers {read_status}", flush=True)
        load_before = os.getloadavg()[0]
        keying, _ = run_phase(args.port, seeded, 0, 0, args.interval)
        print("keying alone:", json.dumps(keying), flush=True)
        keying_loaded, reads = run_phase(args.port, seeded, 1, args.readers, args.interval,
                                           args.read_rate)
        print("keying under read load:", json.dumps(keying_loaded), flush=True)
        print("public reads meanwhile:", json.dumps(reads), flush=True)
    finally:
        for process in (server, worker):
            if process is not None:
                process.terminate()
        for process in (server, worker):
            if process is not None:
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
    load_after = os.getloadavg()[0]
    done = outcomes(seeded)
    print("results stored:", done, flush=True)
    pace = (f"one keying every {args.interval:g} s per correspondent (offered "
            f"{args.correspondents / args.interval:.0f}/s, open loop)" if args.interval
            else "back to back (closed loop: a throughput stress)")
    verdict = "met" if max(keying["p99"], keying_loaded["p99"]) < 250 else "NOT met"
    header = ("| run | requests | per s | p50 ms | p95 ms | p99 ms | max ms | statuses |\n"
              "|---|---|---|---|---|---|---|---|")
    report = "\n".join([
        "# Keying latency (bench/keying_bench.py)",
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} ({os.cpu_count()} cores), "
        f"PostgreSQL (`{os.environ['DATABASE_URL'].rsplit('/', 1)[-1]}`), uvicorn × {args.workers} workers, "
        f"{'a Celery worker publishing every result' if worker else 'no publisher'}; load generator on the "
        f"same cores; load average {load_before:.1f} before and {load_after:.1f} after (other processes "
        "on the machine count too).",
        "",
        f"{args.correspondents} correspondents (in pairs keying the same ballots: first keying, then the "
        f"verifying second), {args.keyings} results each per run, `POST /api/v1/ballots/<id>/result/` with a "
        f"token, {pace}. Under read load: {args.readers} clients fetching `{seeded.read_path}` "
        + (f"at {args.read_rate:g} requests per second in all (paced)." if args.read_rate
           else "back to back (as fast as the server answers: the CPU is saturated)."),
        "",
        "Command: `DATABASE_URL=… REDIS_URL=… .venv/bin/python bench/keying_bench.py "
        f"{' '.join(sys.argv[1:])}`",
        "",
        header,
        line("keying alone", keying),
        line("keying under read load", keying_loaded),
        line(f"public reads ({seeded.read_path})", reads) if reads else "",
        "",
        f"Results stored: {done}. "
        + (f"Goal p99 < 250 ms: **{verdict}**." if args.interval else
           f"Capacity: {keying['per_second']:.0f} keyings a second (closed loop: the latency is queueing "
           "behind the other correspondents; the p99 goal is for the paced run, bench/keying.md)."),
        "",
    ])
    args.report.write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
