"""Background jobs of preservation."""

from __future__ import annotations

from django_tasks import task

from spadok.preservation import services


@task(queue_name="default")
def run_audit(repair: bool = True) -> dict[str, object]:
    run = services.audit_run(repair=repair, trigger="schedule")
    return {"ok": run.ok, "issues": run.issues, "repaired": run.repaired}
