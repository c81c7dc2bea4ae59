"""Reads of damage events, with the rules of who may see and who may write them.

What the public sees (:func:`public_events` is the only place that decides it):
events marked public, not retracted, and, when an event is about a record,
only while the public may see that record (the catalogue's own visibility rule,
:func:`spadok.catalogue.selectors.visible_q`). Statistics, the REST API, the
site's JSON-LD and the public pages all read through it.

Who may write: reviewers, curators and administrators record damage (they check
the captures that often show it); curators and administrators also correct and
retract events. Anyone else gets a 404, never a 403.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from spadok.catalogue.models import Record
from spadok.catalogue.selectors import may_review, may_seal, visible_q
from spadok.damage.models import DamageEvent
from spadok.sites.models import Site


def may_record_damage(user: Any) -> bool:
    """Reviewers, curators and administrators add damage events."""
    return may_review(user)


def may_edit_damage(user: Any) -> bool:
    """Curators and administrators correct and retract them."""
    return may_seal(user)


def _record_visible_to(user: Any) -> Any:
    return Exists(Record.objects.filter(visible_q(user), pk=OuterRef("record_id")))


def public_events() -> QuerySet[DamageEvent]:
    """Every event the public may see and count."""
    return DamageEvent.objects.filter(public=True, retracted_at__isnull=True).filter(
        Q(record__isnull=True) | _record_visible_to(None)
    )


def visible_events(user: Any) -> QuerySet[DamageEvent]:
    """The events ``user`` may see: the public ones, or for those who record damage
    every event (internal and retracted ones too) except on records hidden from them."""
    if not may_record_damage(user):
        return public_events()
    return DamageEvent.objects.filter(Q(record__isnull=True) | _record_visible_to(user))


def public_of(events: list[DamageEvent]) -> list[DamageEvent]:
    """Those of ``events`` the public may see (for what every reader gets, e.g. JSON-LD)."""
    if not events:
        return []
    shown = set(public_events().filter(pk__in=[e.pk for e in events]).values_list("pk", flat=True))
    return [e for e in events if e.pk in shown]


def site_events(site: Site, user: Any = None) -> list[DamageEvent]:
    """The events of a site this user may see, oldest first, with their records."""
    return list(
        visible_events(user)
        .filter(site=site)
        .select_related("record", "capture")
        .order_by("date_start", "entered_at", "id")
    )


def record_events(record: Record, user: Any = None) -> list[DamageEvent]:
    """The events about one record this user may see (its page already checked the record)."""
    if not DamageEvent.objects.filter(record_id=record.pk).exists():
        return []  # most records have none: skip the visibility rule's join
    return list(
        visible_events(user)
        .filter(record=record)
        .select_related("record", "capture")
        .order_by("date_start", "entered_at", "id")
    )


def record_events_stamp(record: Record) -> str:
    """Every column of every event about ``record``, as text: what :func:`record_events`
    shows changes only when this does (the public's copy of a record page is kept under
    it). One plain query: it runs on every public request."""
    q = connection.ops.quote_name
    fields = DamageEvent._meta.concrete_fields
    sql = (
        f"SELECT {', '.join(q(str(f.column)) for f in fields)} FROM {q(DamageEvent._meta.db_table)}"
        f" WHERE {q(DamageEvent._meta.get_field('record').column)} = %s ORDER BY {q('id')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [record.pk])
        return repr(cursor.fetchall())


def events_for_dossier(site: Site | None, records: list[Record]) -> QuerySet[DamageEvent]:
    """Every event of the site and of the records, internal and retracted ones included."""
    q = Q(record__in=records)
    if site is not None:
        q |= Q(site=site)
    return (
        DamageEvent.objects.filter(q)
        .select_related("entered_by", "updated_by", "retracted_by", "record", "capture")
        .order_by("date_start", "entered_at", "id")
    )


def access_site_for_damage(user: Any, site_id: str) -> Site:
    """The site, for someone who may record damage on it; otherwise 404."""
    site = Site.objects.filter(pk=site_id).first() if may_record_damage(user) else None
    if site is None:
        raise Http404("no such site")
    return site


def access_event(user: Any, event_id: str) -> DamageEvent:
    """An event a curator or administrator may correct or retract; otherwise 404."""
    event = None
    if may_edit_damage(user):
        event = (
            visible_events(user)
            .select_related("site", "record", "capture")
            .filter(pk=event_id)
            .first()
        )
    if event is None:
        raise Http404("no such damage event")
    return event
