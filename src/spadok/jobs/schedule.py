"""Periodic jobs without a scheduler process: workers take turns queueing them.

Each worker's heartbeat calls :func:`queue_due`. For each periodic job, one
conditional UPDATE moves its next run forward; only the worker whose update
changed the row queues the job, so it is queued once however many workers run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from spadok.jobs.models import Schedule

log = logging.getLogger(__name__)


def _audit() -> None:
    from spadok.preservation.tasks import run_audit

    run_audit.enqueue(True)


def _expire_uploads() -> None:
    from spadok.uploads.tasks import expire_uploads

    expire_uploads.enqueue()


def _expire_claims() -> None:
    from spadok.campaigns.tasks import expire_claims

    expire_claims.enqueue()


def _refresh_campaign_statuses() -> None:
    from spadok.campaigns.tasks import refresh_statuses

    refresh_statuses.enqueue()


def periodic_jobs() -> dict[str, tuple[timedelta, Callable[[], None]]]:
    return {
        "fixity-audit": (timedelta(hours=settings.SPADOK.audit_interval_hours), _audit),
        "expire-uploads": (timedelta(hours=1), _expire_uploads),
        "expire-claims": (timedelta(hours=1), _expire_claims),
        "campaign-statuses": (timedelta(hours=24), _refresh_campaign_statuses),
    }


def queue_due() -> list[str]:
    """Queue every periodic job that is due; returns the names queued by this call."""
    now = timezone.now()
    queued = []
    for name, (interval, enqueue) in periodic_jobs().items():
        try:
            with transaction.atomic():
                Schedule.objects.get_or_create(name=name, defaults={"next_run_at": now})
        except IntegrityError:
            pass  # another worker made the row at the same moment
        with transaction.atomic():
            won = Schedule.objects.filter(name=name, next_run_at__lte=now).update(
                next_run_at=now + interval
            )
            if won:
                transaction.on_commit(enqueue)
                queued.append(name)
                log.info("queued periodic job %s", name)
    return queued
