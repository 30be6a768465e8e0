"""Make a token for a trusted integration that posts results as a user.

Usage::

    manage.py accounts_create_token EMAIL "Name of the integration"

Prints the key once; only its hash is stored. The integration sends
``Authorization: Token <key>`` to ``POST /api/v1/ballots/<ballot id>/result/`` and may post
for the councils its user is assigned to.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.services import create_integration_token, get_or_create_user_by_email
from config.errors import ApplicationError


class Command(BaseCommand):
    help = "Make an integration token for a user and print its key (shown only once)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("email", help="The user the integration acts as.")
        parser.add_argument("name", help="Which integration holds the token.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user, _ = get_or_create_user_by_email(email=options["email"], create=False)
            token, key = create_integration_token(user=user, name=options["name"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"token {token.name} for {user}: {key}")
