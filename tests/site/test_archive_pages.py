"""Staff pages: sign-in, the archive status page, the preservation history, the admin."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from spadok.jobs.models import Schedule
from spadok.preservation.models import AuditRun, EventType, Outcome, PreservationEvent
from tests.accounts.mfa import add_totp, totp_code

pytestmark = pytest.mark.django_db

ARCHIVE = "/archive/"
AUDIT_TASK = "spadok.preservation.tasks.run_audit"
SECRET_AGENT = "agent-visible-to-staff-only 9.9"
SECRET_DETAIL = "replica s3://hidden-bucket unreachable at 03:14"


def _no_inline_scripts(body: str) -> None:
    for tag in re.findall(r"<script\b[^>]*>", body):
        # data blocks (JSON, JSON-LD) are never executed and the CSP does not apply
        assert " src=" in tag or re.search(r'type="application/(ld\+)?json"', tag), tag
    assert not re.search(r"\son[a-z]+\s*=", body), "inline event handler"


def _page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    assert response["Content-Security-Policy"].startswith("default-src 'self'")
    body = response.content.decode()
    _no_inline_scripts(body)
    return body


@pytest.fixture
def anon() -> Client:
    return Client(HTTP_ACCEPT_LANGUAGE="en")


@pytest.fixture
def staff_user(django_user_model):  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_user(
        username="archivist", password="correct horse battery", is_staff=True
    )
    add_totp(user)  # staff must have a second factor (spadok.accounts.middleware)
    return user


@pytest.fixture
def staff(staff_user) -> Client:  # type: ignore[no-untyped-def]
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(staff_user)
    return client


def _audit(minutes_ago: int, **fields: object) -> AuditRun:
    started = timezone.now() - timedelta(minutes=minutes_ago)
    defaults: dict[str, object] = {
        "started_at": started,
        "finished_at": started + timedelta(seconds=75),
        "trigger": "schedule",
        "repair": True,
        "ok": True,
        "files": 40,
        "bytes": 123_456_789,
        "report": {
            "roots": ["file:///srv/a"],
            "issues": [],
            "objects_checked": 7,
            "throughput_mb_s": 1.6,
        },
    }
    defaults.update(fields)
    return AuditRun.objects.create(**defaults)


# -- sign-in ------------------------------------------------------------------------


def test_archive_redirects_the_public_to_sign_in(anon, storage_root) -> None:
    _audit(5, ok=False, issues=1)
    response = anon.get(ARCHIVE)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={ARCHIVE}"
    assert b"audit" not in response.content.lower()


def test_archive_redirects_a_signed_in_user_who_is_not_staff(
    django_user_model, storage_root
) -> None:
    user = django_user_model.objects.create_user(username="visitor", password="x" * 12)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    response = client.get(ARCHIVE, follow=True)
    assert response.redirect_chain == [(f"{reverse('login')}?next={ARCHIVE}", 302)]
    assert "Your account cannot open that page" in response.content.decode()  # no loop
    response = client.post(reverse("preservation:audit"))
    assert response.status_code == 302
    assert not DBTaskResult.objects.filter(task_path=AUDIT_TASK).exists()


def test_sign_in_and_out(anon, staff_user, storage_root) -> None:
    body = _page(anon, f"{reverse('login')}?next={ARCHIVE}")
    assert 'name="password"' in body and 'name="csrfmiddlewaretoken"' in body
    assert f'name="next" value="{ARCHIVE}"' in body

    response = anon.post(reverse("login"), {"login": "archivist", "password": "wrong"})
    assert response.status_code == 200
    assert "are not correct" in response.content.decode()

    response = anon.post(
        reverse("login"),
        {"login": "archivist", "password": "correct horse battery", "next": ARCHIVE},
    )
    # staff have a second factor: the authenticator app's code comes next
    assert response.status_code == 302 and response["Location"] == reverse("mfa_authenticate")
    response = anon.post(reverse("mfa_authenticate"), {"code": totp_code(staff_user)})
    assert response.status_code == 302 and response["Location"] == ARCHIVE
    body = _page(anon, reverse("catalogue:home"))
    assert f'Signed in as <a href="/account/">{staff_user.profile.display_name}</a>' in body
    assert "archivist" not in body  # the display name only, never the user name
    assert f'action="{reverse("logout")}" method="post"' in body
    assert f'href="{ARCHIVE}"' in body  # the staff link in the header

    # a GET only asks to confirm: signing out is a POST
    assert 'method="post"' in _page(anon, reverse("logout"))
    assert "Signed in as" in _page(anon, reverse("catalogue:home"))
    response = anon.post(reverse("logout"))
    assert response.status_code == 302 and response["Location"] == reverse("catalogue:home")
    body = _page(anon, reverse("catalogue:home"))
    assert "Signed in as" not in body and f'href="{ARCHIVE}"' not in body
    assert anon.get(ARCHIVE).status_code == 302


# -- the archive status page --------------------------------------------------------


def test_staff_see_the_last_audit_with_its_issues(staff, settings, storage_root) -> None:
    for n in range(12):
        _audit(60 * 24 * (n + 2), trigger="command" if n == 11 else "schedule", files=1000 + n)
    _audit(
        10,
        trigger="command",
        ok=False,
        files=42,
        bytes=5_000_000,
        issues=2,
        repaired=1,
        report={
            "roots": ["file:///srv/a", "s3://bucket/prefix?endpoint=http://minio:9000"],
            "objects_checked": 9,
            "throughput_mb_s": 12.5,
            "issues": [
                {
                    "root": "s3://bucket/prefix?access_key=AKIASECRET&secret_key=hush",
                    "object_id": "c_broken1",
                    "path": "v1/content/original/box.glb",
                    "kind": "digest-mismatch",
                    "detail": "sha512 differs",
                    "repaired": True,
                },
                {
                    "root": "file:///srv/a",
                    "object_id": "c_broken2",
                    "path": "v2/content/metadata/record.json",
                    "kind": "missing",
                    "detail": "not found",
                    "repaired": False,
                },
            ],
        },
    )
    settings.SPADOK = replace(
        settings.SPADOK,
        storage_urls=(
            "file:///srv/spadok/primary",
            "s3://mirror-bucket/spadok?endpoint=http://user:pw@minio.internal:9000&region=x",
        ),
    )
    Schedule.objects.create(name="fixity-audit", next_run_at=timezone.now() + timedelta(hours=5))

    body = _page(staff, ARCHIVE)
    assert response_cache_is_private(staff)
    last = body.split('id="previous-title"')[0]
    assert "Problems remain" in last
    assert "0:01:15" in last  # the duration
    for text in ("c_broken1", "v1/content/original/box.glb", "digest-mismatch", "c_broken2"):
        assert text in last
    assert "s3://bucket/prefix" in last and "file:///srv/a" in last
    assert last.count("✓ Repaired") == 1 and last.count("✗ Not repaired") == 1
    assert "12.5 MB/s" in last
    # the ten audits before it, not the eleventh
    previous = body.split('id="previous-title"')[1].split('id="roots-title"')[0]
    assert previous.count("<tr>") == 1 + 10
    assert "1,000" in previous or "1000" in previous
    assert "1011" not in previous and "1,011" not in previous
    # storage roots: scheme and bucket/path only
    assert "/srv/spadok/primary" in body and "mirror-bucket/spadok" in body
    roots = body.split('id="roots-title"')[1].split("</section>")[0]
    assert "?" not in roots and "region" not in roots
    for secret in ("AKIASECRET", "hush", "minio", "endpoint", "user:pw"):
        assert secret not in body, secret
    assert "Next scheduled audit" in body
    assert 'action="/archive/audit/"' in body and "Run an audit now (with repair)" in body


def response_cache_is_private(client: Client) -> bool:
    return "no-store" in client.get(ARCHIVE)["Cache-Control"]


def test_archive_page_with_no_audit_and_no_schedule(staff, make_capture) -> None:
    make_capture(title="Ready one")
    make_capture(title="Failed one", state="failed")
    body = _page(staff, ARCHIVE)
    assert "No audit has run yet." in body
    assert "No audit is scheduled yet" in body
    holdings = body.split('id="holdings-title"')[1]
    assert re.search(r"Records</dt><dd>2 ", holdings)
    assert re.search(r"Captures</dt><dd>2<", holdings)
    assert re.search(r"state--failed\">[^<]+</span></dt><dd>1<", holdings)
    assert re.search(r"state--processing\">[^<]+</span></dt><dd>0<", holdings)


def test_run_an_audit_button_queues_one_task(staff, staff_user, storage_root) -> None:
    strict = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")
    strict.force_login(staff_user)
    assert strict.post(reverse("preservation:audit")).status_code == 403  # no CSRF token
    assert staff.get(reverse("preservation:audit")).status_code == 405
    assert not DBTaskResult.objects.filter(task_path=AUDIT_TASK).exists()

    response = staff.post(reverse("preservation:audit"), follow=True)
    assert response.redirect_chain == [(ARCHIVE, 302)]
    assert "An audit with repair was queued" in response.content.decode()
    (job,) = DBTaskResult.objects.filter(task_path=AUDIT_TASK)
    assert job.status == "READY"
    assert job.args_kwargs["args"] == [True]
    assert "An audit is queued or running now" in response.content.decode()

    # a second click while it waits queues nothing more
    response = staff.post(reverse("preservation:audit"), follow=True)
    assert "already queued" in response.content.decode()
    assert DBTaskResult.objects.filter(task_path=AUDIT_TASK).count() == 1


def test_anonymous_post_queues_nothing(anon, storage_root) -> None:
    response = anon.post(reverse("preservation:audit"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert not DBTaskResult.objects.filter(task_path=AUDIT_TASK).exists()


# -- preservation history on the record page -----------------------------------------


def _events(capture_id: str) -> None:
    now = timezone.now()
    for minutes, kind, outcome in [
        (30, EventType.INGESTION, Outcome.SUCCESS),
        (20, EventType.REPLICATION, Outcome.FAILURE),
        (10, EventType.FIXITY_CHECK, Outcome.WARNING),
    ]:
        PreservationEvent.objects.create(
            object_id=capture_id,
            event_type=kind,
            outcome=outcome,
            occurred_at=now - timedelta(minutes=minutes),
            agent=SECRET_AGENT,
            detail=f"{SECRET_DETAIL} ({kind})",
        )
    PreservationEvent.objects.create(
        object_id="c_someone_else",
        event_type=EventType.INGESTION,
        outcome=Outcome.SUCCESS,
        occurred_at=now,
        agent="other agent",
        detail="another capture's event",
    )


def test_staff_see_each_captures_history(staff, make_capture) -> None:
    capture = make_capture(title="Church")
    _events(capture.id)
    url = reverse("catalogue:record", args=[capture.record_id])
    body = _page(staff, url)
    history = body.split('<details class="history"')
    assert len(history) == 2  # one capture, one history, closed by default
    assert history[1].split(">", 1)[0].strip() == "data-staff-only"
    section = history[1].split("</details>")[0]
    assert "Preservation history" in section and "(3)" in section
    assert section.count(SECRET_AGENT) == 3
    # in time order, with the outcome in words and a symbol as well as a colour
    order = [section.index(w) for w in ("Ingestion", "Replication", "Fixity check")]
    assert order == sorted(order)
    assert 'outcome--failure"><span aria-hidden="true">✗</span> Failure' in section
    assert "✓</span> Success" in section and "!</span> Warning" in section
    assert "another capture" not in section
    assert "private" in staff.get(url)["Cache-Control"]


def test_the_public_never_sees_the_history(anon, make_capture) -> None:
    capture = make_capture(title="Church")
    _events(capture.id)
    body = _page(anon, reverse("catalogue:record", args=[capture.record_id]))
    assert capture.id in body
    for secret in (SECRET_AGENT, SECRET_DETAIL, "Preservation history", 'class="history"'):
        assert secret not in body
    assert "Archive status" not in body and f'href="{ARCHIVE}"' not in body
    raw = anon.get(reverse("catalogue:record-json", args=[capture.record_id])).content.decode()
    data = json.loads(raw)
    assert data["captures"][0]["id"] == capture.id
    for secret in (SECRET_AGENT, SECRET_DETAIL, "occurred", "agent", "events"):
        assert secret not in raw


def test_staff_see_the_history_in_json_neither(staff, make_capture) -> None:
    capture = make_capture(title="Church")
    _events(capture.id)
    raw = staff.get(reverse("catalogue:record-json", args=[capture.record_id])).content.decode()
    assert SECRET_AGENT not in raw and SECRET_DETAIL not in raw


# -- admin --------------------------------------------------------------------------


def test_admin_lists_the_archive_read_only(django_user_model, make_capture) -> None:
    admin = django_user_model.objects.create_superuser(username="root", password="x" * 12)
    add_totp(admin)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(admin)
    capture = make_capture(title="Church")
    _events(capture.id)
    run = _audit(5)
    event = PreservationEvent.objects.filter(object_id=capture.id).first()
    assert event is not None
    for model, pk in [
        ("catalogue/record", capture.record_id),
        ("catalogue/capture", capture.id),
        ("catalogue/derivative", capture.derivatives.first().pk),
        ("preservation/preservationevent", event.pk),
        ("preservation/auditrun", run.pk),
    ]:
        _page(client, f"/admin/{model}/")
        _page(client, f"/admin/{model}/{pk}/change/")
        assert client.get(f"/admin/{model}/add/").status_code == 403, model
        assert client.get(f"/admin/{model}/{pk}/delete/").status_code == 403, model
    assert SECRET_AGENT in client.get("/admin/preservation/preservationevent/").content.decode()
    assert anon_redirected("/admin/")


def anon_redirected(url: str) -> bool:
    response = Client().get(url)
    return response.status_code == 302 and "login" in response["Location"]
