"""What pages, the API and dossiers show of a damage event.

The public sees an event's account: its kind, severity, date as precise as
published, its source and standing, the link or document, the description,
and the record it is about while that record is public. Never who entered it:
the account is the source, not the person (:func:`event_public` is what every
public surface uses). Dossiers get everything (:func:`event_dossier`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse
from django.utils import formats
from django.utils.translation import gettext_lazy as _

from spadok.damage.models import DamageEvent

KIND_LABELS = {
    "damaged": _("Damaged"),
    "destroyed": _("Destroyed"),
    "looted": _("Looted"),
    "threatened": _("Threatened"),
}
SEVERITY_LABELS = {
    "unknown": _("severity not known"),
    "minor": _("minor"),
    "moderate": _("moderate"),
    "severe": _("severe"),
    "total": _("total"),
}
STANDING_LABELS = {
    "unesco": _("Verified by UNESCO"),
    "ministry": _("Ministry of Culture"),
    "field": _("Field report"),
    "capture": _("A capture in this archive"),
    "news": _("News report"),
    "volunteer": _("Volunteer research from open sources"),
    "other": _("Other source"),
}
PRECISION_LABELS = {"day": _("day"), "month": _("month"), "year": _("year")}


def kind_label(value: str) -> str:
    return str(KIND_LABELS.get(value, value))


def severity_label(value: str) -> str:
    return str(SEVERITY_LABELS.get(value, value))


def standing_label(value: str) -> str:
    return str(STANDING_LABELS.get(value, value))


def _one(day: dt.date, precision: str) -> str:
    if precision == "year":
        return str(day.year)
    if precision == "month":
        return formats.date_format(day, "F Y")  # "березень 2022" / "March 2022"
    return formats.date_format(day, "j E Y")


def date_label(start: dt.date | None, end: dt.date | None, precision: str) -> str:
    """The date as precise as it was published: "2022", "March 2022", "12 March 2022",
    or a range of two such dates; "" when none is known."""
    if start is None:
        return ""
    if end is None:
        return _one(start, precision)
    return f"{_one(start, precision)} – {_one(end, precision)}"


def iso_date(day: dt.date | None, precision: str) -> str:
    """ISO 8601 at the published precision ("2022", "2022-03", "2022-03-12")."""
    if day is None:
        return ""
    if precision == "year":
        return f"{day.year:04d}"
    if precision == "month":
        return f"{day.year:04d}-{day.month:02d}"
    return day.isoformat()


@dataclass
class EventView:
    """One event as a page lays it out."""

    event: DamageEvent
    kind_label: str
    severity_label: str
    date_label: str
    standing_label: str
    verified: bool
    source_name: str
    source_url: str
    source_document: str
    references: list[str]
    description: str
    record_title: str = ""
    record_url: str = ""
    capture_url: str = ""
    # For those who may correct it: the edit page; and its internal states.
    edit_url: str = ""
    internal: bool = False
    retracted: bool = False
    retraction_reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def day(self) -> dt.date | None:
        return self.event.date_start

    @property
    def datetime_attr(self) -> str:
        return iso_date(self.event.date_start, self.event.date_precision)


def event_view(event: DamageEvent, *, editor: bool = False) -> EventView:
    """The page's view of an event (the caller has checked the user may see it)."""
    record_title = record_url = capture_url = ""
    if event.record_id is not None and event.record is not None:
        record_title = event.record.title
        record_url = event.record.get_absolute_url()
        if event.capture_id is not None:
            capture_url = f"{record_url}#capture-{event.capture_id}"
    return EventView(
        event=event,
        kind_label=kind_label(event.kind),
        severity_label=severity_label(event.severity) if event.severity != "unknown" else "",
        date_label=date_label(event.date_start, event.date_end, event.date_precision),
        standing_label=standing_label(event.standing),
        verified=event.verified,
        source_name=event.source_name,
        source_url=event.source_url,
        source_document=event.source_document,
        references=list(event.references or []),
        description=event.description,
        record_title=record_title,
        record_url=record_url,
        capture_url=capture_url,
        edit_url=reverse("damage:edit", args=[event.id]) if editor and not event.retracted else "",
        internal=not event.public,
        retracted=event.retracted,
        retraction_reason=event.retraction_reason,
    )


def event_public(event: DamageEvent, *, base_url: str = "") -> dict[str, Any]:
    """An event as the open API and exports give it: the account, never the person."""
    record = None
    if event.record_id is not None and event.record is not None:
        record = {
            "id": event.record_id,
            "title": event.record.title,
            "url": base_url + event.record.get_absolute_url(),
        }
    return {
        "id": event.id,
        "kind": event.kind,
        "severity": event.severity,
        "date_start": event.date_start,
        "date_end": event.date_end,
        "date_precision": event.date_precision or None,
        "date_as_published": event.date_as_published,
        "standing": event.standing,
        "verified": event.verified,
        "source_name": event.source_name,
        "source_url": event.source_url or None,
        "source_document": event.source_document,
        "references": list(event.references or []),
        "description": event.description,
        "record": record,
        "capture_id": event.capture_id if record else None,
        "recorded_at": event.entered_at,
    }


def _person(user: Any) -> dict[str, Any] | None:
    if user is None:
        return None
    from spadok.accounts.selectors import user_display

    return {"id": user.pk, "name": user_display(user)}


def event_dossier(event: DamageEvent) -> dict[str, Any]:
    """Everything about an event, for an evidence dossier (investigators see who entered it)."""
    data = event_public(event)
    data.update(
        site=event.site_id,
        record=event.record_id,
        capture_id=event.capture_id,
        public=event.public,
        entered_by=_person(event.entered_by),
        entered_at=event.entered_at,
        updated_by=_person(event.updated_by),
        updated_at=event.updated_at,
        retracted_at=event.retracted_at,
        retracted_by=_person(event.retracted_by),
        retraction_reason=event.retraction_reason,
        imported_from=event.import_refs,
    )
    if event.entered_by is None and event.import_refs:
        data["entered_by"] = {"import": event.import_refs[0].get("source")}
    return data


def event_jsonld(event: DamageEvent) -> dict[str, Any]:
    """An event as a schema.org ``Event`` of its ``Place`` (the account, with its source)."""
    data: dict[str, Any] = {
        "@type": "Event",
        "identifier": event.id,
        "name": f"{kind_label(event.kind)} ({standing_label(event.standing)})",
        "additionalType": f"damage:{event.kind}",
    }
    if event.date_start:
        data["startDate"] = iso_date(event.date_start, event.date_precision)
    if event.date_end:
        data["endDate"] = iso_date(event.date_end, event.date_precision)
    if event.description:
        data["description"] = event.description
    if event.source_url or event.source_name:
        source: dict[str, Any] = {"@type": "CreativeWork"}
        if event.source_name:
            source["publisher"] = {"@type": "Organization", "name": event.source_name}
        if event.source_url:
            source["url"] = event.source_url
        data["subjectOf"] = source
    return data
