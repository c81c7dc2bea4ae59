"""Campaigns follow the catalogue: a capture that changed may complete or re-open tasks.

The receiver only queues the job (after commit); the job takes the capture's id
and calls :func:`spadok.campaigns.services.capture_sync`, which is idempotent.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.dispatch import receiver

from spadok.catalogue.signals import capture_changed


@receiver(capture_changed, dispatch_uid="spadok-campaigns-capture-sync")
def _capture_changed(sender: Any, capture_id: str, **kwargs: Any) -> None:
    from spadok.campaigns.tasks import sync_capture

    transaction.on_commit(lambda: sync_capture.enqueue(capture_id))
