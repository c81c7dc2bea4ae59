"""Records, their captures, and the derivatives made from them.

Writes go through :mod:`spadok.catalogue.services` only; these classes hold
fields and small read helpers, nothing that logs, indexes or notifies.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from spadok.catalogue.ids import new_id


def _record_id() -> str:
    return new_id("r")


def _capture_id() -> str:
    return new_id("c")


class Visibility(models.TextChoices):
    PUBLIC = "public", "public"
    COARSE = "coarse", "public, coarse location"
    EMBARGOED = "embargoed", "embargoed until a date"
    SEALED = "sealed", "sealed: named curators only"
    DRAFT = "draft", "not yet public"


class Record(models.Model):
    """A documented thing (a building, a monument, an object) that gathers captures."""

    id = models.CharField(primary_key=True, max_length=32, default=_record_id, editable=False)
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    visibility = models.CharField(
        max_length=16, choices=Visibility.choices, default=Visibility.PUBLIC, db_index=True
    )
    embargo_until = models.DateField(null=True, blank=True)  # embargoed: public from this day
    # Sealed: the curators an administrator or curator named; administrators see it too.
    sealed_readers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="sealed_records"
    )
    # The place this record documents; a record may be filed before its site is known.
    site = models.ForeignKey(
        "sites.Site", null=True, blank=True, on_delete=models.SET_NULL, related_name="records"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.title} ({self.id})"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("catalogue:record", args=[self.id])


class CaptureState(models.TextChoices):
    RECEIVED = "received", "received"
    PROCESSING = "processing", "processing"
    READY = "ready", "ready"
    FAILED = "failed", "failed"


class LocationSource(models.TextChoices):
    EXIF = "exif", "exif"
    MAP = "map", "map"
    NONE = "none", "none"


class Licence(models.TextChoices):
    CC_BY = "cc-by-4.0", "CC BY 4.0"
    CC0 = "cc0-1.0", "CC0 1.0"
    RESTRICTED = "archive-only", "restricted to the archive"


class Capture(models.Model):
    """One submission about a record: its original files, kept unchanged forever."""

    id = models.CharField(primary_key=True, max_length=32, default=_capture_id, editable=False)
    record = models.ForeignKey(Record, on_delete=models.PROTECT, related_name="captures")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    kind = models.CharField(max_length=16, blank=True)  # mesh, pointcloud, splat
    format = models.CharField(max_length=16, blank=True)  # registry name: glb, ply, las...
    state = models.CharField(
        max_length=16, choices=CaptureState.choices, default=CaptureState.RECEIVED, db_index=True
    )
    step = models.CharField(max_length=32, blank=True)
    progress = models.FloatField(default=0.0)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    source_name = models.CharField(max_length=500, blank=True)  # what the user called it
    primary_file = models.CharField(max_length=500, blank=True)  # the model among the originals
    originals = models.JSONField(default=list)  # [{path, key, size, sha256, sha512}]
    stats = models.JSONField(default=dict)
    timings = models.JSONField(default=dict)
    attempts = models.PositiveIntegerField(default=0)
    # Who sent it (None for the command line and for deleted accounts).
    contributor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="captures",
    )
    # What the contributor said about it (capture_describe). The location is
    # sensitive: exact only for reviewers and curators, coarsened or hidden elsewhere.
    captured_at = models.DateTimeField(null=True, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    location_precision_m = models.FloatField(null=True, blank=True)
    location_source = models.CharField(
        max_length=8, choices=LocationSource.choices, default=LocationSource.NONE
    )
    licence = models.CharField(max_length=16, choices=Licence.choices, blank=True)
    consent_at = models.DateTimeField(null=True, blank=True)
    flag_private_interior = models.BooleanField(default=False)
    flag_faces = models.BooleanField(default=False)
    described_at = models.DateTimeField(null=True, blank=True)
    # The existing record the contributor thinks this shows; a reviewer merges it there.
    suggested_record = models.ForeignKey(
        Record, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The site the contributor picked (or described); a draft record is filed under it
    # at once, a reviewer confirms or changes it.
    suggested_site = models.ForeignKey(
        "sites.Site", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The contributor says the place is sensitive (only a coarse location in public).
    flag_sensitive_site = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.id} ({self.format or '?'}, {self.state})"

    @property
    def has_location(self) -> bool:
        return self.latitude is not None and self.longitude is not None

    @property
    def original_bytes(self) -> int:
        return sum(int(f.get("size", 0)) for f in self.originals)

    def derivative(self, role: str) -> Derivative | None:
        for d in self.derivatives.all():
            if d.role == role:
                return d
        return None

    def web_derivatives(self) -> list[Derivative]:
        order = {"web-high": 0, "web-medium": 1, "web-low": 2, "web-points": 3}
        found = [d for d in self.derivatives.all() if d.role in order]
        return sorted(found, key=lambda d: order[d.role])


class Derivative(models.Model):
    """A file made from a capture by a named, versioned policy; one per (capture, role, policy)."""

    capture = models.ForeignKey(Capture, on_delete=models.CASCADE, related_name="derivatives")
    role = models.CharField(max_length=32)  # web-high, web-medium, web-low, web-points, thumbnail
    policy = models.CharField(max_length=64)  # "spadok-web/1"
    key = models.CharField(max_length=500)  # storage key
    mime = models.CharField(max_length=100)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    tool = models.CharField(max_length=300)
    params = models.JSONField(default=dict)
    stats = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["capture", "role", "policy"], name="derivative_unique_per_policy"
            )
        ]

    def __str__(self) -> str:
        return f"{self.capture_id}/{self.role} ({self.policy})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "policy": self.policy,
            "mime": self.mime,
            "size": self.size,
            "sha256": self.sha256,
            "tool": self.tool,
            "params": self.params,
            "stats": self.stats,
        }


class Decision(models.TextChoices):
    APPROVE = "approve", "approved"
    REJECT = "reject", "rejected"
    RECAPTURE = "recapture", "re-capture asked"
    MERGE = "merge", "moved to another record"
    RETRY = "retry", "processing started again"


class ReviewDecision(models.Model):
    """One reviewer's decision on a capture: who, what, why, and when (kept for good)."""

    capture = models.ForeignKey(Capture, on_delete=models.CASCADE, related_name="decisions")
    # Who decided (for a retry: who asked for it).
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="review_decisions",
    )
    decision = models.CharField(max_length=16, choices=Decision.choices)
    reason = models.TextField(blank=True)  # the rejection's reason or the re-capture's guidance
    visibility = models.CharField(max_length=16, choices=Visibility.choices, blank=True)
    embargo_until = models.DateField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)  # sealed readers, merge target...
    decided_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-decided_at", "-id"]

    def __str__(self) -> str:
        return f"{self.capture_id}: {self.decision} by {self.reviewer_id}"


class AccessLog(models.Model):
    """Custody: each time a named reader opened sealed material."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="access_log")
    capture = models.ForeignKey(
        Capture, null=True, blank=True, on_delete=models.CASCADE, related_name="access_log"
    )
    action = models.CharField(max_length=32)  # "view", "json", "file:original", ...
    when = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-when", "-id"]

    def __str__(self) -> str:
        return f"{self.when:%Y-%m-%d %H:%M} {self.user_id} {self.action} {self.record_id}"
