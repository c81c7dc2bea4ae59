"""/api/sites: the site registry, with the public location rule."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Query, Router, Schema
from pydantic import Field

from spadok.api import presenters
from spadok.api.errors import invalid, not_found
from spadok.api.pagination import paginate
from spadok.api.routers.common import aware, private, valid_id
from spadok.api.schemas import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_OFFSET,
    REGION_PATTERN,
    DamageName,
    Error,
    SiteDetail,
    SitePage,
    SiteTypeName,
)
from spadok.catalogue.models import Record
from spadok.catalogue.selectors import sees_exact_location
from spadok.damage import presenters as damage_presenters
from spadok.damage import selectors as damage_selectors
from spadok.sites.models import Site
from spadok.sites.selectors import (
    COARSE_DEGREES,
    annotate_has_3d,
    public_point,
    public_records_q,
    sites_with_public_3d,
)

router = Router(tags=["sites"])

LON = r"-?(180(\.0{1,12})?|(1[0-7]\d|\d{1,2})(\.\d{1,12})?)"
LAT = r"-?(90(\.0{1,12})?|\d(\d)?(\.\d{1,12})?)"
BBOX_PATTERN = rf"^{LON},{LAT},{LON},{LAT}$"
SITE_RECORDS_SHOWN = 100


class SiteFilters(Schema):
    region: str | None = Field(None, pattern=REGION_PATTERN, description="ISO 3166-2 code.")
    type: SiteTypeName | None = None
    damage: DamageName | None = None
    has_3d: bool | None = Field(None, description="Only sites with (or without) a public 3D model.")
    bbox: str | None = Field(
        None,
        pattern=BBOX_PATTERN,
        description="min_lon,min_lat,max_lon,max_lat (WGS 84); matches the public point.",
    )
    updated_since: dt.datetime | None = None
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


def parse_bbox(raw: str) -> tuple[float, float, float, float]:
    """The box's corners (the pattern has checked the ranges); an inverted box matches nothing."""
    values = [float(v) for v in raw.split(",")]
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise invalid("bbox must hold four numbers: min_lon,min_lat,max_lon,max_lat")
    min_lon, min_lat, max_lon, max_lat = values
    return min_lon, min_lat, max_lon, max_lat


def in_bbox(sites: QuerySet[Site], box: tuple[float, float, float, float], user: Any) -> Any:
    """Sites whose point *as this user may see it* lies in the box.

    Filtering sensitive sites on their exact point would let anyone find the
    point by narrowing boxes: they are matched on the coarse point instead.
    """
    min_lon, min_lat, max_lon, max_lat = box
    exact = Q(
        latitude__gte=min_lat,
        latitude__lte=max_lat,
        longitude__gte=min_lon,
        longitude__lte=max_lon,
    )
    if sees_exact_location(user):
        return sites.filter(exact)
    pad = COARSE_DEGREES
    near = Site.objects.filter(
        sensitive=True,
        latitude__gte=min_lat - pad,
        latitude__lte=max_lat + pad,
        longitude__gte=min_lon - pad,
        longitude__lte=max_lon + pad,
    )
    coarse_ids = []
    for site in near.only("id", "latitude", "longitude", "sensitive"):
        point = public_point(site, None)
        if point and min_lat <= point[0] <= max_lat and min_lon <= point[1] <= max_lon:
            coarse_ids.append(site.id)
    return sites.filter((Q(sensitive=False) & exact) | Q(id__in=coarse_ids))


@router.get("", response={200: SitePage, 400: Error}, url_name="site_list", summary="List sites")
def site_list(
    request: HttpRequest, response: HttpResponse, filters: Query[SiteFilters]
) -> dict[str, Any]:
    """Sites of the registry, by id; filters combine with AND."""
    sites = annotate_has_3d(Site.objects.select_related("region"), None)
    if filters.region:
        sites = sites.filter(region_id=filters.region)
    if filters.type:
        sites = sites.filter(type=filters.type)
    if filters.damage:
        sites = sites.filter(damage_status=filters.damage)
    if filters.has_3d is not None:
        with_3d = sites_with_public_3d(None).values("pk")
        sites = sites.filter(pk__in=with_3d) if filters.has_3d else sites.exclude(pk__in=with_3d)
    if filters.updated_since:
        sites = sites.filter(updated_at__gte=aware(filters.updated_since))
    if filters.bbox:
        sites = in_bbox(sites, parse_bbox(filters.bbox), request.user)
    rows, page = paginate(request, sites.order_by("id"), limit=filters.limit, offset=filters.offset)
    if request.user.is_authenticated:
        private(response)
    items = [presenters.site_out(s, request, has_3d=bool(s.has_3d)) for s in rows]
    return {**page, "items": items}


@router.get(
    "/{site_id}",
    response={200: SiteDetail, 404: Error},
    url_name="site_detail",
    summary="One site, with its public records",
)
def site_detail(request: HttpRequest, response: HttpResponse, site_id: str) -> dict[str, Any]:
    site = None
    if valid_id(site_id):
        found = annotate_has_3d(Site.objects.select_related("region"), None).filter(id=site_id)
        site = found.first()
    if site is None:
        raise not_found("site")
    if request.user.is_authenticated:
        private(response)
    ids = public_records_q(None).filter(site=site).values("pk")
    records = Record.objects.filter(pk__in=ids).order_by("-created_at")[:SITE_RECORDS_SHOWN]
    base = request.build_absolute_uri("/").rstrip("/")
    events = [
        damage_presenters.event_public(e, base_url=base) for e in damage_selectors.site_events(site)
    ]
    return {
        **presenters.site_out(site, request, has_3d=bool(getattr(site, "has_3d", False))),
        "records": [
            {
                "id": r.id,
                "title": r.title,
                "api_url": request.build_absolute_uri(reverse("api:record_detail", args=[r.id])),
            }
            for r in records
        ],
        "damage_events": events,
    }
