"""Background jobs of uploads. Jobs take ids (or nothing) and are idempotent."""

from __future__ import annotations

from django_tasks import task

from spadok.uploads import services


@task(queue_name="default")
def expire_uploads() -> dict[str, int]:
    return services.uploads_expire()
