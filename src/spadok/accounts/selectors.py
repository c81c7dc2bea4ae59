"""Reads for accounts, and the checks that views and middleware rely on."""

from __future__ import annotations

import hashlib

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from spadok.accounts.models import MFA_ROLES, ApiToken, Profile
from spadok.catalogue.models import Capture


def profile_role(user: User | AnonymousUser) -> str | None:
    """The user's role, or None for the anonymous and for users without a profile yet."""
    if not user.is_authenticated:
        return None
    try:
        return str(user.profile.role)
    except Profile.DoesNotExist:
        return None


def user_has_mfa(user: User) -> bool:
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def user_needs_mfa(user: User | AnonymousUser) -> bool:
    """True for a signed-in curator, administrator or staff member without a second factor."""
    if not user.is_authenticated:
        return False
    privileged = (
        profile_role(user) in MFA_ROLES
        or getattr(user, "is_staff", False)
        or getattr(user, "is_superuser", False)
    )
    return privileged and not user_has_mfa(user)


def token_authenticate(raw: str) -> ApiToken | None:
    """The active token with this secret, whose user is active; otherwise None."""
    digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()
    token = (
        ApiToken.objects.select_related("user", "user__profile")
        .filter(digest=digest, revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    return token


def token_list(user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("revoked_at", "-created_at")


def user_captures(user: User) -> QuerySet[Capture]:
    """The captures this user contributed, newest first, whatever their state."""
    return Capture.objects.filter(contributor=user).select_related("record").order_by("-created_at")


def profiles_for_role_management() -> QuerySet[Profile]:
    """Every profile, by role and display name, for the page where roles are given."""
    return Profile.objects.select_related("user").order_by("role", "display_name")


def user_display(user: User) -> str:
    """How allauth names a user in its messages (ACCOUNT_USER_DISPLAY): the display name."""
    try:
        return str(user.profile.display_name)  # type: ignore[attr-defined]
    except Profile.DoesNotExist:
        return ""
