from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from spadok.accounts import services
from spadok.accounts.models import Role

DISPLAY_NAME_HELP = _(
    "Shown on public pages. Use a pseudonym, not your real name or email address. "
    "Leave it empty to get one like “volunteer-7f3a”."
)
CREDIT_HELP = _("Public pages may name you, by your display name, beside what you contributed.")


class SignupExtraForm(forms.Form):
    """Fields that allauth's sign-up form adds (ACCOUNT_SIGNUP_FORM_CLASS)."""

    display_name = forms.CharField(
        label=_("Display name"), max_length=64, required=False, help_text=DISPLAY_NAME_HELP
    )
    credit_me = forms.BooleanField(
        label=_("Credit me on public pages"), required=False, help_text=CREDIT_HELP
    )

    def clean_display_name(self) -> str:
        name = self.cleaned_data.get("display_name", "").strip()
        if "@" in name:
            raise forms.ValidationError(
                _("A display name must not be an email address. Choose a pseudonym.")
            )
        return name

    def signup(self, request: HttpRequest, user: User) -> None:
        name = self.cleaned_data.get("display_name") or ""
        profile = services.profile_ensure(user=user)
        try:
            name = services.display_name_clean(user=user, display_name=name) if name else ""
        except forms.ValidationError:
            name = ""  # equal to the user name or email: keep the generated pseudonym
        services.profile_update(
            user=user,
            display_name=name or profile.display_name,
            credit_me=bool(self.cleaned_data.get("credit_me")),
        )


class ProfileForm(forms.Form):
    display_name = forms.CharField(
        label=_("Display name"), max_length=64, help_text=DISPLAY_NAME_HELP
    )
    credit_me = forms.BooleanField(
        label=_("Credit me on public pages"), required=False, help_text=CREDIT_HELP
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_display_name(self) -> str:
        return services.display_name_clean(
            user=self.user, display_name=self.cleaned_data["display_name"]
        )


class TokenCreateForm(forms.Form):
    name = forms.CharField(
        label=_("Token name"),
        max_length=100,
        help_text=_("What the token is for, e.g. “scanner laptop”."),
    )


class RoleForm(forms.Form):
    user = forms.IntegerField(widget=forms.HiddenInput)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
