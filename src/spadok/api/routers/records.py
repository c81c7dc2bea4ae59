"""/api/records and /api/captures: what the public pages show, as JSON."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Exists, OuterRef
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Query, Router, Schema
from pydantic import Field

from spadok.api import presenters
from spadok.api.errors import not_found
from spadok.api.pagination import paginate
from spadok.api.routers.common import aware, private, valid_id
from spadok.api.schemas import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_OFFSET,
    REGION_PATTERN,
    SITE_ID_PATTERN,
    CaptureOut,
    Error,
    RecordOut,
    RecordPage,
)
from spadok.catalogue import selectors
from spadok.catalogue.models import Capture, CaptureState, Record

router = Router(tags=["records"])
captures_router = Router(tags=["captures"])


class RecordFilters(Schema):
    site: str | None = Field(None, pattern=SITE_ID_PATTERN, description="A site id.")
    region: str | None = Field(None, pattern=REGION_PATTERN, description="Its site's region.")
    has_3d: bool | None = Field(None, description="Only records with (or without) a 3D model.")
    updated_since: dt.datetime | None = None
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


@router.get(
    "", response={200: RecordPage, 400: Error}, url_name="record_list", summary="List records"
)
def record_list(
    request: HttpRequest, response: HttpResponse, filters: Query[RecordFilters]
) -> dict[str, Any]:
    """Public records, newest first (the same set as the browse page)."""
    records = selectors.record_list_public().select_related("site__region")
    if filters.site:
        records = records.filter(site_id=filters.site)
    if filters.region:
        records = records.filter(site__region_id=filters.region)
    if filters.has_3d is not None:
        ready = Capture.objects.filter(record=OuterRef("pk"), state=CaptureState.READY)
        records = (
            records.filter(Exists(ready)) if filters.has_3d else records.exclude(Exists(ready))
        )
    if filters.updated_since:
        records = records.filter(updated_at__gte=aware(filters.updated_since))
    rows, page = paginate(
        request, records.order_by("-created_at", "id"), limit=filters.limit, offset=filters.offset
    )
    return {**page, "items": [presenters.record_out(r, request) for r in rows]}


def _is_open(record: Record) -> bool:
    return selectors.is_public(record)


@router.get(
    "/{record_id}",
    response={200: RecordOut, 404: Error},
    url_name="record_detail",
    summary="One record with its ready captures and web copies",
)
def record_detail(request: HttpRequest, response: HttpResponse, record_id: str) -> dict[str, Any]:
    """A record the caller may see (a token's user may see their own drafts); else 404."""
    if not valid_id(record_id):
        raise not_found("record")
    try:
        record = selectors.access_record(request.user, record_id, action="api")
    except Http404:
        raise not_found("record") from None
    if request.user.is_authenticated or not _is_open(record):
        private(response)
    return presenters.record_out(record, request)


@captures_router.get(
    "/{capture_id}",
    response={200: CaptureOut, 404: Error},
    url_name="capture_detail",
    summary="One capture of a record the caller may see",
)
def capture_detail(request: HttpRequest, response: HttpResponse, capture_id: str) -> dict:
    if not valid_id(capture_id):
        raise not_found("capture")
    record_id = Capture.objects.filter(id=capture_id).values_list("record_id", flat=True).first()
    try:
        if record_id is None:
            raise Http404
        record = selectors.access_record(request.user, record_id, action=None)
        capture = selectors.access_capture(request.user, record, capture_id)
    except Http404:
        raise not_found("capture") from None
    selectors.log_sealed_access(request.user, record, capture, "api")
    if request.user.is_authenticated or not _is_open(record):
        private(response)
    return presenters.capture_out(record, capture, request)
