"""Background jobs of comparisons. Jobs take ids and are idempotent."""

from __future__ import annotations

from django_tasks import task

from spadok.compare import services


@task(queue_name="processing")
def run_comparison(comparison_id: str) -> str:
    return services.comparison_run(comparison_id=comparison_id)
