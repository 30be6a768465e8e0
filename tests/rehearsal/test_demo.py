"""The README's main command: ``./run demo`` loads the data and a generated night, serves the
site, replays the night so the live map fills in, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from tests import support

ROOT = Path(__file__).resolve().parents[2]
DATE = "2027-05-06"
START_TIMEOUT = 420  # migrations, the sample data's imports and the night, on a loaded CI machine
FILL_TIMEOUT = 120


def free_port() -> int:
    """A free port of the range the rehearsal tests may use (8700-8799)."""
    return support.free_port(range(8750, 8800))


def get_json(url: str) -> dict | None:
    """The document, or None while it is not published yet (404)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - our own loopback server
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


def test_run_demo_serves_the_rehearsal_night_live_and_stops_cleanly(sample_data: Path, tmp_path: Path):
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_"))},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "SNAPSHOT_ROOT": str(tmp_path / "snapshots"),
        "BOUNDARY_LAYER_ROOT": str(tmp_path / "layers"),
        "ELECTIONS_SAMPLE_DATA": str(settings.ELECTIONS_SAMPLE_DATA),
        "DEMO_PORT": str(port),
        "DEMO_NATIONAL": "0",
        "DEMO_COUNCILS": "2",
        "DEMO_DURATION": "30s",
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        ["bash", str(ROOT / "run"), "demo"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not any("live map of the rehearsal night" in line for line in lines):
            assert process.poll() is None, "".join(lines[-40:])
            assert time.monotonic() < deadline, "".join(lines[-40:])
            time.sleep(0.5)
        announced = next(line for line in lines if "live map of the rehearsal night" in line)
        assert re.search(rf"http://127\.0\.0\.1:{port}/map/\?date={DATE}", announced)

        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{base}/map/?date={DATE}", timeout=30) as page:  # noqa: S310
            html = page.read().decode()
        assert page.status == 200 and "Rehearsal" in html

        deadline = time.monotonic() + FILL_TIMEOUT
        while True:
            national = get_json(f"{base}/live/{DATE}/national.json")
            declared = [w for w in (national or {}).get("wards", {}).values() if w["status"] != "none"]
            if declared:
                break
            assert time.monotonic() < deadline, "no ward declared on the live map"
            time.sleep(1)
        assert national["wards"] and all(w["rehearsal"] for w in national["wards"].values())

        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in the terminal
        assert process.wait(timeout=60) == 0, "".join(lines[-40:])
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    reader.join(timeout=5)
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)  # nothing of the demo is left running
