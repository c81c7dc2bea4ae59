"""Nothing that must stay in the archive leaks from campaigns: the public coverage map
and its GeoJSON, and the pages, map data and API a volunteer gets, are searched as raw
text for user names, e-mails, the exact point of a sensitive site, and hidden records."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(
    people: dict[str, Any], make_site: Any, campaign: Any, capture_of: Any, regions_geojson: Any
) -> dict[str, Any]:
    from spadok.campaigns import services
    from spadok.catalogue.models import Visibility
    from spadok.sites.services import import_regions

    secret = make_site("Hidden chapel", 3.37, 2.71, sensitive=True, address="12 Secret Lane")
    plain = make_site("Open church", 1.5)
    sealed_site = make_site("Sealed-only site", 4.5)
    import_regions(regions_geojson)  # places the sites in their regions
    capture_of(
        sealed_site, verdict="good", visibility=Visibility.SEALED, contributor=people["bohdan"]
    )
    capture_of(plain, verdict="good", contributor=people["anna"])
    services.campaign_add_sites(
        actor=people["curator"], campaign=campaign, site_ids=[secret.pk, plain.pk, sealed_site.pk]
    )
    for who in ("anna", "bohdan"):
        services.campaign_join(actor=people[who], campaign=campaign)
    from spadok.campaigns.models import Task

    services.task_claim(actor=people["bohdan"], task_id=Task.objects.get(site=secret).pk)
    return {"secret": secret, "plain": plain, "sealed_site": sealed_site}


@pytest.fixture
def regions_geojson() -> Any:
    from tests.testdata import data

    return data("geo", "ukraine_adm1_geoboundaries", "geoBoundaries-UKR-ADM1.geojson")


def _forbidden(people: dict[str, Any], secret: Any) -> list[str]:
    # User names that are also English words ("curator", "other") would match the text.
    words = [people["anna"].username, people["bohdan"].username]
    for user in people.values():
        words.append(user.email)
    for value in (secret.latitude, secret.longitude):
        words += [f"{value:.{n}f}" for n in (3, 4, 5, 6)]
    return [*words, "12 Secret Lane"]


def _clean(body: str, forbidden: list[str]) -> list[str]:
    return [w for w in forbidden if w in body]


def test_the_public_coverage_map_counts_only_public_3d_and_names_nobody(
    people: dict[str, Any], world: dict[str, Any], client_for: Any
) -> None:
    import json

    anonymous = client_for()
    forbidden = _forbidden(people, world["secret"]) + [
        p.profile.display_name for p in people.values()
    ]
    page = anonymous.get("/coverage/").content.decode()
    feed = anonymous.get("/api/coverage.geojson")
    assert feed["Cache-Control"].startswith("public") or "public" in feed["Cache-Control"]
    body = feed.content.decode()
    assert _clean(page, forbidden) == [] and _clean(body, forbidden) == []
    kharkiv = next(f for f in json.loads(body)["features"] if f["id"] == "UA-63")["properties"]
    # Three sites near Kharkiv: one public 3D (the open church); the sealed one does not count.
    assert (kharkiv["sites"], kharkiv["with_3d"], kharkiv["without_3d"]) == (3, 1, 2)
    assert "Sealed-only site" not in body and "Hidden chapel" not in body  # no site names at all


def test_a_volunteer_sees_display_names_and_the_coarse_point_only(
    people: dict[str, Any], world: dict[str, Any], client_for: Any, campaign: Any
) -> None:
    anna = client_for(people["anna"])
    forbidden = _forbidden(people, world["secret"])
    urls = [
        f"/campaigns/{campaign.pk}/",
        f"/campaigns/{campaign.pk}/map.geojson",
        "/campaigns/",
        "/next/?lat=50.0&lon=36.2&radius_km=50",
        "/api/tasks/near?at=50.0,36.2",
    ]
    from spadok.campaigns.models import Task

    urls += [f"/tasks/{t.pk}/" for t in Task.objects.all()]
    for url in urls:
        response = anna.get(url)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"], url
        assert _clean(response.content.decode(), forbidden) == [], url
    dashboard = anna.get(f"/campaigns/{campaign.pk}/").content.decode()
    volunteers = dashboard.split("data-volunteers", 1)[1].split("</table>", 1)[0]
    assert people["bohdan"].profile.display_name in volunteers
    # The chapel's task page names who holds it by display name, never more.
    chapel = Task.objects.get(site=world["secret"])
    page = anna.get(f"/tasks/{chapel.pk}/").content.decode()
    assert people["bohdan"].profile.display_name in page


def test_a_curator_sees_the_exact_point(
    people: dict[str, Any], world: dict[str, Any], client_for: Any, campaign: Any
) -> None:
    feed = client_for(people["curator"]).get(f"/campaigns/{campaign.pk}/map.geojson").json()
    (chapel,) = [f for f in feed["features"] if f["properties"]["name"] == "Hidden chapel"]
    assert chapel["geometry"]["coordinates"] == [
        world["secret"].longitude,
        world["secret"].latitude,
    ]
    assert chapel["properties"]["approximate"] is False
