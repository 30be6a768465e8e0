"""Shared fixtures. Real data comes from ``settings.ELECTIONS_SAMPLE_DATA`` (../shared/data).

A test needing that data uses the ``sample_data`` fixture: it skips with a reason where the
data is absent, and fails instead of skipping in CI (``CI`` set), where the data must exist.
"""

import os
from pathlib import Path

import pytest
from django.conf import settings


@pytest.fixture(scope="session")
def sample_data() -> Path:
    root = Path(settings.ELECTIONS_SAMPLE_DATA)
    if not (root / "README.md").exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI must have the shared data at {root}")
        pytest.skip(f"shared data not found at {root} (set ELECTIONS_SAMPLE_DATA)")
    return root


@pytest.fixture(autouse=True)
def _append_only_tables_flushable(request):
    """Transactional tests end with a flush (TRUNCATE/DELETE of every table), which the
    append-only triggers rightly refuse. Around such tests only, the triggers are dropped
    for the flush and put back before the next test; every other test runs with them."""
    marker = request.node.get_closest_marker("django_db")
    transactional = (
        (marker is not None and marker.kwargs.get("transaction", False))
        or "transactional_db" in request.fixturenames
        or "live_server" in request.fixturenames
    )
    if not transactional:
        yield
        return
    from django.db import connection

    from results import append_only

    request.getfixturevalue("transactional_db")
    append_only.install(connection)
    yield
    append_only.uninstall(connection)


@pytest.fixture(autouse=True, scope="session")
def _fresh_test_snapshots():
    """Live documents published by an earlier run would be served for this run's days
    until republished; the test snapshot directory starts empty (not under pytest-xdist,
    whose workers share it)."""
    import shutil

    root = Path(settings.SNAPSHOT_ROOT)
    if root.name == "test-snapshots" and not os.environ.get("PYTEST_XDIST_WORKER"):
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(autouse=True, scope="session")
def _flush_retries_a_deadlock_with_the_worker():
    """In CI a real Celery worker publishes on the test database while transactional tests
    end with a TRUNCATE of every table; the two can deadlock, and PostgreSQL then cancels the
    TRUNCATE. Such a flush is simply run again (the worker's transaction has finished)."""
    import time

    from django.core.management.base import CommandError
    from django.db.utils import OperationalError
    from django.test import testcases

    original = testcases.TransactionTestCase._fixture_teardown

    def deadlocked(exc: BaseException | None) -> bool:
        while exc is not None:
            if isinstance(exc, OperationalError) and "deadlock detected" in str(exc):
                return True
            exc = exc.__cause__ or exc.__context__
        return False

    def _fixture_teardown(self):
        for attempt in range(5):
            try:
                return original(self)
            except CommandError as exc:
                if attempt == 4 or not deadlocked(exc):
                    raise
                time.sleep(0.2 * (attempt + 1))
        return None

    testcases.TransactionTestCase._fixture_teardown = _fixture_teardown
    yield
    testcases.TransactionTestCase._fixture_teardown = original


@pytest.fixture
def report_figure(request):
    """Print a figure a test measured in the run's output, passed or not (pytest would
    otherwise keep a passing test's output to itself)."""
    capture = request.config.pluginmanager.getplugin("capturemanager")

    def report(text: str) -> None:
        with capture.global_and_fixture_disabled():
            print(text, flush=True)

    return report
