"""Reads of comparisons, with the access check every view relies on.

A comparison shows both of its captures, so a user sees it only when they may
see the records of both (:func:`spadok.catalogue.selectors.access_record`, the
one place that decides): the public only when both are public; a sealed
capture's named readers, and an opening is written to the custody log like
any other. Anything else is a 404.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.http import Http404

from spadok.catalogue import selectors as catalogue
from spadok.catalogue.models import Capture, CaptureState, Record
from spadok.compare.models import Comparison, ComparisonState
from spadok.compare.services import COMPARABLE_KINDS


def access_comparison(user: Any, comparison_id: str, *, action: str | None = "view") -> Comparison:
    """The comparison if this user may see both of its captures; otherwise 404."""
    comparison = (
        Comparison.objects.select_related("before__record", "after__record")
        .filter(id=comparison_id)
        .first()
    )
    if comparison is None:
        raise Http404("no such comparison")
    seen: set[str] = set()
    for capture in (comparison.before, comparison.after):
        if capture.record_id in seen:
            continue
        seen.add(capture.record_id)
        record = catalogue.access_record(user, capture.record_id, action=None)
        if action is not None:
            catalogue.log_sealed_access(user, record, capture, f"comparison:{action}")
    return comparison


def is_public(comparison: Comparison) -> bool:
    """Whether anyone may see it: both captures' records are open to the public."""
    ids = {comparison.before.record_id, comparison.after.record_id}
    return catalogue.visible_records(None).filter(pk__in=ids).count() == len(ids)


def comparable_captures(record: Record) -> list[Capture]:
    """The record's processed models a comparison can read, oldest first (before, then after)."""
    return list(
        Capture.objects.filter(record=record, state=CaptureState.READY, kind__in=COMPARABLE_KINDS)
        .order_by(Coalesce("captured_at", "created_at"), "created_at")
        .prefetch_related("derivatives")
    )


def record_offer(record: Record, *, limit: int = 5) -> tuple[bool, list[Comparison]]:
    """Whether a record has two captures to compare, and its newest finished comparisons.

    Shown on every record page: one plain SQL query (compiling the ORM's joins cost
    more than the page's whole render), and the comparisons read only when there are any.
    """
    cap = Capture._meta.db_table
    cmp = Comparison._meta.db_table
    kinds = sorted(COMPARABLE_KINDS)
    marks = ", ".join(["%s"] * len(kinds))
    sql = (
        f"SELECT 'c', x.id FROM (SELECT id FROM {cap} WHERE record_id = %s AND state = %s"
        f" AND kind IN ({marks}) LIMIT 2) AS x"
        " UNION ALL "
        f"SELECT 'm', y.id FROM (SELECT m.id FROM {cmp} m"
        f" JOIN {cap} b ON b.id = m.before_id JOIN {cap} a ON a.id = m.after_id"
        " WHERE b.record_id = %s AND a.record_id = %s AND m.state = %s"
        " ORDER BY m.created_at DESC LIMIT %s) AS y"
    )
    params: list[str | int] = [record.pk, CaptureState.READY, *kinds, record.pk, record.pk]
    params += [ComparisonState.READY, limit]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    enough = sum(1 for kind, _ in rows if kind == "c") >= 2
    ids = [pk for kind, pk in rows if kind == "m"]
    if not ids:
        return enough, []
    found = Comparison.objects.filter(pk__in=ids).select_related("before", "after")
    return enough, sorted(found, key=lambda c: c.created_at, reverse=True)


def record_offer_stamp(record: Record) -> str:
    """Every column of every comparison between the record's captures, as text: the
    offer (:func:`record_offer`) changes only when this or the captures do (the public's
    copy of a record page is kept under both). One plain query, on every public request."""
    q = connection.ops.quote_name
    cap, cmp = q(Capture._meta.db_table), q(Comparison._meta.db_table)
    cols = ", ".join(f"m.{q(str(f.column))}" for f in Comparison._meta.concrete_fields)
    sql = (
        f"SELECT {cols} FROM {cmp} m JOIN {cap} b ON b.id = m.before_id"
        f" JOIN {cap} a ON a.id = m.after_id"
        " WHERE b.record_id = %s AND a.record_id = %s ORDER BY m.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [record.pk, record.pk])
        return repr(cursor.fetchall())


def record_comparisons(record: Record) -> list[Comparison]:
    """Comparisons between captures of a record the caller may already see, newest first."""
    return list(
        Comparison.objects.filter(Q(before__record=record) & Q(after__record=record))
        .select_related("before", "after")
        .order_by("-created_at")[:50]
    )
