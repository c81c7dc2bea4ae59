"""Campaigns in Django's admin, for staff: read-only (writes go through the services,
which write each task's events)."""

from __future__ import annotations

from django.contrib import admin

from spadok.campaigns.models import Campaign, Membership, SiteStatus, Task, TaskEvent
from spadok.site.readonly_admin import ReadOnlyAdminMixin


@admin.register(Campaign)
class CampaignAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("name", "id", "state", "starts_on", "ends_on", "created_at")
    list_filter = ("state",)
    search_fields = ("id", "name")


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("campaign", "user", "role", "joined_at")
    list_filter = ("role",)


@admin.register(Task)
class TaskAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "campaign", "site", "state", "urgency", "claim_expires_at", "verdict")
    list_filter = ("state", "verdict", "urgency")
    search_fields = ("site__id",)
    raw_id_fields = ("site", "capture")


@admin.register(TaskEvent)
class TaskEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("task", "action", "actor", "capture", "at")
    list_filter = ("action",)


@admin.register(SiteStatus)
class SiteStatusAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("site", "captures", "best_verdict", "latest_capture_at", "nearby_damage_on")
