"""The application servers' PostgreSQL connections stay bounded under concurrent requests.

Under ASGI Django runs each request's synchronous code in a thread of its own, and gunicorn's
threads each keep one too; with ``DATABASE_POOL`` (what docker-compose gives the web and
keying services) every request borrows one of a fixed number of connections. Runs a real
uvicorn (web) and a real gunicorn with ``config/gunicorn.py`` (keying, more threads than
connections) on the test database and counts their connections in ``pg_stat_activity`` (by
application name).
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection

from tests.support import free_port

ROOT = Path(__file__).resolve().parent.parent
POOL = 3


SERVERS = {
    "web": lambda port: [
        "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", str(port),
        "--lifespan", "off", "--no-access-log", "--log-level", "warning",
    ],
    "keying": lambda port: ["gunicorn", "config.wsgi:application", "--config", "config/gunicorn.py"],
}


@pytest.fixture(params=sorted(SERVERS))
def pooled_server(request, transactional_db, tmp_path):
    if connection.vendor != "postgresql":
        if os.environ.get("CI"):
            pytest.fail("CI runs this test on PostgreSQL")
        pytest.skip("a connection pool is for PostgreSQL (set DATABASE_URL)")
    settings = connection.settings_dict
    name = f"pooltest-{uuid.uuid4().hex[:8]}"
    url = (
        f"postgres://{settings['USER']}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/"
        f"{settings['NAME']}?application_name={name}"
    )
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))},
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": url,
        "DATABASE_POOL": str(POOL),
        "SNAPSHOT_ROOT": str(tmp_path / "snapshots"),
        "KEYING_BIND": f"127.0.0.1:{port}",
        "KEYING_THREADS": str(POOL * 3),
        "KEYING_LOG_LEVEL": "warning",
    }
    command = SERVERS[request.param](port)
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / command[0]), *command[1:]],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            get(port, "/api/v1/parties/")
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"{command[0]} did not start: {server.stderr.read()[-1000:]}")
            time.sleep(0.2)
    yield port, name
    server.terminate()
    server.wait(20)
    # The pool's connections go with the process.
    connection.close()


def get(port: int, path: str) -> int:
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        client.request("GET", path, headers={"Accept": "application/json"})
        response = client.getresponse()
        response.read()
        return response.status
    finally:
        client.close()


def connections_of(name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [name])
        return cursor.fetchone()[0]


def test_concurrent_requests_share_a_bounded_pool(pooled_server):
    port, name = pooled_server
    paths = ["/api/v1/parties/", "/api/v1/councils/", "/api/v1/elections/", "/api/v1/events/"]
    with ThreadPoolExecutor(max_workers=24) as pool:
        statuses = list(pool.map(lambda i: get(port, paths[i % len(paths)]), range(240)))
    assert statuses == [200] * 240
    assert 1 <= connections_of(name) <= POOL
