"""The map's GeoJSON: bounding boxes, filters, errors, "has 3D", regions with counts."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from spadok.catalogue.models import CaptureState, Record, Visibility
from spadok.sites import geojson
from spadok.sites.models import DamageStatus, Site
from tests.site import conftest as site_fixtures
from tests.sites import map_fixtures

pytestmark = pytest.mark.django_db

# Fixtures shared with other test packages (pytest finds them by these names).
make_capture = site_fixtures.make_capture
make_site = map_fixtures.make_site
museums = map_fixtures.museums
regions = map_fixtures.regions

SITES = "/api/sites.geojson"  # the documented addresses
REGIONS = "/api/regions.geojson"


def _get(client: Any, query: str, status: int = 200) -> dict[str, Any]:
    response = client.get(f"{SITES}?{query}")
    assert response.status_code == status, response.content[:300]
    if status == 200:
        assert response["Content-Type"].startswith("application/geo+json")
        assert "public" in response["Cache-Control"]
    return json.loads(response.content)


@pytest.mark.db_both
def test_bbox_selects_the_sites_inside(client, museums) -> None:
    west, south, east, north = 30.2, 50.2, 30.8, 50.6  # Kyiv
    inside = {s.pk for s in museums if south <= s.latitude <= north and west <= s.longitude <= east}
    assert len(inside) > 10, "the real list has many museums in Kyiv"
    doc = _get(client, f"bbox={west},{south},{east},{north}")
    assert doc["type"] == "FeatureCollection"
    assert {f["properties"]["id"] for f in doc["features"]} == inside
    feature = doc["features"][0]
    site = Site.objects.get(pk=feature["id"])
    assert feature["geometry"] == {"type": "Point", "coordinates": [site.longitude, site.latitude]}
    assert set(feature["properties"]) == {
        "id", "name", "type", "damage_status", "has_3d", "approximate", "url"
    }  # fmt: skip
    assert feature["properties"]["url"] == site.get_absolute_url()
    assert feature["properties"]["type"] == "museum"

    everything = _get(client, "bbox=-180,-90,180,90")
    assert len(everything["features"]) == len(museums)


def test_names_are_localized(client, make_site) -> None:
    make_site(latitude=50.0, longitude=30.0)
    make_site(names={"uk": "Лише українською"}, latitude=50.1, longitude=30.1)
    names = {f["properties"]["name"] for f in _get(client, "bbox=29,49,31,51&lang=en")["features"]}
    assert names == {"St Nicholas Church", "Лише українською"}
    names = {f["properties"]["name"] for f in _get(client, "bbox=29,49,31,51&lang=uk")["features"]}
    assert names == {"Церква святого Миколая", "Лише українською"}


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("", "map.bad_bbox"),
        ("bbox=", "map.bad_bbox"),
        ("bbox=1,2,3", "map.bad_bbox"),
        ("bbox=a,b,c,d", "map.bad_bbox"),
        ("bbox=nan,44,40,52", "map.bad_bbox"),
        ("bbox=22,44,inf,52", "map.bad_bbox"),
        ("bbox=-200,44,40,52", "map.bad_bbox"),
        ("bbox=22,-95,40,52", "map.bad_bbox"),
        ("bbox=40,44,22,52", "map.bad_bbox"),  # west > east
        ("bbox=22,52,40,52", "map.bad_bbox"),  # empty
        ("bbox=22,44,40,52&type=castle", "map.bad_filter"),
        ("bbox=22,44,40,52&damage=burnt", "map.bad_filter"),
        ("bbox=22,44,40,52&has_3d=maybe", "map.bad_filter"),
    ],
)
def test_bad_requests_say_what_to_do(client, db, query, code) -> None:
    response = client.get(f"{SITES}?{query}")
    assert response.status_code == 400
    error = json.loads(response.content)["error"]
    assert error["code"] == code
    assert error["message"].strip()


def test_too_many_features_is_a_clear_400(client, museums, monkeypatch) -> None:
    monkeypatch.setattr(geojson, "MAX_FEATURES", 50)
    error = _get(client, "bbox=22,44,41,53", status=400)["error"]
    assert error["code"] == "map.too_many_features"
    assert "Zoom in" in error["message"]
    small = _get(client, "bbox=30.5,50.4,30.55,50.45")  # a few streets of Kyiv fit
    assert 0 < len(small["features"]) <= 50


@pytest.mark.db_both
def test_has_3d_counts_only_what_the_public_sees(client, make_site, make_capture) -> None:
    sites = {
        name: make_site(names={"en": name}, latitude=50 + i / 10, longitude=30.0)
        for i, name in enumerate(["public", "draft", "sealed", "embargoed", "failed", "none"])
    }
    future = dt.date.today() + dt.timedelta(days=30)
    for name, visibility, state in [
        ("public", Visibility.PUBLIC, CaptureState.READY),
        ("draft", Visibility.DRAFT, CaptureState.READY),
        ("sealed", Visibility.SEALED, CaptureState.READY),
        ("embargoed", Visibility.EMBARGOED, CaptureState.READY),
        ("failed", Visibility.PUBLIC, CaptureState.FAILED),
    ]:
        capture = make_capture(title=name, state=state)
        Record.objects.filter(pk=capture.record_id).update(
            site=sites[name], visibility=visibility, embargo_until=future
        )
    doc = _get(client, "bbox=29,49,31,51&lang=en")
    flags = {f["properties"]["name"]: f["properties"]["has_3d"] for f in doc["features"]}
    assert flags == {
        "public": True, "draft": False, "sealed": False, "embargoed": False,
        "failed": False, "none": False,
    }  # fmt: skip
    only = _get(client, "bbox=29,49,31,51&has_3d=true&lang=en")["features"]
    assert [f["properties"]["name"] for f in only] == ["public"]
    without = _get(client, "bbox=29,49,31,51&has_3d=false")["features"]
    assert len(without) == 5


def test_filters_by_type_and_damage(client, museums, make_site) -> None:
    hit = make_site(
        type="church", damage_status=DamageStatus.DESTROYED, latitude=47.1, longitude=37.5
    )
    make_site(type="church", damage_status=DamageStatus.DAMAGED, latitude=47.2, longitude=37.6)
    doc = _get(client, "bbox=22,44,41,53&type=church&damage=destroyed")
    assert [f["id"] for f in doc["features"]] == [hit.pk]
    undamaged = _get(client, "bbox=22,44,41,53&damage=none")["features"]
    assert len(undamaged) == len(museums)


@pytest.mark.db_both
def test_sensitive_sites_are_boxed_by_their_public_point(client, make_site) -> None:
    """Boxing by the stored point would let anyone shrink the box around it."""
    site = make_site(sensitive=True, latitude=50.0437, longitude=30.0462)  # public: 50.0, 30.0
    # the stored point is inside, the public one is not: nothing
    assert _get(client, "bbox=30.03,50.03,30.06,50.06")["features"] == []
    # the public point is inside, the stored one is not: the site, at its public point
    features = _get(client, "bbox=29.97,49.97,30.02,50.02")["features"]
    assert [f["id"] for f in features] == [site.pk]
    assert features[0]["geometry"]["coordinates"] == [30.0, 50.0]
    assert features[0]["properties"]["approximate"] is True
    for query in ("bbox=29,49,31,51", "bbox=29.97,49.97,30.02,50.02"):
        body = client.get(f"{SITES}?{query}").content.decode()
        assert "0437" not in body and "0462" not in body


@pytest.mark.db_both
def test_regions_have_outlines_and_counts(client, museums, make_site, make_capture) -> None:
    site = make_site(damage_status=DamageStatus.DAMAGED, latitude=49.84, longitude=24.03,
                     region_id="UA-46")  # fmt: skip
    capture = make_capture(title="scan")
    Record.objects.filter(pk=capture.record_id).update(site=site)
    response = client.get(f"{REGIONS}?lang=en")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/geo+json")
    doc = json.loads(response.content)
    assert len(doc["features"]) == 27
    by_code = {f["id"]: f for f in doc["features"]}
    lviv = by_code["UA-46"]["properties"]
    assert lviv["name"] == "Lviv Oblast"
    assert lviv["sites"] == sum(1 for s in museums if s.region_id == "UA-46") + 1
    assert lviv["damaged"] == 1 and lviv["with_3d"] == 1
    assert (
        sum(f["properties"]["sites"] for f in doc["features"])
        == Site.objects.filter(region__isnull=False).count()
    )
    assert by_code["UA-46"]["geometry"]["type"] in {"Polygon", "MultiPolygon"}
    uk = json.loads(client.get(f"{REGIONS}?lang=uk").content)
    assert {f["id"]: f["properties"]["name"] for f in uk["features"]}[
        "UA-46"
    ] == "Львівська область"


def test_geojson_is_gzipped_for_clients_that_ask(client, museums) -> None:
    response = client.get(f"{SITES}?bbox=22,44,41,53", HTTP_ACCEPT_ENCODING="gzip")
    assert response["Content-Encoding"] == "gzip"
    import gzip

    assert len(json.loads(gzip.decompress(response.content))["features"]) == len(museums)
