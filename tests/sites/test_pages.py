"""The site page, the list of sites, the map page: content, fallbacks, JSON-LD, location rule."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from django.urls import reverse

from spadok.catalogue.models import CaptureState, Record, Visibility
from spadok.sites.models import DamageStatus, SiteType
from tests.accounts import conftest as accounts_fixtures
from tests.site import conftest as site_fixtures
from tests.sites import map_fixtures

pytestmark = pytest.mark.django_db

# Fixtures shared with other test packages (pytest finds them by these names).
_fast_passwords = accounts_fixtures._fast_passwords
client_for = accounts_fixtures.client_for
make_user = accounts_fixtures.make_user
make_capture = site_fixtures.make_capture
make_site = map_fixtures.make_site
museums = map_fixtures.museums
regions = map_fixtures.regions

# A sensitive site's stored point: these digits must never reach the public.
EXACT_LAT, EXACT_LON = 49.842957, 24.031714
EXACT_DIGITS = ("842957", "031714")
# Shorter prefixes too, on everything but the region outlines (full of coordinates).
EXACT_FRAGMENTS = (*EXACT_DIGITS, "49.84", "24.031", "49,84", "24,031")
JSONLD = re.compile(r'<script type="application/ld\+json">(.*?)</script>', re.S)


def _jsonld(body: str) -> dict[str, Any]:
    blocks = JSONLD.findall(body)
    assert len(blocks) == 1, "one JSON-LD block per site page"
    return json.loads(blocks[0])


def _get(client: Any, url: str, lang: str = "en") -> str:
    response = client.get(url, HTTP_ACCEPT_LANGUAGE=lang)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_site_page_shows_the_site(client, regions, make_site) -> None:
    site = make_site(
        type=SiteType.CHURCH,
        designation="national significance",
        region=regions["UA-46"],
        settlement="Львів",
        address="вул. Руська, 5",
        latitude=49.8413,
        longitude=24.0339,
        wikidata="Q1986213",
        damage_status=DamageStatus.DAMAGED,
        damage_date=dt.date(2024, 7, 4),
    )
    body = _get(client, site.get_absolute_url(), "en")
    assert '<html lang="en">' in body
    assert '<h1 id="site-title">St Nicholas Church</h1>' in body
    assert 'lang="uk">Церква святого Миколая</span>' in body  # the other language's name
    assert "Religious building" in body and "national significance" in body
    assert "Lviv Oblast" in body and "Львів" in body and "вул. Руська, 5" in body
    assert "https://www.wikidata.org/wiki/Q1986213" in body
    assert "Damaged" in body and 'datetime="2024-07-04"' in body
    assert 'data-lat="49.8413"' in body and 'data-lon="24.0339"' in body
    assert "approximately" not in body

    body = _get(client, site.get_absolute_url(), "uk")
    assert '<html lang="uk">' in body
    assert '<h1 id="site-title">Церква святого Миколая</h1>' in body
    # a region without a Ukrainian name falls back to English; this one has one
    assert "Львівська область" in body


def test_unknown_site_is_404(client, db) -> None:
    assert client.get(reverse("sites:site", args=["s-nothing"])).status_code == 404


@pytest.mark.parametrize(
    ("names", "lang", "shown"),
    [
        ({"uk": "Собор", "en": "Cathedral"}, "en", "Cathedral"),
        ({"uk": "Собор", "en": "Cathedral"}, "uk", "Собор"),
        ({"uk": "Собор"}, "en", "Собор"),  # no English: Ukrainian
        ({"en": "Cathedral"}, "uk", "Cathedral"),  # no Ukrainian: English
        ({"pl": "Katedra"}, "en", "Katedra"),  # neither: whatever the source had
    ],
)
def test_names_fall_back(client, make_site, names, lang, shown) -> None:
    site = make_site(names=names)
    body = _get(client, site.get_absolute_url(), lang)
    assert f'<h1 id="site-title">{shown}</h1>' in body
    doc = _jsonld(body)
    assert {v["@language"]: v["@value"] for v in doc["name"]} == names


def test_jsonld_place(client, regions, make_site, make_capture) -> None:
    site = make_site(
        region=regions["UA-30"], latitude=50.4527, longitude=30.5143, wikidata="Q188344",
        settlement="Київ", descriptions={"en": "A cathedral </script><script>alert(1)</script>"},
    )  # fmt: skip
    capture = make_capture(title="Sofia, west front")
    Record.objects.filter(pk=capture.record_id).update(site=site)
    response = client.get(site.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="en")
    body = response.content.decode()
    assert "<script>alert(1)" not in body  # the description cannot end the data block
    doc = _jsonld(body)
    assert doc["@context"] == "https://schema.org" and doc["@type"] == "Place"
    assert doc["url"] == doc["@id"] == f"http://testserver{site.get_absolute_url()}"
    assert doc["geo"] == {"@type": "GeoCoordinates", "latitude": 50.4527, "longitude": 30.5143}
    assert doc["sameAs"] == ["https://www.wikidata.org/entity/Q188344"]
    assert doc["containedInPlace"]["@type"] == "AdministrativeArea"
    assert doc["containedInPlace"]["identifier"] == "UA-30"
    assert {"@language": "uk", "@value": "Київ"} in doc["containedInPlace"]["name"]
    assert doc["address"]["addressLocality"] == "Київ"
    assert doc["description"][0]["@value"].startswith("A cathedral </script>")
    assert doc["subjectOf"] == [
        {"@type": "CreativeWork", "name": "Sofia, west front",
         "url": f"http://testserver{capture.record.get_absolute_url()}"}
    ]  # fmt: skip
    # the page's policy allows no inline script: the JSON-LD is a data block, not a script
    csp = response["Content-Security-Policy"]
    assert (
        "script-src 'self' 'wasm-unsafe-eval'" in csp
        and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    )


@pytest.mark.db_both
def test_sensitive_site_never_shows_its_point(
    client,
    client_for,
    make_user,
    regions,
    make_site,
) -> None:
    site = make_site(
        sensitive=True, latitude=EXACT_LAT, longitude=EXACT_LON, region=regions["UA-46"],
        settlement="Львів", address="вул. Підвальна, 13",
    )  # fmt: skip
    urls = [
        site.get_absolute_url(),
        reverse("sites:site-list"),
        reverse("sites:site-list") + "?region=UA-46",
        reverse("sites:sites-geojson") + "?bbox=22,44,41,53",
        reverse("sites:sites-geojson") + "?bbox=23.9,49.7,24.2,49.9",
        reverse("sites:regions-geojson"),
        reverse("sites:map"),
    ]
    for url in urls:
        for lang in ("uk", "en"):
            body = client.get(url, HTTP_ACCEPT_LANGUAGE=lang).content.decode()
            outlines = url.startswith(reverse("sites:regions-geojson"))
            for fragment in EXACT_DIGITS if outlines else EXACT_FRAGMENTS:
                assert fragment not in body, (url, lang, fragment)
            assert "Підвальна" not in body, url
    body = _get(client, site.get_absolute_url(), "en")
    assert 'data-lat="49.8"' in body and 'data-lon="24.0"' in body
    assert "shown only approximately" in body
    doc = _jsonld(body)
    assert doc["geo"]["@type"] == "GeoCircle"
    assert doc["geo"]["geoMidpoint"]["latitude"] == 49.8
    assert doc["geo"]["geoRadius"] == 11000.0
    assert "streetAddress" not in doc["address"]
    assert doc["address"]["addressLocality"] == "Львів"  # the settlement is public

    # a reviewer sees the point and the address, on a page no shared cache keeps
    reviewer = client_for(make_user("rev", "reviewer"))
    response = reviewer.get(site.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="en")
    body = response.content.decode()
    assert f'data-lat="{EXACT_LAT}"' in body and "вул. Підвальна, 13" in body
    assert "no-store" in response["Cache-Control"]


def test_site_lists_only_visible_records_with_thumbnails(
    client,
    client_for,
    make_user,
    make_site,
    make_capture,
) -> None:
    site = make_site()
    shown = make_capture(title="West front", captured_at=dt.datetime(2023, 5, 2, tzinfo=dt.UTC))
    draft = make_capture(title="Draft scan")
    sealed = make_capture(title="Sealed scan")
    Record.objects.filter(pk=shown.record_id).update(site=site)
    Record.objects.filter(pk=draft.record_id).update(site=site, visibility=Visibility.DRAFT)
    Record.objects.filter(pk=sealed.record_id).update(site=site, visibility=Visibility.SEALED)
    site.damage_status, site.damage_date = DamageStatus.DESTROYED, dt.date(2024, 1, 9)
    site.save()
    body = _get(client, site.get_absolute_url(), "en")
    assert "West front" in body and shown.record.get_absolute_url() in body
    thumb = reverse("catalogue:file", args=[shown.record_id, shown.id, "derivative", "thumbnail"])
    assert thumb in body
    assert "Draft scan" not in body and "Sealed scan" not in body
    # the timeline: the capture (2023) before the damage (2024)
    timeline = body[body.index('id="timeline-title"') :]
    assert timeline.index('datetime="2023-05-02"') < timeline.index('datetime="2024-01-09"')
    assert "3D capture of “West front”" in timeline and "Destroyed" in timeline

    # a reviewer also sees the draft; nobody sees a sealed record listed here (its own
    # page logs each opening), not even an administrator
    body = client_for(make_user("rev", "reviewer")).get(site.get_absolute_url()).content.decode()
    assert "Draft scan" in body and "Sealed scan" not in body
    admin = client_for(make_user("boss", "administrator"))
    response = admin.get(site.get_absolute_url())
    assert response.status_code == 200
    assert "West front" in response.content.decode()
    assert "Sealed scan" not in response.content.decode()


def test_record_page_links_its_site(client, make_site, make_capture) -> None:
    site = make_site()
    capture = make_capture(title="Iconostasis")
    Record.objects.filter(pk=capture.record_id).update(site=site)
    body = _get(client, capture.record.get_absolute_url(), "en")
    assert f'href="{site.get_absolute_url()}">St Nicholas Church</a>' in body


@pytest.mark.db_both
def test_site_list_filters_and_pages(client, museums, make_site, make_capture) -> None:
    url = reverse("sites:site-list")
    body = _get(client, url, "en")
    assert f"{len(museums)} sites match." in body
    assert 'rel="next" href="?page=2"' in body
    for field in ("region", "type", "damage", "has_3d"):
        assert f'<label for="id_{field}">' in body  # every filter is labelled

    poltava = sum(1 for s in museums if s.region_id == "UA-53")
    assert poltava > 1
    body = _get(client, f"{url}?region=UA-53", "en")
    assert f"{poltava} sites match." in body

    church = make_site(type=SiteType.CHURCH, damage_status=DamageStatus.DESTROYED)
    body = _get(client, f"{url}?type=church&damage=destroyed", "en")
    assert "1 site matches." in body and church.get_absolute_url() in body

    capture = make_capture(title="Scan")
    Record.objects.filter(pk=capture.record_id).update(site=church)
    body = _get(client, f"{url}?has_3d=true", "en")
    assert "1 site matches." in body
    # filters survive paging
    body = _get(client, f"{url}?type=museum&page=2", "en")
    assert 'href="?type=museum&amp;page=1"' in body or 'href="?type=museum&page=1"' in body


def test_map_page_without_tiles(client, regions, settings) -> None:
    settings.SPADOK_TILE_URL = ""
    response = client.get(reverse("sites:map"), HTTP_ACCEPT_LANGUAGE="en")
    body = response.content.decode()
    assert 'data-tile-url=""' in body
    assert "/static/vendor/leaflet.markercluster/leaflet.markercluster.js" in body
    found = re.search(r'id="map-labels"[^>]*>(.*?)</script>', body, re.S)
    assert found is not None
    labels = json.loads(found[1])
    assert labels["types"]["museum"] == "Museum" and labels["damage"]["destroyed"] == "Destroyed"
    assert "img-src 'self' data: blob:;" in response["Content-Security-Policy"]
    for field in ("type", "damage", "has_3d"):
        assert f'<label for="id_{field}">' in body

    body = client.get(reverse("sites:map"), HTTP_ACCEPT_LANGUAGE="uk").content.decode()
    assert '<html lang="uk">' in body


def test_map_page_with_tiles_lets_only_that_host_in(client, db, settings) -> None:
    settings.SPADOK_TILE_URL = "https://tiles.example.org/{z}/{x}/{y}.png"
    settings.SPADOK_TILE_ATTRIBUTION = "© Example"
    response = client.get(reverse("sites:map"))
    assert 'data-tile-url="https://tiles.example.org/{z}/{x}/{y}.png"' in response.content.decode()
    assert 'data-tile-attribution="© Example"' in response.content.decode()
    csp = response["Content-Security-Policy"]
    assert "img-src 'self' data: blob: https://tiles.example.org;" in csp
    assert (
        "tiles.example.org"
        not in csp.split("img-src")[0] + csp.split("img-src")[1].split(";", 1)[1]
    )


def test_nav_links_to_sites_and_map(client, db) -> None:
    body = _get(client, reverse("sites:map"), "en")
    assert f'href="{reverse("sites:map")}" aria-current="page">Map</a>' in body
    assert f'href="{reverse("sites:site-list")}">Sites</a>' in body


def test_ready_state_only(make_capture, make_site, client) -> None:
    """A failed capture is not a 3D model: the list does not badge it."""
    site = make_site()
    capture = make_capture(title="Broken", state=CaptureState.FAILED)
    Record.objects.filter(pk=capture.record_id).update(site=site)
    body = _get(client, reverse("sites:site-list") + "?has_3d=true", "en")
    assert "0 sites match." in body
