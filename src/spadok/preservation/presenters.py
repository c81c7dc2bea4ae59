"""Preservation events shaped for the staff views of the record page."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext_lazy as _

from spadok.preservation.models import EventType, Outcome, PreservationEvent

EVENT_LABELS = {
    EventType.INGESTION: _("Ingestion"),
    EventType.MESSAGE_DIGEST: _("Checksum calculation"),
    EventType.VALIDATION: _("Validation"),
    EventType.CREATION: _("Creation"),
    EventType.REPLICATION: _("Replication"),
    EventType.FIXITY_CHECK: _("Fixity check"),
    EventType.REPAIR: _("Repair"),
    EventType.MIGRATION: _("Migration"),
    EventType.METADATA: _("Metadata change"),
    EventType.DELETION: _("Deletion"),
}
# A word and a symbol as well as a colour, so the outcome never rests on colour alone.
OUTCOME_LABELS = {
    Outcome.SUCCESS: ("✓", _("Success")),
    Outcome.WARNING: ("!", _("Warning")),
    Outcome.FAILURE: ("✗", _("Failure")),
}


@dataclass
class EventView:
    occurred_at: datetime
    event_type: str
    type_label: str
    outcome: str
    outcome_symbol: str
    outcome_label: str
    detail: str
    agent: str


def event_view(event: PreservationEvent) -> EventView:
    symbol, label = OUTCOME_LABELS.get(event.outcome, ("?", event.outcome))  # type: ignore[call-overload]
    return EventView(
        occurred_at=event.occurred_at,
        event_type=event.event_type,
        type_label=str(EVENT_LABELS.get(event.event_type, event.event_type)),  # type: ignore[call-overload]
        outcome=event.outcome,
        outcome_symbol=symbol,
        outcome_label=str(label),
        detail=event.detail,
        agent=event.agent,
    )


def event_views(events: Iterable[PreservationEvent]) -> list[EventView]:
    return [event_view(e) for e in events]
