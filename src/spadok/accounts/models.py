"""Profiles, roles, their audit trail, and personal API tokens.

Writes go through :mod:`spadok.accounts.services` only. A profile is the public
face of a user: a pseudonymous display name, never the real name, the user name
or the email address.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    CONTRIBUTOR = "contributor", _("contributor")
    REVIEWER = "reviewer", _("reviewer")
    CURATOR = "curator", _("curator")
    ADMINISTRATOR = "administrator", _("administrator")


# Roles that see the archive's staff pages (Django's is_staff follows the role).
STAFF_ROLES = frozenset({Role.CURATOR, Role.ADMINISTRATOR})
# Roles that must protect their account with a second factor.
MFA_ROLES = STAFF_ROLES


def new_archive_ref() -> str:
    """A random, meaningless account reference: no user id, name or time in it."""
    return f"acct-{secrets.token_hex(12)}"


class Profile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    display_name = models.CharField(
        max_length=64,
        help_text="Shown publicly. A pseudonym: never the real name or the email address.",
    )
    credit_me = models.BooleanField(
        default=False, help_text="Whether public pages may credit this person by display name."
    )
    role = models.CharField(
        max_length=16, choices=Role.choices, default=Role.CONTRIBUTOR, db_index=True
    )
    created_at = models.DateTimeField(default=timezone.now)
    # How the preservation record (an OCFL object's record.json) names this account:
    # pseudonymous and stable, so that a rebuilt catalogue links captures back to it.
    archive_ref = models.CharField(
        max_length=40, unique=True, default=new_archive_ref, editable=False
    )

    def __str__(self) -> str:
        return f"{self.display_name} ({self.role})"


class RoleChange(models.Model):
    """Who changed whose role, from what to what, and when (kept for good)."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="role_changes_made",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_changes"
    )
    from_role = models.CharField(max_length=16, choices=Role.choices)
    to_role = models.CharField(max_length=16, choices=Role.choices)
    changed_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-changed_at"]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.from_role} → {self.to_role} by {self.actor_id}"


class ApiToken(models.Model):
    """A personal API token. Only its sha256 is kept; the token is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)  # the token's first characters, to recognise it
    digest = models.CharField(max_length=64, unique=True)  # sha256 hex of the whole token
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def active(self) -> bool:
        return self.revoked_at is None
