"""Who may see and decide what: every role against every action, through HTTP."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

pytestmark = pytest.mark.django_db

ACTORS = ("anonymous", "owner", "other", "reviewer", "curator", "administrator")


def _client(client_for: Any, people: dict[str, Any], actor: str) -> Any:
    return client_for(None if actor == "anonymous" else people[actor])


def _outcome(response: Any) -> str:
    if response.status_code == 302 and "/accounts/login/" in response["Location"]:
        return "login"
    if response.status_code in (200, 302):
        return "ok"
    return str(response.status_code)


def _set(record: Any, **fields: Any) -> None:
    for name, value in fields.items():
        setattr(record, name, value)
    record.save()


VIEW_DRAFT = {"anonymous": "404", "owner": "ok", "other": "404", "reviewer": "ok",
              "curator": "ok", "administrator": "ok"}  # fmt: skip
VIEW_EMBARGOED_BEFORE = {"anonymous": "404", "owner": "404", "other": "404", "reviewer": "ok",
                         "curator": "ok", "administrator": "ok"}  # fmt: skip


@pytest.mark.parametrize("actor", ACTORS)
def test_view_draft(actor, people, draft_capture, client_for) -> None:  # type: ignore[no-untyped-def]
    client = _client(client_for, people, actor)
    record = draft_capture.record
    pages = [
        reverse("catalogue:record", args=[record.id]),
        reverse("catalogue:record-json", args=[record.id]),
        reverse("catalogue:file", args=[record.id, draft_capture.id, "derivative", "thumbnail"]),
    ]
    assert {_outcome(client.get(p)) for p in pages} == {VIEW_DRAFT[actor]}


@pytest.mark.parametrize("actor", ACTORS)
def test_view_embargoed_before_and_after_its_date(  # type: ignore[no-untyped-def]
    actor, people, draft_capture, client_for
) -> None:
    from spadok.catalogue.models import Visibility

    client = _client(client_for, people, actor)
    record = draft_capture.record
    url = reverse("catalogue:record", args=[record.id])
    today = timezone.localdate()
    _set(record, visibility=Visibility.EMBARGOED, embargo_until=today + timedelta(days=1))
    assert _outcome(client.get(url)) == VIEW_EMBARGOED_BEFORE[actor]
    browse = client.get(reverse("catalogue:browse")).content.decode()
    assert record.title not in browse
    _set(record, embargo_until=today)
    assert _outcome(client.get(url)) == "ok"
    assert record.title in client.get(reverse("catalogue:browse")).content.decode()


SEALED = {"anonymous": "404", "owner": "404", "other": "404", "reviewer": "404",
          "curator": "404", "reader": "ok", "administrator": "ok"}  # fmt: skip


@pytest.mark.parametrize("actor", [*ACTORS, "reader"])
def test_view_sealed_only_by_named_readers(  # type: ignore[no-untyped-def]
    actor, people, draft_capture, client_for
) -> None:
    from spadok.catalogue.models import AccessLog, Visibility

    record = draft_capture.record
    _set(record, visibility=Visibility.SEALED)
    record.sealed_readers.set([people["reader"]])
    client = _client(client_for, people, actor)
    url = reverse("catalogue:record", args=[record.id])
    assert _outcome(client.get(url)) == SEALED[actor]
    thumb = reverse("catalogue:file", args=[record.id, draft_capture.id, "derivative", "thumbnail"])
    assert _outcome(client.get(thumb)) == SEALED[actor]
    logged = list(AccessLog.objects.values_list("user__username", "action", "capture_id"))
    if SEALED[actor] == "ok":
        assert logged == [(actor, "file:derivative", draft_capture.id), (actor, "view", None)]
    else:
        assert logged == []
    assert record.title not in client.get(reverse("catalogue:browse")).content.decode()
    assert record.title not in client.get(reverse("catalogue:home")).content.decode()


def _decide(client: Any, capture: Any, **data: Any) -> Any:
    return client.post(reverse("catalogue:review-decide", args=[capture.id]), data)


APPROVE = {"anonymous": "login", "owner": "403", "other": "403", "reviewer": "ok",
           "curator": "ok", "administrator": "ok"}  # fmt: skip
SEAL = {**APPROVE, "reviewer": "403"}


@pytest.mark.parametrize("actor", ACTORS)
def test_approve(actor, people, draft_capture, client_for) -> None:  # type: ignore[no-untyped-def]
    from spadok.catalogue.models import ReviewDecision

    client = _client(client_for, people, actor)
    response = _decide(client, draft_capture, decision="approve", visibility="public")
    assert _outcome(response) == APPROVE[actor]
    draft_capture.record.refresh_from_db()
    approved = APPROVE[actor] == "ok"
    assert (draft_capture.record.visibility == "public") is approved
    assert ReviewDecision.objects.filter(capture=draft_capture).exists() is approved


@pytest.mark.parametrize("actor", ACTORS)
def test_set_sealed(actor, people, draft_capture, client_for) -> None:  # type: ignore[no-untyped-def]
    client = _client(client_for, people, actor)
    response = _decide(
        client,
        draft_capture,
        decision="approve",
        visibility="sealed",
        sealed_readers=[people["reader"].pk],
    )
    assert _outcome(response) == SEAL[actor]
    draft_capture.record.refresh_from_db()
    sealed = SEAL[actor] == "ok"
    assert (draft_capture.record.visibility == "sealed") is sealed
    readers = list(draft_capture.record.sealed_readers.all())
    assert readers == ([people["reader"]] if sealed else [])


@pytest.mark.parametrize("actor", ACTORS)
def test_reject(actor, people, draft_capture, client_for) -> None:  # type: ignore[no-untyped-def]
    from spadok.catalogue.models import ReviewDecision

    client = _client(client_for, people, actor)
    response = _decide(client, draft_capture, decision="reject", reason="Only the roof, blurred.")
    assert _outcome(response) == APPROVE[actor]
    rejected = ReviewDecision.objects.filter(capture=draft_capture, decision="reject")
    assert rejected.exists() is (APPROVE[actor] == "ok")
    draft_capture.record.refresh_from_db()
    assert draft_capture.record.visibility == "draft"


def test_reject_needs_a_reason(people, draft_capture, client_for) -> None:  # type: ignore[no-untyped-def]
    from spadok.catalogue.models import ReviewDecision

    client = client_for(people["reviewer"])
    response = _decide(client, draft_capture, decision="reject", reason="  ")
    assert response.status_code == 302
    assert not ReviewDecision.objects.exists()


RETRY = {"anonymous": "login", "owner": "ok", "other": "404", "reviewer": "404",
         "curator": "ok", "administrator": "ok"}  # fmt: skip


@pytest.mark.parametrize("actor", ACTORS)
def test_retry(actor, people, make_capture, client_for) -> None:  # type: ignore[no-untyped-def]
    """The owner retries their own capture; another contributor cannot touch it."""
    from spadok.catalogue.models import Capture, Record

    record = Record.objects.create(title="Failed scan", visibility="draft")
    capture = make_capture(
        record=record,
        state="failed",
        contributor=people["owner"],
        attempts=3,
        error_code="processing.failed",
        error_message="Processing failed unexpectedly.",
    )
    client = _client(client_for, people, actor)
    url = reverse("catalogue:capture-retry", args=[record.id, capture.id])
    assert _outcome(client.post(url)) == RETRY[actor]
    capture = Capture.objects.get(id=capture.id)
    if RETRY[actor] == "ok":
        assert (capture.state, capture.attempts, capture.error_code) == ("received", 0, "")
        assert capture.decisions.get().decision == "retry"
    else:
        assert (capture.state, capture.attempts) == ("failed", 3)


def test_status_json_is_the_contributors(people, draft_capture, client_for) -> None:  # type: ignore[no-untyped-def]
    url = reverse("catalogue:capture-status", args=[draft_capture.record_id, draft_capture.id])
    data = client_for(people["owner"]).get(url).json()
    assert data == {
        "state": "ready",
        "state_label": "Ready",
        "step": "done",
        "progress": 1.0,
        "error_code": "",
        "error_message": "",
    }
    assert client_for(people["other"]).get(url).status_code == 404
    assert client_for(None).get(url).status_code == 404


def test_review_queue_is_for_reviewers(people, draft_capture, client_for) -> None:  # type: ignore[no-untyped-def]
    assert client_for(people["owner"]).get("/review/").status_code == 403
    page = client_for(people["reviewer"]).get("/review/").content.decode()
    assert draft_capture.id in page and "Church of St Nicholas" in page
    assert 'value="sealed"' not in page  # reviewers cannot seal
    assert 'value="sealed"' in client_for(people["curator"]).get("/review/").content.decode()
