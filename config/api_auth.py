"""Who is calling the read API, how often they may, and what they may do.

- **Anonymous** callers are welcome (the data is open) under the ``anon`` throttle rate.
- **API keys** (``rest_framework_api_key.APIKey``, issued and revoked in the admin) raise the
  limit to the ``api_key`` rate. A key is sent only as ``Authorization: Api-Key <key>``. A key
  in the query string is refused (400 ``api_key_in_query``) whether or not it is valid: URLs
  end up in server logs, proxy logs, browser history and CDN caches. A wrong, revoked or
  expired key is refused (401 ``invalid_api_key``), never silently downgraded to anonymous,
  so a misconfigured client notices.
- Keys grant nothing but a higher rate: the read API is read-only for everyone.

Rates are read from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` at each request (not at
import, as DRF's own classes do), so ``override_settings`` applies in tests.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from rest_framework import authentication, exceptions, permissions, throttling
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework_api_key.models import APIKey
from rest_framework_api_key.permissions import KeyParser

from config.api_errors import ApiError, ErrorCode

API_KEY_KEYWORD = "Api-Key"
# Query parameters that clients put keys in; any of them is refused, valid key or not.
QUERY_KEY_NAMES = frozenset({"api_key", "apikey", "api-key", "key", "token", "access_token", "auth"})


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Api-Key <key>`` → ``request.auth`` is the ``APIKey``; no header → anonymous.

    Reads the database once (the key's prefix row); writes nothing.
    """

    keyword = API_KEY_KEYWORD
    key_parser = KeyParser()

    def authenticate(self, request: Request) -> tuple[Any, APIKey] | None:
        refuse_key_in_query(request)
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        key = self.key_parser.get(request)
        if not key:
            raise ApiError(
                401,
                ErrorCode.UNSUPPORTED_AUTHORIZATION,
                "Authorization: only API keys are accepted, sent as 'Authorization: Api-Key <key>'.",
                field="Authorization",
            )
        key = key.strip()
        api_key = _usable_key(key)
        if api_key is None:
            raise ApiError(
                401,
                ErrorCode.INVALID_API_KEY,
                "Authorization: this API key is not valid (mistyped, revoked or expired).",
                field="Authorization",
            )
        return AnonymousUser(), api_key

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


def _usable_key(key: str) -> APIKey | None:
    prefix, dot, _ = key.partition(".")
    if not dot or not prefix:
        return None
    api_key = APIKey.objects.filter(prefix=prefix, revoked=False).first()
    if api_key is None or api_key.has_expired:
        return None
    # Verified against the stored hash (constant-time); never upgraded or saved here.
    if not APIKey.objects.key_generator.verify(key, api_key.hashed_key):
        return None
    return api_key


def refuse_key_in_query(request: Request) -> None:
    """Raise 400 ``api_key_in_query`` when any query parameter looks like a credential."""
    for name in request.query_params:
        if name.casefold() in QUERY_KEY_NAMES:
            raise ApiError(
                400,
                ErrorCode.API_KEY_IN_QUERY,
                f"{name}: API keys are accepted only in the Authorization header "
                f"('Authorization: Api-Key <key>'), never in the URL, where they are written to "
                f"logs and caches. If this key was real, ask for a new one and revoke it.",
                field=name,
            )


def has_api_key(request: Request) -> bool:
    return isinstance(getattr(request, "auth", None), APIKey)


class ReadOnly(permissions.BasePermission):
    """GET, HEAD and OPTIONS only, for everyone (keys included): any other method is a 405,
    whether or not the view would have a handler for it."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method not in permissions.SAFE_METHODS:
            raise exceptions.MethodNotAllowed(request.method)
        return True


# Used when the settings name no rate for a scope.
DEFAULT_RATES = {"anon": "120/minute", "api_key": "1200/minute"}


class _LiveRateMixin:
    scope: str

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope) or DEFAULT_RATES[self.scope]


class AnonApiThrottle(_LiveRateMixin, throttling.AnonRateThrottle):
    """The ``anon`` rate, per client address (``NUM_PROXIES`` hops back), for requests without a key."""

    scope = "anon"

    def allow_request(self, request: Request, view: Any) -> bool:
        if has_api_key(request):
            return True
        return super().allow_request(request, view)


class ApiKeyThrottle(_LiveRateMixin, throttling.SimpleRateThrottle):
    """The ``api_key`` rate, per key (its public prefix), for requests with a valid key."""

    scope = "api_key"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not has_api_key(request):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.prefix}
