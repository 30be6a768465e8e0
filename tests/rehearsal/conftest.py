"""A small country for rehearsal tests: councils of every nation with a few wards each.

``small_country`` is created once per test module (inside a transaction rolled back after
the module) with the test factories; tests then run in savepoints of it, so each starts
from the same councils and wards and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction

from councils.models import Council, Nation
from tests.factories.councils import make_boundary_set, make_council, make_wards

# (name, nation, wards)
COUNTRY = (
    ("Ashworth", Nation.ENGLAND, 6),
    ("Brackley Vale", Nation.ENGLAND, 5),
    ("Coldmoor", Nation.ENGLAND, 4),
    ("Dunmere", Nation.ENGLAND, 3),
    ("Eastfield", Nation.ENGLAND, 3),
    ("Ffynnon", Nation.WALES, 4),
    ("Glenburn", Nation.SCOTLAND, 4),
    ("Kilbrae", Nation.SCOTLAND, 3),
    ("Lisnaharney", Nation.NORTHERN_IRELAND, 3),
)


@pytest.fixture(scope="module")
def small_country(django_db_setup: None, django_db_blocker) -> Iterator[list[Council]]:
    with django_db_blocker.unblock(), transaction.atomic():
        councils = []
        for name, nation, wards in COUNTRY:
            council = make_council(name=name, nation=nation)
            make_wards(make_boundary_set(council=council), wards)
            councils.append(council)
        yield councils
        transaction.set_rollback(True)


@pytest.fixture
def stv_sheet_data(sample_data, db) -> None:
    """Clackmannanshire's wards and the party register, imported by their commands, for
    replaying the real 2022 STV count sheets."""
    for args in (
        ("import_boundaries", "boundaries/S12000005-clackmannanshire.wd-may2023.geojson"),
        ("import_parties", "parties/ec_register_gb_2021-11_danielgriffin48.csv"),
    ):
        call_command(args[0], str(sample_data / args[1]), stdout=StringIO(), stderr=StringIO(), verbosity=0)
