"""The front server of docker-compose.yml (deploy/nginx.conf, deploy/nginx-live.conf) routes
the correspondents to their own servers and serves the publisher's files as the application
would: the current version of each document, compressed by the publisher for clients
accepting gzip, with the pointers' and versions' Cache-Control, 304 to its own ETag, and 404
for anything not published. nginx itself is the boundary: a real one runs (installed by
.ci/run)."""

from __future__ import annotations

import gzip
import http.server
import re
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from deploy import local
from results import publication, snapshots
from tests.factories.contests import declare
from tests.support import free_port

from .test_publication import DAY, live_root, night  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def front(tmp_path, live_root):  # noqa: F811 - the fixture imported above
    port = free_port()
    body = (
        "    types { application/json json; }\n"
        "    upstream ukresults_web { server 127.0.0.1:9; }\n"
        f"    server {{ listen 127.0.0.1:{port}; {local.live_block(live_root)} }}"
    )
    config = local.main_config(tmp_path / "nginx", body, connections=64)
    server = local.start(tmp_path / "nginx", config, port)
    yield server.base
    server.stop()


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
    """deploy/nginx.conf as docker-compose mounts it (its upstreams and paths made local)."""
    (tmp_path / "cache").mkdir()
    site = local.site(
        listen=f"127.0.0.1:{free_port()}",
        web="127.0.0.1:9",
        keying="127.0.0.1:10",
        snapshots=tmp_path / "snapshots",
        cache=tmp_path / "cache",
    )
    checked = local.check(tmp_path / "nginx", local.main_config(tmp_path / "nginx", site))
    assert checked.returncode == 0, checked.stderr


class _Quiet(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def _serve(handler: type[http.server.BaseHTTPRequestHandler], **attributes: object) -> http.server.HTTPServer:
    """An upstream on a free loopback port, in a thread, with ``attributes`` on its server."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    for name, value in attributes.items():
        setattr(server, name, value)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _front(tmp_path: Path, *, web: str, keying: str) -> local.Front:
    """deploy/nginx.conf running before these upstreams (``host:port``)."""
    (tmp_path / "cache").mkdir()
    port = free_port()
    site = local.site(
        listen=f"127.0.0.1:{port}",
        web=web,
        keying=keying,
        snapshots=tmp_path / "snapshots",
        cache=tmp_path / "cache",
    )
    return local.start(tmp_path / "nginx", local.main_config(tmp_path / "nginx", site), port)


def _address(server: http.server.HTTPServer) -> str:
    return f"127.0.0.1:{server.server_address[1]}"


class _Named(_Quiet):
    """An upstream that answers every request with its server's name and what it was asked."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = f"{self.server.name} {self.command} {self.path}".encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer


def test_the_front_sends_the_correspondents_to_their_own_servers(tmp_path):
    """Keying, sign-in, admin and the keying endpoint go to "keying"; the read API, pages and
    the stream to "web": the public's load never queues a correspondent's request."""
    upstreams = {name: _serve(_Named, name=name) for name in ("web", "keying")}
    front = _front(tmp_path, web=_address(upstreams["web"]), keying=_address(upstreams["keying"]))
    ballot = "/api/v1/ballots/local.trafford.altrincham.2026-05-07/result/"
    try:
        answers = {}
        for method, path in [
            ("POST", ballot),
            ("GET", "/keying/"),
            ("POST", "/keying/ballot/local.trafford.altrincham.2026-05-07/"),
            ("GET", "/accounts/login/"),
            ("GET", "/admin/"),
            ("GET", "/api/v1/events/?since=0"),
            ("GET", "/api/v1/ballots/"),
            ("GET", "/map/"),
            ("GET", "/live/stream?date=2026-05-07"),
            ("GET", "/"),
        ]:
            request = urllib.request.Request(  # noqa: S310 - a loopback http URL
                front.base + path, method=method, data=b"{}" if method == "POST" else None
            )
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                answers[(method, path)] = response.read().decode().split(" ", 2)
    finally:
        front.stop()
        for server in upstreams.values():
            server.shutdown()
    assert {key: value[0] for key, value in answers.items()} == {
        ("POST", ballot): "keying",
        ("GET", "/keying/"): "keying",
        ("POST", "/keying/ballot/local.trafford.altrincham.2026-05-07/"): "keying",
        ("GET", "/accounts/login/"): "keying",
        ("GET", "/admin/"): "keying",
        ("GET", "/api/v1/events/?since=0"): "web",
        ("GET", "/api/v1/ballots/"): "web",
        ("GET", "/map/"): "web",
        ("GET", "/live/stream?date=2026-05-07"): "web",
        ("GET", "/"): "web",
    }
    # Passed on as asked.
    assert answers[("POST", ballot)][1:] == ["POST", ballot]


class _Counting(_Quiet):
    """An API upstream whose every answer is new: ``answer <n>``, cacheable for 1 s and then
    usable stale for 1 s more while it is refreshed, as the API's live documents are."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.server.count += 1  # type: ignore[attr-defined]
        body = f"answer {self.server.count}".encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "public, max-age=1, stale-while-revalidate=1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_the_api_micro_cache_never_serves_older_than_the_documents_own_stale_window(tmp_path):
    """A result asked for again long after its cached copy went stale is read fresh, not
    served from the cache once more while it is refreshed: within max-age the cache answers,
    within stale-while-revalidate it may answer stale, and after that never."""
    upstream = _serve(_Counting, count=0)
    front = _front(tmp_path, web=_address(upstream), keying="127.0.0.1:10")
    url = front.base + "/api/v1/results/local.trafford.altrincham.2026-05-07/"
    try:
        first = get(url)[2]
        assert get(url)[2] == first  # within max-age: the cached copy
        time.sleep(3.5)  # past max-age and the stale window
        later = get(url)[2]
    finally:
        front.stop()
        upstream.shutdown()
    assert (first, later) == (b"answer 1", b"answer 2")


def test_the_front_lets_go_of_idle_upstream_connections_before_the_application_server_does():
    """Otherwise a request can go out on a connection the application server is closing: a
    502 (seen on a night run as "upstream prematurely closed connection"), and nginx never
    retries a POST. "web" is uvicorn on its default keep-alive, "keying" gunicorn with
    config/gunicorn.py (its own default, 2 s, is too short)."""
    import runpy

    from uvicorn.config import Config

    compose = (ROOT / "docker-compose.yml").read_text()
    assert "--timeout-keep-alive" not in compose  # uvicorn's default applies to web
    keying = re.search(r"\n  keying:\n(.*?)\n  \w", compose, re.S)
    assert keying is not None
    assert '["gunicorn", "config.wsgi:application", "--config", "config/gunicorn.py"]' in keying.group(1)
    servers = {
        "ukresults_web": Config(app="config.asgi:application").timeout_keep_alive,
        "ukresults_keying": runpy.run_path(str(ROOT / "config" / "gunicorn.py"))["keepalive"],
    }
    upstreams = re.findall(r"upstream (\w+) \{(.*?)\}", (ROOT / "deploy" / "nginx.conf").read_text(), re.S)
    assert {name for name, _ in upstreams} == set(servers)
    for name, block in upstreams:
        found = re.search(r"keepalive_timeout (\d+)s;", block)
        assert found is not None, f"{name} keeps idle connections for nginx's default 60 s"
        # With room for a stall: a front that falls behind serves the requests that arrived
        # meanwhile before it expires its idle connections (a 1 s margin gave a 502).
        assert servers[name] - int(found.group(1)) >= 3, name
