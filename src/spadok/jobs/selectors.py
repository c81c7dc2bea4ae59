"""What an operator watches: the queues, the workers alive, the last audit, capture states.

One read used by ``spadok info --json`` and by ``/health`` (staff detail), so that a
monitor (a cron job, Prometheus' blackbox or JSON exporter, an uptime service) and a
person at a terminal see the same figures.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count
from django.utils import timezone

from spadok.jobs.reaper import HEARTBEAT_S

# A worker that has not beaten for this many heartbeats is counted as gone.
ALIVE_BEATS = 6


def operations_status() -> dict[str, Any]:
    """Queue depth by queue and status, live workers, the last audit, captures by state."""
    from django_tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    from spadok.catalogue.models import Capture
    from spadok.jobs.models import WorkerHeartbeat
    from spadok.preservation.models import AuditRun

    now = timezone.now()
    queues: dict[str, dict[str, int]] = {}
    rows = DBTaskResult.objects.values_list("queue_name", "status").annotate(n=Count("id"))
    for queue, status, n in rows.order_by():
        queues.setdefault(queue, {})[str(status).lower()] = n
    day_ago = now - timedelta(days=1)
    failed_recent = DBTaskResult.objects.filter(
        status=TaskResultStatus.FAILED, finished_at__gte=day_ago
    ).count()
    oldest_ready = (
        DBTaskResult.objects.filter(status=TaskResultStatus.READY).order_by("enqueued_at").first()
    )
    alive = WorkerHeartbeat.objects.filter(
        last_seen__gte=now - timedelta(seconds=HEARTBEAT_S * ALIVE_BEATS)
    ).count()
    audit = AuditRun.objects.exclude(finished_at=None).first()
    states = dict(Capture.objects.values_list("state").annotate(n=Count("id")).order_by())
    return {
        "queues": queues,
        "jobs_failed_last_24h": failed_recent,
        "oldest_waiting_job_s": round((now - oldest_ready.enqueued_at).total_seconds())
        if oldest_ready is not None
        else 0,
        "workers_alive": alive,
        "last_audit": {
            "finished_at": audit.finished_at.isoformat(),
            "age_hours": round((now - audit.finished_at).total_seconds() / 3600, 1),
            "ok": audit.ok,
            "files": audit.files,
            "issues": audit.issues,
            "repaired": audit.repaired,
        }
        if audit is not None and audit.finished_at is not None
        else None,
        "captures_by_state": states,
    }


def health() -> tuple[bool, dict[str, Any]]:
    """Whether this web process can serve: the database answers a query."""
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # any database failure means "not serving", never a traceback
        return False, {"status": "unavailable", "database": False}
    return True, {"status": "ok", "database": True}
