"""The public pages and the JSON view, through Django's test client."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.urls import reverse

from spadok.catalogue.models import CaptureState, Record, Visibility
from tests.site.conftest import BOX_MESHOPT, FUZE_OBJ
from tests.testdata import data

pytestmark = pytest.mark.django_db


def _page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    body = response.content.decode()
    assert "Traceback" not in body
    assert response["Content-Security-Policy"].startswith("default-src 'self'")
    return body


def test_home_shows_counts_and_latest(client, make_capture) -> None:
    make_capture(title="Church of St. Nicholas")
    body = _page(client, reverse("catalogue:home"))
    assert "Church of St. Nicholas" in body
    assert '<html lang="uk">' in body
    assert reverse("catalogue:browse") in body


def test_home_with_an_empty_archive(client, storage_root) -> None:
    body = _page(client, reverse("catalogue:home"))
    assert 'class="empty"' in body


def test_browse_cards_have_lazy_thumbnails_and_pages(client, make_capture, settings) -> None:
    first = make_capture(title="Record one")
    for n in range(25):
        Record.objects.create(title=f"Filler {n}")
    body = _page(client, reverse("catalogue:browse"))
    assert "Filler 24" in body and "Record one" not in body  # newest first, 24 a page
    assert 'rel="next"' in body
    body2 = _page(client, reverse("catalogue:browse") + "?page=2")
    assert "Record one" in body2
    img = re.search(r'<img src="([^"]+)" alt="" loading="lazy"', body2)
    assert img and first.id in img.group(1)
    assert client.get(img.group(1)).status_code == 200
    assert "GLB" in body2


def test_browse_hides_drafts(client, make_capture) -> None:
    capture = make_capture(title="Secret draft")
    Record.objects.filter(id=capture.record_id).update(visibility=Visibility.DRAFT)
    assert "Secret draft" not in _page(client, reverse("catalogue:browse"))
    assert client.get(reverse("catalogue:record", args=[capture.record_id])).status_code == 404


def test_record_page_has_viewer_stats_downloads_and_json_link(client, make_capture) -> None:
    capture = make_capture(
        title="Pyrohoshcha",
        stats={
            "kind": "mesh",
            "triangles": 123456,
            "vertices": 70000,
            "unit": "m",
            "bbox": {"min": [0, 0, 0], "max": [12.5, 8.25, 21.0]},
            "size": [12.5, 8.25, 21.0],
            "dimensions_m": [12.5, 8.25, 21.0],
            "surface_area": 850.5,
            "surface_area_m2": 850.5,
            "volume": 1200.0,
            "volume_m3": 1200.0,
            "watertight": True,
            "components": 1,
            "textures": [{"name": "a.jpg", "width": 4096, "height": 4096, "format": "jpeg"}],
            "has_vertex_colors": False,
            "crs": "EPSG:32636",
        },
    )
    record = capture.record
    body = _page(client, reverse("catalogue:record", args=[record.id]))
    assert "<model-viewer" in body and 'ar-modes="webxr scene-viewer quick-look"' in body
    assert "auto-rotate" not in body.split("<model-viewer", 1)[1].split(">", 1)[0]
    assert "camera-controls" in body
    assert 'poster="/records/' in body
    assert 'data-role="web-medium"' in body
    # decoders are local; the config script comes before model-viewer
    assert body.index("viewer-config.js") < body.index("model-viewer.min.js")
    assert "/static/vendor/three-libs/draco/" in body
    assert "/static/vendor/meshoptimizer/meshopt_decoder.cjs" in body
    # statistics in human terms (uk formatting groups digits with a space)
    assert re.search(r"123\s456", body)
    assert re.search(r"12,5 м|12,5 m", body)  # Ukrainian decimal comma
    assert re.search(r"1\s200 (м|m)³", body)
    assert "4096×4096 JPEG" in body
    assert "EPSG:32636" in body
    # downloads with size and sha256
    orig = capture.originals[0]
    assert orig["sha256"] in body
    assert reverse("catalogue:record-json", args=[record.id]) in body


def test_record_page_in_english(client, make_capture) -> None:
    stats = {"triangles": 1234567, "unit": "cm", "size": [50, 200, 300], "dimensions_m": None}
    capture = make_capture(title="Box", stats=stats)
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"}, follow=False)
    assert response.status_code == 302
    body = _page(client, reverse("catalogue:record", args=[capture.record_id]))
    assert '<html lang="en">' in body
    assert "1,234,567" in body
    assert "50 cm × 2 m × 3 m" in body


def test_unknown_record_is_404(client, storage_root) -> None:
    for url in (
        reverse("catalogue:record", args=["r_nope"]),
        reverse("catalogue:record-json", args=["r_nope"]),
    ):
        response = client.get(url)
        assert response.status_code == 404
        assert b"Traceback" not in response.content


def test_unknown_file_is_404(client, make_capture) -> None:
    capture = make_capture()
    bad = [
        reverse("catalogue:file", args=[capture.record_id, capture.id, "original", "nope.glb"]),
        reverse("catalogue:file", args=[capture.record_id, capture.id, "derivative", "web-x"]),
        reverse("catalogue:file", args=[capture.record_id, "c_nope", "original", "a.glb"]),
    ]
    for url in bad:
        assert client.get(url).status_code == 404


def test_json_view(client, make_capture) -> None:
    capture = make_capture(title="Успенський собор")
    response = client.get(reverse("catalogue:record-json", args=[capture.record_id]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "Успенський собор".encode() in response.content  # not \u-escaped
    doc = response.json()
    assert doc["id"] == capture.record_id
    assert doc["url"].startswith("http://testserver/records/")
    [cap] = doc["captures"]
    assert cap["originals"][0]["sha256"] == capture.originals[0]["sha256"]
    roles = {d["role"] for d in cap["derivatives"]}
    assert roles == {"web-medium", "thumbnail"}
    for d in cap["derivatives"]:
        assert client.get(d["url"]).status_code == 200


def _as_contributor(client, capture) -> None:  # type: ignore[no-untyped-def]
    from django.contrib.auth import get_user_model

    owner = get_user_model().objects.create_user("owner", password="x-long-password-1")
    capture.contributor = owner
    capture.save(update_fields=["contributor"])
    client.force_login(owner)


def test_original_download_is_byte_identical(client, make_capture) -> None:
    source = data(*BOX_MESHOPT)
    capture = make_capture(original=source)
    url = reverse("catalogue:file", args=[capture.record_id, capture.id, "original", source.name])
    assert client.get(url).status_code == 404  # sealed: not for the public
    _as_contributor(client, capture)
    response = client.get(url)
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    body = b"".join(response.streaming_content)
    assert body == source.read_bytes()
    assert hashlib.sha256(body).hexdigest() == capture.originals[0]["sha256"]


def test_web_copy_downloads_and_views(client, make_capture) -> None:
    capture = make_capture()
    url = reverse(
        "catalogue:file", args=[capture.record_id, capture.id, "derivative", "web-medium"]
    )
    inline = client.get(url)
    assert inline.status_code == 200 and inline["Content-Type"] == "model/gltf-binary"
    assert "attachment" not in inline.get("Content-Disposition", "")
    attached = client.get(url + "?download=1")
    assert "attachment" in attached["Content-Disposition"]


def test_record_page_shows_processing_and_failed_captures(client, make_capture) -> None:
    ready = make_capture(title="Mixed")
    record = ready.record
    make_capture(record=record, state=CaptureState.PROCESSING)
    make_capture(
        record=record,
        state=CaptureState.FAILED,
        error_code="format.unknown",
        error_message="This file is not a 3D model spadok can read. Send it as GLB, OBJ or PLY.",
    )
    body = _page(client, reverse("catalogue:record", args=[record.id]))
    assert 'class="state state--processing"' in body
    assert '<progress id="progress-' in body and 'value="40"' in body
    assert "format.unknown" in body
    assert "Send it as GLB, OBJ or PLY." in body
    assert "<model-viewer" in body  # the ready capture is still shown


def test_record_without_a_ready_capture_has_no_viewer(client, make_capture) -> None:
    capture = make_capture(title="Waiting", state=CaptureState.RECEIVED)
    body = _page(client, reverse("catalogue:record", args=[capture.record_id]))
    assert "<model-viewer" not in body
    assert "model-viewer.min.js" not in body
    assert "Waiting" in body


def test_pages_for_a_real_ingest(client, ingest) -> None:
    source = data(*FUZE_OBJ)
    capture = ingest(source, title="Fuze bottle")
    record = capture.record
    body = _page(client, reverse("catalogue:record", args=[record.id]))
    assert "Fuze bottle" in body
    assert re.search(r"1\s000", body)  # triangles
    assert "1024×1024 JPEG" in body
    assert 'data-role="web-high"' in body
    _as_contributor(client, capture)  # originals are sealed; their contributor may fetch them
    for item in capture.originals:  # the OBJ, its MTL and its texture, byte for byte
        url = reverse("catalogue:file", args=[record.id, capture.id, "original", item["path"]])
        assert item["sha256"] in body
        response = client.get(url)
        assert response.status_code == 200
        got = b"".join(response.streaming_content)
        assert got == (source.parent / item["path"]).read_bytes()
    doc = client.get(reverse("catalogue:record-json", args=[record.id])).json()
    roles = {d["role"] for d in doc["captures"][0]["derivatives"]}
    assert {"web-high", "thumbnail"} <= roles
    assert "Fuze bottle" in _page(client, reverse("catalogue:browse"))
    assert "Fuze bottle" in _page(client, reverse("catalogue:home"))


@pytest.mark.parametrize(
    ("path", "mime"),
    [
        ("/static/vendor/model-viewer/model-viewer.min.js", "text/javascript"),
        ("/static/vendor/meshoptimizer/meshopt_decoder.cjs", "text/javascript"),
        ("/static/vendor/three-libs/draco/draco_decoder.wasm", "application/wasm"),
        ("/static/vendor/three-libs/basis/basis_transcoder.js", "text/javascript"),
        ("/static/spadok/js/viewer-config.js", "text/javascript"),
        ("/static/spadok/css/spadok.css", "text/css"),
    ],
)
def test_viewer_assets_are_served_locally(client, path: str, mime: str) -> None:
    response = client.get(path)
    assert response.status_code == 200, path
    assert response["Content-Type"].startswith(mime)
