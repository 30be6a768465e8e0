"""Schemathesis against the API's own schema, served by the running application.

The schema is fetched from ``/api/schema/`` of the WSGI application and every read
operation (GET) is exercised with generated requests, anonymously and with an API key, with
all of Schemathesis's checks: no server error, status codes, content types and headers as
documented, every body conforming to its schema, valid input accepted and invalid input
refused, unsupported methods answered 405. The write endpoint ``POST …/result/`` has its own
tests (tests/results/test_keying_*.py) and is left out.

Examples are bounded (``MAX_EXAMPLES`` per operation and identity, no shrinking) so the
suite stays fast. The data set (tests/api/fuzz_data.py) matches the schema's examples, so
generated requests reach real records of every kind.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, settings
from rest_framework_api_key.models import APIKey

from config.wsgi import application
from tests.support import clear_cache

from .fuzz_data import build_fuzz_data

MAX_EXAMPLES = 12
# The keyed run exercises the same operations and parameters; what differs is the
# authentication path, so it needs fewer examples.
MAX_EXAMPLES_WITH_KEY = 6


@pytest.fixture(scope="module")
def fuzz_data(django_db_setup: None, django_db_blocker) -> Iterator[dict[str, str]]:
    """The data set and an API key, created once for the module and rolled back after it."""
    with django_db_blocker.unblock(), transaction.atomic():
        made = build_fuzz_data()
        _, made["api_key"] = APIKey.objects.create_key(name="Schemathesis")
        yield made
        transaction.set_rollback(True)


# Fetched from the application itself when the module is collected (schema generation reads
# no data).
schema = schemathesis.openapi.from_wsgi("/api/schema/", application).include(method="GET")


@pytest.fixture(scope="module", autouse=True)
def _connection_kept_across_requests() -> Iterator[None]:
    """The WSGI handler closes database connections at the end of each request, which would
    close the test's own transaction on PostgreSQL; Django's test client detaches the same
    signal handlers for the same reason."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _each_case(fuzz_data: dict[str, str], db: None) -> None:
    clear_cache()


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


@schema.parametrize()
@_settings(MAX_EXAMPLES)
def test_anonymous(case: schemathesis.Case) -> None:
    case.call_and_validate()


@schema.parametrize()
@_settings(MAX_EXAMPLES_WITH_KEY)
def test_with_api_key(case: schemathesis.Case, fuzz_data: dict[str, str]) -> None:
    case.call_and_validate(headers={"Authorization": f"Api-Key {fuzz_data['api_key']}"})
