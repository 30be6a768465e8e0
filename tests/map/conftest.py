"""Every map test writes its boundary layers under its own temporary directory."""

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _boundary_layers_in_tmp(settings, tmp_path: Path) -> None:
    settings.BOUNDARY_LAYER_ROOT = tmp_path / "boundary-layers"
