"""The custody log in Django's admin: read-only, it is evidence."""

from __future__ import annotations

from django.contrib import admin

from spadok.evidence.models import CustodyEntry
from spadok.site.readonly_admin import ReadOnlyAdminMixin


@admin.register(CustodyEntry)
class CustodyEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("at", "chain", "seq", "action", "hash")
    list_filter = ("action", "at")
    search_fields = ("chain", "hash")
    date_hierarchy = "at"
