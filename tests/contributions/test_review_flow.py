"""From an upload to a public page: describe (EXIF GPS prefilled), review, approve."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from tests.contributions.conftest import gps_jpeg
from tests.site.conftest import BOX_MESHOPT
from tests.testdata import data

pytestmark = pytest.mark.django_db

LAT, LON = 50.4501, 30.5234


@pytest.fixture
def uploaded(tmp_path: Path, storage_root: Path, people: dict[str, Any]) -> Any:
    """A contributor's upload (a model and a geotagged photo), filed and processed."""
    from spadok.catalogue import services
    from spadok.catalogue.models import Capture

    photo = gps_jpeg(tmp_path / "IMG_0001.jpg", LAT, LON, error_m=6)
    record = services.record_create(title="box")
    capture = services.capture_create_received(
        record=record,
        files=[
            services.Original(data(*BOX_MESHOPT), "box.glb"),
            services.Original(photo, "IMG_0001.jpg"),
        ],
        source_name="box.glb",
    )
    Capture.objects.filter(id=capture.id).update(contributor=people["owner"])
    assert services.capture_process(capture_id=capture.id) == "done"
    return Capture.objects.select_related("record").get(id=capture.id)


def _describe(client: Any, capture: Any, **extra: Any) -> Any:
    form = {
        "title": "Wooden church, Kyiv region",
        "description": "West facade and bell tower.",
        "captured_at": "2026-05-01T10:30",
        "latitude": str(LAT),
        "longitude": str(LON),
        "location_precision_m": "6",
        "location_source": "exif",
        "licence": "cc-by-4.0",
        "consent": "on",
        "flag_faces": "on",
        **extra,
    }
    url = reverse("catalogue:capture", args=[capture.record_id, capture.id])
    return client.post(url, form)


def _record_json_in_object(capture_id: str) -> dict[str, Any]:
    from spadok.preservation.services import primary

    with primary().open_logical(capture_id, "metadata/record.json") as fh:
        return json.loads(fh.read())


def test_describe_review_approve_coarse(uploaded, people, client_for) -> None:  # type: ignore[no-untyped-def]
    from spadok.catalogue.models import ReviewDecision
    from spadok.preservation.models import PreservationEvent

    owner = client_for(people["owner"])
    page_url = reverse("catalogue:capture", args=[uploaded.record_id, uploaded.id])
    page = owner.get(page_url).content.decode()
    assert f'value="{LAT}"' in page and f'value="{LON}"' in page  # from the photo's EXIF
    assert "data-location-from-exif" in page and 'value="exif"' in page
    assert "vendor/leaflet/leaflet.js" in page and 'data-tile-url=""' in page

    # Consent is required.
    assert _describe(owner, uploaded, consent="").status_code == 400
    assert _describe(owner, uploaded).status_code == 302
    uploaded.refresh_from_db()
    assert (uploaded.latitude, uploaded.longitude, uploaded.location_source) == (LAT, LON, "exif")
    assert uploaded.consent_at is not None and uploaded.flag_faces
    assert uploaded.record.title == "Wooden church, Kyiv region"

    # Not public yet.
    anonymous = client_for(None)
    record_url = reverse("catalogue:record", args=[uploaded.record_id])
    assert anonymous.get(record_url).status_code == 404

    reviewer = client_for(people["reviewer"])
    queue = reviewer.get("/review/").content.decode()
    assert uploaded.id in queue and f"{LAT}, {LON}" in queue and 'data-flag="faces"' in queue
    response = reviewer.post(
        reverse("catalogue:review-decide", args=[uploaded.id]),
        {"decision": "approve", "visibility": "coarse"},
    )
    assert response.status_code == 302
    assert uploaded.id not in reviewer.get("/review/").content.decode()

    decision = ReviewDecision.objects.get(capture=uploaded)
    assert (decision.reviewer, decision.decision, decision.visibility) == (
        people["reviewer"], "approve", "coarse",
    )  # fmt: skip
    event = PreservationEvent.objects.filter(
        object_id=uploaded.id, event_type="metadata modification"
    )
    assert event.filter(data__user=people["reviewer"].pk, data__decision="approve").exists()
    stored = _record_json_in_object(uploaded.id)
    assert stored["record"]["visibility"] == "coarse"
    assert stored["capture"]["description"]["latitude"] == LAT  # the archive keeps it exactly

    # The public sees the coarse location only, on the page and in the JSON.
    public = anonymous.get(record_url).content.decode()
    assert "50.5, 30.5" in public and str(LAT) not in public and str(LON) not in public
    raw = anonymous.get(reverse("catalogue:record-json", args=[uploaded.record_id])).content
    body = json.loads(raw)
    assert body["captures"][0]["location"] == {
        "latitude": 50.5, "longitude": 30.5, "precision_m": 11000.0,
    }  # fmt: skip
    assert b"50.4501" not in raw and b"30.5234" not in raw
    assert "Wooden church" in anonymous.get(reverse("catalogue:browse")).content.decode()
    # Reviewers still see it exactly.
    assert f"{LAT}, {LON}" in reviewer.get(record_url).content.decode()
    # The contributor sees the decision on the account page.
    account = owner.get(reverse("accounts:account")).content.decode()
    assert 'data-decision="approve"' in account and "Approved" in account


def test_sealed_hidden_from_all_but_its_readers(uploaded, people, client_for) -> None:  # type: ignore[no-untyped-def]
    from spadok.catalogue.models import AccessLog

    curator = client_for(people["curator"])
    response = curator.post(
        reverse("catalogue:review-decide", args=[uploaded.id]),
        {"decision": "approve", "visibility": "sealed", "sealed_readers": [people["reader"].pk]},
    )
    assert response.status_code == 302
    assert _record_json_in_object(uploaded.id)["record"]["visibility"] == "sealed"
    record_url = reverse("catalogue:record", args=[uploaded.record_id])
    json_url = reverse("catalogue:record-json", args=[uploaded.record_id])
    for who in (None, people["owner"], people["reviewer"], people["curator"]):
        client = client_for(who)
        assert client.get(record_url).status_code == 404
        assert client.get(json_url).status_code == 404
        assert "box" not in client.get(reverse("catalogue:browse")).content.decode().lower()
    reader = client_for(people["reader"])
    assert reader.get(record_url).status_code == 200
    assert reader.get(json_url).status_code == 200
    original = reverse(
        "catalogue:file", args=[uploaded.record_id, uploaded.id, "original", "box.glb"]
    )
    assert reader.get(original).status_code == 200
    logged = list(AccessLog.objects.order_by("when", "id").values_list("user", "action", "capture"))
    reader_pk = people["reader"].pk
    assert logged == [
        (reader_pk, "view", None),
        (reader_pk, "json", None),
        (reader_pk, "file:original", uploaded.id),
    ]


def test_reject_and_recapture_reach_the_contributor(uploaded, people, client_for) -> None:  # type: ignore[no-untyped-def]
    reviewer = client_for(people["reviewer"])
    url = reverse("catalogue:review-decide", args=[uploaded.id])
    reviewer.post(url, {"decision": "recapture", "reason": "Walk around the back too."})
    account = client_for(people["owner"]).get(reverse("accounts:account")).content.decode()
    assert 'data-decision="recapture"' in account and "Walk around the back too." in account
    page = client_for(people["owner"]).get(
        reverse("catalogue:capture", args=[uploaded.record_id, uploaded.id])
    )
    assert "Walk around the back too." in page.content.decode()


def test_merge_moves_the_capture(uploaded, people, client_for, make_capture) -> None:  # type: ignore[no-untyped-def]
    target = make_capture(title="Wooden church (2019)").record
    reviewer = client_for(people["reviewer"])
    response = reviewer.post(
        reverse("catalogue:review-decide", args=[uploaded.id]),
        {"decision": "merge", "target_record": target.id},
    )
    assert response.status_code == 302
    uploaded.refresh_from_db()
    assert uploaded.record_id == target.id
    assert uploaded.decisions.get().data["to_record"] == target.id
