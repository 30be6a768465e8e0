"""The client's address, as the login lockout, the denial log and the throttles see it.

Behind ``NUM_PROXIES`` trusted proxies, each appends the address it received the request from
to ``X-Forwarded-For``; the client is the entry the outermost trusted proxy appended, the
``NUM_PROXIES``-th from the right. Entries further left were written by the client and are
ignored, so a forged header cannot move a client into another lockout bucket. With no proxy
(``NUM_PROXIES = 0``) the header is ignored altogether. This is DRF's rule for its throttles,
so both agree on who a client is.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip_address(request: HttpRequest) -> str:
    """The client's IP address (``AXES_CLIENT_IP_CALLABLE``)."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = int(getattr(settings, "NUM_PROXIES", 0) or 0)
    if proxies <= 0:
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if not hops:
        return remote
    return hops[-min(proxies, len(hops))]
