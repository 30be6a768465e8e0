"""Who may key, review and administer results, and the tokens of trusted integrations.

Roles (see ``accounts.permissions``):

- a **correspondent** keys results for the councils they are assigned to, one election at a
  time (an ``Assignment`` with role ``correspondent``, a council and one of its elections);
- a **reviewer** resolves disputes and approves results, for one council (every election of
  it, or one) or nationally (no council);
- an **administrator** is a Django superuser: every council, every action.

Write these through ``accounts.services`` (or the admin, which calls the same constraints).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from councils.models import Council
from elections.models import Election


class Role(models.TextChoices):
    CORRESPONDENT = "correspondent", "Count correspondent"
    REVIEWER = "reviewer", "Reviewer"


class Assignment(models.Model):
    """One role of one user, for a council (and one of its elections), or nationally.

    A correspondent's assignment always names the council and the election; a reviewer's
    names a council (all its elections, or one) or nothing (national).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    role = models.CharField(max_length=14, choices=Role.choices)
    # CASCADE: wiping a rehearsal election takes its assignments with it.
    council = models.ForeignKey(
        Council, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        help_text="Empty for a national reviewer.",
    )
    election = models.ForeignKey(
        Election, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        help_text="Required for a correspondent; empty for a reviewer of every election of the council.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["user", "role", "council", "election"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(role="correspondent") | (Q(council__isnull=False) & Q(election__isnull=False)),
                name="assignment_correspondent_has_election",
                violation_error_message="A correspondent is assigned to a council for one election.",
            ),
            models.CheckConstraint(
                condition=Q(election__isnull=True) | Q(council__isnull=False),
                name="assignment_election_has_council",
                violation_error_message="An election assignment names its council.",
            ),
            models.UniqueConstraint(
                fields=["user", "role", "council", "election"], condition=Q(election__isnull=False),
                name="assignment_unique_election",
            ),
            models.UniqueConstraint(
                fields=["user", "role", "council"],
                condition=Q(election__isnull=True) & Q(council__isnull=False),
                name="assignment_unique_council",
            ),
            models.UniqueConstraint(
                fields=["user", "role"], condition=Q(council__isnull=True), name="assignment_unique_national",
            ),
        ]

    def __str__(self) -> str:
        scope = self.election or self.council or "national"
        return f"{self.user} — {self.get_role_display()} — {scope}"


class IntegrationToken(models.Model):
    """A secret a trusted integration sends as ``Authorization: Token <key>`` to post results.

    Only a SHA-256 of the key is stored (the key is 32 random bytes, so a fast hash suffices);
    the key itself is shown once, when it is made (``accounts_create_token``). Acts as its
    user, with that user's assignments. Not the read-only API keys of the public API.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="integration_tokens"
    )
    name = models.CharField(max_length=100, help_text="Which integration holds it.")
    prefix = models.CharField(max_length=8, help_text="First characters of the key, to tell keys apart.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["user", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
