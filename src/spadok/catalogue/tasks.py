"""Background jobs of the catalogue. Jobs take ids and are idempotent."""

from __future__ import annotations

from django_tasks import task

from spadok.catalogue import services


@task(queue_name="processing")
def process_capture(capture_id: str) -> str:
    return services.capture_process(capture_id=capture_id)
