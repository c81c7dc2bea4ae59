"""Curators and administrators must set up two-factor authentication first."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import Resolver404, resolve
from django.utils.translation import gettext as _

from spadok.accounts import selectors
from spadok.accounts.auth import error_response

# Pages a user without a second factor may still open: everything allauth serves
# (sign-out, re-authentication, two-factor set-up), the language switch, static files.
ALLOWED_URL_NAMES = frozenset({"set_language"})


def _allowed(request: HttpRequest) -> bool:
    if request.path_info.startswith(settings.STATIC_URL):
        return True
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return False
    module = getattr(match.func, "__module__", "") or ""
    return module.startswith("allauth.") or match.url_name in ALLOWED_URL_NAMES


class MfaRequiredMiddleware:
    """Send a privileged user without a TOTP authenticator to set one up.

    Placed after AuthenticationMiddleware, TokenAuthenticationMiddleware and
    MessageMiddleware. Token requests get 403 JSON instead of a redirect.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if selectors.user_needs_mfa(request.user) and not _allowed(request):
            if getattr(request, "auth_token", None) is not None:
                return error_response(
                    "auth.mfa_required",
                    "This account's role needs two-factor authentication. Sign in on the "
                    "site and set up an authenticator app first.",
                    403,
                )
            messages.warning(
                request,
                _(
                    "Your role (curator or administrator) can change the archive, so your "
                    "account must be protected by a second factor. Set up an authenticator "
                    "app to go on."
                ),
            )
            return redirect("mfa_activate_totp")
        return self.get_response(request)
