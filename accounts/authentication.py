"""``Authorization: Token <key>`` for trusted integrations posting results (DRF)."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from .services import find_integration_token


class IntegrationTokenAuthentication(TokenAuthentication):
    """DRF's token scheme, against hashed ``IntegrationToken`` keys (never the query string)."""

    keyword = "Token"

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        token = find_integration_token(key)
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return token.user, token
