"""Snapshot benchmarks: the CPU to rebuild the live documents per declaration on a national
night, the documents' sizes, and serving them, as a ratio to nginx serving the same file.

    .venv/bin/python bench/snapshot_bench.py                       # SQLite under bench/out/
    .venv/bin/python bench/snapshot_bench.py --database-url postgres://postgres@127.0.0.1:5432/helper_pub_bench

1. A fresh database (SQLite file, or the PostgreSQL database named, dropped and created
   again) gets the national ward boundaries (8,441 wards) and the party register through
   the import commands, then a generated night through ``results.generator`` (``plan_night``
   and ``store_night``: 150 councils, their elections, ballots and candidacies through
   ``elections.services``).
2. The day is published in full once, then ``--declarations`` results, in the night's
   declaration order, are keyed through ``results.services.submit_result`` and the day is
   published after each (``publication.publish_day``): CPU time (``time.process_time``) and
   wall time per declaration. Celery runs nothing here: publication is called directly.
3. The same national.json served three ways, each measured by ``wrk -t1`` for
   ``--duration`` seconds at ``--connections`` connections (full responses, gzip, 304s):
   nginx (Debian's, ``worker_processes 1``) serving a plain copy of the file and its
   gzip (the yardstick); the platform's front server, that is nginx with the ``/live/``
   locations of ``deploy/nginx-live.conf`` (what docker-compose's ``front`` runs) serving the
   publisher's own pointer, symbolic link and ``.gz``; and uvicorn (``config.asgi``, one
   worker: the ASGI front serving pre-built bytes, for deployments without a front server).

Ports 8481 (plain nginx), 8484 (the front) and 8482 (uvicorn). Writes bench/snapshot.md and
prints the figures last.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "snapshot"
PYTHON = sys.executable
DATA = Path(os.environ.get("ELECTIONS_SAMPLE_DATA", ROOT.parent / "shared" / "data"))
DATE = dt.date(2027, 5, 6)
NGINX_PORT, UVICORN_PORT, FRONT_PORT = 8481, 8482, 8484


def sh(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return done.stdout


def fresh_database(url: str | None) -> str:
    if url is None:
        path = OUT / "bench.sqlite3"
        path.unlink(missing_ok=True)
        return f"sqlite:///{path}"
    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    sh("psql", admin, "-q", "-c", f'DROP DATABASE IF EXISTS "{name}"', "-c", f'CREATE DATABASE "{name}"')
    return url


def wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing answered on port {port}")


def wrk(url: str, *, duration: int, connections: int, header: str | None = None) -> dict[str, float]:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", url]
    if header:
        args[1:1] = ["-H", header]
    output = sh(*args, timeout=duration + 30)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", output).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {"rps": rps, "p50": ms("50%"), "p99": ms("99%"), "non2xx": int(errors.group(1)) if errors else 0}


NGINX_CONF = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    types {{ application/json json; }}
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    upstream ukresults_web {{ server 127.0.0.1:{uvicorn_port}; }}
    server {{                             # the yardstick: a plain file and its gzip
        listen 127.0.0.1:{port};
        location /plain/ {{
            alias {plain}/;
            gzip_static on;
        }}
    }}
    server {{                             # the platform's front: deploy/nginx-live.conf
        listen 127.0.0.1:{front_port};
        {live}
    }}
}}
"""


def live_locations(root: Path) -> str:
    """deploy/nginx-live.conf, serving ``root`` instead of the container's /srv/snapshots."""
    from deploy import local  # ROOT is on sys.path by then (main)

    return local.live_block(root)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="A PostgreSQL database this benchmark may drop and create.")
    parser.add_argument("--declarations", type=int, default=300)
    parser.add_argument("--councils", type=int, default=150)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--batch", type=int, default=100, help="Results in one peak publication.")
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument(
        "--no-serving", action="store_true", help="Only the publisher's figures: printed, not written."
    )
    args = parser.parse_args()
    for tool in () if args.no_serving else ("nginx", "wrk"):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            raise SystemExit(f"{tool} is needed: apt-get install -y nginx wrk")
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    snapshots_root = OUT / "snapshots"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_DEBUG": "0",
        "DATABASE_URL": fresh_database(args.database_url),
        "SNAPSHOT_ROOT": str(snapshots_root),
        "DJANGO_LOG_LEVEL": "ERROR",
    }
    env.pop("REDIS_URL", None)  # the embedded bus: spool files, no broker needed
    os.environ.update(env)
    os.environ.pop("REDIS_URL", None)

    started = time.monotonic()
    sh(PYTHON, "manage.py", "migrate", "-v0", env=env)
    sh(
        PYTHON,
        "manage.py",
        "import_boundaries",
        str(DATA / "boundaries/wards_may2023_uk_bsc.geojson"),
        "-v0",
        env=env,
    )
    for parties in ("parties/ec_register_gb_2021-11_danielgriffin48.csv", "parties/party_colours_core.csv"):
        sh(PYTHON, "manage.py", "import_parties", str(DATA / parties), "-v0", env=env)
    print(f"boundaries and parties imported in {time.monotonic() - started:.0f} s", flush=True)

    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection

    from config.celery_app import app as celery_app
    from elections.models import Ballot
    from results import publication, snapshots
    from results.generator import plan_night, store_night
    from results.services import submit_result

    # Publication is measured by calling it, not through the nudge.
    celery_app.conf.task_always_eager = False

    plan = plan_night(seed=2027, date=DATE, councils=args.councils)
    stored = store_night(plan)
    wards = len(plan.ballots)
    print(f"night stored: {len(plan.councils)} councils, {wards} ballots", flush=True)

    t_cpu, t_wall = time.process_time(), time.perf_counter()
    full = publication.publish_day(DATE, full=True)
    full_cpu, full_wall = time.process_time() - t_cpu, time.perf_counter() - t_wall
    assert full.full

    def key(planned: Any) -> None:
        ballot_id, candidacy_ids = stored.ballots[planned.ballot_paper_id]
        submit_result(
            ballot=Ballot.objects.get(pk=ballot_id),
            figures=planned.figures(candidacy_ids),
            source="benchmark",
            channel="replay",
            confirm_warnings=True,
        )

    night_order = sorted(plan.ballots, key=lambda b: (b.declares, b.ballot_paper_id))
    order = night_order[: args.declarations]
    cpu_ms, wall_ms = [], []
    for planned in order:
        key(planned)
        t_cpu, t_wall = time.process_time(), time.perf_counter()
        report = publication.publish_day(DATE)
        cpu_ms.append((time.process_time() - t_cpu) * 1000)
        wall_ms.append((time.perf_counter() - t_wall) * 1000)
        assert len(report.published) == 1, report
        assert not report.full, report
    # The night's peak: many results behind when a publication starts (the nudges coalesce
    # while one runs), across many councils. The next declarations in order, keyed
    # unpublished, then one publication for the whole batch.
    peak: list[tuple[int, int, float, float]] = []  # results, councils, CPU ms, wall ms
    rest = night_order[args.declarations :]
    for start in range(0, min(len(rest), args.batch * args.batches), args.batch):
        batch = rest[start : start + args.batch]
        for planned in batch:
            key(planned)
        t_cpu, t_wall = time.process_time(), time.perf_counter()
        report = publication.publish_day(DATE)
        peak.append(
            (
                len(report.published),
                len({planned.council for planned in batch}),
                (time.process_time() - t_cpu) * 1000,
                (time.perf_counter() - t_wall) * 1000,
            )
        )
        assert len(report.published) == len(batch), report
    peak_lines = [
        "",
        f"A publication at the night's peak ({len(peak)} publications, each of the next {args.batch} "
        "results in the night's order, keyed while none was published):",
        "",
        "| results | councils | CPU ms | wall ms |",
        "|---|---|---|---|",
        *[f"| {n} | {c} | {cpu_:.0f} | {wall_:.0f} |" for n, c, cpu_, wall_ in peak],
    ]
    if peak:
        peak_lines += [
            "",
            f"Median: **{statistics.median(p[2] for p in peak):.0f} ms CPU**, "
            f"{statistics.median(p[3] for p in peak):.0f} ms wall.",
        ]
    print("\n".join(peak_lines), flush=True)
    if args.no_serving:
        connection.close()
        return
    national = (snapshots_root / DATE.isoformat() / "national.json").read_bytes()
    some_council = sorted((snapshots_root / DATE.isoformat() / "council").iterdir())[0].read_bytes()
    some_ballot = (snapshots_root / "ballot" / f"{order[0].ballot_paper_id}.json").read_bytes()
    digest = snapshots.current_hash(snapshots_root, f"{DATE.isoformat()}/national.json")
    connection.close()

    def q(values: list[float], p: float) -> float:
        return sorted(values)[min(len(values) - 1, int(p * len(values)))]

    cpu = {
        "p50": statistics.median(cpu_ms),
        "p95": q(cpu_ms, 0.95),
        "max": max(cpu_ms),
        "mean": statistics.fmean(cpu_ms),
    }
    wall = {"p50": statistics.median(wall_ms), "p95": q(wall_ms, 0.95)}

    # Serving: nginx and the ASGI front on the same file.
    load_before_serving = os.getloadavg()[0]
    tmp = OUT / "nginx"
    tmp.mkdir()
    plain = tmp / "plain"
    plain.mkdir()
    # The yardstick: regular files (no link), the same bytes, compressed as the publisher does.
    current = (snapshots_root / DATE.isoformat() / "national.json").resolve()
    shutil.copyfile(current, plain / "national.json")
    shutil.copyfile(current.with_name("national.json.gz"), plain / "national.json.gz")
    (tmp / "nginx.conf").write_text(
        NGINX_CONF.format(
            tmp=tmp,
            port=NGINX_PORT,
            front_port=FRONT_PORT,
            uvicorn_port=UVICORN_PORT,
            plain=plain,
            live=live_locations(snapshots_root),
        )
    )
    nginx = subprocess.Popen(
        ["nginx", "-c", str(tmp / "nginx.conf"), "-p", str(tmp)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    uvicorn = subprocess.Popen(
        [
            str(Path(PYTHON).parent / "uvicorn"),
            "config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(UVICORN_PORT),
            "--log-level",
            "warning",
            "--no-access-log",
            "--lifespan",
            "on",
        ],
        cwd=ROOT,
        env=env,
    )
    # Every server compresses once, none per request: nginx reads the publisher's .gz
    # (gzip_static), the ASGI front keeps its own compressed copy of each version.
    serving: dict[str, dict[str, dict[str, float]]] = {}
    try:
        wait_port(NGINX_PORT)
        wait_port(FRONT_PORT)
        wait_port(UVICORN_PORT)
        live = f"/live/{DATE.isoformat()}/national.json"
        for name, port, path in (
            ("nginx", NGINX_PORT, "/plain/national.json"),
            ("front", FRONT_PORT, live),
            ("uvicorn", UVICORN_PORT, live),
        ):
            url = f"http://127.0.0.1:{port}{path}"
            wrk(url, duration=2, connections=args.connections)  # warm up
            etag = subprocess.run(["curl", "-sI", url], capture_output=True, text=True).stdout
            tag = re.search(r"(?i)^etag: (.+?)\r?$", etag, re.M).group(1)
            serving[name] = {
                "200": wrk(url, duration=args.duration, connections=args.connections),
                "gzip": wrk(
                    url, duration=args.duration, connections=args.connections, header="Accept-Encoding: gzip"
                ),
                "304": wrk(
                    url, duration=args.duration, connections=args.connections, header=f"If-None-Match: {tag}"
                ),
            }
    finally:
        for process in (nginx, uvicorn):
            process.send_signal(signal.SIGTERM if process is uvicorn else signal.SIGQUIT)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()

    ratios = {
        server: {
            kind: serving[server][kind]["rps"] / serving["nginx"][kind]["rps"]
            for kind in ("200", "gzip", "304")
        }
        for server in ("front", "uvicorn")
    }
    database = "PostgreSQL" if args.database_url else "SQLite"
    gz = gzip.compress
    lines = [
        "# Snapshot benchmarks",
        "",
        f"    .venv/bin/python bench/snapshot_bench.py{' --database-url …' if args.database_url else ''}",
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, {database}; load average before serving {load_before_serving:.1f} "
        "(other work on the machine).",
        "",
        f"Night: {len(plan.councils)} councils, {wards} ballots (results.generator, seed 2027), on the 8,441 "
        "ONS wards.",
        "",
        "## CPU to rebuild the snapshots per declaration",
        "",
        f"Full build of the day: {full_cpu * 1000:.0f} ms CPU, {full_wall * 1000:.0f} ms wall, "
        f"{full.documents} documents.",
        "",
        f"Per declaration ({len(cpu_ms)} declarations, in the night's order; its ballot record, its "
        "council's tally and document, national.json patched, one stream event, the compare-and-set):",
        "",
        "| | p50 | p95 | max | mean |",
        "|---|---|---|---|---|",
        f"| CPU ms | {cpu['p50']:.1f} | {cpu['p95']:.1f} | {cpu['max']:.1f} | {cpu['mean']:.1f} |",
        f"| wall ms | {wall['p50']:.1f} | {wall['p95']:.1f} | | |",
        *peak_lines,
        "",
        "## Payload sizes",
        "",
        "| document | bytes | gzip -6 |",
        "|---|---|---|",
        f"| national.json ({wards} wards, {len(order)} declared) | {len(national):,} | "
        f"{len(gz(national, 6)):,} |",
        f"| one council document | {len(some_council):,} | {len(gz(some_council, 6)):,} |",
        f"| one ballot record | {len(some_ballot):,} | {len(gz(some_ballot, 6)):,} |",
        "",
        f"## Serving national.json: wrk -t1 -c{args.connections} -d{args.duration}s, same file, same run",
        "",
        "| server | full (identity) req/s | p99 ms | gzip req/s | p99 ms | 304 req/s | p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, label in (
        ("nginx", "nginx, 1 worker process, a plain copy of the file (the yardstick)"),
        ("front", "the platform's front: nginx with deploy/nginx-live.conf, the publisher's pointer and .gz"),
        ("uvicorn", "uvicorn + ASGI front, 1 process (no front server)"),
    ):
        row = serving[name]
        lines.append(
            f"| {label} | {row['200']['rps']:,.0f} | {row['200']['p99']:.1f} | {row['gzip']['rps']:,.0f} | "
            f"{row['gzip']['p99']:.1f} | {row['304']['rps']:,.0f} | {row['304']['p99']:.1f} |"
        )
    lines += [
        "",
        *(
            f"Ratio {label} / the yardstick: **{ratios[server]['200']:.2f}** full responses, "
            f"**{ratios[server]['gzip']:.2f}** gzip (what browsers ask for), "
            f"**{ratios[server]['304']:.2f}** 304s."
            for server, label in (("front", "the platform's front"), ("uvicorn", "the ASGI front alone"))
        ),
        "",
        f"Goal ≥ 0.7. Version {digest}.",
        "",
    ]
    report = "\n".join(lines)
    (ROOT / "bench" / "snapshot.md").write_text(report)
    print()
    print(report)


if __name__ == "__main__":
    main()
