"""``GET /api/tasks/near``: open campaign tasks near a point, by priority (django-ninja).

The REST API mounts :data:`router` at ``/api/tasks``. It answers what the
"what to scan next" page shows, through the same selector, to the person the
personal API token (or the session) belongs to: the tasks of the campaigns
they joined, with each site's point as they may see it (a sensitive site on
the public 0.1° grid), never anyone's identity.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema
from pydantic import Field

from spadok.api.routers.common import private
from spadok.api.schemas import Error
from spadok.campaigns import presenters, selectors
from spadok.campaigns.models import Campaign
from spadok.core.errors import SpadokError

router = Router(tags=["campaigns"])


class NearParams(Schema):
    lat: float | None = Field(None, ge=-90, le=90, description="Latitude (WGS 84); with lon.")
    lon: float | None = Field(None, ge=-180, le=180, description="Longitude (WGS 84); with lat.")
    radius_km: float = Field(selectors.DEFAULT_RADIUS_KM, gt=0, le=selectors.MAX_RADIUS_KM)
    limit: int = Field(selectors.DEFAULT_LIMIT, ge=1, le=selectors.MAX_LIMIT)
    campaign: str | None = Field(
        None, pattern=r"^k-[0-9a-z]{1,40}$", description="Only this campaign (one you joined)."
    )


class TaskOut(Schema):
    id: int
    site_id: str
    name: str
    type: str
    damage_status: str
    place: str
    campaign_id: str
    campaign: str
    latitude: float | None
    longitude: float | None
    precision_m: float | None = Field(description="Set when the point is approximate.")
    distance_km: float | None
    score: float
    reasons: list[str] = Field(description="Stable codes: damaged, no_capture, urgent, …")
    wanted: list[str]
    mine: bool = Field(description="You hold this task (your claim).")
    url: str


class NearOut(Schema):
    count: int
    latitude: float | None
    longitude: float | None
    radius_km: float
    items: list[TaskOut]


def _out(near: selectors.NearTask, request: HttpRequest) -> dict[str, Any]:
    task = near.task
    point = near.point
    return {
        "id": task.pk,
        "site_id": task.site_id,
        "name": task.site.name(),
        "type": task.site.type,
        "damage_status": task.site.damage_status,
        "place": presenters.place_of(task),
        "campaign_id": task.campaign_id,
        "campaign": task.campaign.name,
        "latitude": point[0] if point else None,
        "longitude": point[1] if point else None,
        "precision_m": point[2] if point else None,
        "distance_km": None if near.distance_km is None else round(near.distance_km, 3),
        "score": near.priority.score,
        "reasons": list(near.priority.reasons),
        "wanted": list(task.wanted),
        "mine": near.mine,
        "url": request.build_absolute_uri(task.get_absolute_url()),
    }


def _error(code: str, detail: str = "") -> dict[str, Any]:
    error = SpadokError(code, detail)
    return {"code": error.code, "message": error.message, "detail": None}


@router.get(
    "/near",
    response={200: NearOut, 400: Error, 401: Error},
    url_name="tasks_near",
    summary="Open campaign tasks near a point, most urgent first",
)
def tasks_near(request: HttpRequest, response: HttpResponse, params: Query[NearParams]) -> Any:
    """Your campaigns' open tasks within ``radius_km`` of (lat, lon), by priority.

    Without a point: every open task of your campaigns, by priority alone.
    """
    private(response)
    if not request.user.is_authenticated:
        return 401, _error("campaign.auth_required")
    if (params.lat is None) != (params.lon is None):
        return 400, _error("campaign.bad_place", "give both lat and lon, or neither")
    campaign = None
    if params.campaign:
        campaign = Campaign.objects.filter(pk=params.campaign).first()
        if campaign is None or selectors.membership_of(request.user, campaign) is None:
            return 400, _error("campaign.not_member", params.campaign)
    place = (
        selectors.Place(latitude=params.lat, longitude=params.lon)
        if params.lat is not None and params.lon is not None
        else None
    )
    found = selectors.tasks_near(
        user=request.user,
        place=place,
        radius_km=params.radius_km,
        limit=params.limit,
        campaign=campaign,
    )
    return {
        "count": len(found),
        "latitude": params.lat,
        "longitude": params.lon,
        "radius_km": params.radius_km,
        "items": [_out(n, request) for n in found],
    }
