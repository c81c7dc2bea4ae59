"""Background processing through real workers, on SQLite and (``-m db_both``) PostgreSQL.

Workers run as ``spadok worker`` subprocesses, so these tests use
``transactional_db``: the rows must be committed for another process to see
them, and the SQLite test database is a file (tests/conftest.py).
"""

from __future__ import annotations

import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from tests.procs import spadok, spadok_env, spadok_popen
from tests.testdata import data

FUZE = ("awkward", "trimesh_models")
FUZE_FILES = ("fuze.obj", "fuze.obj.mtl", "fuze uv.jpg")

pytestmark = pytest.mark.db_both


def _received_capture():  # type: ignore[no-untyped-def]
    from spadok.catalogue import services
    from spadok.catalogue.models import Record

    record = Record.objects.create(title="Fuze bottle")
    files = [services.Original(data(*FUZE, name), name) for name in FUZE_FILES]
    return services.capture_create_received(record=record, files=files, source_name="fuze.obj")


def _job_for(capture_id: str):  # type: ignore[no-untyped-def]
    from django_tasks_db.models import DBTaskResult

    (job,) = [j for j in DBTaskResult.objects.all() if capture_id in j.args_kwargs["args"]]
    return job


def _assert_ready_with_one_set_of_derivatives(capture_id: str) -> None:
    from spadok.catalogue.models import Capture, CaptureState
    from spadok.catalogue.storage import get_storage

    capture = Capture.objects.get(id=capture_id)
    assert capture.state == CaptureState.READY, (capture.error_code, capture.error_message)
    assert capture.format == "obj" and capture.kind == "mesh"
    assert capture.stats["triangles"] == 1000
    roles = list(capture.derivatives.values_list("role", flat=True))
    assert len(roles) == len(set(roles))
    assert "thumbnail" in roles and any(r.startswith("web-") for r in roles)
    storage = get_storage()
    for d in capture.derivatives.all():
        assert storage.size(d.key) == d.size
        assert storage.digest(d.key, "sha256") == d.sha256


def test_a_received_capture_is_processed_by_a_worker(transactional_db, storage_root: Path) -> None:
    from django_tasks import TaskResultStatus

    capture = _received_capture()
    job = _job_for(capture.id)
    assert job.status == TaskResultStatus.READY
    assert job.task_path == "spadok.catalogue.tasks.process_capture"

    spadok("worker", "--batch", env=spadok_env())

    job.refresh_from_db()
    assert job.status == TaskResultStatus.SUCCESSFUL, job.traceback
    assert job.return_value == "done"
    _assert_ready_with_one_set_of_derivatives(capture.id)


def test_processing_twice_is_harmless(db, storage_root: Path) -> None:
    from spadok.catalogue import services
    from spadok.catalogue.models import Capture, CaptureState

    capture = _received_capture()
    assert services.capture_process(capture_id=capture.id) == "done"
    first = {
        d.role: (d.key, d.sha256) for d in Capture.objects.get(id=capture.id).derivatives.all()
    }

    assert services.capture_process(capture_id=capture.id) == "already-done"
    # A job re-run after its worker died mid-way finds the capture half done.
    Capture.objects.filter(id=capture.id).update(state=CaptureState.PROCESSING)
    assert services.capture_process(capture_id=capture.id) == "done"

    again = {
        d.role: (d.key, d.sha256) for d in Capture.objects.get(id=capture.id).derivatives.all()
    }
    assert {r: k for r, (k, _) in again.items()} == {r: k for r, (k, _) in first.items()}
    _assert_ready_with_one_set_of_derivatives(capture.id)
    keys = list(storage_root.rglob("*"))
    assert not [k for k in keys if k.name.startswith(".tmp-")]


def test_the_reaper_leaves_live_workers_alone(db) -> None:
    from django_tasks import TaskResultStatus

    from spadok.jobs import reaper
    from spadok.jobs.models import WorkerHeartbeat
    from tests.slow_tasks import process_slowly_once

    result = process_slowly_once.enqueue("c-none", "/nonexistent")
    job = _db_job(result.id)
    job.claim("alive-worker")
    job.started_at = timezone.now() - timedelta(seconds=120)
    job.save(update_fields=["started_at"])
    now = timezone.now()
    WorkerHeartbeat.objects.create(
        worker_id="alive-worker", host="h", pid=1, started_at=now, last_seen=now
    )

    assert reaper.requeue_stale(dead_after_s=30) == []
    job.refresh_from_db()
    assert job.status == TaskResultStatus.RUNNING

    WorkerHeartbeat.objects.filter(worker_id="alive-worker").update(
        last_seen=now - timedelta(seconds=60)
    )
    assert reaper.requeue_stale(dead_after_s=30) == [str(job.id)]
    job.refresh_from_db()
    assert job.status == TaskResultStatus.READY


def test_a_job_that_keeps_killing_workers_is_given_up(db) -> None:
    from django_tasks import TaskResultStatus

    from spadok.jobs import reaper
    from tests.slow_tasks import process_slowly_once

    job = _db_job(process_slowly_once.enqueue("c-none", "/nonexistent").id)
    for attempt in range(reaper.MAX_CLAIMS):
        job.claim(f"doomed-{attempt}")  # no heartbeat: every worker is dead
        job.started_at = timezone.now() - timedelta(seconds=120)
        job.save(update_fields=["started_at"])
        requeued = reaper.requeue_stale(dead_after_s=30)
        job.refresh_from_db()
        if attempt < reaper.MAX_CLAIMS - 1:
            assert requeued == [str(job.id)] and job.status == TaskResultStatus.READY
    assert requeued == []
    assert job.status == TaskResultStatus.FAILED
    assert job.exception_class_path.endswith("JobAbandoned")


def test_a_capture_that_keeps_killing_workers_ends_failed(db, storage_root: Path) -> None:
    from spadok.catalogue import services
    from spadok.catalogue.models import Capture, CaptureState

    capture = _received_capture()
    Capture.objects.filter(id=capture.id).update(
        state=CaptureState.PROCESSING, attempts=services.MAX_PROCESS_ATTEMPTS
    )
    assert services.capture_process(capture_id=capture.id) == "failed:processing.failed"
    capture.refresh_from_db()
    assert capture.state == CaptureState.FAILED
    assert capture.error_code == "processing.failed"
    assert "original is safe" in capture.error_message


def _db_job(job_id: str):  # type: ignore[no-untyped-def]
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.get(id=job_id)


def _wait_for(predicate, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_job_whose_worker_was_killed_is_redone_once(
    transactional_db, storage_root: Path, tmp_path: Path, monkeypatch
) -> None:
    from django_tasks import TaskResultStatus

    from spadok.catalogue import services
    from spadok.catalogue.models import Capture, CaptureState
    from spadok.jobs import reaper
    from tests.slow_tasks import process_slowly_once

    journal = tmp_path / "journal.txt"
    journal.touch()
    monkeypatch.setattr(
        services, "enqueue_processing", lambda cid: process_slowly_once.enqueue(cid, str(journal))
    )
    capture = _received_capture()
    job = _job_for(capture.id)
    env = spadok_env()

    worker = spadok_popen("worker", env=env, log=tmp_path / "worker1.log")
    try:
        _wait_for(lambda: "hanging" in journal.read_text(), 120, "the job to start")
        job.refresh_from_db()
        assert job.status == TaskResultStatus.RUNNING
        assert Capture.objects.get(id=capture.id).state == CaptureState.PROCESSING
        worker.send_signal(signal.SIGKILL)  # no clean-up, as with the OOM killer
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()

    # Stuck: RUNNING, not in the queue, and too recent for the default reaper.
    job.refresh_from_db()
    assert job.status == TaskResultStatus.RUNNING
    assert reaper.requeue_stale() == []
    time.sleep(1.5)
    assert reaper.requeue_stale(dead_after_s=1) == [str(job.id)]

    spadok("worker", "--batch", env=env)

    job.refresh_from_db()
    assert job.status == TaskResultStatus.SUCCESSFUL, job.traceback
    assert len(job.worker_ids) == 2
    assert journal.read_text().split("\n").count("done done") == 1
    assert journal.read_text().count("start") == 2
    assert Capture.objects.get(id=capture.id).attempts == 2
    _assert_ready_with_one_set_of_derivatives(capture.id)
    # The object holds exactly one committed set of derivatives and is valid OCFL.
    from spadok.core.storage.local import LocalStorage
    from tests.core.ocfl_helpers import assert_valid

    assert_valid(LocalStorage(storage_root), allow=("W005",))
