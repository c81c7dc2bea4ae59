"""A worker process: django-tasks-db's worker plus a heartbeat and the reaper.

Every worker also reaps, so no separate scheduler is needed in either
profile; the reaper's update is idempotent when several run at once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import datetime

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker

from spadok.jobs import reaper, schedule
from spadok.jobs.models import WorkerHeartbeat

log = logging.getLogger(__name__)


def new_worker_id() -> str:
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _beat(worker_id: str, started: datetime) -> None:
    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id,
        defaults={
            "host": socket.gethostname()[:255],
            "pid": os.getpid(),
            "started_at": started,
            "last_seen": timezone.now(),
        },
    )


def _heartbeat_loop(worker_id: str, stop: threading.Event) -> None:
    started = timezone.now()
    while not stop.is_set():
        try:
            _beat(worker_id, started)
            reaper.requeue_stale(timeout_s=settings.SPADOK.job_timeout_s)
            schedule.queue_due()
        except Exception:
            log.warning("heartbeat failed", exc_info=True)
        finally:
            close_old_connections()
        stop.wait(reaper.HEARTBEAT_S)


def run_worker(
    *, queues: list[str] | None = None, interval: float = 0.5, batch: bool = False
) -> None:
    """Run jobs until stopped (SIGTERM/SIGINT finish the current job first)."""
    worker_id = new_worker_id()
    _beat(worker_id, timezone.now())
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat_loop, args=(worker_id, stop), daemon=True)
    beat.start()
    worker = Worker(
        queue_names=queues or ["*"],
        interval=interval,
        batch=batch,
        backend_name="default",
        startup_delay=not batch,
        max_tasks=None,
        worker_id=worker_id,
        excluded_queue_names=[],
    )
    worker.configure_signals()
    try:
        worker.run()
    finally:
        stop.set()
        WorkerHeartbeat.objects.filter(worker_id=worker_id).delete()
