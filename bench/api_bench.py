"""Read API on a national night: page by page, the whole night, and pollers' 304s, against
nginx serving the same bytes as files, in the same run.

Usage::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/helper_api REDIS_URL=redis://127.0.0.1:6379/6 \\
        .venv/bin/python bench/api_bench.py [--seed 2027] [--councils 150] [--duration 10]
        [--connections 32] [--port 8601] [--nginx-port 8602] [--pollers 100]

Without ``DATABASE_URL`` it uses a SQLite file under ``bench/out/``; without ``REDIS_URL``
the servers' caches are per process.

1. **The night.** The national ward boundaries (ONS May 2023, 8,441 wards) are imported if
   they are not stored, then ``results.generator`` draws a night from ``--seed`` on them
   (``--councils`` councils, about 3,000 ballots and 12,000 candidacies at the default) and
   every ballot's result is keyed through ``results.services.submit_result``. Kept between
   runs: a second run reuses the stored night.
2. **Servers.** uvicorn serves ``config.asgi`` with production settings (2 workers, as
   ``docker-compose.yml`` runs it; ``DATABASE_CONN_MAX_AGE=0``, see bench/README.md) on
   ``--port``: first with the API's document cache off (``API_RESPONSE_CACHE_SECONDS=0``:
   every request builds its document), then on (60, the default). nginx (2 workers) serves,
   on ``--nginx-port``, files holding exactly the bytes the API returned.
3. **Under load.** ``wrk -t1 -c<connections> -d<duration> --latency`` (closed loop, on the
   same two cores as the servers, which also carry whatever else runs on the machine),
   cycling through every page of ``/api/v1/results/?election_date=…&page_size=100``; the
   whole night as one CSV (``/api/v1/exports/lga/?date=…``, cached); page 1 with its ETag in
   ``If-None-Match``; the same from nginx serving files; and the API behind an nginx
   ``proxy_cache`` that follows its ``Cache-Control`` (the deployment its headers are made
   for: a CDN or front cache). Each gives requests per second, p50/p99
   latency, server CPU per request (the servers' user + system time over the run, from
   /proc, divided by requests) and the ratio to nginx. Each run starts once the server is
   idle.
4. **In full.** One client following ``next`` from page 1 to the last page, with every page
   built, then from the cache; and the whole-night CSV in one request, built and cached.
5. **Pollers.** ``--pollers`` clients each poll page 1, the change feed from its head and one
   ballot every second with the ETag they were last given: the share of 304 answers while
   nothing changes (goal ≥ 95 %), then while a result on page 1 is corrected every two
   seconds, with a feed poller that must see every correction exactly once.

Prints the figures and writes them to ``bench/api.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import http.client
import json
import os
import platform
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
REPORT = ROOT / "bench" / "api.md"
DATA = Path(os.environ.get("ELECTIONS_SAMPLE_DATA", ROOT.parent / "shared" / "data"))
NATIONAL = DATA / "boundaries" / "wards_may2023_uk_bsc.geojson"
REGISTER = DATA / "parties" / "ec_register_gb_2021-11_danielgriffin48.csv"
DATE = dt.date(2027, 5, 6)
TICKS = os.sysconf("SC_CLK_TCK")


# -- the night ------------------------------------------------------------------------------


def django_setup(database_url: str, redis_url: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    os.environ["DJANGO_DEBUG"] = "0"
    os.environ["DATABASE_URL"] = database_url
    os.environ["REDIS_URL"] = redis_url
    os.environ.setdefault("DJANGO_LOG_LEVEL", "ERROR")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def prepare_night(seed: int, councils: int) -> dict[str, int]:
    """Store the night (boundaries, parties, elections, ballots, results); returns counts."""
    from io import StringIO

    from django.core.management import call_command

    from councils.models import Ward
    from elections.models import Ballot, Candidacy, Party
    from results.generator import plan_night
    from results.models import Result, ResultStatus, SubmissionChannel
    from results.replay import ballots_from_plan
    from results.services import submit_result

    call_command("migrate", verbosity=0)
    if Ward.objects.count() < 8000:
        print("importing the national ward boundaries…", flush=True)
        call_command("import_boundaries", str(NATIONAL), stdout=StringIO(), stderr=StringIO(), verbosity=0)
    if not Party.objects.filter(party_id="PP53").exists():
        call_command("import_parties", str(REGISTER), stdout=StringIO(), stderr=StringIO(), verbosity=0)
    plan = plan_night(seed=seed, date=DATE, councils=councils)
    ballots = ballots_from_plan(plan)
    keyed = set(
        Result.objects.filter(ballot__election__date=DATE)
        .exclude(status=ResultStatus.NO_FIGURES)
        .values_list("ballot_id", flat=True)
    )
    todo = [b for b in ballots if b.ballot_pk not in keyed]
    if todo:
        print(f"keying {len(todo)} results through submit_result…", flush=True)
    started = time.perf_counter()
    for n, planned in enumerate(todo, start=1):
        submit_result(
            ballot=Ballot.objects.get(pk=planned.ballot_pk),
            figures=planned.figures,
            source="api bench: generated night",
            channel=SubmissionChannel.REPLAY,
            official=True,
            confirm_warnings=True,
        )
        if n % 500 == 0:
            print(f"  {n} ({n / (time.perf_counter() - started):.0f}/s)", flush=True)
    _drop_queued_publications()
    from django.db import connection

    if connection.vendor == "postgresql":
        # A freshly loaded database has no planner statistics yet (autovacuum would gather
        # them within minutes in production): without them every page is a sequential scan.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return {
        "councils": len(plan.councils),
        "ballots": Ballot.objects.filter(election__date=DATE).count(),
        "candidacies": Candidacy.objects.filter(ballot__election__date=DATE).count(),
        "results": Result.objects.filter(ballot__election__date=DATE)
        .exclude(status=ResultStatus.NO_FIGURES)
        .count(),
    }


def _drop_queued_publications() -> None:
    """Keying queues a publication task per result; no worker runs here, so the queue (in
    this run's own Redis database) is dropped rather than left to grow."""
    from django.conf import settings

    if settings.REDIS_URL:
        import redis

        redis.Redis.from_url(settings.REDIS_URL).delete("celery")


def correctable(ballot_paper_ids: list[str]) -> list[str]:
    """The single-seat first-past-the-post ballots among these, whose results can be corrected."""
    from results.models import Result, ResultStatus

    return list(
        Result.objects.filter(
            ballot__ballot_paper_id__in=ballot_paper_ids,
            status__in=(ResultStatus.VERIFIED, ResultStatus.PROVISIONAL),
            ballot__voting_system="FPTP",
            ballot__seats_contested=1,
            ballot__uncontested=False,
        )
        .order_by("ballot__ballot_paper_id")
        .values_list("ballot__ballot_paper_id", flat=True)
    )


def correct_one(ballot_paper_id: str) -> None:
    """Correct a result after a "recount": one vote moves from the last candidate to the
    winner (the winner stays the winner, so no tie for the seat can arise)."""
    from django.contrib.auth import get_user_model

    from results.figures import CandidateFigures, ResultFigures
    from results.models import CorrectionReason, Result
    from results.services import correct_result

    result = Result.objects.select_related("ballot", "current_submission").get(
        ballot__ballot_paper_id=ballot_paper_id
    )
    figures = ResultFigures.from_canonical(result.current_submission.figures)
    ranked = sorted(figures.candidates, key=lambda c: -(c.votes or 0))
    top, last = ranked[0], next(c for c in reversed(ranked) if (c.votes or 0) > 0)
    candidates = tuple(
        CandidateFigures(c.candidacy_id, (c.votes or 0) + (1 if c is top else -1 if c is last else 0))
        for c in figures.candidates
    )
    user, _ = get_user_model().objects.get_or_create(username="api-bench-corrector")
    correct_result(
        result=result,
        figures=dataclasses.replace(figures, candidates=candidates),
        expected_version=result.version,
        corrected_by=user,
        reason=CorrectionReason.RECOUNT,
        source="api bench: recount",
        confirm_warnings=True,
    )
    _drop_queued_publications()


# -- servers ----------------------------------------------------------------------------------


def server_env(database_url: str, redis_url: str, cache_seconds: float) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_LOG_LEVEL": "ERROR",
        "API_RESPONSE_CACHE_SECONDS": str(cache_seconds),
        # Under ASGI, Django runs each request's code in a thread of its own; a connection
        # kept for reuse (CONN_MAX_AGE > 0) stays open with the thread gone, and a few
        # seconds of load exhaust PostgreSQL's connections. 0: a connection per request.
        "DATABASE_CONN_MAX_AGE": "0",
        # The load generator is one address: throttling would measure nothing but 429s.
        "API_THROTTLE_ANON": "100000000/second",
        "API_THROTTLE_API_KEY": "100000000/second",
    }


@contextlib.contextmanager
def uvicorn(port: int, env: dict[str, str]):  # type: ignore[no-untyped-def]
    process = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/uvicorn"),
            "config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "2",
            "--no-access-log",
            "--lifespan",
            "off",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/api/v1/parties/?page_size=1")
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


NGINX_CONF = """
worker_processes 2;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    types {{ application/json json; text/csv csv; }}
    server {{
        listen 127.0.0.1:{port};
        root {root};
        etag on;
    }}
    # The API behind a micro-cache that follows its Cache-Control (max-age, then
    # revalidation with its ETag): the deployment the API's headers are written for.
    proxy_cache_path {prefix}/cache levels=1:2 keys_zone=api:10m max_size=500m inactive=60s use_temp_path=off;
    upstream api {{ server 127.0.0.1:{api_port}; keepalive 32; }}
    server {{
        listen 127.0.0.1:{proxy_port};
        location / {{
            proxy_pass http://api;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host 127.0.0.1;
            proxy_cache api;
            proxy_cache_revalidate on;
            proxy_cache_lock on;
            proxy_cache_use_stale updating error timeout;
            proxy_cache_background_update on;
        }}
    }}
}}
"""


@contextlib.contextmanager
def nginx(port: int, root: Path, *, api_port: int):  # type: ignore[no-untyped-def]
    """nginx serving ``root`` on ``port`` and proxying to the API (with its cache) on ``port + 1``."""
    prefix = Path(tempfile.mkdtemp(prefix="api-bench-nginx-"))
    # nginx's workers drop privileges: they must be able to write the proxy cache.
    prefix.chmod(0o755)
    (prefix / "cache").mkdir(mode=0o777)
    (prefix / "cache").chmod(0o777)
    conf = prefix / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(prefix=prefix, port=port, root=root, api_port=api_port, proxy_port=port + 1)
    )
    process = subprocess.Popen(["nginx", "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"])
    try:
        wait_until_up(f"http://127.0.0.1:{port}/pages/1.json")
        wait_until_up(f"http://127.0.0.1:{port + 1}/api/v1/parties/?page_size=1")
        yield process
    finally:
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(prefix, ignore_errors=True)


def wait_until_up(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            status, _, _ = fetch(url)
            if status < 500:
                return
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def fetch(
    url: str, headers: dict[str, str] | None = None, conn: http.client.HTTPConnection | None = None
) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    own = conn is None
    conn = conn or http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        if own:
            conn.close()


def tree_cpu(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        ppid, utime, stime = int(fields[1]), int(fields[11]), int(fields[12])
        stats[int(entry.name)] = (ppid, (utime + stime) / TICKS)
        children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += stats.get(current, (0, 0.0))[1]
        todo.extend(children.get(current, []))
    return total


# -- load -------------------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_ms: float
    errors: int
    bytes_per_request: int = 0
    statuses: str = ""


def _ms(output: str, label: str) -> float:
    """A latency from wrk's output (``50%  12.34ms``); NaN when wrk printed none."""
    found = re.search(rf"{label}\s+([\d.]+)(us|ms|s|m)\b", output)
    if found is None:
        return float("nan")
    return float(found.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[found.group(2)]


def wrk(
    name: str,
    base: str,
    paths: list[tuple[str, dict[str, str]]],
    *,
    server_pid: int | list[int],
    duration: int,
    connections: int,
    size: int,
) -> Run:
    """``wrk`` cycling through ``paths`` (each with its headers)."""
    script = OUT / "api_bench.lua"
    entries = ",\n".join(
        "{" + _lua(path) + ", {" + ", ".join(f"[{_lua(k)}] = {_lua(v)}" for k, v in headers.items()) + "}}"
        for path, headers in paths
    )
    script.write_text(
        "local paths = {\n" + entries + "\n}\nlocal i = 0\n"
        "request = function()\n  i = i + 1\n  local p = paths[(i % #paths) + 1]\n"
        "  return wrk.format('GET', p[1], p[2])\nend\n"
    )
    pids = server_pid if isinstance(server_pid, list) else [server_pid]
    before = sum(tree_cpu(pid) for pid in pids)
    completed = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "--timeout",
            "30s",
            "-s",
            str(script),
            base,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    cpu = sum(tree_cpu(pid) for pid in pids) - before
    output = completed.stdout
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    (OUT / f"wrk-{re.sub(r'[^a-z0-9]+', '-', name.lower())}.txt").write_text(output)
    p50, p99 = _ms(output, "50%"), _ms(output, "99%")
    errors = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", output)) else 0
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    return Run(name, requests, rps, p50, p99, 1000 * cpu / max(requests, 1), errors, size)


def _lua(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def walk(base: str, first: str) -> tuple[float, list[float], int, list[bytes]]:
    """Follow ``next`` from ``first`` to the end with one client: total s, per-page ms."""
    conn = http.client.HTTPConnection(urlsplit(base).hostname, urlsplit(base).port, timeout=120)
    url, timings, total_bytes, bodies = base + first, [], 0, []

    started = time.perf_counter()
    while url:
        t = time.perf_counter()
        status, _, body = fetch(url, conn=conn)
        timings.append(1000 * (time.perf_counter() - t))
        assert status == 200, (status, url, body[:200])
        total_bytes += len(body)
        bodies.append(body)
        url = json.loads(body)["next"]
        if url:
            url = base + urlsplit(url).path + "?" + urlsplit(url).query
    conn.close()
    return time.perf_counter() - started, timings, total_bytes, bodies


@dataclass
class PollReport:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    first: int = 0
    latencies: list[float] = field(default_factory=list)

    @property
    def share_304(self) -> float:
        later = self.requests - self.first
        return self.statuses[304] / later if later else 0.0


def poll(base: str, urls: list[str], *, pollers: int, seconds: float, interval: float) -> PollReport:
    """``pollers`` clients, each asking every URL once per ``interval`` with its last ETag."""
    report = PollReport()
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(n: int) -> None:
        conn = http.client.HTTPConnection(urlsplit(base).hostname, urlsplit(base).port, timeout=60)
        etags: dict[str, str] = {}
        time.sleep(interval * n / pollers)
        while time.monotonic() < stop:
            tick = time.monotonic()
            for url in urls:
                headers = {"If-None-Match": etags[url]} if url in etags else {}
                t = time.perf_counter()
                status, response_headers, _ = fetch(base + url, headers, conn=conn)
                elapsed = 1000 * (time.perf_counter() - t)
                with lock:
                    report.requests += 1
                    report.statuses[status] += 1
                    report.latencies.append(elapsed)
                    if url not in etags:
                        report.first += 1
                if "etag" in response_headers:
                    etags[url] = response_headers["etag"]
            time.sleep(max(0.0, interval - (time.monotonic() - tick)))
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(pollers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return report


# -- report ------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def wait_until_idle(pid: int, *, quiet: float = 0.05, timeout: float = 120) -> None:
    """Wait until the server has finished what an earlier run left queued (less than
    ``quiet`` CPU seconds used in half a second), so each run measures only itself."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = tree_cpu(pid)
        time.sleep(0.5)
        if tree_cpu(pid) - before < quiet:
            return


@dataclass
class Pollers:
    label: str
    quiet: PollReport
    busy: PollReport
    corrections: int
    seen: list[int]


@dataclass
class Timed:
    name: str
    seconds: float
    cpu_s: float
    size: int


def timed_fetch(name: str, url: str, server_pid: int) -> Timed:
    wait_until_idle(server_pid)
    before = tree_cpu(server_pid)
    started = time.perf_counter()
    status, _, body = fetch(url)
    elapsed = time.perf_counter() - started
    assert status == 200, (status, url)
    return Timed(name, elapsed, tree_cpu(server_pid) - before, len(body))


def main() -> None:  # noqa: PLR0915 - one scenario, told in order
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=2027)
    parser.add_argument("--councils", type=int, default=150)
    parser.add_argument("--duration", type=int, default=10, help="Seconds per wrk run.")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--port", type=int, default=8601)
    parser.add_argument("--nginx-port", type=int, default=8602)
    parser.add_argument("--pollers", type=int, default=100)
    parser.add_argument("--poll-seconds", type=float, default=20)
    args = parser.parse_args()

    OUT.mkdir(parents=True, exist_ok=True)
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{OUT / 'api_bench.sqlite3'}"
    redis_url = os.environ.get("REDIS_URL", "")
    django_setup(database_url, redis_url)
    started = time.perf_counter()
    counts = prepare_night(args.seed, args.councils)
    print(f"night: {counts} (ready in {time.perf_counter() - started:.0f} s)", flush=True)
    load_before = os.getloadavg()

    api = f"http://127.0.0.1:{args.port}"
    static = f"http://127.0.0.1:{args.nginx_port}"
    first_page = f"/api/v1/results/?election_date={DATE.isoformat()}&page_size=100"
    export = f"/api/v1/exports/lga/?date={DATE.isoformat()}&publication_date={DATE.isoformat()}"
    runs: list[Run] = []
    pollers: list[Pollers] = []
    walks: dict[str, tuple[float, list[float], int]] = {}
    singles: list[Timed] = []
    root = OUT / "api_bench_static"
    shutil.rmtree(root, ignore_errors=True)
    (root / "pages").mkdir(parents=True)

    def load(
        name: str,
        base: str,
        paths: list[tuple[str, dict[str, str]]],
        pid: int | list[int],
        size: int,
        connections: int | None = None,
    ) -> None:
        for one in pid if isinstance(pid, list) else [pid]:
            wait_until_idle(one)
        runs.append(
            wrk(
                name,
                base,
                paths,
                server_pid=pid,
                duration=args.duration,
                connections=connections or args.connections,
                size=size,
            )
        )
        print(f"  {runs[-1]}", flush=True)

    # Document cache off: every request builds its document.
    with uvicorn(args.port, server_env(database_url, redis_url, 0)) as server:
        total, timings, size, bodies = walk(api, first_page)
        walks["document cache off (every page built)"] = (total, timings, size)
        page_paths = [first_page]
        for n, body in enumerate(bodies, start=1):
            (root / "pages" / f"{n}.json").write_bytes(body)
            following = json.loads(body)["next"]
            if following:
                page_paths.append(urlsplit(following).path + "?" + urlsplit(following).query)
        average_page = sum(len(b) for b in bodies) // len(bodies)
        singles.append(timed_fetch("full night LGA CSV, built", api + export, server.pid))
        csv_body = fetch(api + export)[2]
        (root / "night.csv").write_bytes(csv_body)
        load("API pages, document cache off", api, [(p, {}) for p in page_paths], server.pid, average_page)

    # Document cache on (the default).
    with uvicorn(args.port, server_env(database_url, redis_url, 60)) as server:
        total, timings, size, _ = walk(api, first_page)
        walks["document cache on, first walk (pages built and kept)"] = (total, timings, size)
        total, timings, size, _ = walk(api, first_page)
        walks["document cache on, again (pages from the cache)"] = (total, timings, size)
        fetch(api + export)
        singles.append(timed_fetch("full night LGA CSV, from the cache", api + export, server.pid))
        load("API pages, document cache on", api, [(p, {}) for p in page_paths], server.pid, average_page)
        load("API full night CSV, cached", api, [(export, {})], server.pid, len(csv_body), connections=4)
        etag = fetch(api + first_page)[1]["etag"]
        load("API 304 (If-None-Match), page 1", api, [(first_page, {"If-None-Match": etag})], server.pid, 0)

        from results.models import ResultEvent

        page_one = [r["ballot_paper_id"] for r in json.loads(fetch(api + first_page)[2])["results"]]
        targets = correctable(page_one)
        one_ballot = f"/api/v1/results/{targets[0]}/"
        corrections_made = 0

        def phases(base: str, label: str, pids: list[int]) -> None:
            """Pollers while nothing changes, then while page-1 results are corrected; a
            feed poller then follows ``next`` over the corrections."""
            nonlocal corrections_made
            for pid in pids:
                wait_until_idle(pid)
            head = ResultEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
            urls = [first_page, f"/api/v1/events/?since={head}", one_ballot]
            quiet = poll(base, urls, pollers=args.pollers, seconds=args.poll_seconds, interval=1.0)
            corrected: list[str] = []
            stop = threading.Event()

            def corrections() -> None:
                nonlocal corrections_made
                while not stop.wait(2.0):
                    target = targets[corrections_made % len(targets)]
                    correct_one(target)
                    corrected.append(target)
                    corrections_made += 1

            changer = threading.Thread(target=corrections)
            changer.start()
            busy = poll(base, urls, pollers=args.pollers, seconds=args.poll_seconds, interval=1.0)
            stop.set()
            changer.join()
            seen: list[int] = []
            cursor = head
            while True:
                page = json.loads(fetch(f"{base}/api/v1/events/?since={cursor}&limit=200")[2])
                seen += [e["id"] for e in page["events"] if e["kind"] == "corrected"]
                cursor = page["next"]
                if not page["more"]:
                    break
            pollers.append(Pollers(label, quiet, busy, len(corrected), seen))

        phases(api, "the API", [server.pid])

        proxied = f"http://127.0.0.1:{args.nginx_port + 1}"
        with nginx(args.nginx_port, root, api_port=args.port) as web:
            load(
                "nginx, the same page files",
                static,
                [(f"/pages/{n}.json", {}) for n in range(1, len(bodies) + 1)],
                web.pid,
                average_page,
            )
            load(
                "nginx, the same night CSV",
                static,
                [("/night.csv", {})],
                web.pid,
                len(csv_body),
                connections=4,
            )
            etag = fetch(static + "/pages/1.json")[1]["etag"]
            load(
                "nginx 304 (If-None-Match)", static, [("/pages/1.json", {"If-None-Match": etag})], web.pid, 0
            )
            for path in page_paths:
                fetch(proxied + path)
            load(
                "API pages behind an nginx cache (its Cache-Control)",
                proxied,
                [(p, {}) for p in page_paths],
                [web.pid, server.pid],
                average_page,
            )
            etag = fetch(proxied + first_page)[1]["etag"]
            load(
                "API 304 behind an nginx cache",
                proxied,
                [(first_page, {"If-None-Match": etag})],
                [web.pid, server.pid],
                0,
            )
            phases(proxied, "the API behind the nginx cache", [web.pid, server.pid])

    report = render(
        args,
        counts,
        runs,
        walks,
        singles,
        pollers,
        len(bodies),
        average_page,
        len(csv_body),
        database_url,
        redis_url,
        load_before,
        os.getloadavg(),
    )
    print(report)
    REPORT.write_text(report)


def render(  # noqa: PLR0913 - the report's parts
    args: argparse.Namespace,
    counts: dict[str, int],
    runs: list[Run],
    walks: dict[str, tuple[float, list[float], int]],
    singles: list[Timed],
    pollers: list[Pollers],
    pages: int,
    average_page: int,
    csv_size: int,
    database_url: str,
    redis_url: str,
    load_before: tuple[float, ...],
    load_after: tuple[float, ...],
) -> str:
    nginx_for = {
        "API pages, document cache off": "nginx, the same page files",
        "API pages, document cache on": "nginx, the same page files",
        "API full night CSV, cached": "nginx, the same night CSV",
        "API 304 (If-None-Match), page 1": "nginx 304 (If-None-Match)",
        "API pages behind an nginx cache (its Cache-Control)": "nginx, the same page files",
        "API 304 behind an nginx cache": "nginx 304 (If-None-Match)",
    }
    by_name = {r.name: r for r in runs}
    lines = [
        "# Read API benchmark",
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPUs (Python "
        f"{platform.python_version()}), database {urlsplit(database_url).scheme}, Redis "
        f"{'yes' if redis_url else 'no'}; uvicorn 2 workers with production settings "
        f"(DATABASE_CONN_MAX_AGE=0: see bench/README.md), nginx 2 workers, wrk -t1 on the same cores. "
        f"Load average {load_before[0]:.1f} before, {load_after[0]:.1f} after (other work on the machine).",
        "",
        f"Night: {counts['councils']} councils, {counts['ballots']:,} ballots, {counts['candidacies']:,} "
        f"candidacies, {counts['results']:,} results (seed {args.seed}, {DATE.isoformat()}). Results list: "
        f"{pages} pages of 100 (average {average_page:,} bytes); the whole night as one LGA CSV: "
        f"{csv_size:,} bytes.",
        "",
        f"## Under load (wrk, {args.duration} s each, {args.connections} connections; 4 for the CSV)",
        "",
        "| run | req/s | p50 ms | p99 ms | server CPU ms/request | errors | ratio to nginx |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        other = by_name.get(nginx_for.get(run.name, ""))
        ratio = f"{run.rps / other.rps:.3f}" if other and other.rps else ""
        lines.append(
            f"| {run.name} | {run.rps:,.1f} | {run.p50_ms:.1f} | {run.p99_ms:.1f} | {run.cpu_ms:.2f} | "
            f"{run.errors} | {ratio} |"
        )
    lines += [
        "",
        "## In full",
        "",
        "One client following `next` from the first page to the last:",
        "",
        "| walk | pages | total s | per page p50 ms | p99 ms | MB |",
        "|---|---|---|---|---|---|",
    ]
    for name, (total, timings, size) in walks.items():
        lines.append(
            f"| {name} | {len(timings)} | {total:.2f} | {statistics.median(timings):.1f} | "
            f"{pct(timings, 0.99):.1f} | {size / 1e6:.1f} |"
        )
    lines += [
        "",
        "The whole night in one request (`/api/v1/exports/lga/?date=…`):",
        "",
        "| request | seconds | server CPU s | MB |",
        "|---|---|---|---|",
    ]
    for single in singles:
        lines.append(
            f"| {single.name} | {single.seconds:.2f} | {single.cpu_s:.2f} | {single.size / 1e6:.1f} |"
        )
    lines += [
        "",
        f"## Pollers ({args.pollers} clients; page 1, the feed from its head, one ballot; each once a "
        f"second with the ETag last given; {args.poll_seconds:.0f} s per phase)",
        "",
        "| served by | phase | requests | 304 share after each client's first answer | p50 ms | p99 ms "
        "| statuses |",
        "|---|---|---|---|---|---|---|",
    ]
    for group in pollers:
        for label, r in (
            ("nothing changes", group.quiet),
            ("a page-1 result corrected every 2 s", group.busy),
        ):
            lines.append(
                f"| {group.label} | {label} | {r.requests:,} | {100 * r.share_304:.1f} % | "
                f"{statistics.median(r.latencies):.1f} | {pct(r.latencies, 0.99):.1f} | "
                f"{dict(sorted(r.statuses.items()))} |"
            )
    lines.append("")
    for group in pollers:
        every_once = len(group.seen) == len(set(group.seen)) == group.corrections
        lines.append(
            f"Change feed, {group.label}: {group.corrections} corrections, {len(group.seen)} `corrected` "
            f"events received by a poller following `next`, {len(set(group.seen))} distinct "
            f"({'every change exactly once' if every_once else 'MISMATCH'})."
        )
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
