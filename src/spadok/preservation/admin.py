"""Preservation events and audit runs in Django's admin: read-only, they are evidence."""

from __future__ import annotations

from django.contrib import admin

from spadok.preservation.models import AuditRun, PreservationEvent
from spadok.site.readonly_admin import ReadOnlyAdminMixin


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    pass


@admin.register(PreservationEvent)
class PreservationEventAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "object_id", "event_type", "outcome", "agent", "in_object")
    list_filter = ("event_type", "outcome", "in_object", "occurred_at")
    search_fields = ("id", "object_id", "detail")
    date_hierarchy = "occurred_at"


@admin.register(AuditRun)
class AuditRunAdmin(ReadOnlyAdmin):
    list_display = (
        "started_at",
        "finished_at",
        "trigger",
        "repair",
        "ok",
        "files",
        "bytes",
        "issues",
        "repaired",
    )
    list_filter = ("ok", "trigger", "repair", "started_at")
    date_hierarchy = "started_at"
