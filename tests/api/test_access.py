"""Who may use the read API and how much: API keys (header only), throttles, read-only, and
refusals that leave the database exactly as it was."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.utils import timezone
from rest_framework.settings import api_settings
from rest_framework_api_key.models import APIKey

from tests.api.conftest import build_night, key_header
from tests.support import clear_cache

pytestmark = pytest.mark.django_db

RESULTS = "/api/v1/results/"


@pytest.fixture
def rates() -> Iterator[object]:
    """``rates(anon=…, api_key=…)`` overrides the throttle rates for the rest of the test."""
    overrides: list[override_settings] = []

    def set_rates(**scopes: str) -> None:
        current = dict(api_settings.DEFAULT_THROTTLE_RATES)
        current.update(scopes)
        override = override_settings(REST_FRAMEWORK={**_rest_framework(), "DEFAULT_THROTTLE_RATES": current})
        override.enable()
        overrides.append(override)
        clear_cache()

    yield set_rates
    for override in reversed(overrides):
        override.disable()


def _rest_framework() -> dict[str, object]:
    from django.conf import settings

    return dict(settings.REST_FRAMEWORK)


def row_counts() -> dict[str, int]:
    """Rows of every table of every installed app."""
    return {model._meta.label: model._base_manager.count() for model in apps.get_models()}


# -- keys -----------------------------------------------------------------------------------


def test_a_valid_key_in_the_header_is_accepted(client, api_key) -> None:
    build_night(councils=1, wards=1)
    _, key = api_key
    response = client.get(RESULTS, **key_header(key))
    assert response.status_code == 200
    assert response.json()["results"]


@pytest.mark.parametrize("name", ["api_key", "key", "apikey", "token", "API_KEY"])
def test_a_key_in_the_query_string_is_refused(client, api_key, name) -> None:
    _, key = api_key
    for headers in ({}, key_header(key)):
        response = client.get(RESULTS, {name: key}, **headers)
        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "api_key_in_query"
        assert body["field"] == name
        assert "Authorization: Api-Key" in body["message"]
        assert key not in response.content.decode()


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("Api-Key not-a-key", "invalid_api_key"),
        ("Api-Key abcdefgh.wrongsecretwrongsecretwrongsecret", "invalid_api_key"),
        ("Bearer something", "unsupported_authorization"),
        ("Basic dXNlcjpwYXNz", "unsupported_authorization"),
        ("Api-Key", "unsupported_authorization"),
    ],
)
def test_a_bad_authorization_header_is_refused_not_ignored(client, db, header, code) -> None:
    response = client.get(RESULTS, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["code"] == code
    assert response.json()["field"] == "Authorization"
    assert response["WWW-Authenticate"].startswith("Api-Key")


def test_revoked_and_expired_keys_are_refused(client, api_key) -> None:
    obj, key = api_key
    assert client.get(RESULTS, **key_header(key)).status_code == 200
    obj.revoked = True
    obj.save()
    assert client.get(RESULTS, **key_header(key)).json()["code"] == "invalid_api_key"
    _, other = APIKey.objects.create_key(name="Expired", expiry_date=timezone.now() - dt.timedelta(days=1))
    assert client.get(RESULTS, **key_header(other)).status_code == 401


# -- read-only -------------------------------------------------------------------------------


def test_the_read_api_is_read_only_with_or_without_a_key(client, api_key) -> None:
    night = build_night(councils=1, wards=1)
    _, key = api_key
    ballot = night.ballots[0].ballot_paper_id
    before = row_counts()
    for url in (
        RESULTS,
        f"{RESULTS}{ballot}/",
        f"/api/v1/ballots/{ballot}/",
        "/api/v1/events/",
        "/api/v1/parties/PP53/",
        "/api/v1/exports/lga/",
    ):
        for headers in ({}, key_header(key)):
            for method in ("post", "put", "patch", "delete"):
                response = getattr(client, method)(url, data="{}", content_type="application/json", **headers)
                assert response.status_code == 405, (method, url)
                assert response.json()["code"] == "method_not_allowed"
                assert "POST" not in response["Allow"]
    assert row_counts() == before


# -- throttles -------------------------------------------------------------------------------


def test_anonymous_callers_are_throttled_below_key_holders(client, api_key, rates) -> None:
    build_night(councils=1, wards=1)
    _, key = api_key
    rates(anon="3/minute", api_key="6/minute")
    assert [client.get(RESULTS).status_code for _ in range(4)] == [200, 200, 200, 429]
    refused = client.get(RESULTS)
    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"
    assert int(refused["Retry-After"]) > 0
    # The same address with a key has its own, higher allowance.
    assert [client.get(RESULTS, **key_header(key)).status_code for _ in range(7)] == [200] * 6 + [429]
    # Throttling counts requests, conditional ones too.
    rates(anon="1/minute")
    etag = client.get("/api/v1/parties/", REMOTE_ADDR="10.0.0.9")["ETag"]
    assert client.get("/api/v1/parties/", HTTP_IF_NONE_MATCH=etag, REMOTE_ADDR="10.0.0.9").status_code == 429


def test_each_key_and_each_address_has_its_own_allowance(client, rates) -> None:
    build_night(councils=1, wards=1)
    _, first = APIKey.objects.create_key(name="First newsroom")
    _, second = APIKey.objects.create_key(name="Second newsroom")
    rates(anon="1/minute", api_key="1/minute")
    assert client.get(RESULTS, **key_header(first)).status_code == 200
    assert client.get(RESULTS, **key_header(first)).status_code == 429
    assert client.get(RESULTS, **key_header(second)).status_code == 200
    assert client.get(RESULTS, REMOTE_ADDR="192.0.2.1").status_code == 200
    assert client.get(RESULTS, REMOTE_ADDR="192.0.2.1").status_code == 429
    assert client.get(RESULTS, REMOTE_ADDR="192.0.2.2").status_code == 200


# -- refusals write nothing --------------------------------------------------------------------


def test_denied_requests_write_nothing(client, api_key, rates) -> None:
    night = build_night(councils=1, wards=1)
    obj, key = api_key
    stored_hash = obj.hashed_key
    ballot = night.ballots[0].ballot_paper_id
    before = row_counts()
    denied = [
        client.get(RESULTS, {"api_key": key}),
        client.get(RESULTS, {"key": key}, **key_header(key)),
        client.get(RESULTS, HTTP_AUTHORIZATION="Api-Key wrong.key"),
        client.get(RESULTS, HTTP_AUTHORIZATION="Bearer abc"),
        client.post(RESULTS, {"status": "verified"}),
        client.delete(f"{RESULTS}{ballot}/", **key_header(key)),
        client.put(f"/api/v1/ballots/{ballot}/", data="{}", content_type="application/json"),
        client.get("/api/v1/results/local.not-a-ballot/"),
        client.get("/api/v1/nothing-here/"),
    ]
    rates(anon="1/minute")
    client.get(RESULTS, REMOTE_ADDR="198.51.100.7")
    denied.append(client.get(RESULTS, REMOTE_ADDR="198.51.100.7"))
    assert [r.status_code for r in denied] == [400, 400, 401, 401, 405, 405, 405, 400, 404, 429]
    assert row_counts() == before
    obj.refresh_from_db()
    assert obj.hashed_key == stored_hash and not obj.revoked
    for response in denied:
        assert "Set-Cookie" not in response


# -- keys are managed in the admin -----------------------------------------------------------


def test_keys_are_issued_and_revoked_in_the_admin(client) -> None:
    build_night(councils=1, wards=1)
    admin = get_user_model().objects.create_superuser("admin", "admin@example.org", "admin-password-123")
    client.force_login(admin)
    add = client.post("/admin/rest_framework_api_key/apikey/add/", {"name": "Local newspaper"}, follow=True)
    assert add.status_code == 200
    created = APIKey.objects.get(name="Local newspaper")
    messages = [str(m) for m in add.context["messages"]]
    key = next(word for m in messages for word in m.split() if word.startswith(created.prefix + "."))
    key = key.rstrip(".")
    client.logout()
    assert client.get(RESULTS, **key_header(key)).status_code == 200
    client.force_login(admin)
    change = client.post(
        f"/admin/rest_framework_api_key/apikey/{created.pk}/change/",
        {"name": "Local newspaper", "revoked": "on"},
    )
    assert change.status_code == 302
    client.logout()
    assert client.get(RESULTS, **key_header(key)).status_code == 401
