"""Accounts through HTTP: sign-up, sign-in limits, roles, two-factor, tokens, privacy."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from spadok.accounts import services
from spadok.accounts.models import ApiToken, Profile, Role, RoleChange
from tests.accounts.conftest import ROLES
from tests.accounts.mfa import add_totp

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"


def _signup(client: Client, username: str, **extra: str):  # type: ignore[no-untyped-def]
    data = {
        "username": username,
        "email": f"{username}@example.org",
        "password1": "a long sentence for a password",
        "password2": "a long sentence for a password",
        **extra,
    }
    return client.post(reverse("account_signup"), data)


# -- sign-up and profiles --------------------------------------------------------------


def test_sign_up_gives_a_pseudonymous_profile(django_user_model) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    page = client.get(reverse("account_signup")).content.decode()
    assert 'name="display_name"' in page and 'name="credit_me"' in page

    response = _signup(client, "olena")
    assert response.status_code == 302
    user = django_user_model.objects.get(username="olena")
    profile = Profile.objects.get(user=user)
    assert re.fullmatch(r"volunteer-[0-9a-f]{4}", profile.display_name)
    assert profile.role == Role.CONTRIBUTOR and profile.credit_me is False
    assert not user.is_staff and not user.is_superuser

    # the new account is signed in, and the page shows the pseudonym only
    body = client.get(reverse("catalogue:home")).content.decode()
    assert profile.display_name in body
    assert "olena@example.org" not in body and ">olena<" not in body


def test_sign_up_with_a_chosen_display_name_and_credit() -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    _signup(client, "taras", display_name="Kyiv scanner", credit_me="on")
    profile = Profile.objects.get(user__username="taras")
    assert profile.display_name == "Kyiv scanner" and profile.credit_me is True


def test_a_display_name_must_not_be_an_email(make_user, client_for) -> None:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = _signup(client, "ivan", display_name="ivan@example.org")
    assert response.status_code == 200  # the form again, with the error
    assert "must not be an email address" in response.content.decode()

    user = make_user("mykola")
    client = client_for(user)
    for bad in ("mykola", "mykola@example.org", "  "):
        response = client.post(reverse("accounts:account"), {"display_name": bad})
        assert response.status_code == 400, bad
    response = client.post(reverse("accounts:account"), {"display_name": "Lviv  photographer"})
    assert response.status_code == 302
    assert Profile.objects.get(user=user).display_name == "Lviv photographer"


def test_users_made_on_the_command_line_get_a_profile_with_their_powers(
    django_user_model,
) -> None:
    root = django_user_model.objects.create_superuser(username="root", password="x" * 16)
    staff = django_user_model.objects.create_user(username="s", password="x" * 16, is_staff=True)
    assert root.profile.role == Role.ADMINISTRATOR
    assert staff.profile.role == Role.CURATOR


# -- sign-in limits ----------------------------------------------------------------------


def test_sign_in_locks_out_after_five_failures(make_user) -> None:
    make_user("halyna")
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    url = reverse("account_login")
    for _ in range(5):
        response = client.post(url, {"login": "halyna", "password": "wrong password"})
        assert response.status_code == 200
        assert "_auth_user_id" not in client.session
    # the right password no longer helps, for a while
    response = client.post(url, {"login": "halyna", "password": PASSWORD})
    assert "_auth_user_id" not in client.session
    assert response.status_code in (200, 429)
    assert "Too many failed login attempts" in response.content.decode()


def test_sign_in_by_user_name_or_email(make_user) -> None:
    make_user("petro", mfa=False)
    for login in ("petro", "petro@example.org"):
        client = Client(HTTP_ACCEPT_LANGUAGE="en")
        response = client.post(reverse("account_login"), {"login": login, "password": PASSWORD})
        assert response.status_code == 302
        assert response["Location"] == reverse("accounts:account")


# -- roles ----------------------------------------------------------------------------------


def test_role_changes_are_checked_audited_and_keep_is_staff_in_step(make_user) -> None:
    admin = make_user("admin", "administrator")
    curator = make_user("cura", "curator")
    volunteer = make_user("vol")
    assert curator.is_staff and not curator.is_superuser
    assert admin.is_staff and admin.is_superuser

    services.profile_set_role(actor=curator, user=volunteer, role=Role.REVIEWER)
    change = RoleChange.objects.filter(user=volunteer).get()
    assert (change.actor, change.from_role, change.to_role) == (curator, "contributor", "reviewer")
    assert change.changed_at is not None

    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.profile_set_role(actor=curator, user=volunteer, role=Role.CURATOR)
    with pytest.raises(PermissionDenied):
        services.profile_set_role(actor=curator, user=admin, role=Role.REVIEWER)
    services.profile_set_role(actor=curator, user=volunteer, role=Role.CONTRIBUTOR)  # revoke
    services.profile_set_role(actor=admin, user=volunteer, role=Role.CURATOR)
    volunteer.refresh_from_db()
    assert volunteer.is_staff and volunteer.profile.role == Role.CURATOR
    services.profile_set_role(actor=admin, user=volunteer, role=Role.CONTRIBUTOR)
    volunteer.refresh_from_db()
    assert not volunteer.is_staff
    assert RoleChange.objects.filter(user=volunteer).count() == 4


# The permission matrix: each role against each action. True: allowed.
MATRIX: dict[str, dict[str, bool]] = {
    "view account page": {
        "anonymous": False, "contributor": True, "reviewer": True, "curator": True,
        "administrator": True,
    },
    "create token": {
        "anonymous": False, "contributor": True, "reviewer": True, "curator": True,
        "administrator": True,
    },
    "make another user reviewer": {
        "anonymous": False, "contributor": False, "reviewer": False, "curator": True,
        "administrator": True,
    },
    "make another user curator": {
        "anonymous": False, "contributor": False, "reviewer": False, "curator": False,
        "administrator": True,
    },
    "open /archive/": {
        "anonymous": False, "contributor": False, "reviewer": False, "curator": True,
        "administrator": True,
    },
    "open /admin/": {
        "anonymous": False, "contributor": False, "reviewer": False, "curator": True,
        "administrator": True,
    },
}  # fmt: skip


def _attempt(action: str, client: Client, target) -> bool:  # type: ignore[no-untyped-def]
    if action == "view account page":
        return client.get(reverse("accounts:account")).status_code == 200
    if action == "create token":
        before = ApiToken.objects.count()
        response = client.post(reverse("accounts:token-create"), {"name": "laptop"})
        made = ApiToken.objects.count() - before
        assert (response.status_code == 201) == (made == 1)
        return made == 1
    if action.startswith("make another user"):
        role = action.rsplit(" ", 1)[1]
        response = client.post(reverse("accounts:roles"), {"user": target.pk, "role": role})
        changed = Profile.objects.get(user=target).role == role
        assert (response.status_code == 302 and "login" not in response["Location"]) == changed
        return changed
    url = action.split(" ", 1)[1]
    response = client.get(url)
    return response.status_code == 200


@pytest.mark.parametrize("role", ["anonymous", *ROLES])
@pytest.mark.parametrize("action", list(MATRIX))
def test_permission_matrix(role, action, make_user, client_for, storage_root) -> None:  # type: ignore[no-untyped-def]
    actor = None if role == "anonymous" else make_user(f"actor-{role}", role)
    target = make_user("target")
    assert _attempt(action, client_for(actor), target) is MATRIX[action][role]


def test_the_roles_page_is_for_curators_and_administrators(make_user, client_for) -> None:
    make_user("target")
    assert (
        client_for(make_user("c", "contributor")).get(reverse("accounts:roles")).status_code == 403
    )
    assert client_for(make_user("r", "reviewer")).get(reverse("accounts:roles")).status_code == 403
    body = client_for(make_user("k", "curator")).get(reverse("accounts:roles")).content.decode()
    assert 'value="reviewer"' in body and 'value="curator"' not in body  # curators grant reviewer
    body = client_for(make_user("a", "administrator")).get(reverse("accounts:roles")).content
    assert b'value="curator"' in body and b'value="administrator"' in body


# -- two-factor authentication ------------------------------------------------------------


def test_curators_without_a_second_factor_are_sent_to_set_one_up(make_user, client_for) -> None:
    curator = make_user("cura", "curator", mfa=False)
    client = client_for(curator)
    setup = reverse("mfa_activate_totp")
    for url in (reverse("catalogue:home"), reverse("accounts:account"), "/archive/", "/admin/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == setup, url
    response = client.get(reverse("catalogue:home"), follow=True)
    body = response.content.decode()
    assert "must be protected by a second factor" in body
    assert response.status_code == 200  # set-up (or its re-authentication step) opens
    assert client.get("/static/spadok/css/spadok.css").status_code == 200
    assert client.post(reverse("account_logout")).status_code == 302  # sign-out still works

    add_totp(curator)
    client = client_for(curator)
    assert client.get(reverse("accounts:account")).status_code == 200


def test_the_totp_page_opens_under_the_csp(make_user) -> None:
    curator = make_user("cura", "curator", mfa=False)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = client.post(reverse("account_login"), {"login": "cura", "password": PASSWORD})
    assert response.status_code == 302
    response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 302  # allauth asks for the password again first
    reauth = response["Location"]
    assert reauth.startswith(reverse("account_reauthenticate"))
    assert client.get(reauth).status_code == 200
    response = client.post(reauth, {"password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("mfa_activate_totp")
    response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'src="data:image/svg+xml' in body  # the QR code, allowed by img-src data:
    assert "<script>" not in body and "onclick" not in body
    assert curator.profile.display_name in body


def test_contributors_need_no_second_factor(make_user, client_for) -> None:
    client = client_for(make_user("vol", mfa=False))
    assert client.get(reverse("accounts:account")).status_code == 200
    assert client.get(reverse("catalogue:home")).status_code == 200


# -- API tokens -------------------------------------------------------------------------------


def test_token_made_on_the_account_page_is_shown_once_and_works(make_user, client_for) -> None:
    user = make_user("vol")
    client = client_for(user)
    response = client.post(reverse("accounts:token-create"), {"name": "scanner laptop"})
    assert response.status_code == 201
    body = response.content.decode()
    raw = re.search(r"<code data-new-token>([^<]+)</code>", body).group(1)  # type: ignore[union-attr]
    token = ApiToken.objects.get(user=user)
    assert raw.startswith(token.prefix) and raw not in token.digest and token.digest != raw
    assert raw not in client.get(reverse("accounts:account")).content.decode()  # only once
    assert "scanner laptop" in client.get(reverse("accounts:account")).content.decode()

    api = Client()
    response = api.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200
    assert response.json() == {"display_name": user.profile.display_name, "role": "contributor"}
    assert "sessionid" not in response.cookies  # no session for token requests
    assert "vol@example.org" not in response.content.decode()
    token.refresh_from_db()
    assert token.last_used_at is not None

    response = client.post(reverse("accounts:token-revoke", args=[token.pk]))
    assert response.status_code == 302
    response = api.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "auth.invalid_token"
    assert response.json()["error"]["message"]


def test_bad_and_missing_tokens(make_user) -> None:
    api = Client()
    for header in ("Bearer nonsense", "Bearer ", "bearer spadok_x"):
        response = api.get("/api/me", HTTP_AUTHORIZATION=header)
        assert response.status_code == 401, header
        assert response.json()["error"]["code"] == "auth.invalid_token"
    response = api.get("/api/me")
    assert response.status_code == 401 and response.json()["error"]["code"] == "auth.required"


def test_someone_elses_token_cannot_be_revoked(make_user, client_for) -> None:
    owner, other = make_user("owner"), make_user("other")
    token, _raw = services.token_create(user=owner, name="mine")
    response = client_for(other).post(reverse("accounts:token-revoke", args=[token.pk]))
    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_last_used_is_written_at_most_once_a_minute(make_user) -> None:
    token, raw = services.token_create(user=make_user("vol"), name="t")
    api = Client()
    api.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {raw}")
    token.refresh_from_db()
    first = token.last_used_at
    api.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {raw}")
    token.refresh_from_db()
    assert token.last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    api.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {raw}")
    token.refresh_from_db()
    assert token.last_used_at > first - timedelta(seconds=1)
    assert token.last_used_at <= timezone.now()


def test_a_curators_token_needs_the_second_factor_too(make_user) -> None:
    curator = make_user("cura", "curator", mfa=False)
    _token, raw = services.token_create(user=curator, name="t")
    response = Client().get("/api/me", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "auth.mfa_required"


def test_create_token_command_prints_a_working_token(make_user) -> None:
    user = make_user("vol")
    out = io.StringIO()
    call_command("create_token", "vol", "--name", "uploader", stdout=out)
    raw = out.getvalue().strip()
    assert raw.startswith(services.TOKEN_PREFIX)
    assert ApiToken.objects.get(user=user).name == "uploader"
    response = Client().get("/api/me", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200 and response.json()["role"] == "contributor"

    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no user"):
        call_command("create_token", "nobody", stdout=io.StringIO())


def test_csrf_is_skipped_for_token_requests_only(make_user) -> None:
    from django.contrib.sessions.middleware import SessionMiddleware
    from django.http import HttpResponse

    from spadok.accounts.auth import TokenAuthenticationMiddleware, csrf_exempt_for_tokens

    @csrf_exempt_for_tokens
    def view(request):  # type: ignore[no-untyped-def]
        return HttpResponse("done")

    user = make_user("vol")
    _token, raw = services.token_create(user=user, name="t")
    factory = RequestFactory()

    def run(request):  # type: ignore[no-untyped-def]
        request._dont_enforce_csrf_checks = False
        SessionMiddleware(lambda r: HttpResponse()).process_request(request)
        request.user = user
        return TokenAuthenticationMiddleware(view)(request)

    assert run(factory.post("/x", HTTP_AUTHORIZATION=f"Bearer {raw}")).status_code == 200
    assert run(factory.post("/x")).status_code == 403  # a session request needs its CSRF token
    assert view.csrf_exempt is True  # type: ignore[attr-defined]


# -- the account page and privacy --------------------------------------------------------------


def test_account_page_lists_my_captures(make_user, client_for, make_capture) -> None:
    user = make_user("vol")
    mine = make_capture(title="Church of the Tithes", contributor=user)
    failed = make_capture(title="Bell tower", contributor=user, state="failed")
    make_capture(title="Someone else's")
    body = client_for(user).get(reverse("accounts:account")).content.decode()
    assert "Church of the Tithes" in body and "Bell tower" in body
    assert "Someone else&#x27;s" not in body and "Someone else's" not in body
    assert "state--failed" in body and "state--ready" in body
    assert mine.record.get_absolute_url() in body and failed.id


def test_public_pages_show_the_display_name_never_email_or_user_name(make_user, client_for) -> None:
    user = make_user("oksana.kovalenko")
    body = client_for(user).get(reverse("catalogue:home")).content.decode()
    assert user.profile.display_name in body
    assert "oksana.kovalenko" not in body  # neither the user name nor the email
    anon = Client(HTTP_ACCEPT_LANGUAGE="en").get(reverse("catalogue:home")).content.decode()
    assert reverse("account_login") in anon and reverse("account_signup") in anon


def test_api_me_never_shows_the_email(make_user, client_for) -> None:
    response = client_for(make_user("vol")).get("/api/me")
    assert response.status_code == 200
    data = json.loads(response.content)
    assert set(data) == {"display_name", "role"}


def _no_inline_scripts(body: str) -> None:
    for tag in re.findall(r"<script\b[^>]*>", body):
        assert " src=" in tag or 'type="application/json"' in tag, tag
    assert not re.search(r"\son[a-z]+\s*=", body), "inline event handler"


def test_allauth_pages_use_the_site_layout_without_inline_scripts(make_user, client_for) -> None:
    anon = Client(HTTP_ACCEPT_LANGUAGE="en")
    for name in ("account_login", "account_signup", "account_reset_password"):
        response = anon.get(reverse(name))
        assert response.status_code == 200, name
        body = response.content.decode()
        assert 'class="site-header"' in body, name  # inside base.html
        _no_inline_scripts(body)
    client = client_for(make_user("cura", "curator"))
    for name in ("account_logout", "mfa_index", "account_change_password", "account_email"):
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        body = response.content.decode()
        assert 'class="site-header"' in body, name
        _no_inline_scripts(body)


def test_each_profile_has_its_own_pseudonymous_archive_reference(make_user) -> None:  # type: ignore[no-untyped-def]
    """record.json names contributors by this reference: random, stable, nothing personal."""
    first, second = make_user("halyna"), make_user("bohdan")
    refs = [first.profile.archive_ref, second.profile.archive_ref]
    assert refs[0] != refs[1] and all(r.startswith("acct-") and len(r) == 29 for r in refs)
    assert all(name not in r for r in refs for name in ("halyna", "bohdan"))
    first.profile.refresh_from_db()
    assert first.profile.archive_ref == refs[0]
