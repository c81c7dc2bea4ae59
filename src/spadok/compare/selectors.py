"""Reads of comparisons, with the access check every view relies on.

A comparison shows both of its captures, so a user sees it only when they may
see the records of both (:func:`spadok.catalogue.selectors.access_record`, the
one place that decides): the public only when both are public; a sealed
capture's named readers, and an opening is written to the custody log like
any other. Anything else is a 404.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.db.models.functions import Coalesce
from django.http import Http404

from spadok.catalogue import selectors as catalogue
from spadok.catalogue.models import Capture, CaptureState, Record
from spadok.compare.models import Comparison
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


def record_comparisons(record: Record) -> list[Comparison]:
    """Comparisons between captures of a record the caller may already see, newest first."""
    return list(
        Comparison.objects.filter(Q(before__record=record) & Q(after__record=record))
        .select_related("before", "after")
        .order_by("-created_at")[:50]
    )
