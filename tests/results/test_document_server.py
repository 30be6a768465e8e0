"""The ASGI front's document server (``results.stream.DocumentServer``) keeps what it has read
in memory, within bounds: all night every declaration replaces the national document, and a
server process must not keep every version it ever sent."""

from __future__ import annotations

import gzip
import json
import random

from results import snapshots
from results.stream import DocumentServer

PATH = "2026-05-07/national.json"


def document(version: int, size: int = 100_000) -> bytes:
    rng = random.Random(version)  # noqa: S311 - test data
    wards = {f"E05{n:06d}": {"v": version, "w": rng.choice("ABCDEFGH")} for n in range(size // 30)}
    return json.dumps({"version": version, "wards": wards}).encode()


def test_a_superseded_version_leaves_when_the_pointer_moves(tmp_path):
    server = DocumentServer(tmp_path)
    for version in range(1, 31):
        data = document(version)
        snapshots.write_document(tmp_path, PATH, data)
        status, headers, body = server.respond(PATH, None, gzip_ok=True)
        assert status == 200 and gzip.decompress(body) == data
        status, _, plain = server.respond(PATH, None)
        assert status == 200 and plain == data
        # One version held, its body and its compressed copy: not every version sent.
        assert server.size == len(data) + len(body)


def test_beyond_its_budget_the_least_recently_used_go_and_are_read_again(tmp_path):
    digests = []
    for version in range(1, 11):
        digests.append(snapshots.write_document(tmp_path, PATH, document(version)))
    server = DocumentServer(tmp_path, max_bytes=350_000)
    for digest in digests:
        status, _, body = server.respond(f"v/{digest}/{PATH}", None, gzip_ok=True)
        assert status == 200
        assert server.size <= 350_000
    # The first version was dropped long ago: asked again, it is read again, whole.
    status, headers, body = server.respond(f"v/{digests[0]}/{PATH}", None)
    assert status == 200 and body == document(1)
    assert server.respond(f"v/{digests[0]}/{PATH}", headers[0][1])[0] == 304
    assert server.size <= 350_000
