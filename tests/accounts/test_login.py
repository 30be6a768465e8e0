"""Logging in: lockout after repeated failures keyed on the real client address (also behind
a proxy, where a forged X-Forwarded-For must not move anyone between buckets), a per-address
rate limit, CSRF on the login form, and session security."""

from __future__ import annotations

import itertools

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client, override_settings

from accounts.client_ip import client_ip_address
from tests.factories.keying import PASSWORD, make_user
from tests.support import clear_cache

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
_addresses = itertools.count(10)


def address() -> str:
    """A fresh documentation-range address per use, so no two tests share a bucket."""
    return f"198.51.100.{next(_addresses) % 250}"


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    clear_cache()


def attempt(client: Client, username: str, password: str, **meta: str):
    return client.post(LOGIN, {"username": username, "password": password}, **meta)


def test_a_correct_password_logs_in_and_lands_on_my_counts():
    user = make_user()
    response = attempt(Client(), user.username, PASSWORD, REMOTE_ADDR=address())
    assert response.status_code == 302 and response["Location"] == "/keying/"


def test_lockout_after_the_failure_limit_for_that_address_only():
    user = make_user()
    ip1, ip2 = address(), address()
    limit = settings.AXES_FAILURE_LIMIT
    for _ in range(limit - 1):
        assert attempt(Client(), user.username, "wrong", REMOTE_ADDR=ip1).status_code == 200
    assert attempt(Client(), user.username, "wrong", REMOTE_ADDR=ip1).status_code == 429
    # Locked from ip1, even with the right password…
    locked = attempt(Client(), user.username, PASSWORD, REMOTE_ADDR=ip1)
    assert locked.status_code == 429 and "Too many attempts" in locked.content.decode()
    # …but an attacker at ip1 cannot lock the correspondent out from the count hall (ip2).
    assert attempt(Client(), user.username, PASSWORD, REMOTE_ADDR=ip2).status_code == 302
    assert AccessAttempt.objects.get(username=user.username).ip_address == ip1


def test_without_a_proxy_a_forged_forwarded_for_is_ignored():
    user = make_user()
    ip = address()
    for n in range(settings.AXES_FAILURE_LIMIT):
        attempt(Client(), user.username, "wrong", REMOTE_ADDR=ip, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    assert (
        attempt(
            Client(), user.username, PASSWORD, REMOTE_ADDR=ip, HTTP_X_FORWARDED_FOR="203.0.113.99"
        ).status_code
        == 429
    )
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ip}


@override_settings(NUM_PROXIES=1)
def test_behind_a_proxy_each_client_has_its_own_bucket_and_cannot_forge_one():
    user = make_user()
    proxy = "10.0.0.5"
    attacker, correspondent = address(), address()
    for n in range(settings.AXES_FAILURE_LIMIT):
        # The attacker writes their own X-Forwarded-For; the proxy appends the address it saw.
        attempt(
            Client(),
            user.username,
            "wrong",
            REMOTE_ADDR=proxy,
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}, {attacker}",
        )
    recorded = set(AccessAttempt.objects.values_list("ip_address", flat=True))
    assert recorded == {attacker}  # the real client, not the proxy, not the forged hop
    assert (
        attempt(
            Client(), user.username, PASSWORD, REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=attacker
        ).status_code
        == 429
    )
    assert (
        attempt(
            Client(), user.username, PASSWORD, REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=correspondent
        ).status_code
        == 302
    )


def test_client_address_rule():
    from django.test import RequestFactory

    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 192.0.2.1")
    with override_settings(NUM_PROXIES=0):
        assert client_ip_address(request) == "10.0.0.1"
    with override_settings(NUM_PROXIES=1):
        assert client_ip_address(request) == "192.0.2.1"
    with override_settings(NUM_PROXIES=2):
        assert client_ip_address(request) == "6.6.6.6"
    with override_settings(NUM_PROXIES=5):  # fewer hops than proxies: the leftmost one there is
        assert client_ip_address(request) == "6.6.6.6"
    bare = RequestFactory().get("/", REMOTE_ADDR="192.0.2.9")
    with override_settings(NUM_PROXIES=1):
        assert client_ip_address(bare) == "192.0.2.9"


@override_settings(LOGIN_ATTEMPTS_PER_MINUTE=3)
def test_each_address_has_a_login_rate_limit_whatever_the_usernames():
    ip = address()
    statuses = [attempt(Client(), f"nobody{n}", "wrong", REMOTE_ADDR=ip).status_code for n in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert attempt(Client(), "nobody", "wrong", REMOTE_ADDR=address()).status_code == 200


def test_the_login_form_needs_its_csrf_token():
    user = make_user()
    client = Client(enforce_csrf_checks=True)
    assert attempt(client, user.username, PASSWORD, REMOTE_ADDR=address()).status_code == 403
    page = client.get(LOGIN)
    token = page.cookies["csrftoken"].value
    response = client.post(
        LOGIN,
        {"username": user.username, "password": PASSWORD, "csrfmiddlewaretoken": token},
        REMOTE_ADDR=address(),
    )
    assert response.status_code == 302


def test_session_is_renewed_at_login_and_dies_at_logout():
    user = make_user()
    client = Client()
    client.get(LOGIN)
    client.session["probe"] = 1
    before = client.cookies.get("sessionid")
    attempt(client, user.username, PASSWORD, REMOTE_ADDR=address())
    cookie = client.cookies["sessionid"]
    assert before is None or cookie.value != before.value  # no session fixation
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert client.get("/keying/").status_code == 200
    stolen = cookie.value
    assert client.post("/accounts/logout/").status_code == 302
    replay = Client()
    replay.cookies["sessionid"] = stolen
    assert replay.get("/keying/").status_code == 302  # the old cookie is dead on the server
    assert client.get("/accounts/logout/").status_code == 405  # a link cannot log anyone out


def test_sessions_end_when_idle():
    assert settings.SESSION_COOKIE_AGE <= 4 * 60 * 60 and settings.SESSION_SAVE_EVERY_REQUEST
