"""The catalogue in Django's admin, for staff: lists, filters and search, read-only.

Writes go through :mod:`spadok.catalogue.services` only (they also write the
record into the OCFL object and log a preservation event), so the admin
changes nothing: an edit here would leave storage behind the database.
"""

from __future__ import annotations

from django.contrib import admin

from spadok.catalogue.models import Capture, Derivative, Record
from spadok.site.readonly_admin import ReadOnlyAdminMixin


class CaptureInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Capture
    fk_name = "record"
    fields = ("id", "state", "kind", "format", "source_name", "created_at")
    readonly_fields = fields
    extra = 0
    show_change_link = True


class DerivativeInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Derivative
    fields = ("role", "policy", "mime", "size", "sha256", "tool", "created_at")
    readonly_fields = fields
    extra = 0


@admin.register(Record)
class RecordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("title", "id", "visibility", "created_at", "updated_at")
    list_filter = ("visibility", "created_at")
    search_fields = ("id", "title", "description")
    date_hierarchy = "created_at"
    inlines = [CaptureInline]


@admin.register(Capture)
class CaptureAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "record", "state", "kind", "format", "step", "attempts", "created_at")
    list_filter = ("state", "kind", "format", "created_at")
    search_fields = ("id", "record__id", "record__title", "source_name")
    list_select_related = ("record",)
    date_hierarchy = "created_at"
    inlines = [DerivativeInline]


@admin.register(Derivative)
class DerivativeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("capture", "role", "policy", "mime", "size", "created_at")
    list_filter = ("role", "policy", "mime")
    search_fields = ("capture__id", "sha256", "key")
    list_select_related = ("capture",)
