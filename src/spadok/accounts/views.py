"""The account page, personal API tokens, role management, and /api/me."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from spadok.accounts import selectors, services
from spadok.accounts.auth import error_response, token_or_session
from spadok.accounts.forms import ProfileForm, RoleForm, TokenCreateForm
from spadok.accounts.models import ApiToken, Role
from spadok.catalogue.forms import DECISION_LABELS
from spadok.catalogue.models import CaptureState
from spadok.catalogue.presenters import STATE_LABELS
from spadok.catalogue.selectors import latest_decisions


def _private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "private, no-store"
    return response


def _account_page(
    request: HttpRequest,
    *,
    profile_form: ProfileForm | None = None,
    token_form: TokenCreateForm | None = None,
    new_token: str = "",
    status: int = 200,
) -> HttpResponse:
    user = request.user
    profile = services.profile_ensure(user=user)  # type: ignore[arg-type]
    mine = list(selectors.user_captures(user)[:200])  # type: ignore[arg-type]
    decisions = latest_decisions([c.id for c in mine])
    captures = [
        (
            c,
            STATE_LABELS.get(CaptureState(c.state), c.state),
            decisions.get(c.id),
            DECISION_LABELS.get(decisions[c.id].decision, "") if c.id in decisions else "",
        )
        for c in mine
    ]
    context: dict[str, Any] = {
        "profile": profile,
        "profile_form": profile_form
        or ProfileForm(
            user=user,  # type: ignore[arg-type]
            initial={"display_name": profile.display_name, "credit_me": profile.credit_me},
        ),
        "token_form": token_form or TokenCreateForm(),
        "tokens": selectors.token_list(user),  # type: ignore[arg-type]
        "new_token": new_token,
        "captures": captures,
        "may_manage_roles": profile.role in (Role.CURATOR, Role.ADMINISTRATOR),
    }
    return _private(render(request, "accounts/account.html", context, status=status))


@require_http_methods(["GET", "POST"])
@login_required
def account(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = ProfileForm(request.POST, user=request.user)  # type: ignore[arg-type]
        if not form.is_valid():
            return _account_page(request, profile_form=form, status=400)
        services.profile_update(
            user=request.user,  # type: ignore[arg-type]
            display_name=form.cleaned_data["display_name"],
            credit_me=form.cleaned_data["credit_me"],
        )
        messages.success(request, _("Your profile was saved."))
        return redirect("accounts:account")
    return _account_page(request)


@require_POST
@login_required
def token_create(request: HttpRequest) -> HttpResponse:
    form = TokenCreateForm(request.POST)
    if not form.is_valid():
        return _account_page(request, token_form=form, status=400)
    _token, raw = services.token_create(
        user=request.user,  # type: ignore[arg-type]
        name=form.cleaned_data["name"],
    )
    # Rendered, not redirected: the token must not pass through the session or a URL.
    return _account_page(request, new_token=raw, status=201)


@require_POST
@login_required
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    try:
        token = services.token_revoke(user=request.user, token_id=token_id)  # type: ignore[arg-type]
    except ApiToken.DoesNotExist:
        return _private(HttpResponse(status=404))
    messages.success(request, _("The token “%(name)s” was revoked.") % {"name": token.name})
    return redirect("accounts:account")


@require_http_methods(["GET", "POST"])
@login_required
def roles(request: HttpRequest) -> HttpResponse:
    """Curators give and take the reviewer role; administrators give any role."""
    if selectors.profile_role(request.user) not in (Role.CURATOR, Role.ADMINISTRATOR):
        raise PermissionDenied("role.forbidden")
    if request.method == "POST":
        form = RoleForm(request.POST)
        if not form.is_valid():
            return _private(HttpResponse(status=400))
        target = get_object_or_404(get_user_model(), pk=form.cleaned_data["user"])
        try:
            profile = services.profile_set_role(
                actor=request.user, user=target, role=form.cleaned_data["role"]
            )
        except ValidationError:
            return _private(HttpResponse(status=400))
        # PermissionDenied propagates: 403.
        messages.success(
            request,
            _("%(name)s is now %(role)s.")
            % {"name": profile.display_name, "role": profile.get_role_display()},
        )
        return redirect("accounts:roles")
    actor_role = selectors.profile_role(request.user)
    grantable = [
        (value, label)
        for value, label in Role.choices
        if actor_role == Role.ADMINISTRATOR or value in services.CURATOR_MANAGES
    ]
    rows = [
        (
            p,
            services.role_change_allowed(actor=request.user, from_role=p.role, to_role=p.role)
            and p.user_id != request.user.pk,
        )
        for p in selectors.profiles_for_role_management()
    ]
    return _private(render(request, "accounts/roles.html", {"rows": rows, "grantable": grantable}))


@require_GET
@token_or_session
def api_me(request: HttpRequest) -> HttpResponse:
    """Who am I: the display name and role (never the email or user name)."""
    if not request.user.is_authenticated:
        return error_response(
            "auth.required",
            "Sign in, or send a personal API token as 'Authorization: Bearer TOKEN'.",
            401,
        )
    profile = services.profile_ensure(user=request.user)
    return _private(JsonResponse({"display_name": profile.display_name, "role": profile.role}))
