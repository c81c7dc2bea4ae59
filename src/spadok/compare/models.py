"""Comparisons: a derivative of a pair of captures (before, after) and its parameters.

One row per (before, after, parameters): asking twice for the same comparison
finds the first; a nudge (other parameters) is another comparison. Writes go
through :mod:`spadok.compare.services` only.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from spadok.catalogue.ids import new_id


def _comparison_id() -> str:
    return new_id("k")


class ComparisonState(models.TextChoices):
    QUEUED = "queued", "queued"
    RUNNING = "running", "running"
    READY = "ready", "ready"
    FAILED = "failed", "failed"


class Comparison(models.Model):
    """What changed between two captures: the report, and the heat map and aligned models."""

    id = models.CharField(primary_key=True, max_length=32, default=_comparison_id, editable=False)
    before = models.ForeignKey(
        "catalogue.Capture", on_delete=models.CASCADE, related_name="comparisons_as_before"
    )
    after = models.ForeignKey(
        "catalogue.Capture", on_delete=models.CASCADE, related_name="comparisons_as_after"
    )
    params = models.JSONField(default=dict)  # canonical (spadok.core.compare.params)
    params_key = models.CharField(max_length=64)  # sha256 of the canonical parameters
    # The comparison this one was nudged from (its transform is where this one starts).
    nudged_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="nudges"
    )
    state = models.CharField(
        max_length=16,
        choices=ComparisonState.choices,
        default=ComparisonState.QUEUED,
        db_index=True,
    )
    step = models.CharField(max_length=32, blank=True)
    progress = models.FloatField(default=0.0)
    attempts = models.PositiveIntegerField(default=0)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    report = models.JSONField(default=dict)
    files = models.JSONField(default=dict)  # role -> {key, size, sha256, mime}
    # Who asked for it; never shown on public pages.
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["before", "after", "params_key"], name="comparison_unique_per_params"
            ),
            models.CheckConstraint(
                condition=~models.Q(before=models.F("after")), name="comparison_two_captures"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id}: {self.before_id} → {self.after_id} ({self.state})"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("compare:comparison", args=[self.id])
