"""What the tests share: free loopback ports, Debian's Chromium under Playwright, and a way
to empty the cache that leaves the rest of Redis alone.

Browser downloads are impossible here, so Playwright drives ``/usr/bin/chromium`` (apt) with
the flags a container needs.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def clear_cache() -> None:
    """Empty Django's default cache (throttle counters, rendered API documents), and only it.

    With Redis, ``cache.clear()`` is FLUSHDB: it would also take the Celery broker's queues
    and the live stream sharing the database, and, under pytest-xdist, the other worker's
    keys (its throttle counters reset in the middle of a test). Deleting the cache's own
    keys (its ``KEY_PREFIX``, one per xdist worker in the test settings) touches nothing else.
    """
    from django.core.cache import cache

    delete_pattern = getattr(cache, "delete_pattern", None)
    if delete_pattern is None:
        cache.clear()  # the in-process cache of the embedded default
    else:
        delete_pattern("*")


def free_port(ports: range | None = None) -> int:
    """A port nothing listens on: the first free one of ``ports``, else one the kernel picks.

    Tests that start servers in other processes use a range of their own, so two suites on
    one machine do not race for the same port."""
    if ports is None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]
    for port in ports:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports.start}-{ports.stop - 1}")


@contextlib.contextmanager
def chromium(*, allow_orm_in_test: bool = True) -> Iterator:
    """Headless Chromium for a module's tests.

    Playwright's sync API keeps an event loop in this thread while it runs; a test's own ORM
    calls (and pytest-django's flush after each) are still plain synchronous code, so Django's
    async-context guard is lifted while the browser is open (``allow_orm_in_test``)."""
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    if allow_orm_in_test:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous
