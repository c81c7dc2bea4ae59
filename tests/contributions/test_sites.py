"""The site in the capture form (search, nearby, new) and in review (confirm, change).

Sites are made in the registry's table and indexed with the search index's own
entry point; the capture form is driven through HTTP as a browser without
JavaScript would (plain GET search, radio buttons, POST).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

# The capture was made in front of St Andrew's Church, Kyiv.
LAT, LON = 50.45907, 30.51798
SECRET_LAT, SECRET_LON = 50.46237, 30.52681  # a sensitive site 700 m away


@pytest.fixture
def registry(db: Any) -> dict[str, Any]:
    from spadok.search.index import refresh_sites
    from spadok.sites.models import Site, SiteType

    sites = {
        "andrew": Site.objects.create(
            names={"uk": "Андріївська церква", "en": "St Andrew's Church"},
            type=SiteType.CHURCH,
            settlement="Київ",
            latitude=50.45893,
            longitude=30.51787,
        ),
        "museum": Site.objects.create(
            names={"uk": "Музей однієї вулиці", "en": "Museum of One Street"},
            type=SiteType.MUSEUM,
            settlement="Київ",
            latitude=50.46010,
            longitude=30.51520,
        ),
        "store": Site.objects.create(
            names={"uk": "Сховище ікон", "en": "Icon store"},
            type=SiteType.MUSEUM,
            settlement="Київ",
            latitude=SECRET_LAT,
            longitude=SECRET_LON,
            sensitive=True,
        ),
        "far": Site.objects.create(
            names={"uk": "Софія Київська", "en": "Saint Sophia Cathedral"},
            type=SiteType.CHURCH,
            settlement="Київ",
            latitude=50.45290,
            longitude=30.51430,
        ),
        "lviv": Site.objects.create(
            names={"uk": "Андріївський костел", "en": "Church of St Andrew, Lviv"},
            type=SiteType.CHURCH,
            settlement="Львів",
            latitude=49.83850,
            longitude=24.03380,
        ),
    }
    refresh_sites([s.pk for s in sites.values()])
    return sites


@pytest.fixture
def located(draft_capture: Any) -> Any:
    from spadok.catalogue.models import Capture

    Capture.objects.filter(id=draft_capture.id).update(
        latitude=LAT, longitude=LON, location_precision_m=8, location_source="exif"
    )
    return Capture.objects.select_related("record").get(id=draft_capture.id)


def _url(capture: Any, name: str = "catalogue:capture") -> str:
    return reverse(name, args=[capture.record_id, capture.id])


def _form(**extra: str) -> dict[str, str]:
    return {
        "title": "St Andrew's Church, west side",
        "latitude": str(LAT),
        "longitude": str(LON),
        "location_precision_m": "8",
        "location_source": "exif",
        "licence": "cc-by-4.0",
        "consent": "on",
        **extra,
    }


def _site_options(html: str) -> list[str]:
    import re

    return re.findall(r'data-site-option="([^"]+)"', html)


def test_the_form_lists_sites_near_the_capture_nearest_first(
    located: Any, registry: dict[str, Any], people: dict[str, Any], client_for: Any
) -> None:
    page = client_for(people["owner"]).get(_url(located))
    assert page.status_code == 200
    html = page.content.decode()
    options = _site_options(html)
    # within 2 km, nearest first; Sophia is 700 m south, Lviv far away
    assert options[:2] == [registry["andrew"].pk, registry["museum"].pk]
    assert registry["far"].pk in options and registry["lviv"].pk not in options
    assert 'value="new"' in html and 'name="site"' in html


def test_a_sensitive_site_is_never_placed_exactly_for_a_contributor(
    located: Any, registry: dict[str, Any], people: dict[str, Any], client_for: Any
) -> None:
    """Near-lists are measured to the public (coarse) point: probing finds nothing."""
    from spadok.sites.selectors import sites_near

    client = client_for(people["owner"])
    url = _url(located, "catalogue:capture-sites")
    answer = client.get(url, {"lat": SECRET_LAT, "lon": SECRET_LON}).json()
    assert registry["store"].pk not in [o["id"] for o in answer["near"]]
    text = json.dumps(answer)
    for value in (SECRET_LAT, SECRET_LON):
        assert f"{value:.3f}" not in text
    # a reviewer, who sees exact places, finds it where it is
    near = sites_near(SECRET_LAT, SECRET_LON, 100, 5, user=people["reviewer"])
    assert [s.pk for s, _m in near] == [registry["store"].pk]
    assert sites_near(SECRET_LAT, SECRET_LON, 100, 5, user=people["owner"]) == []


def test_search_by_name_without_javascript(
    located: Any, registry: dict[str, Any], people: dict[str, Any], client_for: Any
) -> None:
    client = client_for(people["owner"])
    html = client.get(_url(located), {"site_q": "Андріївський костел"}).content.decode()
    assert registry["lviv"].pk in _site_options(html)
    html = client.get(_url(located), {"site_q": "Ніщотакого Немає"}).content.decode()
    assert "data-sites-none" in html


def test_the_json_picker_finds_by_name_and_is_only_for_the_contributor(
    located: Any, registry: dict[str, Any], people: dict[str, Any], client_for: Any
) -> None:
    url = _url(located, "catalogue:capture-sites")
    found = client_for(people["owner"]).get(url, {"q": "Львів Андріївський"}).json()["found"]
    assert found and found[0]["id"] == registry["lviv"].pk and found[0]["settlement"] == "Львів"
    assert client_for(people["other"]).get(url, {"q": "Андріївський"}).status_code == 404
    assert client_for().get(url).status_code == 302  # to the sign-in page


def test_picking_a_site_files_the_draft_record_under_it(
    located: Any, registry: dict[str, Any], people: dict[str, Any], client_for: Any
) -> None:
    from spadok.catalogue.models import Capture

    r = client_for(people["owner"]).post(_url(located), _form(site=registry["andrew"].pk))
    assert r.status_code == 302, r.content.decode()[:2000]
    capture = Capture.objects.select_related("record").get(id=located.id)
    assert capture.record.site_id == registry["andrew"].pk
    assert capture.suggested_site_id == registry["andrew"].pk
    assert capture.flag_sensitive_site is False
    # the form shows the choice again
    html = client_for(people["owner"]).get(_url(located)).content.decode()
    assert f'value="{registry["andrew"].pk}" checked' in html


def test_an_unknown_site_id_is_refused(
    located: Any, people: dict[str, Any], client_for: Any
) -> None:
    r = client_for(people["owner"]).post(_url(located), _form(site="s-nosuchsite"))
    assert r.status_code == 400
    assert "not in the registry" in r.content.decode()


def test_describing_a_new_sensitive_site(
    located: Any, people: dict[str, Any], client_for: Any
) -> None:
    from spadok.catalogue.models import Capture
    from spadok.sites.selectors import public_point

    form = _form(
        site="new",
        new_site_name="Дерев'яна каплиця",
        new_site_type="church",
        new_site_settlement="Київ",
        flag_sensitive_site="on",
    )
    r = client_for(people["owner"]).post(_url(located), form)
    assert r.status_code == 302, r.content.decode()[:2000]
    capture = Capture.objects.select_related("record__site").get(id=located.id)
    site = capture.record.site
    assert site is not None and capture.suggested_site_id == site.pk
    assert site.names == {"en": "Дерев'яна каплиця"}  # the test client reads in English
    assert (site.latitude, site.longitude) == (LAT, LON)
    assert site.type == "church" and site.settlement == "Київ"
    assert site.sensitive and capture.flag_sensitive_site
    assert site.provenance[0]["source"] == "volunteer"
    lat, lon, precision = public_point(site)  # type: ignore[misc]
    assert (lat, lon) == (50.5, 30.5) and precision


def test_a_new_site_needs_a_name_and_a_point(
    located: Any, people: dict[str, Any], client_for: Any
) -> None:
    from spadok.sites.models import Site

    client = client_for(people["owner"])
    assert client.post(_url(located), _form(site="new")).status_code == 400
    form = _form(site="new", new_site_name="Каплиця", latitude="", longitude="")
    r = client.post(_url(located), form)
    assert r.status_code == 400 and "point on the map" in r.content.decode()
    assert not Site.objects.exists()


def test_a_reviewed_record_keeps_its_site_and_gets_a_suggestion(
    located: Any, registry: dict[str, Any], people: dict[str, Any], client_for: Any
) -> None:
    from spadok.catalogue.models import Capture, Record, Visibility

    Record.objects.filter(id=located.record_id).update(
        visibility=Visibility.PUBLIC, site=registry["far"]
    )
    r = client_for(people["owner"]).post(_url(located), _form(site=registry["andrew"].pk))
    assert r.status_code == 302
    capture = Capture.objects.select_related("record").get(id=located.id)
    assert capture.record.site_id == registry["far"].pk
    assert capture.suggested_site_id == registry["andrew"].pk


def _approve(client: Any, capture: Any, **extra: str) -> Any:
    url = reverse("catalogue:review-decide", args=[capture.id])
    return client.post(url, {"decision": "approve", "visibility": "public", **extra})


def test_review_shows_the_site_and_confirms_it(
    located: Any, registry: dict[str, Any], people: dict[str, Any], client_for: Any
) -> None:
    from spadok.catalogue.models import Record, ReviewDecision

    client_for(people["owner"]).post(
        _url(located), _form(site=registry["andrew"].pk, flag_sensitive_site="on")
    )
    reviewer = client_for(people["reviewer"])
    html = reviewer.get(reverse("catalogue:review")).content.decode()
    assert "St Andrew" in html and 'data-flag="sensitive-site"' in html
    assert registry["museum"].pk in html  # nearby, to choose from
    r = _approve(reviewer, located, site=registry["andrew"].pk)
    assert r.status_code == 302
    decision = ReviewDecision.objects.get(capture=located, decision="approve")
    assert decision.data["site"] == registry["andrew"].pk
    assert decision.data["from_site"] == registry["andrew"].pk
    assert Record.objects.get(id=located.record_id).site_id == registry["andrew"].pk


def test_review_changes_the_site_and_marks_it_sensitive(
    located: Any, registry: dict[str, Any], people: dict[str, Any], client_for: Any
) -> None:
    from spadok.catalogue.models import Record, ReviewDecision
    from spadok.sites.models import Site

    client_for(people["owner"]).post(_url(located), _form(site=registry["andrew"].pk))
    reviewer = client_for(people["reviewer"])
    r = _approve(reviewer, located, site="keep", site_other=registry["museum"].pk)
    assert r.status_code == 302
    record = Record.objects.get(id=located.record_id)
    assert record.site_id == registry["museum"].pk and record.visibility == "public"
    decision = ReviewDecision.objects.get(capture=located, decision="approve")
    assert decision.data["from_site"] == registry["andrew"].pk
    assert decision.data["site"] == registry["museum"].pk
    assert "site_sensitive" not in decision.data
    assert not Site.objects.get(pk=registry["museum"].pk).sensitive


def test_review_marks_the_site_sensitive_and_never_unmarks_it(
    located: Any, registry: dict[str, Any], people: dict[str, Any], client_for: Any
) -> None:
    from spadok.catalogue.models import ReviewDecision
    from spadok.sites.models import Site

    client_for(people["owner"]).post(_url(located), _form(site=registry["andrew"].pk))
    r = _approve(
        client_for(people["reviewer"]), located, site=registry["andrew"].pk, site_sensitive="on"
    )
    assert r.status_code == 302
    assert Site.objects.get(pk=registry["andrew"].pk).sensitive
    decision = ReviewDecision.objects.get(capture=located, decision="approve")
    assert decision.data["site_sensitive"] == {"from": False, "to": True}


def test_review_can_leave_the_record_without_a_site(
    located: Any, registry: dict[str, Any], people: dict[str, Any], client_for: Any
) -> None:
    from spadok.catalogue.models import Record

    client_for(people["owner"]).post(_url(located), _form(site=registry["andrew"].pk))
    assert _approve(client_for(people["reviewer"]), located, site="").status_code == 302
    assert Record.objects.get(id=located.record_id).site_id is None


def test_review_refuses_an_unknown_site(
    located: Any, people: dict[str, Any], client_for: Any
) -> None:
    from spadok.catalogue.models import Record

    r = _approve(client_for(people["reviewer"]), located, site="s-nosuchsite")
    assert r.status_code == 302
    assert Record.objects.get(id=located.record_id).visibility == "draft"
