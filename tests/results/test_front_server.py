"""The front server of docker-compose.yml (deploy/nginx-live.conf) serves the publisher's
files as the application would: the current version of each document, compressed by the
publisher for clients accepting gzip, with the pointers' and versions' Cache-Control, 304 to
its own ETag, and 404 for anything not published. nginx itself is the boundary: a real one
runs (installed by .ci/run)."""

from __future__ import annotations

import gzip
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from results import publication, snapshots
from tests.factories.contests import declare
from tests.support import free_port

from .test_publication import DAY, live_root, night  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def front(tmp_path, live_root):  # noqa: F811 - the fixture imported above
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.fail("nginx is needed for this test (apt-get install nginx; .ci/run installs it)")
    live = (ROOT / "deploy" / "nginx-live.conf").read_text().replace("/srv/snapshots/", f"{live_root}/")
    port = free_port()
    conf = tmp_path / "nginx.conf"
    # Run as root (CI), nginx's workers would become "nobody", who cannot enter pytest's
    # private temporary directories; they stay root here.
    user = "user root;" if os.geteuid() == 0 else ""
    conf.write_text(
        f"""
{user}
worker_processes 1; daemon off; pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    types {{ application/json json; }}
    client_body_temp_path {tmp_path}/body; proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi; uwsgi_temp_path {tmp_path}/uwsgi; scgi_temp_path {tmp_path}/scgi;
    upstream ukresults_web {{ server 127.0.0.1:9; }}
    server {{ listen 127.0.0.1:{port}; {live} }}
}}
"""
    )
    process = subprocess.Popen([nginx, "-c", str(conf), "-p", str(tmp_path)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"nginx did not start: {process.stderr.read().decode()[-500:]}")
            time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(10)


def get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - a loopback http URL
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def test_the_front_serves_each_current_version_compressed_and_cached(front, live_root, night):  # noqa: F811
    path = "2026-05-07/national.json"
    publication.publish_day(DAY)
    for _ in range(2):  # the first version, then the one after a declaration
        current = snapshots.read_current(live_root, path)
        status, headers, body = get(f"{front}/live/{path}", **{"Accept-Encoding": "gzip"})
        assert status == 200
        assert headers["content-encoding"] == "gzip" and gzip.decompress(body) == current
        assert headers["cache-control"] == "max-age=2, stale-while-revalidate=30"
        status, headers, body = get(f"{front}/live/{path}")
        assert status == 200 and "content-encoding" not in headers and body == current
        assert get(f"{front}/live/{path}", **{"If-None-Match": headers["etag"]})[0] == 304
        digest = snapshots.current_hash(live_root, path)
        status, headers, body = get(f"{front}/live/v/{digest}/{path}", **{"Accept-Encoding": "gzip"})
        assert status == 200 and gzip.decompress(body) == current
        assert headers["cache-control"] == "public, max-age=31536000, immutable"
        declare(night["south"], [800, 700])
        publication.publish_day(DAY)
    assert get(f"{front}/live/2030-01-01/national.json")[0] == 404


def test_the_whole_front_configuration_is_valid(tmp_path):
    """deploy/nginx.conf as docker-compose mounts it (its upstream and paths made local)."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    (tmp_path / "cache").mkdir()
    site = (
        (ROOT / "deploy" / "nginx.conf")
        .read_text()
        .replace("server web:8000;", "server 127.0.0.1:9;")
        .replace("/etc/nginx/ukresults-live.conf", str(ROOT / "deploy" / "nginx-live.conf"))
        .replace("/var/cache/nginx/ukresults-api", str(tmp_path / "cache"))
        .replace("listen 80;", f"listen 127.0.0.1:{free_port()};")
    )
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log warn; events {{}}\n"
        f"http {{ access_log off; client_body_temp_path {tmp_path}/body; proxy_temp_path {tmp_path}/proxy;\n"
        f"fastcgi_temp_path {tmp_path}/f; uwsgi_temp_path {tmp_path}/u; scgi_temp_path {tmp_path}/s;\n"
        f"{site} }}\n"
    )
    checked = subprocess.run(
        [nginx, "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr
