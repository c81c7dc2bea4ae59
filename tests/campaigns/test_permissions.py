"""Who may do what, through HTTP: sign-in for campaign pages, curators start campaigns,
coordinators choose sites and set urgency, anyone signed in joins and claims."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.django_db


def test_campaign_pages_need_a_sign_in_and_the_coverage_map_does_not(
    client_for: Any, campaign: Any
) -> None:
    anonymous = client_for()
    for url in ("/campaigns/", f"/campaigns/{campaign.pk}/", "/next/", "/tasks/1/"):
        response = anonymous.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url
    assert anonymous.get("/coverage/").status_code == 200
    assert anonymous.get("/api/coverage.geojson").status_code == 200
    assert anonymous.get(f"/campaigns/{campaign.pk}/map.geojson").status_code == 302
    assert anonymous.get("/api/tasks/near?at=50,36").status_code == 401


def test_only_curators_start_campaigns(people: dict[str, Any], client_for: Any) -> None:
    from spadok.campaigns.models import Campaign, MemberRole, Membership

    volunteer = client_for(people["anna"])
    assert volunteer.get("/campaigns/new/").status_code == 404
    assert (
        volunteer.post(
            "/campaigns/new/", {"name": "Mine", "claim_hours": 48, "wanted": ["exterior"]}
        ).status_code
        == 404
    )
    curator = client_for(people["curator"])
    response = curator.post(
        "/campaigns/new/",
        {
            "name": "Chernihiv churches",
            "claim_hours": 24,
            "wanted": ["exterior", "interior"],
            "bbox": "30.9,51.3,31.6,51.7",
            "goal_sites": 20,
        },
    )
    campaign = Campaign.objects.get(name="Chernihiv churches")
    assert response.status_code == 302 and response["Location"].startswith(
        campaign.get_absolute_url()
    )
    assert campaign.bbox == [30.9, 51.3, 31.6, 51.7] and campaign.claim_hours == 24
    assert campaign.wanted == ["exterior", "interior"]
    assert (
        Membership.objects.get(campaign=campaign, user=people["curator"]).role
        == MemberRole.COORDINATOR
    )
    bad = curator.post(
        "/campaigns/new/",
        {"name": "Bad box", "claim_hours": 24, "wanted": ["exterior"], "bbox": "1,2,3"},
    )
    assert bad.status_code == 200 and not Campaign.objects.filter(name="Bad box").exists()
    assert "The area is not usable" in bad.content.decode()


def test_volunteers_cannot_choose_sites_or_change_tasks_but_named_coordinators_can(
    people: dict[str, Any], client_for: Any, campaign: Any, make_site: Any
) -> None:
    from spadok.campaigns import services
    from spadok.campaigns.models import Membership, Task

    a, b = make_site("A", 1, type="church"), make_site("B", 2, type="museum")
    anna = client_for(people["anna"])
    services.campaign_join(actor=people["anna"], campaign=campaign)
    anna.post(f"/campaigns/{campaign.pk}/sites/", {"site_ids": a.pk})
    assert not Task.objects.exists()
    services.campaign_add_sites(actor=people["curator"], campaign=campaign, site_ids=[a.pk])
    task = Task.objects.get()
    anna.post(f"/tasks/{task.pk}/edit/", {"urgency": 3, "wanted": ["interior"]})
    assert Task.objects.get().urgency == 0

    member = Membership.objects.get(campaign=campaign, user=people["anna"])
    client_for(people["curator"]).post(
        f"/campaigns/{campaign.pk}/members/{member.pk}/role/", {"role": "coordinator"}
    )
    anna.post(f"/campaigns/{campaign.pk}/sites/", {"by_filters": "on", "type": "museum"})
    assert set(Task.objects.values_list("site_id", flat=True)) == {a.pk, b.pk}
    anna.post(
        f"/tasks/{task.pk}/edit/", {"urgency": 3, "wanted": ["interior"], "note": "the iconostasis"}
    )
    task.refresh_from_db()
    assert (task.urgency, task.wanted, task.note) == (3, ["interior"], "the iconostasis")


def test_anyone_signed_in_joins_by_claiming_and_only_the_holder_or_a_coordinator_releases(
    people: dict[str, Any], client_for: Any, campaign: Any, make_site: Any
) -> None:
    from spadok.campaigns import services
    from spadok.campaigns.models import Membership, Task

    site = make_site("A", 1)
    services.campaign_add_sites(actor=people["curator"], campaign=campaign, site_ids=[site.pk])
    task = Task.objects.get()
    bohdan = client_for(people["bohdan"])
    bohdan.post(f"/tasks/{task.pk}/claim/")  # without joining: refused
    assert Task.objects.get().claimed_by_id is None
    bohdan.post(f"/tasks/{task.pk}/claim/", {"join": "1"})
    assert Membership.objects.filter(campaign=campaign, user=people["bohdan"]).exists()
    assert Task.objects.get().claimed_by_id == people["bohdan"].pk

    anna = client_for(people["anna"])
    page = anna.get(f"/tasks/{task.pk}/").content.decode()
    assert 'data-action="claim"' not in page  # held by someone else
    anna.post(f"/tasks/{task.pk}/release/")
    assert Task.objects.get().claimed_by_id == people["bohdan"].pk
    client_for(people["curator"]).post(f"/tasks/{task.pk}/release/")
    assert Task.objects.get().claimed_by_id is None


def test_a_closed_campaign_takes_no_claims(
    people: dict[str, Any], client_for: Any, campaign: Any, make_site: Any
) -> None:
    from spadok.campaigns import services
    from spadok.campaigns.models import Task
    from spadok.core.errors import SpadokError

    site = make_site("A", 1)
    services.campaign_add_sites(actor=people["curator"], campaign=campaign, site_ids=[site.pk])
    services.campaign_join(actor=people["anna"], campaign=campaign)
    with pytest.raises(SpadokError):
        services.campaign_set_state(actor=people["anna"], campaign=campaign, state="closed")
    client_for(people["curator"]).post(f"/campaigns/{campaign.pk}/state/", {"state": "closed"})
    response = client_for(people["anna"]).post(
        f"/tasks/{Task.objects.get().pk}/claim/", follow=True
    )
    assert "This campaign is closed" in response.content.decode()
    assert Task.objects.get().claimed_by_id is None
