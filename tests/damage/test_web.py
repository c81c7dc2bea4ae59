"""Recording damage on the site and record pages: who may, what the public then sees."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.urls import reverse

from spadok.damage import services
from spadok.damage.models import DamageEvent
from spadok.evidence.models import CustodyEntry
from tests.accounts.conftest import _fast_passwords, _fresh_rate_limits  # noqa: F401

pytestmark = pytest.mark.django_db

FORM = {
    "kind": "destroyed",
    "severity": "total",
    "date_start": "2022-03-16",
    "date_precision": "day",
    "date_as_published": "16 March 2022",
    "standing": "news",
    "source_name": "Суспільне Донбас",
    "source_url": "https://suspilne.media/donbas/1",
    "references": "https://example.org/photo-1\nhttps://example.org/photo-2",
    "description": "The roof and the dome burnt down after shelling.",
    "public": "on",
}


def test_who_may_record_damage(
    client_for: Any, make_user: Any, curator: Any, reviewer: Any, make_site: Any
) -> None:
    site = make_site()
    url = reverse("damage:site-add", args=[site.id])
    anonymous = client_for()
    response = anonymous.post(url, FORM)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert "Record damage" not in anonymous.get(site.get_absolute_url()).content.decode()
    contributor = client_for(make_user("volunteer-ivan"))
    assert contributor.post(url, FORM).status_code == 404
    assert contributor.get(url).status_code == 404
    assert "Record damage" not in contributor.get(site.get_absolute_url()).content.decode()
    assert DamageEvent.objects.count() == 0

    # a reviewer records, but does not correct
    by_reviewer = client_for(reviewer)
    page = by_reviewer.get(site.get_absolute_url()).content.decode()
    assert "Record damage" in page and f'action="{url}"' in page
    response = by_reviewer.post(url, {**FORM, "kind": "damaged", "severity": "moderate"})
    assert response.status_code == 302
    event = DamageEvent.objects.get()
    assert response["Location"] == f"{site.get_absolute_url()}#event-{event.id}"
    edit = reverse("damage:edit", args=[event.id])
    assert by_reviewer.get(edit).status_code == 404
    assert by_reviewer.post(edit, FORM).status_code == 404

    # a curator records, corrects and retracts
    by_curator = client_for(curator)
    assert by_curator.post(url, FORM).status_code == 302
    assert DamageEvent.objects.count() == 2
    assert by_curator.get(edit).status_code == 200
    response = by_curator.post(edit, {**FORM, "kind": "damaged", "severity": "severe"})
    assert response.status_code == 302
    event.refresh_from_db()
    assert (event.severity, event.updated_by) == ("severe", curator)
    retract = reverse("damage:retract", args=[event.id])
    assert client_for(reviewer).post(retract, {"reason": "x"}).status_code == 404
    assert by_curator.post(retract, {"reason": "the same event twice"}).status_code == 302
    event.refresh_from_db()
    assert event.retracted and event.retraction_reason == "the same event twice"
    actions = list(CustodyEntry.objects.filter(chain=site.id).values_list("action", flat=True))
    assert actions == ["damage.recorded", "damage.recorded", "damage.corrected", "damage.retracted"]
    site.refresh_from_db()
    assert site.damage_status == "destroyed"


def test_a_bad_form_says_what_to_fix(client_for: Any, curator: Any, make_site: Any) -> None:
    site = make_site()
    url = reverse("damage:site-add", args=[site.id])
    response = client_for(curator).post(
        url,
        {**FORM, "date_start": "2022-05-01", "date_end": "2022-04-01", "source_url": "nope",
         "references": "https://ok.example/\nnot a link"},
    )  # fmt: skip
    assert response.status_code == 400
    body = response.content.decode()
    assert "The end of the period is before its start." in body
    assert "“not a link” is not a web address." in body
    assert "Enter a valid URL." in body
    assert DamageEvent.objects.count() == 0


def test_the_public_sees_the_source_not_the_person(
    client_for: Any, curator: Any, make_site: Any, make_capture: Any
) -> None:
    from spadok.catalogue.models import Record

    site = make_site(latitude=48.57, longitude=38.0)
    capture = make_capture(record=Record.objects.create(title="Nave", site=site))
    response = client_for(curator).post(reverse("damage:site-add", args=[site.id]), FORM)
    assert response.status_code == 302
    services.damage_event_create(
        by=curator, site=site, kind="threatened", standing="field", public=False,
        description="INTERNAL: the caretaker's phone number",
    )  # fmt: skip
    body = client_for().get(site.get_absolute_url()).content.decode()
    timeline = body[body.index('id="timeline-title"') :]
    assert "Суспільне Донбас" in timeline and 'href="https://suspilne.media/donbas/1"' in timeline
    assert "The roof and the dome burnt down" in timeline and "Reported" in timeline
    assert "News report" in timeline and "2 further links" in timeline
    for secret in (curator.username, curator.email, curator.profile.display_name, "INTERNAL"):
        assert secret not in body
    # events and captures in one timeline, in date order
    assert timeline.index('datetime="2022-03-16"') < timeline.index("3D capture of “Nave”")
    # the site's JSON-LD carries the public event with its source
    ld = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', body)[1])
    (event,) = ld["event"]
    assert event["startDate"] == "2022-03-16" and event["additionalType"] == "damage:destroyed"
    assert event["subjectOf"]["url"] == "https://suspilne.media/donbas/1"
    # the curator also sees the internal one, marked
    staff = client_for(curator).get(site.get_absolute_url()).content.decode()
    assert "INTERNAL: the caretaker" in staff and "Not public" in staff

    api = client_for().get(f"/api/sites/{site.id}").json()
    (shown,) = api["damage_events"]
    assert shown["source_name"] == "Суспільне Донбас" and shown["verified"] is False
    assert shown["references"] == ["https://example.org/photo-1", "https://example.org/photo-2"]
    assert not {"entered_by", "updated_by", "public"} & set(shown)
    assert curator.username not in json.dumps(api) and curator.email not in json.dumps(api)
    assert capture.record.title in [r["title"] for r in api["records"]]


def test_a_records_page_shows_its_damage(
    client_for: Any, curator: Any, make_site: Any, make_capture: Any
) -> None:
    from spadok.catalogue.models import Record, Visibility

    site = make_site()
    capture = make_capture(record=Record.objects.create(title="Fresco", site=site))
    record = capture.record
    url = reverse("damage:record-add", args=[record.id])
    page = client_for(curator).get(record.get_absolute_url()).content.decode()
    assert f'action="{url}"' in page
    assert client_for().get(url).status_code == 302
    form = {**FORM, "standing": "capture", "capture": capture.id, "kind": "damaged"}
    response = client_for(curator).post(url, form)
    assert response.status_code == 302
    event = DamageEvent.objects.get()
    assert (event.record_id, event.site_id, event.capture_id) == (record.id, site.id, capture.id)
    assert CustodyEntry.objects.filter(chain=record.id, action="damage.recorded").count() == 1
    public = client_for().get(record.get_absolute_url()).content.decode()
    section = public[public.index('id="damage-title"') :]
    assert "A capture in this archive" in section and f"#capture-{capture.id}" in section
    site_page = client_for().get(site.get_absolute_url()).content.decode()
    assert f'id="event-{event.id}"' in site_page and "Fresco" in site_page
    # the record hidden again: its account leaves the public pages and the API with it
    Record.objects.filter(pk=record.pk).update(visibility=Visibility.DRAFT)
    assert (
        f'id="event-{event.id}"' not in client_for().get(site.get_absolute_url()).content.decode()
    )
    assert client_for().get(f"/api/sites/{site.id}").json()["damage_events"] == []
