"""The front server of docker-compose.yml (``deploy/nginx.conf`` with ``deploy/nginx-live.conf``)
made runnable on one machine, for the tests and the benches: the same configuration with the
containers' names and paths replaced by local ones. Raises if the configuration no longer
contains what it replaces, so a change to it cannot leave the tests checking something else.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

DEPLOY = Path(__file__).resolve().parent


def _replace(text: str, old: str, new: str, source: str) -> str:
    if old not in text:
        raise RuntimeError(f"{source} no longer contains {old!r}: update deploy/local.py")
    return text.replace(old, new)


def live_block(snapshots: Path) -> str:
    """deploy/nginx-live.conf serving ``snapshots`` instead of the container's directory."""
    text = (DEPLOY / "nginx-live.conf").read_text()
    return _replace(text, "/srv/snapshots/", f"{snapshots}/", "nginx-live.conf")


def site(*, listen: str, web: str, keying: str, snapshots: Path, cache: Path) -> str:
    """deploy/nginx.conf with local upstreams (``host:port``), listen address, snapshot
    directory (inlined) and API cache directory."""
    text = (DEPLOY / "nginx.conf").read_text()
    for old, new in (
        ("server web:8000;", f"server {web};"),
        ("server keying:8000;", f"server {keying};"),
        ("listen 80;", f"listen {listen};"),
        ("/var/cache/nginx/ukresults-api", str(cache)),
        ("include /etc/nginx/ukresults-live.conf;", live_block(snapshots)),
    ):
        text = _replace(text, old, new, "nginx.conf")
    return text


def main_config(workdir: Path, body: str, *, connections: int = 1024) -> str:
    """A whole nginx.conf around ``body`` (an http block's content), with every temporary
    path under ``workdir``. Run as root (CI), nginx's workers would become "nobody", who
    cannot enter private temporary directories; they stay root here."""
    user = "user root;" if os.geteuid() == 0 else ""
    return f"""
{user}
worker_processes 1; daemon off; pid {workdir}/nginx.pid; error_log {workdir}/error.log warn;
worker_rlimit_nofile {connections * 2 + 64};
events {{ worker_connections {connections}; }}
http {{
    access_log off;
    client_body_temp_path {workdir}/body; proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi; uwsgi_temp_path {workdir}/uwsgi; scgi_temp_path {workdir}/scgi;
{body}
}}
"""


def nginx_binary() -> str:
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(found).exists():
        raise FileNotFoundError("nginx is not installed (apt-get install nginx; ./run packages does)")
    return found


@dataclass
class Front:
    """A running nginx; ``stop()`` ends it."""

    process: subprocess.Popen
    port: int
    workdir: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def check(workdir: Path, config: str) -> subprocess.CompletedProcess:
    """``nginx -t`` of a whole configuration (written to ``workdir/nginx.conf``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "nginx.conf").write_text(config)
    return subprocess.run(  # noqa: S603 - our own nginx and configuration
        [nginx_binary(), "-t", "-c", str(workdir / "nginx.conf"), "-p", str(workdir)],
        capture_output=True,
        text=True,
        check=False,
    )


def start(workdir: Path, config: str, port: int, *, timeout: float = 10.0) -> Front:
    """Start nginx with a whole configuration listening on 127.0.0.1:``port``; waits until it
    accepts connections."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "nginx.conf").write_text(config)
    process = subprocess.Popen(  # noqa: S603 - our own nginx and configuration
        [nginx_binary(), "-c", str(workdir / "nginx.conf"), "-p", str(workdir)],
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return Front(process, port, workdir)
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                error = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise RuntimeError(f"nginx did not start: {error[-800:]}") from None
            time.sleep(0.05)
