"""How the platform starts: production's deploy checks and refusals, the embedded default,
and the home page (empty, and with a council's elections).

Settings are read once per process, so each way of starting runs in a subprocess with an
environment built here from nothing but PATH, never the one the tests run in.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from councils.models import BoundarySet, Council, CouncilType, Nation, Ward
from elections.models import Ballot, Election, VotingSystem
from results.models import Result, ResultStatus

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "dummy-production-key-4f1c9a7e0b2d6e8f3a5c7b9d1e2f4a6c8b0d2e4f6a8c",
    "DATABASE_URL": "postgres://ukresults:dummy@db.invalid:5432/ukresults",
    "REDIS_URL": "redis://redis.invalid:6379/0",
    "DJANGO_ALLOWED_HOSTS": "results.example.org",
}


def run_python(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the project's Python in ROOT with exactly ``env`` (plus PATH)."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_settings_pass_deploy_checks() -> None:
    proc = run_python(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], PRODUCTION_ENV)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no issues" in proc.stdout


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL"])
def test_production_refuses_to_start_without(missing: str) -> None:
    env = {name: value for name, value in PRODUCTION_ENV.items() if name != missing}
    proc = run_python(["manage.py", "check"], env)
    assert proc.returncode != 0
    assert f"Set the {missing} environment variable" in proc.stderr


def test_production_refuses_a_weak_secret_key() -> None:
    for short in ("", "short"):
        proc = run_python(["manage.py", "check"], {**PRODUCTION_ENV, "DJANGO_SECRET_KEY": short})
        assert proc.returncode != 0, short
        assert "DJANGO_SECRET_KEY must be set" in proc.stderr
    proc = run_python(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        {**PRODUCTION_ENV, "DJANGO_SECRET_KEY": "django-insecure-" + "x" * 60},
    )
    assert proc.returncode != 0
    assert "security.W009" in proc.stderr


EMBEDDED_PROBE = """
import json
from django.conf import settings
from config.celery_app import app
print(json.dumps({
    "engine": settings.DATABASES["default"]["ENGINE"],
    "name": str(settings.DATABASES["default"]["NAME"]),
    "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "celery_eager": app.conf.task_always_eager,
    "broker": app.conf.broker_url,
    "event_bus": settings.EVENT_BUS,
    "cache": settings.CACHES["default"]["BACKEND"],
    "debug": settings.DEBUG,
}))
"""


def test_embedded_default_uses_sqlite_and_eager_celery() -> None:
    """No environment at all: manage.py's default settings run on SQLite under var/, no Redis."""
    proc = run_python(["manage.py", "shell", "--no-startup", "--verbosity", "0", "-c", EMBEDDED_PROBE], {})
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found["engine"] == "django.db.backends.sqlite3"
    assert Path(found["name"]) == ROOT / "var" / "ukresults.sqlite3"
    assert found["eager"] is True
    assert found["celery_eager"] is True
    assert found["broker"] == "memory://"
    assert found["event_bus"] == "memory"
    assert found["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert found["debug"] is True


@pytest.mark.django_db
def test_home_page_empty_state(client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "No elections imported yet" in page
    assert "./run demo" in page
    assert 'href="/api/docs/"' in page
    assert "Source: Office for National Statistics" in page
    assert "Democracy Club contributors" in page


def make_trafford() -> tuple[Council, list[Ballot]]:
    council = Council.objects.create(
        name="Trafford <Metropolitan> & Borough",
        slug="trafford",
        gss="E08000009",
        nation=Nation.ENGLAND,
        council_type=CouncilType.METROPOLITAN_DISTRICT,
        total_seats=63,
    )
    boundary_set = BoundarySet.objects.create(council=council, valid_from=dt.date(2023, 5, 4))
    square = {"type": "Polygon", "coordinates": [[[-2.4, 53.3], [-2.3, 53.3], [-2.3, 53.4], [-2.4, 53.3]]]}
    election = Election.objects.create(
        election_id="local.trafford.2024-05-02",
        date=dt.date(2024, 5, 2),
        council=council,
        title="Trafford local election",
    )
    ballots = []
    for n, (name, slug) in enumerate([("Altrincham", "altrincham"), ("Bowdon", "bowdon")]):
        ward = Ward.objects.create(
            boundary_set=boundary_set,
            name=name,
            slug=slug,
            gss=f"E0501504{n}",
            geometry=square,
            geometry_national=square,
            geometry_council=square,
            label_lon=-2.35,
            label_lat=53.35,
            bbox_west=-2.4,
            bbox_south=53.3,
            bbox_east=-2.3,
            bbox_north=53.4,
        )
        ballots.append(
            Ballot.objects.create(
                ballot_paper_id=f"local.trafford.{slug}.2024-05-02",
                election=election,
                ward=ward,
                voting_system=VotingSystem.FPTP,
            )
        )
    return council, ballots


@pytest.mark.django_db
def test_home_page_lists_a_council_and_its_ballots_with_results(client) -> None:
    council, ballots = make_trafford()
    # Set up directly: this is a read-only page's test, not the write path's.
    Result._default_manager.create(ballot=ballots[0], status=ResultStatus.PROVISIONAL, version=1)
    Result._default_manager.create(ballot=ballots[1], status=ResultStatus.DISPUTED, version=2)
    Council.objects.create(
        name="Barnsley",
        slug="barnsley",
        nation=Nation.ENGLAND,
        council_type=CouncilType.METROPOLITAN_DISTRICT,
    )

    response = client.get("/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "No elections imported yet" not in page
    assert "INVALID_TEMPLATE_VARIABLE" not in page
    # Names are escaped, never trusted as HTML.
    assert "Trafford &lt;Metropolitan&gt; &amp; Borough" in page
    assert "<Metropolitan>" not in page
    assert "Trafford local election" in page
    assert '<time datetime="2024-05-02">2 May 2024</time>' in page
    # Two ballots; only the provisional one counts (the disputed one is held for review).
    assert "1 of 2" in page
    # A council with no elections yet is not listed.
    assert "Barnsley" not in page


@pytest.mark.django_db
def test_home_page_is_read_only(client) -> None:
    assert client.post("/").status_code == 405


@pytest.mark.django_db
def test_home_page_query_count(client, django_assert_num_queries) -> None:
    make_trafford()
    with django_assert_num_queries(2):
        client.get("/")
