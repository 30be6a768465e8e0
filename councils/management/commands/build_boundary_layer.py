"""Write the map's boundary layers (councils/boundary_layer.py).

Usage::

    python manage.py build_boundary_layer                    # current boundaries + every polling day
    python manage.py build_boundary_layer --date 2026-05-07  # one polling day

Run it after importing boundaries; the map page builds a missing layer on its first view.
Each layer is a content-hashed file under ``BOUNDARY_LAYER_ROOT``: rebuilding unchanged
boundaries writes the same name, so browsers keep their cached copy.
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from councils.boundary_layer import build_boundary_layer
from elections.models import Election


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date in the form YYYY-MM-DD") from None


class Command(BaseCommand):
    help = "Build the map's boundary layers: current boundaries and each polling day's wards."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--date", type=_date, action="append", dest="dates", metavar="YYYY-MM-DD",
            help="Build the layer of this polling day only (repeatable).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dates: list[dt.date | None] = list(options["dates"] or [])
        if not dates:
            dates = [None, *Election.objects.order_by("date").values_list("date", flat=True).distinct()]
        for on_date in dates:
            layer = build_boundary_layer(on_date=on_date)
            if options["verbosity"] >= 1:
                self.stdout.write(
                    f"{on_date.isoformat() if on_date else 'current'}: {layer.name} "
                    f"({layer.wards} wards, {layer.raw_bytes:,} bytes, {layer.gzip_bytes:,} gzipped)"
                )
