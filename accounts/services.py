"""Writes of accounts: role assignments and integration tokens."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any, Literal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from config.errors import ApplicationError
from councils.models import Council
from elections.models import Election

from .models import Assignment, IntegrationToken, Role

Outcome = Literal["created", "unchanged"]


def get_or_create_user_by_email(*, email: str, create: bool) -> tuple[Any, bool]:
    """The user whose email (or username) is ``email``, case-insensitively.

    With ``create``, a missing user is made with that email as username and an unusable
    password (an administrator sets one); otherwise a missing user is an ``ApplicationError``.
    """
    email = email.strip()
    if "@" not in email:
        raise ApplicationError(f"{email!r} is not an email address.", code="invalid", field="email")
    user_model = get_user_model()
    found = list(user_model.objects.filter(email__iexact=email)[:2]) or list(
        user_model.objects.filter(username__iexact=email)[:2]
    )
    if len(found) > 1:
        raise ApplicationError(f"Two accounts have the email {email}.", code="ambiguous", field="email")
    if found:
        return found[0], False
    if not create:
        raise ApplicationError(
            f"No account has the email {email} (run with --create-users to make one).",
            code="unknown_user", field="email",
        )
    user = user_model(username=email.lower(), email=email.lower())
    user.set_unusable_password()
    user.save()
    return user, True


def assign_role(
    *,
    user: AbstractBaseUser,
    role: str,
    council: Council | None,
    election: Election | None = None,
    assigned_by: AbstractBaseUser | None = None,
) -> tuple[Assignment, Outcome]:
    """Give ``user`` a role for a council (and one of its elections), or nationally.

    Correspondents need a council and an election of that council; reviewers a council (every
    election of it, or ``election``) or none (national). Assigning again changes nothing.
    """
    if role not in Role.values:
        raise ApplicationError(
            f"Role {role!r} is not one of {', '.join(Role.values)}.", code="invalid", field="role"
        )
    if election is not None and council is not None and election.council_id != council.pk:
        raise ApplicationError(
            f"{election.election_id} is not an election of {council.name}.",
            code="council_mismatch", field="election",
        )
    if election is not None and council is None:
        council = election.council
    if role == Role.CORRESPONDENT and (council is None or election is None):
        raise ApplicationError(
            "A correspondent is assigned to a council for one election: give its date.",
            code="required", field="election",
        )
    existing = Assignment.objects.filter(
        user=user, role=role, council=council, election=election
    ).first()
    if existing is not None:
        return existing, "unchanged"
    assignment = Assignment(
        user=user, role=role, council=council, election=election, created_by=assigned_by
    )
    try:
        assignment.full_clean()
    except ValidationError as exc:
        raise ApplicationError(" ".join(exc.messages), code="invalid", field="role") from exc
    assignment.save()
    return assignment, "created"


def _hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_integration_token(*, user: AbstractBaseUser, name: str) -> tuple[IntegrationToken, str]:
    """A new token for ``user``; returns it and the key, which is not stored and not shown again."""
    if not name.strip():
        raise ApplicationError("Name the integration that will hold the token.", code="required",
                               field="name")
    key = secrets.token_urlsafe(32)
    token = IntegrationToken.objects.create(
        user=user, name=name.strip(), prefix=key[:8], key_hash=_hash_key(key)
    )
    return token, key


def revoke_integration_token(*, token: IntegrationToken) -> None:
    with transaction.atomic():
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])


def find_integration_token(key: str) -> IntegrationToken | None:
    """The live token with this key, with its user, or None."""
    return (
        IntegrationToken.objects.select_related("user")
        .filter(key_hash=_hash_key(key), revoked_at__isnull=True)
        .first()
    )
