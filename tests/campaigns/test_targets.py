"""Choosing a campaign's sites (area, filters, one by one) and reading its progress."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from spadok.core.errors import SpadokError
from tests.campaigns.conftest import offset

pytestmark = pytest.mark.django_db


def _square(km: float) -> dict[str, Any]:
    (s, w), (n, e) = offset(-km, -km), offset(km, km)
    return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


def test_filters_choose_sites_inside_the_area(
    people: dict[str, Any], make_site: Any, capture_of: Any
) -> None:
    from spadok.campaigns import services
    from spadok.campaigns.models import Task

    inside = make_site("Church inside", 2, type="church")
    museum = make_site("Museum inside", -2, type="museum")
    scanned = make_site("Scanned church inside", 1, 1, type="church")
    capture_of(scanned, verdict="good")
    outside = make_site("Church outside", 30, type="church")
    area = services.Area(polygon=services.parse_polygon(_square(5)))
    campaign = services.campaign_create(actor=people["curator"], name="Churches", area=area)
    added = services.campaign_add_sites(
        actor=people["curator"],
        campaign=campaign,
        selection=services.SiteSelection(type="church", has_3d=False),
    )
    assert added == 1
    assert list(Task.objects.values_list("site_id", flat=True)) == [inside.pk]
    # Outside the area, one by one; the same site twice changes nothing.
    assert (
        services.campaign_add_sites(
            actor=people["curator"], campaign=campaign, site_ids=[outside.pk, inside.pk]
        )
        == 1
    )
    with pytest.raises(SpadokError) as unknown:
        services.campaign_add_sites(actor=people["curator"], campaign=campaign, site_ids=["s-nope"])
    assert unknown.value.code == "campaign.bad_input"
    assert museum.pk not in set(Task.objects.values_list("site_id", flat=True))
    assert campaign.site_filters[-1]["type"] == "church"


def test_areas_are_checked(people: dict[str, Any]) -> None:
    from spadok.campaigns import services

    for bad in ("1,2,3", "10,50,5,40", "a,b,c,d"):
        with pytest.raises(SpadokError) as box:
            services.parse_bbox(bad)
        assert box.value.code == "campaign.bad_area"
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    for bad_polygon in ('{"type": "Point", "coordinates": [1, 2]}', "not json", bowtie):
        with pytest.raises(SpadokError) as polygon:
            services.parse_polygon(bad_polygon)
        assert polygon.value.code == "campaign.bad_area"
    with pytest.raises(SpadokError) as dates:
        services.campaign_create(
            actor=people["curator"],
            name="Backwards",
            starts_on=dt.date(2026, 5, 1),
            ends_on=dt.date(2026, 4, 1),
        )
    assert dates.value.code == "campaign.bad_input"


def test_progress_counts_statuses_captures_per_day_volunteers_and_quality(
    people: dict[str, Any], make_site: Any, campaign: Any, capture_of: Any
) -> None:
    from spadok.campaigns import selectors, services
    from spadok.campaigns.models import Task

    a, b, c, d = (make_site(name, km) for name, km in (("A", 1), ("B", 2), ("C", 3), ("D", 4)))
    services.campaign_add_sites(
        actor=people["curator"], campaign=campaign, site_ids=[a.pk, b.pk, c.pk, d.pk]
    )
    for who in ("anna", "bohdan"):
        services.campaign_join(actor=people[who], campaign=campaign)
    Task.objects.update(added_at=Task.objects.first().added_at - dt.timedelta(days=5))
    services.task_claim(actor=people["bohdan"], task_id=Task.objects.get(site=b).pk)
    good = capture_of(a, verdict="good", days_ago=0, contributor=people["anna"])
    poor = capture_of(c, verdict="poor", days_ago=2, contributor=people["anna"])
    for capture in (good, poor):
        services.capture_sync(capture_id=capture.pk)
    campaign.goal_sites, campaign.goal_captures_per_day = 4, 3
    campaign.starts_on = dt.date.today() - dt.timedelta(days=6)
    progress = selectors.campaign_progress(campaign)
    assert progress.statuses == {"done": 1, "claimed": 1, "recapture": 1, "open": 1}
    assert progress.goal_percent == 25
    assert progress.quality == {"good": 1}
    per_day = dict(progress.per_day)
    assert sum(per_day.values()) == 2 and len(per_day) == 7
    assert per_day[dt.date.today()] == 1
    rows = {r["name"]: r for r in progress.volunteers}
    anna, bohdan = people["anna"].profile.display_name, people["bohdan"].profile.display_name
    assert (rows[anna]["completed"], rows[anna]["captures"], rows[anna]["claims"]) == (1, 2, 0)
    assert (rows[bohdan]["completed"], rows[bohdan]["claims"]) == (0, 1)
    assert progress.volunteers[0]["name"] == anna
    assert all(r["name"] != people["anna"].username for r in progress.volunteers)


def test_a_task_follows_its_site_when_the_site_moves(
    people: dict[str, Any], make_site: Any, campaign: Any
) -> None:
    from spadok.campaigns import selectors, services
    from spadok.sites.models import Site

    site = make_site("Misplaced chapel", 200)  # far from home, beyond any radius
    services.campaign_add_sites(actor=people["curator"], campaign=campaign, site_ids=[site.pk])
    services.campaign_join(actor=people["anna"], campaign=campaign)
    home = selectors.Place(*offset(0))
    assert selectors.tasks_near(user=people["anna"], place=home) == []
    lat, lon = offset(1.5)
    Site.objects.filter(pk=site.pk).update(latitude=lat, longitude=lon)  # a merge moved it
    services.site_status_refresh(site_ids=[site.pk])
    (near,) = selectors.tasks_near(user=people["anna"], place=home)
    assert near.task.site_id == site.pk and near.distance_km == pytest.approx(1.5, abs=0.01)
