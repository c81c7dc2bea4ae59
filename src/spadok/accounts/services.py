"""The write path for profiles, roles and API tokens.

Every change goes through these keyword-only functions. A role change checks
who may make it, keeps Django's ``is_staff``/``is_superuser`` in step with the
role, and writes a :class:`RoleChange` audit row in the same transaction.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from spadok.accounts.models import STAFF_ROLES, ApiToken, Profile, Role, RoleChange

log = logging.getLogger(__name__)

TOKEN_PREFIX = "spadok_"
TOKEN_DISPLAY_CHARS = 12  # "spadok_" and the first five characters of the secret
LAST_USED_RESOLUTION = timedelta(minutes=1)  # last_used_at is written at most this often

# Roles a curator may grant and revoke; an administrator may set any role.
CURATOR_MANAGES = frozenset({Role.CONTRIBUTOR, Role.REVIEWER})


def display_name_generate() -> str:
    """A pseudonym like ``volunteer-7f3a``: says nothing about the person."""
    return f"volunteer-{secrets.token_hex(2)}"


def _initial_role(user: User) -> Role:
    # Users made outside sign-up (createsuperuser, the admin) keep their powers as a role.
    if getattr(user, "is_superuser", False):
        return Role.ADMINISTRATOR
    if getattr(user, "is_staff", False):
        return Role.CURATOR
    return Role.CONTRIBUTOR


def profile_ensure(*, user: User, display_name: str = "") -> Profile:
    """The user's profile, made on first need with a generated display name."""
    profile, _created = Profile.objects.get_or_create(
        user=user,
        defaults={
            "display_name": display_name.strip() or display_name_generate(),
            "role": _initial_role(user),
        },
    )
    return profile


def display_name_clean(*, user: User, display_name: str) -> str:
    """The display name stripped; refuse what would show the email or user name."""
    name = " ".join(display_name.split())
    if not name:
        raise ValidationError(_("Choose a display name."), code="display_name.empty")
    if len(name) > 64:
        raise ValidationError(
            _("A display name has at most 64 characters."), code="display_name.long"
        )
    if "@" in name:
        raise ValidationError(
            _("A display name must not be an email address. Choose a pseudonym."),
            code="display_name.email",
        )
    private = {user.get_username().casefold(), (getattr(user, "email", "") or "").casefold()}
    if name.casefold() in private:
        raise ValidationError(
            _("A display name is public: choose one that is not your user name or email."),
            code="display_name.private",
        )
    return name


def profile_update(*, user: User, display_name: str, credit_me: bool) -> Profile:
    """Change the public name and the choice of credit.

    A change of what may be credited reaches the preservation record of each
    of the person's captures (their record.json) through a background job.
    """
    profile = profile_ensure(user=user)
    credited_before = profile.display_name if profile.credit_me else None
    profile.display_name = display_name_clean(user=user, display_name=display_name)
    profile.credit_me = credit_me
    profile.save(update_fields=["display_name", "credit_me"])
    if (profile.display_name if profile.credit_me else None) != credited_before:
        transaction.on_commit(lambda: _enqueue_metadata_rewrite(user.pk))
    return profile


def _enqueue_metadata_rewrite(user_id: int) -> None:
    from spadok.accounts.tasks import rewrite_contributor_metadata

    try:
        rewrite_contributor_metadata.enqueue(user_id)
    except Exception:  # the credit stands; the records catch up with their next write
        log.exception("could not queue the record.json rewrite for user %s", user_id)


def role_change_allowed(*, actor: User | AnonymousUser, from_role: str, to_role: str) -> bool:
    """Curators grant and revoke reviewer; administrators set any role."""
    if not actor.is_authenticated or not actor.is_active:
        return False
    actor_role = profile_ensure(user=actor).role
    if actor_role == Role.ADMINISTRATOR:
        return True
    if actor_role == Role.CURATOR:
        return from_role in CURATOR_MANAGES and to_role in CURATOR_MANAGES
    return False


def profile_set_role(*, actor: User | AnonymousUser, user: User, role: str) -> Profile:
    """Give ``user`` a new role, if ``actor`` may; record who did it.

    Raises PermissionDenied when the actor may not make this change.
    """
    if role not in Role.values:
        raise ValidationError(_("There is no such role."), code="role.unknown")
    with transaction.atomic():
        profile_ensure(user=user)
        profile = Profile.objects.select_for_update().select_related("user").get(user=user)
        before = profile.role
        if not role_change_allowed(actor=actor, from_role=before, to_role=role):
            raise PermissionDenied("role.forbidden")
        if before == role:
            return profile
        profile.role = role
        profile.save(update_fields=["role"])
        target = profile.user
        target.is_staff = role in STAFF_ROLES
        target.is_superuser = role == Role.ADMINISTRATOR
        target.save(update_fields=["is_staff", "is_superuser"])
        RoleChange.objects.create(
            actor=actor if actor.is_authenticated else None,
            user=target,
            from_role=before,
            to_role=role,
        )
    log.info("role of user %s: %s -> %s (by user %s)", target.pk, before, role, actor.pk)
    return profile


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """A new token for ``user``: the row, and the token itself (shown once, never kept)."""
    name = name.strip()[:100] or _("API token")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=raw[:TOKEN_DISPLAY_CHARS], digest=_digest(raw)
    )
    return token, raw


def token_revoke(*, user: User, token_id: int) -> ApiToken:
    """Revoke one of the user's own tokens; revoking twice is harmless."""
    token = ApiToken.objects.get(pk=token_id, user=user)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def token_touch(*, token: ApiToken) -> None:
    """Note that the token was used; writes at most once a minute per token."""
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now
