"""Log in and out. Lockout after repeated failures is django-axes' (keyed on the client
address and username together, so someone guessing one correspondent's password from one
address cannot lock that correspondent out everywhere); on top, each address may try at most
``LOGIN_ATTEMPTS_PER_MINUTE`` logins a minute whatever the usernames."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .client_ip import client_ip_address
from .denials import log_denial


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True
    next_page = "keying:home"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        limit = getattr(settings, "LOGIN_ATTEMPTS_PER_MINUTE", 30)
        key = f"login-rate:{client_ip_address(request)}"
        cache.add(key, 0, timeout=60)
        try:
            attempts = cache.incr(key)
        except ValueError:  # expired between add and incr
            attempts = 1
        if attempts > limit:
            log_denial(request, reason="login rate limit", status=429)
            return render(request, "accounts/locked_out.html", {"rate_limited": True}, status=429)
        return super().post(request, *args, **kwargs)


class LogoutView(auth_views.LogoutView):
    """POST only (Django's own rule): a link or an image cannot log anyone out."""

    next_page = "accounts:login"
