"""Background jobs of uploads. Jobs take ids (or nothing) and are idempotent."""

from __future__ import annotations

import uuid

from django_tasks import task

from spadok.uploads import services


@task(queue_name="default")
def finish_upload(upload_id: str) -> str:
    """File a complete upload as a capture; a retry finds the capture already made."""
    return str(services.upload_finish(upload_id=uuid.UUID(upload_id)).state)


@task(queue_name="default")
def expire_uploads() -> dict[str, int]:
    return services.uploads_expire()
