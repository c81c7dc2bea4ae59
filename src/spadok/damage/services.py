"""The write path for damage events: record, correct, retract; and the site's derived state.

Each write, in one transaction: the event, an entry in the custody log (the
record's chain for an event about a record, else the site's, so that evidence
dossiers carry it), and the site's ``damage_status``/``damage_date`` derived
again from its public events (:func:`site_damage_derive`). The search index
hears of a changed site after the commit. Imports go through
:mod:`spadok.damage.importing`, which uses the same pieces in bulk.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone

from spadok.catalogue.models import Capture, Record
from spadok.core.errors import SpadokError
from spadok.core.registry import damage as vocabulary
from spadok.damage.models import DamageEvent
from spadok.evidence.services import custody_append
from spadok.sites.models import Site

MAX_NAME_CHARS = 200
MAX_DOCUMENT_CHARS = 300
MAX_PUBLISHED_DATE_CHARS = 100
MAX_REASON_CHARS = 500
# Damage in the future cannot be reported; a day's slack covers time zones.
FUTURE_SLACK = dt.timedelta(days=1)
CONTENT_FIELDS = (
    "kind", "severity", "date_start", "date_end", "date_precision", "date_as_published",
    "standing", "source_name", "source_url", "source_document", "references", "description",
    "public", "capture_id",
)  # fmt: skip


def _invalid(message: str) -> SpadokError:
    return SpadokError("damage.invalid_event", message)


def _text(value: Any, name: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _invalid(f"the {name} must be text")
    text = value.strip()
    if len(text) > limit:
        raise _invalid(f"the {name} is longer than {limit} characters")
    return text


def _url(value: Any, name: str = "source link") -> str:
    url = _text(value, name, vocabulary.MAX_URL_CHARS)
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        raise _invalid(f"the {name} {url!r} is not an http(s) address")
    return url


def _date(value: Any, name: str) -> tuple[dt.date | None, str]:
    """(the date, the precision its form implies: "2022" a year, "2022-03" a month)."""
    if value is None or value == "":
        return None, ""
    if isinstance(value, dt.datetime):
        return value.date(), ""
    if isinstance(value, dt.date):
        return value, ""
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 4 and text.isdigit():
                return dt.date(int(text), 1, 1), "year"
            if len(text) == 7 and text[4] == "-":
                return dt.date(int(text[:4]), int(text[5:]), 1), "month"
            return dt.date.fromisoformat(text), ""
        except ValueError as exc:
            raise _invalid(
                f"the {name} {value!r} is not a date (YYYY-MM-DD, YYYY-MM or YYYY)"
            ) from exc
    raise _invalid(f"the {name} must be a date")


def _first_of(day: dt.date, precision: str) -> dt.date:
    """A month or a year is stored as its first day."""
    if precision == "month":
        return day.replace(day=1)
    if precision == "year":
        return day.replace(month=1, day=1)
    return day


def _clean(
    *,
    kind: Any,
    severity: Any,
    date_start: Any,
    date_end: Any,
    date_precision: Any,
    date_as_published: Any,
    standing: Any,
    source_name: Any,
    source_url: Any,
    source_document: Any,
    references: Any,
    description: Any,
    public: Any,
) -> dict[str, Any]:
    """Every field checked, with a message that says what to change."""
    if kind not in vocabulary.KINDS:
        raise _invalid(f"unknown kind {kind!r} (one of {', '.join(vocabulary.KINDS)})")
    severity = severity or "unknown"
    if severity not in vocabulary.SEVERITIES:
        raise _invalid(f"unknown severity {severity!r} (one of {', '.join(vocabulary.SEVERITIES)})")
    if standing not in vocabulary.STANDINGS:
        raise _invalid(f"unknown standing {standing!r} (one of {', '.join(vocabulary.STANDINGS)})")
    precision = date_precision or ""
    if precision and precision not in vocabulary.PRECISIONS:
        raise _invalid(
            f"unknown date precision {precision!r} (one of {', '.join(vocabulary.PRECISIONS)})"
        )
    start, implied = _date(date_start, "date")
    end, implied_end = _date(date_end, "end date")
    if start is None and end is not None:
        raise _invalid("an end date needs a start date")
    if start is not None and not precision:
        precision = max(implied or "day", implied_end or "day", key=vocabulary.PRECISIONS.index)
    if start is None:
        precision = ""
    if start is not None:
        start = _first_of(start, precision)
    if end is not None:
        end = _first_of(end, precision)
        if end < start:  # type: ignore[operator]
            raise _invalid("the end date is before the start date")
        if end == start:
            end = None
    latest = timezone.localdate() + FUTURE_SLACK
    for day in (start, end):
        if day is not None and day > latest:
            raise _invalid(f"{day.isoformat()} is in the future")
        if day is not None and day.year < 1000:
            raise _invalid(f"{day.isoformat()} is not a plausible date")
    if references is None:
        references = []
    if isinstance(references, str):
        references = references.split()
    if not isinstance(references, list | tuple):
        raise _invalid("the further links must be a list of addresses")
    links: list[str] = []
    for ref in references:
        url = _url(ref, "further link")
        if url and url not in links:
            links.append(url)
    if len(links) > vocabulary.MAX_REFERENCES:
        raise _invalid(f"give at most {vocabulary.MAX_REFERENCES} further links")
    return {
        "kind": kind,
        "severity": severity,
        "date_start": start,
        "date_end": end,
        "date_precision": precision,
        "date_as_published": _text(date_as_published, "date as published", 100),
        "standing": standing,
        "source_name": _text(source_name, "source's name", MAX_NAME_CHARS),
        "source_url": _url(source_url),
        "source_document": _text(source_document, "document reference", MAX_DOCUMENT_CHARS),
        "references": links,
        "description": _text(description, "description", vocabulary.MAX_DESCRIPTION_CHARS),
        "public": bool(public),
    }


def _subject(
    site: Site | None, record: Record | None, capture: Capture | None, standing: str
) -> tuple[Site | None, Record | None, Capture | None]:
    """The event's site, record and capture, consistent with one another."""
    if capture is not None:
        if record is None:
            record = capture.record
        elif capture.record_id != record.pk:
            raise _invalid("the capture belongs to another record")
    if record is not None:
        if site is None:
            site = record.site
        elif record.site_id not in (None, site.pk):
            raise _invalid("the record belongs to another site")
    if site is None and record is None:
        raise _invalid("a damage event is about a site or a record")
    if standing == "capture" and capture is None:
        raise _invalid("an event by the account of a capture needs that capture")
    return site, record, capture


def snapshot(event: DamageEvent) -> dict[str, Any]:
    """What the custody log keeps of an event: its content and its subject."""
    data: dict[str, Any] = {"event": event.id, "site": event.site_id, "record": event.record_id}
    for name in CONTENT_FIELDS:
        data[name.removesuffix("_id") if name == "capture_id" else name] = getattr(event, name)
    data["verified"] = event.verified
    if event.import_refs:
        data["imported_from"] = event.import_refs
    return data


def custody_item(event: DamageEvent, action: str, data: dict[str, Any]) -> dict[str, Any]:
    """The event's custody entry: in the record's chain (an event about a record), else
    the site's."""
    if event.record_id is not None:
        return {"action": action, "record": event.record_id, "data": data}
    return {"action": action, "site": event.site_id, "data": data}


def custody_note(*, event: DamageEvent, action: str, actor: Any, data: dict[str, Any]) -> None:
    """Append the event's custody entry (within the caller's transaction)."""
    custody_append(actor=actor, **custody_item(event, action, data))


# --- the site's state, derived from its events -----------------------------------


def derived_state(events: Iterable[tuple[str, dt.date | None]]) -> tuple[str, dt.date | None]:
    """(worst kind, the earliest date of damage of that kind) of (kind, date) pairs.

    Among events of the worst kind, a dated one wins over an undated one; equal
    ranks (damaged, looted) are ordered by the earliest date, then by kind.
    """
    best: tuple[int, bool, dt.date, int] | None = None
    status, when = "", None
    for kind, day in events:
        rank = vocabulary.KIND_RANK.get(kind, 0)
        if not rank:
            continue
        key = (-rank, day is None, day or dt.date.max, _kind_order(kind))
        if best is None or key < best:
            best, status, when = key, kind, day
    return status, when


def _kind_order(kind: str) -> int:
    return vocabulary.KINDS.index(kind) if kind in vocabulary.KINDS else len(vocabulary.KINDS)


def site_damage_derive(site_ids: Sequence[str], *, refresh: bool = True) -> list[str]:
    """Set each site's damage status and date from its public events; the ids that changed.

    The search index hears of the changed sites after the commit (``refresh=False``:
    the caller tells it, with other sites of its own).

    The status is the worst kind among the site's public events (destroyed over
    damaged and looted over threatened), the date the earliest known of that
    kind. A site whose events are all retracted or internal has none.
    """
    from spadok.damage.selectors import public_events

    ids = list(dict.fromkeys(site_ids))
    if not ids:
        return []
    found: dict[str, list[tuple[str, dt.date | None]]] = {sid: [] for sid in ids}
    rows = public_events().filter(site_id__in=ids).values_list("site_id", "kind", "date_start")
    for sid, kind, day in rows:
        found[sid].append((kind, day))
    changed: list[Site] = []
    now = timezone.now()
    for site in Site.objects.filter(pk__in=ids).only("id", "damage_status", "damage_date"):
        status, day = derived_state(found[site.pk])
        if (status, day) != (site.damage_status, site.damage_date):
            site.damage_status, site.damage_date, site.updated_at = status, day, now
            changed.append(site)
    if changed:
        Site.objects.bulk_update(
            changed, ["damage_status", "damage_date", "updated_at"], batch_size=1000
        )
        if refresh:
            _refresh_after_commit([s.pk for s in changed])
    return [s.pk for s in changed]


def _refresh_after_commit(site_ids: list[str]) -> None:
    from spadok.sites.services import _refresh_after_commit as refresh

    refresh(site_ids)


# --- recording, correcting, retracting -------------------------------------------


def damage_event_create(
    *,
    by: Any,
    kind: str,
    standing: str,
    site: Site | None = None,
    record: Record | None = None,
    capture: Capture | None = None,
    severity: str = "unknown",
    date_start: dt.date | str | None = None,
    date_end: dt.date | str | None = None,
    date_precision: str = "",
    date_as_published: str = "",
    source_name: str = "",
    source_url: str = "",
    source_document: str = "",
    references: Sequence[str] | str = (),
    description: str = "",
    public: bool = True,
) -> DamageEvent:
    """Record one account of damage to a site or a record (by a person; imports differ)."""
    fields = _clean(
        kind=kind, severity=severity, date_start=date_start, date_end=date_end,
        date_precision=date_precision, date_as_published=date_as_published, standing=standing,
        source_name=source_name, source_url=source_url, source_document=source_document,
        references=list(references) if not isinstance(references, str) else references,
        description=description, public=public,
    )  # fmt: skip
    site, record, capture = _subject(site, record, capture, standing)
    now = timezone.now()
    with transaction.atomic():
        event = DamageEvent.objects.create(
            site=site,
            record=record,
            capture=capture,
            entered_by=by if getattr(by, "is_authenticated", False) else None,
            entered_at=now,
            updated_at=now,
            **fields,
        )
        custody_note(event=event, action="damage.recorded", actor=by, data=snapshot(event))
        if site is not None:
            site_damage_derive([site.pk])
    return event


def damage_event_update(*, event: DamageEvent, by: Any, **changes: Any) -> DamageEvent:
    """Correct an event; the custody entry keeps what each changed field was and became."""
    unknown = set(changes) - {f.removesuffix("_id") for f in CONTENT_FIELDS}
    if unknown:
        raise _invalid(f"these fields cannot be changed: {', '.join(sorted(unknown))}")
    if event.retracted:
        raise SpadokError("damage.retracted", event.id)
    current = {name: getattr(event, name) for name in CONTENT_FIELDS if name != "capture_id"}
    merged = {**current, **{k: v for k, v in changes.items() if k != "capture"}}
    fields = _clean(**merged)
    capture = changes.get("capture", event.capture)
    _site, _record, capture = _subject(event.site, event.record, capture, fields["standing"])
    with transaction.atomic():
        locked = DamageEvent.objects.select_for_update().get(pk=event.pk)
        if locked.retracted:
            raise SpadokError("damage.retracted", locked.id)
        before = snapshot(locked)
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.capture = capture
        after = snapshot(locked)
        diff = {k: {"from": before[k], "to": after[k]} for k in after if before.get(k) != after[k]}
        if diff:
            locked.updated_by = by if getattr(by, "is_authenticated", False) else None
            locked.updated_at = timezone.now()
            locked.save()
            custody_note(
                event=locked,
                action="damage.corrected",
                actor=by,
                data={"event": locked.id, "changed": diff},
            )
            if locked.site_id is not None:
                site_damage_derive([locked.site_id])
    return locked


def damage_event_retract(*, event: DamageEvent, by: Any, reason: str) -> DamageEvent:
    """Withdraw a mistaken event: kept for the record, no longer shown or counted."""
    reason = _text(reason, "reason", MAX_REASON_CHARS)
    if not reason:
        raise _invalid("say why the event is retracted")
    with transaction.atomic():
        locked = DamageEvent.objects.select_for_update().get(pk=event.pk)
        if locked.retracted:
            raise SpadokError("damage.retracted", locked.id)
        locked.retracted_at = locked.updated_at = timezone.now()
        locked.retracted_by = by if getattr(by, "is_authenticated", False) else None
        locked.retraction_reason = reason
        locked.save(
            update_fields=["retracted_at", "retracted_by", "retraction_reason", "updated_at"]
        )
        custody_note(
            event=locked,
            action="damage.retracted",
            actor=by,
            data={"event": locked.id, "reason": reason},
        )
        if locked.site_id is not None:
            site_damage_derive([locked.site_id])
    return locked
