"""``GET /api/tasks/near`` through HTTP with a personal API token."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(people: dict[str, Any]) -> str:
    from spadok.accounts.services import token_create

    return token_create(user=people["anna"], name="phone")[1]


def test_tasks_near_me_by_priority_with_a_token(
    people: dict[str, Any], make_site: Any, campaign: Any, client_for: Any, token: str
) -> None:
    from spadok.campaigns import services
    from spadok.campaigns.models import Task

    damaged = make_site("Damaged library", 6, damage_status="damaged", type="library")
    plain = make_site("Plain house", 1, type="building")
    services.campaign_add_sites(
        actor=people["curator"], campaign=campaign, site_ids=[plain.pk, damaged.pk]
    )
    services.campaign_join(actor=people["anna"], campaign=campaign)
    services.task_claim(actor=people["anna"], task_id=Task.objects.get(site=plain).pk)
    client = client_for()
    response = client.get(
        "/api/tasks/near?at=50.0,36.2&radius_km=20", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    assert body["count"] == 2
    first, second = body["items"]
    assert (first["site_id"], first["reasons"][:2]) == (damaged.pk, ["no_capture", "damaged"])
    assert first["distance_km"] == pytest.approx(6.0, abs=0.01)
    assert second["site_id"] == plain.pk and second["mine"] is True
    assert first["url"].endswith(f"/tasks/{Task.objects.get(site=damaged).pk}/")
    narrow = client.get(
        "/api/tasks/near?at=50.0,36.2&radius_km=3", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert [i["site_id"] for i in narrow.json()["items"]] == [plain.pk]


def test_bad_requests_get_a_stable_code(client_for: Any, token: str, campaign: Any) -> None:
    client = client_for()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    half = client.get("/api/tasks/near?at=50", **auth)
    assert half.status_code == 400 and half.json()["code"] == "api.invalid_request"
    other = client.get(f"/api/tasks/near?campaign={campaign.pk}", **auth)
    assert other.status_code == 404 and other.json()["code"] == "campaign.not_member"
    far = client.get("/api/tasks/near?at=95,0", **auth)
    assert far.status_code == 400 and far.json()["code"] == "api.invalid_request"
    anonymous = client.get("/api/tasks/near")
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "campaign.auth_required"
