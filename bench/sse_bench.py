"""Live stream benchmark: publish-to-browser latency and memory per connection with 1,000,
5,000 and 10,000 clients holding ``/live/stream`` open.

    .venv/bin/python bench/sse_bench.py                       # 1,000, 5,000 and 10,000 clients
    .venv/bin/python bench/sse_bench.py --clients 2000 --events 10

For each client count: a fresh uvicorn (``config.asgi``: the ASGI front, one worker, uvloop
and httptools) on port 8483, on a redis-server of its own (port 6393, nothing persisted);
a load generator in another process (raw asyncio protocols on uvloop, no HTTP library)
opens the connections in batches, then the benchmark appends ``--events`` events to the
day's Redis Stream, ``--interval`` seconds apart, padded to the size of a real ward event,
noting when it appended each. Each client notes when each event arrives: latency = arrival
− publication (one clock: same machine), over clients × events samples; a client that
missed or doubled an event is counted.
Memory per connection = growth of the server's RSS between before and after connecting,
divided by the clients. The open-files limit is raised to the hard limit for both
processes; every phase has a deadline. Writes bench/sse.md; prints the figures last.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "sse"
PYTHON = sys.executable
HTTP_PORT, REDIS_PORT = 8483, 6393
DATE = "2027-05-06"
CONNECT_BATCH = 250


def raise_open_files() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing answered on port {port}")


# --------------------------------------------------------------------------- load generator


class Client(asyncio.Protocol):
    """One browser's stream: notes when each event arrives (the k-th arrival on every
    connection is the k-th event published: one stream, in order)."""

    __slots__ = ("arrivals", "connected", "run", "tail", "transport")

    def __init__(self, run: LoadRun) -> None:
        self.run = run
        self.connected = False
        self.tail = b""
        self.arrivals: list[float] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        transport.write(self.run.request)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        if not self.connected:
            self.connected = True
            self.run.connected += 1
        # An event's marker may straddle two reads: keep the last few bytes.
        data = self.tail + data
        events = data.count(b"event: ward\n")
        self.tail = data[-16:]
        if events:
            self.tail = data[data.rfind(b"event: ward\n") + 12 :][-16:]
            before = len(self.arrivals)
            self.arrivals.extend([now] * events)
            if before < self.run.expected <= len(self.arrivals):
                self.run.complete += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.run.lost += 1


class LoadRun:
    def __init__(self, clients: int, port: int) -> None:
        self.clients = clients
        self.port = port
        self.request = (
            f"GET /live/stream?date={DATE} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
        self.connected = 0
        self.lost = 0
        self.expected = 0
        self.complete = 0
        self.by_client: list[Client] = []


async def load(clients: int, port: int, expected_events: int, deadline: float) -> None:
    """Connect ``clients``, say so on stdout, collect until every event reached every client
    (or the deadline), then print each client's arrival times as JSON."""
    loop = asyncio.get_running_loop()
    run = LoadRun(clients, port)
    run.expected = expected_events

    def client() -> Client:
        made = Client(run)
        run.by_client.append(made)
        return made

    held = []
    for first in range(0, clients, CONNECT_BATCH):
        batch = [
            loop.create_connection(client, "127.0.0.1", port)
            for _ in range(min(CONNECT_BATCH, clients - first))
        ]
        held += await asyncio.gather(*batch)
        while run.connected < len(held) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
    print(json.dumps({"connected": run.connected}), flush=True)
    while run.complete < clients and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    print(json.dumps({"arrivals": [c.arrivals for c in run.by_client], "lost": run.lost}), flush=True)
    for transport, _ in held:
        transport.close()


def client_main(args: argparse.Namespace) -> None:
    raise_open_files()
    import uvloop

    uvloop.run(load(args.clients[0], args.port, args.events, time.monotonic() + args.deadline))


# --------------------------------------------------------------------------- driver


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def phase(clients: int, args: argparse.Namespace, env: dict[str, str]) -> dict[str, float]:
    import redis

    server = subprocess.Popen(
        [
            str(Path(PYTHON).parent / "uvicorn"),
            "config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(HTTP_PORT),
            "--backlog",
            "16384",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--lifespan",
            "on",
            "--log-level",
            "warning",
            "--no-access-log",
            "--timeout-keep-alive",
            "600",
        ],
        cwd=ROOT,
        env=env,
        preexec_fn=raise_open_files,
    )
    try:
        wait_port(HTTP_PORT)
        # Warm the process (imports, the hub) with one client before the baseline.
        probe = socket.create_connection(("127.0.0.1", HTTP_PORT))
        probe.sendall(f"GET /live/stream?date={DATE} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        probe.recv(4096)
        time.sleep(0.5)
        baseline = rss_kb(server.pid)
        generator = subprocess.Popen(
            [
                PYTHON,
                __file__,
                "--client",
                "--clients",
                str(clients),
                "--port",
                str(HTTP_PORT),
                "--events",
                str(args.events),
                "--deadline",
                str(60 + args.events * args.interval + 30),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        started = time.monotonic()
        connected = json.loads(generator.stdout.readline())["connected"]
        connect_seconds = time.monotonic() - started
        time.sleep(1.0)
        per_connection_kb = (rss_kb(server.pid) - baseline) / max(connected, 1)
        bus = redis.Redis(port=REDIS_PORT)
        padding = "x" * 480  # a real ward event (entry, council summary, scoreboard) is ~0.6-1 KB
        sent = []
        for n in range(args.events):
            sent.append(time.time())
            data = json.dumps({"ward": str(n), "v": n + 1, "pad": padding})
            bus.xadd(f"live:stream:{DATE}", {"d": data}, maxlen=10000, approximate=True)
            time.sleep(args.interval)
        result = json.loads(generator.stdout.readline())
        generator.wait(30)
        probe.close()
        latencies = [
            (arrival - sent[k]) * 1000
            for arrivals in result["arrivals"]
            for k, arrival in enumerate(arrivals[: len(sent)])
        ]
        wrong = sum(1 for arrivals in result["arrivals"] if len(arrivals) != len(sent))
        return {
            "clients": clients,
            "connected": connected,
            "connect_s": connect_seconds,
            "delivered": len(latencies),
            "wrong_count": wrong,
            "expected": connected * args.events,
            "p50": percentile(latencies, 0.5),
            "p99": percentile(latencies, 0.99),
            "max": max(latencies),
            "kb_per_connection": per_connection_kb,
        }
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--events", type=int, default=15)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=HTTP_PORT, help=argparse.SUPPRESS)
    parser.add_argument("--deadline", type=float, default=120, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client_main(args)
        return
    if not shutil.which("redis-server"):
        raise SystemExit("redis-server is needed: apt-get install -y redis-server")
    raise_open_files()
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    redis_server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(REDIS_PORT),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--maxclients",
            "20000",
            "--dir",
            str(OUT),
        ],
        stdout=subprocess.DEVNULL,
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_DEBUG": "0",
        "REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
        "SNAPSHOT_ROOT": str(OUT / "snapshots"),
        "DATABASE_URL": f"sqlite:///{OUT / 'unused.sqlite3'}",
        "DJANGO_LOG_LEVEL": "ERROR",
    }
    rows = []
    load_before = os.getloadavg()[0]
    try:
        wait_port(REDIS_PORT)
        for clients in args.clients:
            row = phase(clients, args, env)
            rows.append(row)
            print(
                f"{clients:>6} clients: p50 {row['p50']:.0f} ms, p99 {row['p99']:.0f} ms, "
                f"{row['kb_per_connection']:.1f} KB/connection",
                flush=True,
            )
    finally:
        redis_server.terminate()
        redis_server.wait(10)

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lines = [
        "# Live stream benchmark",
        "",
        "    .venv/bin/python bench/sse_bench.py"
        + (f" --clients {' '.join(map(str, args.clients))}" if args.clients != [1000, 5000, 10000] else ""),
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPUs (server, load generator "
        f"and Redis share them), Python {platform.python_version()}, open files {soft}; load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} at the end (other work on the machine). "
        f"{args.events} events {args.interval} s apart per client count; one uvicorn worker; one Redis "
        "connection in the server (the hub) for all clients.",
        "",
        "| clients | connected | events delivered | clients missing or doubling one | p50 ms | p99 ms "
        "| max ms | memory per connection | goal |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    goals = {5000: "p99 ≤ 250 ms", 10000: "p99 ≤ 500 ms"}
    for row in rows:
        lines.append(
            f"| {row['clients']:,} | {row['connected']:,} | {row['delivered']:,} / {row['expected']:,} | "
            f"{row['wrong_count']} | "
            f"{row['p50']:.0f} | {row['p99']:.0f} | {row['max']:.0f} | {row['kb_per_connection']:.1f} KB | "
            f"{goals.get(row['clients'], '')}{'; ' if row['clients'] in goals else ''}≤ 64 KB |"
        )
    lines.append("")
    report = "\n".join(lines)
    (ROOT / "bench" / "sse.md").write_text(report)
    print()
    print(report)


if __name__ == "__main__":
    main()
