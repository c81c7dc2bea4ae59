"""Damage events in Django's admin: read-only, every change goes through the services
(which write the custody log and derive the site's status)."""

from __future__ import annotations

from django.contrib import admin

from spadok.damage.models import DamageEvent
from spadok.site.readonly_admin import ReadOnlyAdminMixin


@admin.register(DamageEvent)
class DamageEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "site", "record", "kind", "standing", "date_start", "public")
    list_filter = ("standing", "kind", "severity", "public", "date_precision")
    search_fields = ("id", "site__id", "record__id", "source_name", "import_key")
    date_hierarchy = "entered_at"
