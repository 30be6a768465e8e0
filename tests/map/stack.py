"""A live stack for browser tests: its own database, the ASGI server (uvicorn serving
``config.asgi``) on a port of 8500-8599, and a way to key results from another process.

Everything runs in subprocesses with ``tests.map.live_settings``, on a database of its own
(a file under the test's temporary directory for SQLite; ``<name>_mapstack`` next to
``DATABASE_URL``'s for PostgreSQL, ``<name>_mapstack_<worker>`` under pytest-xdist), so
what the browser sees went through the real write path, publication, snapshot files and
stream, not through the test's own connection.

``seed()`` and ``key()`` run inside those subprocesses (``manage.py shell -c``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from urllib.request import urlopen

from tests import support

ROOT = Path(__file__).resolve().parents[2]
PORTS = range(8500, 8600)


def free_port() -> int:
    return support.free_port(PORTS)


def _postgres_database(url: str, suffix: str) -> tuple[str, str]:
    """(new database URL, its name) beside ``url``'s database, created empty."""
    import psycopg

    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/') or 'postgres'}_{suffix}"
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}")), name


def _drop_postgres_database(url: str, name: str) -> None:
    import psycopg

    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class LiveStack:
    tmp: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    server: subprocess.Popen[bytes] | None = None
    seeded: dict[str, Any] = field(default_factory=dict)
    _pg: tuple[str, str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveStack:
        base_url = os.environ.get("DATABASE_URL", "")
        if base_url.startswith(("postgres://", "postgresql://")):
            # One database per pytest-xdist worker: two workers may each hold a stack.
            worker = os.environ.get("PYTEST_XDIST_WORKER", "")
            database_url, name = _postgres_database(base_url, f"mapstack{'_' + worker if worker else ''}")
            self._pg = (base_url, name)
        else:
            database_url = f"sqlite:///{self.tmp / 'stack.sqlite3'}"
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "DJANGO_SETTINGS_MODULE": "tests.map.live_settings",
            "DATABASE_URL": database_url,
            "DATABASE_CONN_MAX_AGE": "0",
            "SNAPSHOT_ROOT": str(self.tmp / "snapshots"),
            "BOUNDARY_LAYER_ROOT": str(self.tmp / "boundaries"),
            "LIVE_STREAM_PREFIX": f"maptest-{uuid.uuid4().hex[:8]}:",
            "LIVE_HEARTBEAT_SECONDS": "5",
            "PYTHONUNBUFFERED": "1",
        }
        if os.environ.get("REDIS_URL"):
            self.env["REDIS_URL"] = os.environ["REDIS_URL"]
        self.manage("migrate", "--noinput", "-v", "0")
        self.seeded = self.python("from tests.map.stack import seed; seed()")
        self.port = free_port()
        log = (self.tmp / "server.log").open("wb")
        self.server = subprocess.Popen(  # noqa: S603
            [str(ROOT / ".venv/bin/uvicorn"), "config.asgi:application", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urlopen(f"{self.url}/map/", timeout=5):  # noqa: S310 - our own server
                    break
            except OSError:
                if self.server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the server did not start:\n" + self.log()) from None
                time.sleep(0.2)
        return self

    def log(self) -> str:
        path = self.tmp / "server.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def manage(self, *args: str, timeout: float = 300) -> str:
        proc = subprocess.run(  # noqa: S603
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True,
            timeout=timeout, check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc.stdout

    def python(self, code: str) -> Any:
        """Run ``code`` in a new process on the stack's database; return the JSON it printed
        on its last line."""
        out = self.manage("shell", "--no-startup", "-v", "0", "-c", code)
        return json.loads(out.strip().splitlines()[-1])

    def stop(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
        if self._pg is not None:
            _drop_postgres_database(*self._pg)


# ----------------------------------------------------------- run inside the stack's processes


def seed() -> None:
    """A polling day: council "Mapton" with a hostile ward and candidate (keyed, so its
    record is published), two wards awaiting their count, a verified ward, a ward not up and a
    council with no election. Prints ids as JSON."""
    from django.contrib.auth import get_user_model

    from results.publication import publish_day
    from tests.factories.councils import make_boundary_set, make_council, make_ward
    from tests.map.night import POLLING_DAY, XSS_CANDIDATE, XSS_WARD, key, make_night

    night = make_night(council_name="Mapton", ward_names=(XSS_WARD, "Bridge", "Castle", "Dale"),
                       hostile=True, not_up=1)
    make_ward(make_boundary_set(council=make_council(name="Quietshire")))
    keyer = get_user_model().objects.create_user("seed-keyer", password="x")
    key(night.ballots[0], {XSS_CANDIDATE: 900}, user=keyer)
    key(night.ballots[2], {"Castle Candidate A1": 800}, official=True)
    publish_day(POLLING_DAY)
    print(json.dumps({
        "date": POLLING_DAY.isoformat(),
        "council": night.council.slug,
        "ballots": [b.ballot_paper_id for b in night.ballots],
        "wards": [w.pk for w in night.wards],
    }))


def key_labour_win(ballot_paper_id: str) -> None:
    """Key a Labour win in the ballot through ``submit_result`` and print the wall-clock time
    (epoch seconds) at which the keying started."""
    from elections.models import Ballot
    from tests.map.night import key

    ballot = Ballot.objects.get(ballot_paper_id=ballot_paper_id)
    labour = ballot.candidacies.get(party__party_id="PP53").person_name
    started = time.time()
    key(ballot, {labour: 1200})
    print(json.dumps({"started": started}))
