"""Preservation events (PREMIS) and fixity audit runs.

Events are kept in the database for the site and written into each OCFL
object (``metadata/events.jsonl``), so the history survives the database.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from spadok.catalogue.ids import new_id


def _event_id() -> str:
    return new_id("e")


class EventType(models.TextChoices):
    # Terms of the PREMIS event type vocabulary (id.loc.gov/vocabulary/preservation/eventType),
    # plus "repair" for a copy restored from a good replica.
    INGESTION = "ingestion", "ingestion"
    MESSAGE_DIGEST = "message digest calculation", "message digest calculation"
    VALIDATION = "validation", "validation"
    CREATION = "creation", "creation"
    REPLICATION = "replication", "replication"
    FIXITY_CHECK = "fixity check", "fixity check"
    REPAIR = "repair", "repair"
    MIGRATION = "migration", "migration"
    METADATA = "metadata modification", "metadata modification"
    DELETION = "deletion", "deletion"


class Outcome(models.TextChoices):
    SUCCESS = "success", "success"
    WARNING = "warning", "warning"
    FAILURE = "failure", "failure"


class PreservationEvent(models.Model):
    id = models.CharField(primary_key=True, max_length=32, default=_event_id, editable=False)
    object_id = models.CharField(max_length=64, db_index=True)  # the capture's OCFL object
    event_type = models.CharField(max_length=40, choices=EventType.choices)
    occurred_at = models.DateTimeField(db_index=True)
    agent = models.CharField(max_length=200)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    detail = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    in_object = models.BooleanField(default=False)  # written into the OCFL object yet

    class Meta:
        ordering = ["occurred_at", "id"]

    def __str__(self) -> str:
        return (
            f"{self.occurred_at:%Y-%m-%d %H:%M} {self.event_type} {self.outcome} {self.object_id}"
        )

    def as_premis(self) -> dict[str, Any]:
        """The event as stored in the object: PREMIS semantic units, plain JSON."""
        return {
            "eventIdentifier": self.id,
            "eventType": self.event_type,
            "eventDateTime": self.occurred_at.isoformat(),
            "eventDetail": self.detail,
            "eventOutcome": self.outcome,
            "eventOutcomeDetail": self.data,
            "linkingAgent": self.agent,
            "linkingObject": self.object_id,
        }


class AuditRun(models.Model):
    """One fixity audit of every storage root, and what it found."""

    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    trigger = models.CharField(max_length=16)  # "command", "schedule"
    repair = models.BooleanField(default=False)
    ok = models.BooleanField(null=True)
    files = models.BigIntegerField(default=0)
    bytes = models.BigIntegerField(default=0)
    issues = models.IntegerField(default=0)
    repaired = models.IntegerField(default=0)
    report = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"audit {self.started_at:%Y-%m-%d %H:%M} ok={self.ok}"
