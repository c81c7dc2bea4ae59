"""Reads of the catalogue, with the access checks views rely on."""

from __future__ import annotations

from django.db.models import Count, Prefetch, QuerySet
from django.http import Http404

from spadok.catalogue.models import Capture, CaptureState, Derivative, Record, Visibility


def record_list_public() -> QuerySet[Record]:
    """Public records, newest first, with their ready captures and derivatives."""
    ready = Capture.objects.filter(state=CaptureState.READY).prefetch_related(
        Prefetch("derivatives", queryset=Derivative.objects.order_by("role"))
    )
    return (
        Record.objects.filter(visibility=Visibility.PUBLIC)
        .annotate(n_captures=Count("captures"))
        .prefetch_related(Prefetch("captures", queryset=ready))
        .order_by("-created_at")
    )


def access_record(user, record_id: str) -> Record:  # type: ignore[no-untyped-def]
    """The record if this user may see it; otherwise 404 (never say it exists).

    Everyone sees public records; a contributor also sees a draft that holds a
    capture of theirs (an upload waiting for review).
    """
    try:
        return record_list_public().get(id=record_id)
    except Record.DoesNotExist:
        pass
    if user is not None and user.is_authenticated:
        own = Record.objects.filter(
            id=record_id, visibility=Visibility.DRAFT, captures__contributor_id=user.pk
        ).annotate(n_captures=Count("captures", distinct=True))
        ready = Capture.objects.filter(state=CaptureState.READY).prefetch_related(
            Prefetch("derivatives", queryset=Derivative.objects.order_by("role"))
        )
        record = own.prefetch_related(Prefetch("captures", queryset=ready)).first()
        if record is not None:
            return record
    raise Http404("no such record")


def access_capture(user, record: Record, capture_id: str) -> Capture:  # type: ignore[no-untyped-def]
    for capture in record.captures.all():
        if capture.id == capture_id:
            return capture
    raise Http404("no such capture")


def latest_capture(record: Record) -> Capture | None:
    captures = list(record.captures.all())
    return captures[0] if captures else None


def record_captures(record: Record) -> list[Capture]:
    """Every capture of a public record, newest first, whatever its processing state."""
    return list(
        Capture.objects.filter(record=record)
        .prefetch_related("derivatives")
        .order_by("-created_at")
    )


def catalogue_counts() -> dict[str, int]:
    """Public totals for the home page."""
    public = Record.objects.filter(visibility=Visibility.PUBLIC)
    return {
        "records": public.count(),
        "captures": Capture.objects.filter(record__in=public, state=CaptureState.READY).count(),
    }
