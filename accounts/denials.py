"""The log of refused requests (a user reaching for a council or action not theirs).

One line per denial on the ``ukresults.security`` logger, with the user, the client address,
the method, the path and why. Nothing is written to the database: a denied request writes
nothing.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest

from .client_ip import client_ip_address

logger = logging.getLogger("ukresults.security")


def log_denial(request: HttpRequest, *, reason: str, status: int) -> None:
    user = getattr(request, "user", None)
    who = f"user={user.pk}" if user is not None and user.is_authenticated else "user=anonymous"
    logger.warning(
        "access denied: %s ip=%s method=%s path=%s status=%s reason=%s",
        who, client_ip_address(request), request.method, request.path, status, reason,
        extra={"denial_reason": reason, "denial_status": status},
    )
