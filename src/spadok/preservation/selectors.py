"""Reads of the preservation records for staff pages; nothing here is public."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count

from spadok.preservation.models import AuditRun, PreservationEvent

FIXITY_SCHEDULE = "fixity-audit"
AUDIT_TASK = "spadok.preservation.tasks.run_audit"
ISSUES_SHOWN = 200
PREVIOUS_AUDITS = 10


@dataclass
class RootView:
    role: str  # "primary" or "replica"
    scheme: str
    location: str  # bucket/prefix or a path: never a host, credentials or query


@dataclass
class IssueView:
    root: str
    object_id: str
    path: str
    kind: str
    repaired: bool


@dataclass
class AuditView:
    run: AuditRun
    duration: str  # "H:MM:SS", or "" while it runs (or if it died)
    objects: int | None
    throughput_mb_s: float | None
    issues: list[IssueView]
    issues_hidden: int
    roots: list[str]


def plain_location(url: str) -> tuple[str, str]:
    """(scheme, bucket/path) of a storage URL, without credentials, endpoint or query."""
    parts = urllib.parse.urlsplit(url)
    bucket = parts.netloc.rsplit("@", 1)[-1]  # drop any user:password@
    if parts.scheme == "file":
        return parts.scheme, urllib.parse.unquote(parts.path)
    return parts.scheme, f"{bucket}{parts.path}".rstrip("/") or bucket


def _plain(url: str) -> str:
    scheme, location = plain_location(str(url))
    return f"{scheme}://{location}" if scheme else location


def storage_roots() -> list[RootView]:
    out = []
    for n, url in enumerate(settings.SPADOK.storage_urls):
        scheme, location = plain_location(url)
        out.append(
            RootView(role="primary" if n == 0 else "replica", scheme=scheme, location=location)
        )
    return out


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _clock(delta: timedelta) -> str:
    seconds = max(0, round(delta.total_seconds()))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def audit_view(run: AuditRun) -> AuditView:
    report = run.report if isinstance(run.report, dict) else {}
    raw = [i for i in report.get("issues", []) if isinstance(i, dict)]
    issues = [
        IssueView(
            root=_plain(i.get("root", "")),
            object_id=str(i.get("object_id", "")),
            path=str(i.get("path", "")),
            kind=str(i.get("kind", "")),
            repaired=bool(i.get("repaired")),
        )
        for i in raw[:ISSUES_SHOWN]
    ]
    return AuditView(
        run=run,
        duration=_clock(run.finished_at - run.started_at) if run.finished_at else "",
        objects=_int(report.get("objects_checked")),
        throughput_mb_s=_float(report.get("throughput_mb_s")),
        issues=issues,
        issues_hidden=max(0, len(raw) - ISSUES_SHOWN),
        roots=[_plain(r) for r in report.get("roots", [])],
    )


def audits() -> tuple[AuditView | None, list[AuditView]]:
    """The last audit in full and the ones before it."""
    runs = list(AuditRun.objects.order_by("-started_at", "-id")[: PREVIOUS_AUDITS + 1])
    if not runs:
        return None, []
    return audit_view(runs[0]), [audit_view(r) for r in runs[1:]]


def archive_counts() -> dict[str, Any]:
    from spadok.catalogue.models import Capture, CaptureState, Derivative, Record, Visibility

    by_state = dict(
        Capture.objects.order_by().values("state").annotate(n=Count("id")).values_list("state", "n")
    )
    return {
        "records": Record.objects.count(),
        "records_public": Record.objects.filter(visibility=Visibility.PUBLIC).count(),
        "captures": sum(by_state.values()),
        "derivatives": Derivative.objects.count(),
        "by_state": [(state.value, by_state.get(state.value, 0)) for state in CaptureState],
    }


def next_audit_at() -> datetime | None:
    from spadok.jobs.models import Schedule

    row = Schedule.objects.filter(name=FIXITY_SCHEDULE).first()
    return row.next_run_at if row else None


def pending_audit() -> Any:
    """The audit task waiting or running now, if any (a DBTaskResult)."""
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    return (
        DBTaskResult.objects.filter(
            task_path=AUDIT_TASK,
            status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING],
        )
        .order_by("enqueued_at")
        .first()
    )


def events_by_object(object_ids: Iterable[str]) -> dict[str, list[PreservationEvent]]:
    """Each object's preservation events, oldest first."""
    out: dict[str, list[PreservationEvent]] = {}
    ids = list(object_ids)
    if not ids:
        return out
    for event in PreservationEvent.objects.filter(object_id__in=ids).order_by("occurred_at", "id"):
        out.setdefault(event.object_id, []).append(event)
    return out
