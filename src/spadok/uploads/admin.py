"""Uploads in Django's admin, for staff: read-only (writes go through the services)."""

from __future__ import annotations

from django.contrib import admin

from spadok.site.readonly_admin import ReadOnlyAdminMixin
from spadok.uploads.models import Upload, UploadChunk


class UploadChunkInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = UploadChunk
    fields = ("offset", "length", "sha256", "whole", "received_at")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Upload)
class UploadAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("filename", "user", "state", "offset", "length", "capture", "created_at")
    list_filter = ("state", "created_at")
    search_fields = ("id", "filename", "title", "user__username", "sha256", "capture__id")
    list_select_related = ("user", "capture")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Upload._meta.fields]
    inlines = [UploadChunkInline]
