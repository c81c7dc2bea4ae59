"""Comparisons in Django's admin, for staff: read-only (writes go through the services)."""

from __future__ import annotations

from django.contrib import admin

from spadok.compare.models import Comparison
from spadok.site.readonly_admin import ReadOnlyAdminMixin


@admin.register(Comparison)
class ComparisonAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "before", "after", "state", "step", "attempts", "created_at")
    list_filter = ("state", "created_at")
    search_fields = ("id", "before__id", "after__id", "before__record__id")
    list_select_related = ("before", "after")
    date_hierarchy = "created_at"
