"""Damage events: what happened to a site or a record, when, and by whose account.

An event is one account of damage (UNESCO's verification, a ministry's list, a
field report, a capture in the archive, a news report, volunteers' research),
kept with its source: a link or a document reference. Two accounts of the same
damage are two events; the statistics keep verified (UNESCO) and reported
(every other standing) apart. The vocabulary lives in
:mod:`spadok.core.registry.damage`; see docs/adr/0009-damage-standing.md.

Who entered an event is an account (``entered_by``) kept for the archive and the
evidence dossier, never shown publicly: the public sees the source. Events are
never deleted: a mistaken one is retracted, with a reason, and stays in the
custody log and the dossier. Writes go through :mod:`spadok.damage.services`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from spadok.catalogue.ids import new_id
from spadok.core.registry import damage as vocabulary


def _event_id() -> str:
    return new_id("d")


class Kind(models.TextChoices):
    DAMAGED = "damaged", "damaged"
    DESTROYED = "destroyed", "destroyed"
    LOOTED = "looted", "looted"
    THREATENED = "threatened", "threatened"


class Severity(models.TextChoices):
    UNKNOWN = "unknown", "unknown"
    MINOR = "minor", "minor"
    MODERATE = "moderate", "moderate"
    SEVERE = "severe", "severe"
    TOTAL = "total", "total"


class Standing(models.TextChoices):
    """Whose account it is; only UNESCO's counts as verified."""

    UNESCO = "unesco", "UNESCO-verified"
    MINISTRY = "ministry", "Ministry of Culture"
    FIELD = "field", "field report"
    CAPTURE = "capture", "a capture in the archive"
    NEWS = "news", "news report"
    VOLUNTEER = "volunteer", "volunteer research from open sources"
    OTHER = "other", "other"


class Precision(models.TextChoices):
    UNKNOWN = "", "no date"
    DAY = "day", "day"
    MONTH = "month", "month"
    YEAR = "year", "year"


# The model's choices and the core vocabulary must say the same thing.
assert tuple(Kind.values) == vocabulary.KINDS
assert tuple(Severity.values) == vocabulary.SEVERITIES
assert tuple(Standing.values) == vocabulary.STANDINGS
assert tuple(v for v in Precision.values if v) == vocabulary.PRECISIONS


class DamageEvent(models.Model):
    """One account of damage to a site (and, when it is about one, a record of it)."""

    id = models.CharField(primary_key=True, max_length=32, default=_event_id, editable=False)
    # The site it happened to; a record's event has its record's site here too,
    # so that the site's timeline, status and statistics see it.
    site = models.ForeignKey(
        "sites.Site",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="damage_events",
    )
    record = models.ForeignKey(
        "catalogue.Record",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="damage_events",
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, db_index=True)
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.UNKNOWN)
    # A day, a month or a year is stored as its first day, with its precision; a
    # range has an end (of the same or a coarser precision).
    date_start = models.DateField(null=True, blank=True, db_index=True)
    date_end = models.DateField(null=True, blank=True)
    date_precision = models.CharField(
        max_length=8, choices=Precision.choices, blank=True, default=""
    )
    date_as_published = models.CharField(max_length=100, blank=True)
    standing = models.CharField(max_length=16, choices=Standing.choices, db_index=True)
    source_name = models.CharField(max_length=200, blank=True)  # "UNESCO", "Суспільне"…
    source_url = models.URLField(max_length=1000, blank=True)
    source_document = models.CharField(max_length=300, blank=True)  # a letter's number…
    references = models.JSONField(default=list, blank=True)  # further links
    # For standing "capture": the capture (in ``record``) that shows the damage.
    capture = models.ForeignKey(
        "catalogue.Capture",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="damage_events",
    )
    description = models.TextField(blank=True)
    # False: kept for the archive and its dossiers, not shown or counted publicly.
    public = models.BooleanField(default=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="damage_events_entered",
    )
    entered_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="damage_events_updated",
    )
    updated_at = models.DateTimeField(default=timezone.now)
    retracted_at = models.DateTimeField(null=True, blank=True)
    retracted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="damage_events_retracted",
    )
    retraction_reason = models.CharField(max_length=500, blank=True)
    # Imported events: "<source>|<the list's key or the site>|<kind>", so that a
    # re-import finds the event instead of adding another; where each came from.
    import_key = models.CharField(max_length=400, null=True, blank=True, unique=True)
    import_refs = models.JSONField(default=list, blank=True)  # [{"source", "file", "row"}]

    class Meta:
        ordering = ["date_start", "entered_at", "id"]
        indexes = [models.Index(fields=["site", "date_start"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(site__isnull=False) | Q(record__isnull=False),
                name="damage_event_has_a_subject",
            ),
            models.CheckConstraint(
                condition=Q(date_end__isnull=True)
                | (Q(date_start__isnull=False) & Q(date_end__gte=models.F("date_start"))),
                name="damage_event_range_in_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.kind} ({self.standing})"

    @property
    def verified(self) -> bool:
        return vocabulary.is_verified(self.standing)

    @property
    def retracted(self) -> bool:
        return self.retracted_at is not None
