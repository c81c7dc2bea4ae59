"""Background jobs of campaigns. Jobs take ids (or nothing) and are idempotent."""

from __future__ import annotations

from django_tasks import task

from spadok.campaigns import services


@task(queue_name="default")
def sync_capture(capture_id: str) -> dict[str, int]:
    """A capture changed: complete, re-grade or re-open the tasks of its site."""
    return services.capture_sync(capture_id=capture_id)


@task(queue_name="default")
def expire_claims() -> int:
    return services.claims_expire()


@task(queue_name="default")
def refresh_statuses() -> int:
    """Recount captures and the damage nearby for every target site of active campaigns."""
    return services.statuses_refresh()
