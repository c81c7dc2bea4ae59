"""/health for load balancers and monitors, and the operations figures behind it."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from tests.accounts.mfa import add_totp
from tests.testdata import data

pytestmark = pytest.mark.django_db


def _curator(django_user_model):  # type: ignore[no-untyped-def]
    from spadok.accounts.services import profile_set_role

    root = django_user_model.objects.create_superuser("root", "root@example.org", "x" * 16)
    user = django_user_model.objects.create_user("keeper", "keeper@example.org", "y" * 16)
    profile_set_role(actor=root, user=user, role="curator")
    add_totp(user)
    return user


def test_the_public_learns_only_that_the_site_serves(client: Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert json.loads(response.content) == {"status": "ok", "database": True}
    assert "no-cache" in response["Cache-Control"]


def test_curators_see_queues_workers_and_the_last_audit(
    django_user_model, storage_root: Path, django_capture_on_commit_callbacks
) -> None:
    from spadok.catalogue import services
    from spadok.catalogue.models import Record
    from spadok.jobs.models import WorkerHeartbeat
    from spadok.preservation.models import AuditRun

    now = timezone.now()
    record = Record.objects.create(title="Fuze")
    path = data("awkward", "trimesh_models", "fuze.obj")
    with django_capture_on_commit_callbacks(execute=True):  # the job is queued on commit
        services.capture_create_received(
            record=record, files=[services.Original(path, path.name)], source_name=path.name
        )
    for worker, seen in (("alive", now), ("gone", now - timedelta(minutes=10))):
        WorkerHeartbeat.objects.create(
            worker_id=worker, host="h", pid=1, started_at=seen, last_seen=seen
        )
    AuditRun.objects.create(
        started_at=now - timedelta(hours=3),
        finished_at=now - timedelta(hours=2),
        trigger="schedule",
        ok=False,
        files=12,
        issues=1,
        repaired=1,
    )
    client = Client()
    client.force_login(_curator(django_user_model))
    body = json.loads(client.get("/health").content)
    ops = body["operations"]
    assert body["status"] == "ok"
    assert ops["workers_alive"] == 1
    assert ops["queues"]["processing"]["ready"] == 1
    assert ops["captures_by_state"] == {"received": 1}
    assert ops["last_audit"]["ok"] is False and ops["last_audit"]["issues"] == 1
    assert 1.9 < ops["last_audit"]["age_hours"] < 2.1
    # a contributor gets no more than the public
    contributor = django_user_model.objects.create_user("v", "v@example.org", "z" * 16)
    client.force_login(contributor)
    assert "operations" not in json.loads(client.get("/health").content)


def test_a_database_that_does_not_answer_is_a_503(client: Client, monkeypatch) -> None:
    from django.db import connection

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise connection.Database.OperationalError("the server went away")

    monkeypatch.setattr(connection, "cursor", broken)
    response = client.get("/health")
    assert response.status_code == 503
    assert json.loads(response.content) == {"status": "unavailable", "database": False}
