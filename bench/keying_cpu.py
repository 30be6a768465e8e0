"""The CPU one keying costs the correspondents' server, measured in-process.

Usage::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/lead_keying_cpu \\
    REDIS_URL=redis://127.0.0.1:6379/13 \\
    .venv/bin/python bench/keying_cpu.py [--ballots 300] [--rounds 3] [--profile]

Seeds a council of ``--ballots`` wards (one to three seats, six candidates each) and two
correspondents with integration tokens, then keys every ballot twice through Django's WSGI
handler (the whole middleware and ``POST /api/v1/ballots/<id>/result/``, as gunicorn runs
it): a first keying (provisional) and the second (verified). Each keying queues its
publication on the broker as in production; no worker runs, so nothing else competes.

Reports the process CPU time per keying (``time.process_time``: the server's Python, not
PostgreSQL's) and the wall time, for each of ``--rounds`` rounds on fresh ballots; the
figure the night's peak multiplies (``bench/night.md``: 56 keyings a second at its busiest).
``--profile`` adds where that CPU goes, by area of the code (one more round, profiled).
Writes ``bench/keying-cpu.md``.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import json
import os
import platform
import pstats
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "bench" / "keying-cpu.md"
DATE = dt.date(2032, 5, 6)  # a polling day no real data uses

# Where a keying's CPU goes: the first matching fragment of a profiled function's file names
# its area (the profile's own time of each function, summed).
AREAS = (
    ("django/db/models/sql/compiler", "ORM: compiling SQL"),
    ("django/db/models/", "ORM: querysets, models, expressions"),
    ("django/db/backends", "database driver and Django's backend"),
    ("psycopg", "database driver and Django's backend"),
    ("rest_framework", "DRF: parsing, validating, rendering"),
    ("django/", "Django: request, middleware, other"),
    ("kombu", "queueing the publication (Celery, Redis)"),
    ("celery", "queueing the publication (Celery, Redis)"),
    ("redis", "queueing the publication (Celery, Redis)"),
    ("/results/", "the platform: results"),
    ("/accounts/", "the platform: accounts"),
    ("/elections/", "the platform: elections"),
    ("/config/", "the platform: config"),
)


def setup() -> None:
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("keying_cpu: set DATABASE_URL to a PostgreSQL database (and REDIS_URL)")
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.night_settings"
    from bench.night_bench import ensure_database

    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed(ballots: int, tag: str) -> tuple[list[Any], list[str]]:
    """A council of ``ballots`` wards on DATE, and two correspondents' tokens."""
    import random

    from accounts.models import Role
    from accounts.services import assign_role, create_integration_token, get_or_create_user_by_email
    from tests.factories.councils import make_council
    from tests.factories.keying import make_keying_ballot

    n = random.randrange(10**6, 10**7)  # noqa: S311 - a fresh council each run
    council = make_council(name=f"Keying CPU {tag}", gss=f"E0{n}")
    names = [f"Candidate {i} {tag.upper()}" for i in range(6)]
    made = [
        make_keying_ballot(council=council, seats=1 + i % 3, names=names, date=DATE) for i in range(ballots)
    ]
    keys = []
    for who in ("a", "b"):
        user, _ = get_or_create_user_by_email(email=f"keying-cpu-{tag}-{who}@example.org", create=True)
        assign_role(user=user, role=Role.CORRESPONDENT, council=council, election=made[0].election)
        keys.append(create_integration_token(user=user, name="keying cpu")[1])
    return made, keys


def body(ballot: Any, token: str) -> bytes:
    from tests.factories.keying import candidacy_ids

    ids = candidacy_ids(ballot)
    votes = [900 + 37 * i for i in range(len(ids))]
    counted = -(-sum(votes) // ballot.seats_contested) + 20
    return json.dumps(
        {
            "candidates": [{"candidacy_id": c, "votes": v} for c, v in zip(ids, votes, strict=True)],
            "ballot_papers_counted": counted,
            "rejected_total": 20,
            "electorate": counted * 3,
            "source": "Declaration at the count",
            "client_token": token,
        }
    ).encode()


def key_all(handler: Any, ballots: list[Any], keys: list[str], tag: str) -> tuple[list[float], list[float]]:
    """Key every ballot twice; the CPU and wall milliseconds of each keying."""
    cpu: list[float] = []
    wall: list[float] = []
    bodies = [body(b, f"cpu-{tag}-{i:05d}") for i, b in enumerate(ballots)]
    for k, key in enumerate(keys):
        for i, ballot in enumerate(ballots):
            data = bodies[i].replace(f"cpu-{tag}-".encode(), f"cpu-{tag}{k}-".encode())
            environ = {
                "REQUEST_METHOD": "POST",
                "PATH_INFO": f"/api/v1/ballots/{ballot.ballot_paper_id}/result/",
                "QUERY_STRING": "",
                "SERVER_NAME": "127.0.0.1",
                "SERVER_PORT": "8000",
                "SERVER_PROTOCOL": "HTTP/1.1",
                "REMOTE_ADDR": "127.0.0.1",
                "HTTP_HOST": "127.0.0.1",
                "HTTP_AUTHORIZATION": f"Token {key}",
                "CONTENT_TYPE": "application/json",
                "CONTENT_LENGTH": str(len(data)),
                "wsgi.input": io.BytesIO(data),
                "wsgi.url_scheme": "http",
                "wsgi.errors": sys.stderr,
                "wsgi.multithread": True,
                "wsgi.multiprocess": True,
                "wsgi.run_once": False,
                "wsgi.version": (1, 0),
            }
            statuses: list[str] = []
            c0, w0 = time.process_time(), time.perf_counter()
            response = handler(environ, lambda status, headers, *_, into=statuses: into.append(status))
            content = b"".join(response)
            getattr(response, "close", lambda: None)()
            c1, w1 = time.process_time(), time.perf_counter()
            if not statuses or not statuses[0].startswith("201"):
                sys.exit(f"keying_cpu: {ballot.ballot_paper_id} answered {statuses}: {content[:400]!r}")
            cpu.append((c1 - c0) * 1000)
            wall.append((w1 - w0) * 1000)
    return cpu, wall


def areas(profile: cProfile.Profile) -> list[tuple[str, float]]:
    stats = pstats.Stats(profile)
    totals: dict[str, float] = defaultdict(float)
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        area = next((label for fragment, label in AREAS if fragment in filename), "Python and the rest")
        totals[area] += tottime
    whole = sum(totals.values()) or 1.0
    return sorted(((a, t / whole * 100) for a, t in totals.items()), key=lambda x: -x[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ballots", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection

    from bench.night_bench import percentile

    handler = WSGIHandler()
    run = time.strftime("%H%M%S")
    rows = []
    all_cpu: list[float] = []
    for r in range(args.rounds):
        tag = f"{run}r{r}"
        ballots, keys = seed(args.ballots, tag)
        cpu, wall = key_all(handler, ballots, keys, tag)
        rows.append((r + 1, len(cpu), statistics.median(cpu), percentile(cpu, 95), statistics.median(wall)))
        if r:  # the first round also warms the process (imports, URL resolver, caches)
            all_cpu += cpu
        print(f"round {r + 1}: {len(cpu)} keyings, CPU p50 {rows[-1][2]:.1f} ms, "
              f"wall p50 {rows[-1][4]:.1f} ms")
    profile = None
    if args.profile:
        # One more round under cProfile, timed by the process's CPU clock: the shares are of
        # CPU, not of the time spent waiting for PostgreSQL.
        profile = cProfile.Profile(time.process_time)
        ballots, keys = seed(args.ballots, f"{run}p")
        profile.enable()
        key_all(handler, ballots, keys, f"{run}p")
        profile.disable()
    connection.close()

    lines = [
        "# The CPU of one keying (bench/keying_cpu.py)",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.node()} "
        f"({os.cpu_count()} cores), PostgreSQL on the same machine; Django's WSGI handler in-process, "
        f"{args.ballots} ballots (one to three seats, six candidates) keyed twice per round.",
        "",
        f"Command: `DATABASE_URL=… REDIS_URL=… .venv/bin/python bench/keying_cpu.py --ballots {args.ballots} "
        f"--rounds {args.rounds}{' --profile' if args.profile else ''}`",
        "",
        "| round | keyings | CPU p50 ms | CPU p95 ms | wall p50 ms |",
        "|---|---|---|---|---|",
        *[f"| {r} | {n} | {c:.1f} | {c95:.1f} | {w:.1f} |" for r, n, c, c95, w in rows],
        "",
    ]
    if all_cpu:
        lines += [
            f"After the first round (which warms the process): CPU per keying p50 "
            f"**{statistics.median(all_cpu):.1f} ms**, mean {statistics.fmean(all_cpu):.1f} ms.",
            "",
        ]
    if profile:
        lines += [
            "Where the CPU goes (one more round under cProfile on the CPU clock; the profiler "
            "inflates Python's share):",
            "",
            "| area | share |",
            "|---|---|",
            *[f"| {a} | {s:.0f} % |" for a, s in areas(profile)],
            "",
        ]
        buffer = io.StringIO()
        pstats.Stats(profile, stream=buffer).sort_stats("tottime").print_stats(25)
        print(buffer.getvalue())
    REPORT.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
