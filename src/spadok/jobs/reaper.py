"""Re-queue jobs whose worker died.

django-tasks-db leaves a job RUNNING forever when its worker is killed.
Each worker beats every few seconds; a RUNNING job whose last worker has
not beaten for ``dead_after_s`` (or that ran past the job time-out) goes
back to READY and another worker redoes it. Jobs are idempotent, so a job
that was in fact still alive and finishes twice does no harm.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from spadok.jobs.models import WorkerHeartbeat

log = logging.getLogger(__name__)

HEARTBEAT_S = 5.0
DEAD_AFTER_S = 30.0
MAX_CLAIMS = 5  # a job that lost this many workers is failed, not re-queued again


class JobAbandoned(Exception):
    """Recorded on a job whose workers kept dying (or that kept running past its time-out)."""


def requeue_stale(
    *, dead_after_s: float = DEAD_AFTER_S, timeout_s: float = 3600, max_claims: int = MAX_CLAIMS
) -> list[str]:
    """Put the jobs of dead workers (and runaway jobs) back in the queue.

    Returns the ids of the re-queued jobs. A job already claimed ``max_claims``
    times is marked failed instead, so a job that kills every worker that
    takes it (a model that exhausts memory) cannot loop forever.
    """
    now = timezone.now()
    alive = set(
        WorkerHeartbeat.objects.filter(
            last_seen__gte=now - timedelta(seconds=dead_after_s)
        ).values_list("worker_id", flat=True)
    )
    requeued: list[str] = []
    with transaction.atomic():
        for job in DBTaskResult.objects.select_for_update().filter(status=TaskResultStatus.RUNNING):
            worker = job.worker_ids[-1] if job.worker_ids else None
            started = job.started_at or now
            runaway = (now - started).total_seconds() > timeout_s
            dead = worker not in alive and (now - started).total_seconds() > dead_after_s
            if (dead or runaway) and len(job.worker_ids) >= max_claims:
                reason = "ran past its time-out" if runaway else "lost its worker"
                job.set_failed(
                    JobAbandoned(f"gave up: the job {reason} in {len(job.worker_ids)} attempts")
                )
                log.error("abandoned job %s (%s): %s", job.id, job.task_path, reason)
            elif dead or runaway:
                job.status = TaskResultStatus.READY
                job.started_at = None
                job.save(update_fields=["status", "started_at"])
                requeued.append(str(job.id))
                log.warning(
                    "re-queued job %s (%s) of %s worker %s",
                    job.id,
                    job.task_path,
                    "runaway" if runaway else "dead",
                    worker,
                )
    WorkerHeartbeat.objects.filter(last_seen__lt=now - timedelta(days=1)).delete()
    return requeued
