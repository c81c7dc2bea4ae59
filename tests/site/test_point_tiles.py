"""A big point cloud's page and its tiles, through Django's test client: the streaming
viewer is offered, and its tiles come back as exact byte ranges of the stored file."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from spadok.catalogue.models import Record, Visibility
from tests.site.pointfixtures import TRIM, tiled_capture_fixture  # noqa: F401 - a fixture
from tests.testdata import data

pytestmark = pytest.mark.django_db


def _url(capture, role: str) -> str:  # type: ignore[no-untyped-def]
    return reverse("catalogue:file", args=[capture.record_id, capture.id, "derivative", role])


def test_record_page_offers_the_streaming_viewer(client, tiled_capture) -> None:
    body = client.get(reverse("catalogue:record", args=[tiled_capture.record_id])).content.decode()
    assert 'id="pointviewer"' in body
    assert f'data-index="{_url(tiled_capture, "web-lod")}"' in body
    assert f'data-data="{_url(tiled_capture, "web-lod-data")}"' in body
    assert "pointviewer/pointviewer.js" in body
    assert "<model-viewer" not in body  # the GLB view is for clouds without tiles
    assert "<script>" not in body  # nothing inline, under the CSP


def test_small_cloud_keeps_the_glb_view(client, ingest) -> None:
    capture = ingest(data(*TRIM), title="Autzen stadium")
    body = client.get(reverse("catalogue:record", args=[capture.record_id])).content.decode()
    assert 'id="pointviewer"' not in body and "<model-viewer" in body


def test_tiles_are_served_as_exact_byte_ranges(client, tiled_capture) -> None:
    index = json.loads(b"".join(client.get(_url(tiled_capture, "web-lod")).streaming_content))
    whole = client.get(_url(tiled_capture, "web-lod-data"))
    assert whole.status_code == 200 and whole["Accept-Ranges"] == "bytes"
    blob = b"".join(whole.streaming_content)
    assert len(blob) == index["data"]["bytes"]
    nodes = [n for n in index["nodes"] if n["points"]]
    assert len(nodes) > 4
    for node in nodes[:6]:
        first, last = node["offset"], node["offset"] + node["bytes"] - 1
        part = client.get(_url(tiled_capture, "web-lod-data"), HTTP_RANGE=f"bytes={first}-{last}")
        assert part.status_code == 206
        assert part["Content-Range"] == f"bytes {first}-{last}/{len(blob)}"
        assert part.content == blob[first : last + 1]
        assert part["Cache-Control"] == "public, max-age=86400"
    tail = client.get(_url(tiled_capture, "web-lod-data"), HTTP_RANGE="bytes=-10")
    assert tail.status_code == 206 and tail.content == blob[-10:]
    past = client.get(_url(tiled_capture, "web-lod-data"), HTTP_RANGE=f"bytes={len(blob)}-")
    assert past.status_code == 416 and past["Content-Range"] == f"bytes */{len(blob)}"
    several = client.get(_url(tiled_capture, "web-lod-data"), HTTP_RANGE="bytes=0-1,5-6")
    assert several.status_code == 200  # not understood: the whole file, as RFC 9110 allows


def test_hidden_record_tiles_stay_hidden(client, tiled_capture) -> None:
    Record.objects.filter(id=tiled_capture.record_id).update(visibility=Visibility.DRAFT)
    for role in ("web-lod", "web-lod-data"):
        response = client.get(_url(tiled_capture, role), HTTP_RANGE="bytes=0-99")
        assert response.status_code == 404, role


def test_index_carries_no_georeference_or_people(client, tiled_capture) -> None:
    raw = b"".join(client.get(_url(tiled_capture, "web-lod")).streaming_content).decode()
    index = json.loads(raw)
    assert set(index) >= {"cube", "bounds", "levels", "nodes", "attributes", "up", "unit"}
    # Local coordinates only: the survey's easting/northing (636,000 / 849,000 ft) is absent.
    for corner in index["bounds"]:
        assert all(abs(v) < 5_000 for v in corner)
    assert "crs" not in index and "offset" not in index
