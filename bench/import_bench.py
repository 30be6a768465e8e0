"""Time the import commands on the shared sample data, each run in a fresh database.

    .venv/bin/python bench/import_bench.py [--runs 5] [--database-url URL] [--only NAME ...]

For each run: a new database (a new SQLite file, or the PostgreSQL database of
``--database-url`` dropped and created again), ``manage.py migrate`` (not timed), then every
step of ``STEPS`` in order, each in its own ``manage.py`` process. A step's wall time and
peak resident memory (``ru_maxrss`` of that process, from ``wait4``) are recorded; the table
gives the median over the runs. Steps run in order because later imports need earlier
ones (candidates need wards and parties); a step whose command does not exist yet, or
whose file is absent, is skipped with a message. Append a ``Step`` to add an importer.

Commands run with ``DJANGO_DEBUG=0``: with DEBUG on, Django keeps the SQL of every query in
memory, which is not what production pays.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("ELECTIONS_SAMPLE_DATA", ROOT.parent / "shared" / "data"))


@dataclass(frozen=True)
class Step:
    """One timed command: ``manage.py <command> <args>``."""

    name: str
    command: str
    args: tuple[str, ...] = ()
    # Files the step reads; it is skipped when one is missing.
    needs: tuple[Path, ...] = ()


def _file_step(name: str, command: str, path: Path) -> Step:
    return Step(name, command, (str(path),), (path,))


# The register comes first: its names are authoritative (see import_parties).
_PARTY_FILES = ("ec_register_gb_2021-11_danielgriffin48.csv", "dc_parties_standing_2026-05-07.csv",
                "party_colours_core.csv")
_RESULT_FILES = ("trafford_lga_2023_onwards.csv", "dc_results_2021_barnsley_doncaster.csv",
                 "scotland_stv_2022_clackmannanshire.csv")

STEPS: list[Step] = [
    # What every step pays before importing anything: Python, Django and the apps loading.
    Step("baseline: manage.py check", "check"),
    _file_step("boundaries: national (8,441 wards)", "import_boundaries",
               DATA / "boundaries" / "wards_may2023_uk_bsc.geojson"),
    # The same file again: every ward compared, nothing written.
    _file_step("boundaries: national again (all unchanged)", "import_boundaries",
               DATA / "boundaries" / "wards_may2023_uk_bsc.geojson"),
    *(_file_step(f"parties: {name}", "import_parties", DATA / "parties" / name) for name in _PARTY_FILES),
    _file_step("candidates: local.trafford.2026-05-07", "import_candidates",
               DATA / "candidates" / "local.trafford.2026-05-07.json"),
    *(_file_step(f"results: {name}", "import_results", DATA / "results" / name) for name in _RESULT_FILES),
]


@dataclass
class Measure:
    seconds: list[float] = field(default_factory=list)
    peak_rss_mb: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def manage(*args: str, env: dict[str, str]) -> tuple[int, float, float, str]:
    """Run ``manage.py args``; return exit status, wall seconds, peak RSS in MB, and stderr."""
    with tempfile.TemporaryFile() as stderr:
        start = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), *args],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr,
        )
        # wait4 gives the rusage of this child alone (RUSAGE_CHILDREN would be the maximum
        # over every child so far, migrate included).
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        stderr.seek(0)
        errors = stderr.read().decode(errors="replace")
    # ru_maxrss is in kilobytes on Linux.
    return process.returncode, elapsed, usage.ru_maxrss / 1024, errors


def fresh_database(database_url: str | None, workdir: Path, run: int) -> str:
    if not database_url:
        return f"sqlite:///{workdir / f'bench-{run}.sqlite3'}"
    import psycopg  # only needed for PostgreSQL

    base, _, name = database_url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return database_url


def available_commands(env: dict[str, str]) -> set[str]:
    listing = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "help", "--commands"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )
    if listing.returncode:
        raise SystemExit(f"manage.py help --commands failed:\n{listing.stderr}")
    return {line.strip() for line in listing.stdout.splitlines() if line.strip()}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--runs", type=int, default=5, help="Fresh databases to run everything in (default 5)."
    )
    parser.add_argument(
        "--database-url",
        help="PostgreSQL URL of a scratch database, dropped and created for each run (default: SQLite).",
    )
    parser.add_argument("--only", nargs="*", help="Run only the steps whose command is named here.")
    options = parser.parse_args()

    env = {**os.environ, "DJANGO_DEBUG": "0", "ELECTIONS_SAMPLE_DATA": str(DATA)}
    # Each run sets its own database; the default settings module is manage.py's.
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("DATABASE_URL", None)
    commands = available_commands(env)
    steps = []
    for step in STEPS:
        if options.only and step.command not in options.only:
            continue
        if step.command not in commands:
            print(f"skipped {step.name}: command {step.command} does not exist yet")
        elif missing := [str(p) for p in step.needs if not p.exists()]:
            print(f"skipped {step.name}: missing {', '.join(missing)}")
        else:
            steps.append(step)
    if not steps:
        print("nothing to run")
        return 1

    measures = {step.name: Measure() for step in steps}
    with tempfile.TemporaryDirectory(prefix="import-bench-") as workdir:
        for run in range(1, options.runs + 1):
            env["DATABASE_URL"] = fresh_database(options.database_url, Path(workdir), run)
            status, _, _, errors = manage("migrate", "-v0", env=env)
            if status:
                print(f"migrate failed:\n{errors}")
                return 1
            for step in steps:
                status, seconds, rss, errors = manage(step.command, *step.args, "-v0", env=env)
                measure = measures[step.name]
                if status:
                    last_line = errors.strip().splitlines()[-1] if errors.strip() else f"exit {status}"
                    measure.failures.append(last_line)
                else:
                    measure.seconds.append(seconds)
                    measure.peak_rss_mb.append(rss)
            print(f"run {run}/{options.runs} done", file=sys.stderr)

    engine = "PostgreSQL" if options.database_url else "SQLite"
    print(f"\n{engine}, {options.runs} runs, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    header = f"| {'step':<54} | {'median s':>8} | {'min s':>6} | {'max s':>6} | {'peak RSS MB':>11} |"
    print(header)
    print("|" + "|".join("-" * (len(cell)) for cell in header.split("|")[1:-1]) + "|")
    for step in steps:
        measure = measures[step.name]
        if measure.seconds:
            seconds, rss = measure.seconds, measure.peak_rss_mb
            print(
                f"| {step.name:<54} | {statistics.median(seconds):>8.2f} | {min(seconds):>6.2f} "
                f"| {max(seconds):>6.2f} | {statistics.median(rss):>11.0f} |"
            )
        for failure in sorted(set(measure.failures)):
            print(f"  {step.name} failed in {measure.failures.count(failure)} run(s): {failure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
