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
from ninja import Query, Router, Schema, Status
from pydantic import Field

from spadok.api.routers.common import private
from spadok.api.schemas import Error
from spadok.campaigns import presenters, selectors
from spadok.campaigns.models import Campaign
from spadok.core.errors import SpadokError

router = Router(tags=["campaigns"])


LAT = r"-?(90(\.0{1,12})?|[1-8]?\d(\.\d{1,12})?)"
LON = r"-?(180(\.0{1,12})?|(1[0-7]\d|[1-9]?\d)(\.\d{1,12})?)"
POINT_PATTERN = rf"^{LAT},{LON}$"


class NearParams(Schema):
    at: str | None = Field(
        None, pattern=POINT_PATTERN, description="Where you are: latitude,longitude (WGS 84)."
    )
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
    at: str | None
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
    response={200: NearOut, 401: Error, 404: Error},
    url_name="tasks_near",
    summary="Open campaign tasks near a point, most urgent first",
)
def tasks_near(request: HttpRequest, response: HttpResponse, params: Query[NearParams]) -> Any:
    """Your campaigns' open tasks within ``radius_km`` of ``at``, by priority.

    Without a point: every open task of your campaigns, by priority alone.
    """
    private(response)
    if not request.user.is_authenticated:
        return Status(401, _error("campaign.auth_required"))
    campaign = None
    if params.campaign:
        campaign = Campaign.objects.filter(pk=params.campaign).first()
        if campaign is None or selectors.membership_of(request.user, campaign) is None:
            # A campaign one has not joined is as good as none, here.
            return Status(404, _error("campaign.not_member", params.campaign))
    place = None
    if params.at:
        lat, lon = (float(v) for v in params.at.split(","))
        place = selectors.Place(latitude=lat, longitude=lon)
    found = selectors.tasks_near(
        user=request.user,
        place=place,
        radius_km=params.radius_km,
        limit=params.limit,
        campaign=campaign,
    )
    return {
        "count": len(found),
        "at": params.at,
        "radius_km": params.radius_km,
        "items": [_out(n, request) for n in found],
    }
