"""Personal API tokens on requests: ``Authorization: Bearer TOKEN``.

:class:`TokenAuthenticationMiddleware` (placed after Django's
AuthenticationMiddleware) sets ``request.user`` from a valid token for that one
request, creates no session, and sets ``request.auth_token`` (the
:class:`~spadok.accounts.models.ApiToken`, or None when the request carries no
token). A bad or revoked token gets 401 with the code ``auth.invalid_token``.

Views that accept both tokens and sessions wrap themselves in
:func:`csrf_exempt_for_tokens` (alias :func:`token_or_session`): a request
authenticated by a token skips the CSRF check (a token is not sent by the
browser on its own, so it cannot be forged cross-site); a session request is
still checked exactly as Django's CsrfViewMiddleware would.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware

from spadok.accounts import selectors, services

View = Callable[..., HttpResponse]


def error_response(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


def bearer_token(request: HttpRequest) -> str | None:
    """The token in ``Authorization: Bearer …``; "" when the header is there but empty."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip()


class TokenAuthenticationMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.auth_token = None  # type: ignore[attr-defined]
        raw = bearer_token(request)
        if raw is not None:
            token = selectors.token_authenticate(raw) if raw else None
            if token is None:
                response = error_response(
                    "auth.invalid_token",
                    "This API token is not valid or was revoked. "
                    "Make a new one on your account page (/account/).",
                    401,
                )
                response["WWW-Authenticate"] = 'Bearer error="invalid_token"'
                return response
            services.token_touch(token=token)
            request.user = token.user
            request.auth_token = token  # type: ignore[attr-defined]
        return self.get_response(request)


def _csrf_failure(request: HttpRequest) -> HttpResponse | None:
    checker = CsrfViewMiddleware(lambda r: HttpResponse())
    checker.process_request(request)
    return checker.process_view(request, lambda r: HttpResponse(), (), {})


def csrf_exempt_for_tokens(view: View) -> View:
    """Skip the CSRF check for token-authenticated requests only."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if getattr(request, "auth_token", None) is None:
            failure = _csrf_failure(request)
            if failure is not None:
                return failure
        return view(request, *args, **kwargs)

    wrapped.csrf_exempt = True  # type: ignore[attr-defined]
    return wrapped


token_or_session = csrf_exempt_for_tokens
