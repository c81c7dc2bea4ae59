"""Accounts in Django's admin: read-only. Roles change through the Roles page
(:func:`spadok.accounts.services.profile_set_role`), which checks who may and
records every change; tokens are made and revoked by their owners."""

from __future__ import annotations

from django.contrib import admin

from spadok.accounts.models import ApiToken, Profile, RoleChange
from spadok.site.readonly_admin import ReadOnlyAdminMixin


@admin.register(Profile)
class ProfileAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("display_name", "user", "role", "credit_me", "created_at")
    list_filter = ("role", "credit_me")
    search_fields = ("display_name", "user__username")
    list_select_related = ("user",)


@admin.register(RoleChange)
class RoleChangeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("changed_at", "user", "from_role", "to_role", "actor")
    list_filter = ("to_role", "changed_at")
    list_select_related = ("user", "actor")


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("name", "prefix", "user", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix", "user__username")
    exclude = ("digest",)
    list_select_related = ("user",)
