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
