"""National map: payload sizes, first paint and full restyle in headless Chromium.

Usage::

    .venv/bin/python bench/map_bench.py [--runs 5] [--restyles 10] [--port 8590]

Builds a national polling day in a scratch database (``bench/out/map_bench.sqlite3``): all
8,441 UK wards (ONS May 2023) imported with ``import_boundaries``, an election in 9 councils
out of 10 with a contest in 19 wards out of 20 (a fifth of them for three seats), and
results in most of them (verified, provisional, disputed, counting, recount, awaiting,
uncontested). Results are inserted directly, not keyed: this measures the map, not the
write path. The day is published with ``results.publication.publish_day`` and the boundary
layer built with ``councils.boundary_layer.build_boundary_layer``.

Then uvicorn serves ``config.asgi`` on 127.0.0.1:``--port`` and Debian's Chromium opens the
map ``--runs`` times in fresh browser contexts (nothing cached; 1280×900 viewport):

- first paint: navigation start to the first frame with every ward drawn in its colours
  (the ``results-map-painted`` mark of results_map.js), cold and with the layer cached;
- full restyle: a snapshot in which every ward's appearance changed, applied to the open
  map, to the frame after the canvas redrew (median of ``--restyles``);
- one ward: a stream event restyling a single ward, to the next frame.

Prints the figures and writes them to ``bench/map.md``. Goals (issue 4): first paint
≤ 1 s, full restyle ≤ 150 ms; boundary layer ≤ 500 KB gzipped.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
DATE = dt.date(2027, 5, 6)
PARTIES = ("PP52", "PP53", "PP90", "PP63", "PP7931", "PP130")  # Con, Lab, LD, Green, Reform, SGP
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def setup_environment() -> dict[str, str]:
    OUT.mkdir(parents=True, exist_ok=True)
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"sqlite:///{OUT / 'map_bench.sqlite3'}",
        "SNAPSHOT_ROOT": str(OUT / "map_snapshots"),
        "BOUNDARY_LAYER_ROOT": str(OUT / "map_boundaries"),
        "DJANGO_LOG_LEVEL": "ERROR",
    }
    os.environ.update(env)
    return env


def build_day(data: Path) -> dict[str, int]:
    """Import the boundaries, insert the day, publish it; returns counts."""
    import django
    from django.core.management import call_command

    django.setup()
    from io import StringIO

    from django.db import transaction

    from councils.models import Council, Ward
    from elections.models import Ballot, Candidacy, Election, Party, VotingSystem
    from results.models import CandidateResult, CountState, Result, ResultStatus

    quiet = {"stdout": StringIO(), "stderr": StringIO(), "verbosity": 0}
    call_command("migrate", "--noinput", **quiet)
    if Ward.objects.count() < 8441:
        call_command("import_boundaries", str(data / "boundaries/wards_may2023_uk_bsc.geojson"), **quiet)
        register = data / "parties/ec_register_gb_2021-11_danielgriffin48.csv"
        call_command("import_parties", str(register), **quiet)
        call_command("import_parties", str(data / "parties/party_colours_core.csv"), **quiet)
    if Election.objects.filter(date=DATE).exists():
        return {"wards": Ward.objects.count(), "ballots": Ballot.objects.filter(election__date=DATE).count()}

    rng = random.Random(2027)  # noqa: S311 - synthetic data
    parties = {p.party_id: p for p in Party.objects.filter(party_id__in=PARTIES)}
    missing = set(PARTIES) - set(parties)
    if missing:
        raise SystemExit(f"parties missing from the register: {sorted(missing)}")
    with transaction.atomic():
        elections, ballots = [], []
        for council in Council.objects.order_by("id"):
            if rng.random() < 0.1:
                continue  # no election here: drawn as outlines
            elections.append(Election(
                election_id=f"local.{council.slug}.{DATE.isoformat()}", date=DATE, council=council,
                title=f"{council.name} local election", rehearsal=True,
            ))
        Election.objects.bulk_create(elections, batch_size=500)
        by_council = {e.council_id: e for e in Election.objects.filter(date=DATE)}
        for ward in Ward.objects.select_related("boundary_set").order_by("id"):
            election = by_council.get(ward.boundary_set.council_id)
            if election is None or rng.random() < 0.05:
                continue  # not up this time
            seats = 3 if rng.random() < 0.2 else 1
            ballots.append(Ballot(
                ballot_paper_id=f"local.{election.election_id.split('.')[1]}.{ward.slug}.{DATE.isoformat()}",
                election=election, ward=ward, seats_contested=seats, voting_system=VotingSystem.FPTP,
                uncontested=rng.random() < 0.03,
            ))
        Ballot.objects.bulk_create(ballots, batch_size=500)
        ballots = list(Ballot.objects.filter(election__date=DATE).order_by("id"))
        candidacies = [
            Candidacy(ballot=b, party=parties[p], person_name=f"Candidate {b.pk}-{p}-{seat}")
            for b in ballots for p in rng.sample(PARTIES, 4) for seat in range(b.seats_contested)
        ]
        Candidacy.objects.bulk_create(candidacies, batch_size=1000)
        by_ballot: dict[int, list[Candidacy]] = {}
        for c in Candidacy.objects.filter(ballot__election__date=DATE).order_by("id"):
            by_ballot.setdefault(c.ballot_id, []).append(c)
        results, rows = [], []
        now = dt.datetime(2027, 5, 7, 1, 0, tzinfo=dt.UTC)
        for b in ballots:
            roll = rng.random()
            if roll < 0.55:
                status, count = ResultStatus.VERIFIED, CountState.DECLARED
            elif roll < 0.75:
                status, count = ResultStatus.PROVISIONAL, CountState.DECLARED
            elif roll < 0.78:
                status, count = ResultStatus.DISPUTED, CountState.DECLARED
            elif roll < 0.88:
                status, count = ResultStatus.NO_FIGURES, CountState.COUNTING
            elif roll < 0.9:
                status, count = ResultStatus.NO_FIGURES, CountState.RECOUNT
            else:
                status, count = ResultStatus.NO_FIGURES, CountState.AWAITING
            results.append(Result(ballot=b, status=status, count_state=count, version=1, published_version=0,
                                  electorate=6000, ballot_papers_counted=2400, turnout_pct=40,
                                  declared_at=now if status != ResultStatus.NO_FIGURES else None,
                                  source="bench"))
        Result.objects.bulk_create(results, batch_size=500)
        with_figures = (ResultStatus.VERIFIED, ResultStatus.PROVISIONAL, ResultStatus.DISPUTED)
        declared = Result.objects.filter(ballot__election__date=DATE, status__in=with_figures)
        for result in declared.select_related("ballot"):
            ranked = sorted(by_ballot[result.ballot_id], key=lambda c: rng.random())
            for n, c in enumerate(ranked):
                rows.append(CandidateResult(result=result, candidacy=c, votes=3000 - 100 * n,
                                            elected=n < result.ballot.seats_contested))
        CandidateResult.objects.bulk_create(rows, batch_size=1000)
    return {"wards": Ward.objects.count(), "ballots": len(ballots)}


def publish_and_build() -> dict[str, int]:
    from councils.boundary_layer import build_boundary_layer
    from results import snapshots
    from results.publication import national_path, publish_day

    started = time.perf_counter()
    publish_day(DATE, full=True)
    publish_seconds = time.perf_counter() - started
    national = snapshots.read_current(Path(os.environ["SNAPSHOT_ROOT"]), national_path(DATE))
    assert national is not None
    started = time.perf_counter()
    layer = build_boundary_layer(on_date=DATE)
    layer_seconds = time.perf_counter() - started
    return {
        "layer_raw": layer.raw_bytes, "layer_gzip": layer.gzip_bytes, "layer_wards": layer.wards or 0,
        "national_raw": len(national), "national_gzip": len(gzip.compress(national, 6)),
        "national_wards": len(json.loads(national)["wards"]),
        "publish_ms": round(publish_seconds * 1000), "layer_ms": round(layer_seconds * 1000),
    }


RESTYLE_JS = """async (round) => {
  const s = window.ResultsMap.state;
  const parties = Object.keys(s.parties);
  const doc = {parties: s.parties, councils: s.councils, scoreboard: s.scoreboard, latest: s.latest,
               not_up: {}, wards: {}};
  Object.keys(s.wards).forEach((id, n) => {
    const entry = Object.assign({}, s.wards[id]);
    entry.v = (entry.v || 0) + 1;
    entry.status = ["verified", "provisional", "disputed"][(n + round) % 3];
    entry.count = "declared";
    const next = (p, i) => parties[(parties.indexOf(p) + 1 + round + i) % parties.length];
    entry.winners = entry.winners.length ? entry.winners.map(next) : [parties[(n + round) % parties.length]];
    doc.wards[id] = entry;
  });
  const frame = () => new Promise(r => requestAnimationFrame(() => r()));
  await frame();
  const t0 = performance.now();
  window.ResultsMap.applySnapshot(doc);
  const applied = performance.now();
  await frame(); await frame();
  return {total: performance.now() - t0, script: applied - t0,
          restyled: Object.keys(doc.wards).length};
}"""

ONE_WARD_JS = """async (round) => {
  const s = window.ResultsMap.state;
  const id = Object.keys(s.wards)[round * 37 % Object.keys(s.wards).length];
  const parties = Object.keys(s.parties);
  const entry = Object.assign({}, s.wards[id], {v: (s.wards[id].v || 0) + 1, status: "verified",
    count: "declared", winners: [parties[round % parties.length]]});
  const frame = () => new Promise(r => requestAnimationFrame(() => r()));
  await frame();
  const t0 = performance.now();
  window.ResultsMap.applyWardEvent(Object.assign({ward: id}, entry));
  await frame(); await frame();
  return performance.now() - t0;
}"""


MARKS_JS = "() => Object.fromEntries(performance.getEntriesByType('mark').map(m => [m.name, m.startTime]))"


def chromium_executable(nice: int) -> str:
    """Debian's Chromium, or a wrapper running it at another CPU priority (``--nice``)."""
    if not nice:
        return "/usr/bin/chromium"
    wrapper = OUT / "chromium-nice.sh"
    wrapper.write_text(f'#!/bin/sh\nexec nice -n {nice} /usr/bin/chromium "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def measure_browser(url: str, *, runs: int, restyles: int, nice: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    figures: dict[str, list[float]] = {
        "cold": [], "warm": [], "in_page": [], "restyle": [], "restyle_script": [], "one": [],
    }
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable(nice), args=CHROMIUM_ARGS)
        for run in range(runs):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            for kind in ("cold", "warm"):
                page.goto(url)
                page.wait_for_selector("html[data-map-ready]", timeout=60_000)
                marks = page.evaluate(MARKS_JS)
                figures[kind].append(marks["results-map-painted"])
                if kind == "cold":
                    figures["in_page"].append(marks["results-map-painted"] - marks["results-map-data"])
            if run == 0:
                for n in range(restyles):
                    result = page.evaluate(RESTYLE_JS, n)
                    figures["restyle"].append(result["total"])
                    figures["restyle_script"].append(result["script"])
                    figures["restyled_wards"] = [result["restyled"]]
                for n in range(restyles):
                    figures["one"].append(page.evaluate(ONE_WARD_JS, n))
            context.close()
        browser.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--restyles", type=int, default=10)
    parser.add_argument("--port", type=int, default=8590)
    parser.add_argument("--nice", type=int, default=0,
                        help="Run Chromium and the server at this nice value (negative: higher priority, "
                        "for a machine shared with other work).")
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("ELECTIONS_SAMPLE_DATA",
                                                                         ROOT.parent / "shared" / "data")))
    args = parser.parse_args()
    env = setup_environment()
    sys.path.insert(0, str(ROOT))
    started = time.perf_counter()
    counts = build_day(args.data)
    sizes = publish_and_build()
    setup_seconds = time.perf_counter() - started

    server = subprocess.Popen(
        [*(["nice", "-n", str(args.nice)] if args.nice else []), str(ROOT / ".venv/bin/uvicorn"),
         "config.asgi:application", "--host", "127.0.0.1", "--port", str(args.port),
         "--log-level", "warning"],
        cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{args.port}/map/?date={DATE.isoformat()}"
        for _ in range(100):
            try:
                with urlopen(url, timeout=30):  # noqa: S310 - our own server
                    break
            except OSError:
                time.sleep(0.3)
        load = os.getloadavg()[0]
        priority = f", browser and server at nice {args.nice}" if args.nice else ""
        figures = measure_browser(url, runs=args.runs, restyles=args.restyles, nice=args.nice)
    finally:
        server.terminate()
        server.wait(timeout=10)

    def med(values: list[float]) -> str:
        return f"{statistics.median(values):.0f} ms"

    def spread(values: list[float]) -> str:
        return f"median {med(values)}, min {min(values):.0f}, max {max(values):.0f} ms (n={len(values)})"

    lines = [
        f"map bench, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {platform.node()} "
        f"({os.cpu_count()} CPUs, load average {load:.1f} at the start), SQLite, "
        f"Chromium headless, 1280x900{priority}",
        f"day: {counts['ballots']:,} ballots on {sizes['national_wards']:,} wards "
        f"of {counts['wards']:,} drawn",
        f"boundary layer: {sizes['layer_raw']:,} bytes raw, {sizes['layer_gzip']:,} bytes gzip "
        f"({sizes['layer_wards']:,} wards; built in {sizes['layer_ms']:,} ms)",
        f"national snapshot: {sizes['national_raw']:,} bytes raw, {sizes['national_gzip']:,} bytes gzip "
        f"(publish_day in full: {sizes['publish_ms']:,} ms)",
        f"first paint, cold (nothing cached): {spread(figures['cold'])}",
        f"first paint, boundary layer cached: {spread(figures['warm'])}",
        f"of which in the page (data received to wards drawn, cold): {spread(figures['in_page'])}",
        f"full restyle of {figures['restyled_wards'][0]:,} wards to the next frame: "
        f"{spread(figures['restyle'])}"
        f" (script alone: median {med(figures['restyle_script'])})",
        f"one ward from a stream event to the next frame: {spread(figures['one'])}",
        f"(setup: {setup_seconds:.0f} s)",
    ]
    report = "\n".join(lines)
    print(report)
    (ROOT / "bench" / "map.md").write_text(
        f"# Map bench: last run\n\nCommand: `.venv/bin/python bench/map_bench.py {' '.join(sys.argv[1:])}`"
        "\n\n"
        "```\n" + report + "\n```\n"
    )


if __name__ == "__main__":
    main()
