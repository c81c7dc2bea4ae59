"""Fixtures for accounts: one user per role, clients signed in as them, a second factor."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from tests.accounts.mfa import add_totp
from tests.site.conftest import make_capture  # noqa: F401 - the catalogue's fixture, shared

ROLES = ("contributor", "reviewer", "curator", "administrator")


@pytest.fixture(autouse=True)
def _fast_passwords(settings):  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_rate_limits():  # type: ignore[no-untyped-def]
    """allauth counts failed sign-ins in the cache; each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_user(django_user_model) -> Callable[..., object]:  # type: ignore[no-untyped-def]
    """A user with the given role (set through the service, as an administrator would)."""
    from spadok.accounts.models import Role
    from spadok.accounts.services import profile_set_role

    root = None

    def make(username: str, role: str = "contributor", *, mfa: bool = True) -> object:
        nonlocal root
        user = django_user_model.objects.create_user(
            username=username, email=f"{username}@example.org", password="correct horse battery"
        )
        if role != Role.CONTRIBUTOR:
            if root is None:
                root = django_user_model.objects.create_superuser(
                    username="root-maker", email="root@example.org", password="x" * 16
                )
            profile_set_role(actor=root, user=user, role=role)
            user.refresh_from_db()
        if mfa:
            add_totp(user)
        return user

    return make


@pytest.fixture
def client_for() -> Callable[..., Client]:
    def make(user=None) -> Client:  # type: ignore[no-untyped-def]
        client = Client(HTTP_ACCEPT_LANGUAGE="en")
        if user is not None:
            client.force_login(user)
        return client

    return make
