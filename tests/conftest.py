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
