"""Campaigns: coordinated efforts to capture a set of sites, and who does what.

A campaign names an area and a set of target sites (one :class:`Task` per
site), its dates and goals; volunteers join it (a :class:`Membership`) and
claim tasks, which holds a site for them for a while so that two people do
not travel to the same place. A capture linked to a task's site completes
the task; a poor verdict opens it again. Writes go through
:mod:`spadok.campaigns.services` only; every change to a task leaves a
:class:`TaskEvent`.

:class:`SiteStatus` is what the ranking needs to know about each target
site's captures and the damage around it, kept current by the services so
that "what to scan next" reads one row per task.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone

from spadok.catalogue.ids import new_id


def _campaign_id() -> str:
    return new_id("k")


class CampaignState(models.TextChoices):
    ACTIVE = "active", "active"
    CLOSED = "closed", "closed"


class Wanted(models.TextChoices):
    """What a task asks the volunteer to capture."""

    EXTERIOR = "exterior", "the exterior, all round"
    INTERIOR = "interior", "the interior"
    OBJECT = "object", "a particular object"
    DAMAGE = "damage", "the damage, in detail"


class Campaign(models.Model):
    """A named effort: an area, target sites, dates, goals, coordinators and volunteers."""

    id = models.CharField(primary_key=True, max_length=32, default=_campaign_id, editable=False)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    state = models.CharField(
        max_length=8, choices=CampaignState.choices, default=CampaignState.ACTIVE, db_index=True
    )
    # The area: a region, and/or a box [west, south, east, north], and/or a GeoJSON
    # polygon geometry. Targets are chosen inside it (and may be added one by one).
    region = models.ForeignKey(
        "sites.Region", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    bbox = models.JSONField(null=True, blank=True)
    polygon = models.JSONField(null=True, blank=True)
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)
    goal_sites = models.PositiveIntegerField(null=True, blank=True)  # sites covered
    goal_captures_per_day = models.PositiveIntegerField(null=True, blank=True)
    claim_hours = models.PositiveIntegerField(default=48)  # how long a claim holds a site
    wanted = models.JSONField(default=list, blank=True)  # the default for new tasks
    # The filters that chose the targets, as the coordinator gave them (for the record).
    site_filters = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("campaigns:campaign", args=[self.id])

    def open_on(self, day: dt.date) -> str | None:
        """Why the campaign hands out no tasks on ``day`` (closed, not begun, over), or None."""
        if self.state != CampaignState.ACTIVE:
            return "closed"
        if self.starts_on and day < self.starts_on:
            return f"starts on {self.starts_on.isoformat()}"
        if self.ends_on and day > self.ends_on:
            return f"ended on {self.ends_on.isoformat()}"
        return None


class MemberRole(models.TextChoices):
    VOLUNTEER = "volunteer", "volunteer"
    COORDINATOR = "coordinator", "coordinator"


class Membership(models.Model):
    """One person in one campaign: a volunteer, or a named coordinator."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="campaign_memberships"
    )
    role = models.CharField(max_length=16, choices=MemberRole.choices, default=MemberRole.VOLUNTEER)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["joined_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "user"], name="membership_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.campaign_id} ({self.role})"


class TaskState(models.TextChoices):
    OPEN = "open", "open"  # wanted; claimed while claim_expires_at is in the future
    DONE = "done", "done"  # a capture of the site came in


class Task(models.Model):
    """One target site of a campaign: what is wanted there, who holds it, what came of it."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="tasks")
    site = models.ForeignKey("sites.Site", on_delete=models.CASCADE, related_name="campaign_tasks")
    state = models.CharField(
        max_length=8, choices=TaskState.choices, default=TaskState.OPEN, db_index=True
    )
    urgency = models.PositiveSmallIntegerField(default=0)  # 0-3, set by a coordinator
    wanted = models.JSONField(default=list, blank=True)  # Wanted values
    note = models.CharField(max_length=500, blank=True)  # "the iconostasis", "the west portal"
    # A claim holds the task for one volunteer until claim_expires_at; an expired
    # claim is no claim (the conditional UPDATE in task_claim takes it over).
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    capture = models.ForeignKey(
        "catalogue.Capture", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The verdict of the capture that completed the task ("" while it is processed),
    # or, on a task opened again, of the capture that was too poor.
    verdict = models.CharField(max_length=8, blank=True)
    reopened = models.PositiveIntegerField(default=0)
    # Where the site is, copied from it for "tasks near me": the 0.1° band of its
    # latitude and its longitude. One B-tree index (campaign, band, longitude) finds
    # a campaign's tasks in a box with one short range per band.
    lat_band = models.IntegerField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    added_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["campaign", "id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "site"], name="task_once_per_site"),
        ]
        indexes = [
            models.Index(fields=["claimed_by", "state", "claim_expires_at"]),
            models.Index(fields=["campaign", "lat_band", "longitude"], name="task_near"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.site_id} ({self.state})"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("campaigns:task", args=[self.pk])

    def claim_active(self, now: object = None) -> bool:
        moment = now or timezone.now()
        return (
            self.state == TaskState.OPEN
            and self.claimed_by_id is not None
            and self.claim_expires_at is not None
            and self.claim_expires_at > moment  # type: ignore[operator]
        )


class TaskEvent(models.Model):
    """What happened to a task, who did it and when (kept for good)."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=16)  # added, claimed, released, expired, completed, ...
    capture = models.ForeignKey(
        "catalogue.Capture", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.task_id}: {self.action} by {self.actor_id}"


class SiteStatus(models.Model):
    """What the ranking knows about a target site: its captures and the damage nearby."""

    site = models.OneToOneField(
        "sites.Site", primary_key=True, on_delete=models.CASCADE, related_name="campaign_status"
    )
    captures = models.PositiveIntegerField(default=0)
    best_verdict = models.CharField(max_length=8, blank=True)  # "": none yet (or pending)
    latest_capture_at = models.DateTimeField(null=True, blank=True)
    # The latest damage date of another site within NEARBY_DAMAGE_KM.
    nearby_damage_on = models.DateField(null=True, blank=True)
    refreshed_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.site_id}: {self.captures} capture(s), {self.best_verdict or '-'}"
