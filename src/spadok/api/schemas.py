"""Input and output schemas of the REST API (they make /api/openapi.json)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, get_args

from ninja import Schema
from pydantic import Field

from spadok.core.registry import damage as damage_vocabulary
from spadok.sites.models import DamageStatus, SiteType

# Offsets past this are refused: deep pages are for harvesters, which have OAI-PMH.
MAX_OFFSET = 1_000_000
MAX_LIMIT = 100
DEFAULT_LIMIT = 20

SiteTypeName = Literal[
    "church",
    "monument",
    "museum",
    "building",
    "archaeological",
    "library",
    "theatre",
    "object",
    "other",
]
DamageName = Literal["threatened", "damaged", "destroyed", "looted"]
# The literals above are what the OpenAPI schema lists; they must follow the models.
assert set(get_args(SiteTypeName)) == set(SiteType.values), "SiteTypeName is out of date"
assert set(get_args(DamageName)) == {v for v in DamageStatus.values if v}, "DamageName is stale"
REGION_PATTERN = r"^[A-Z]{2}-[0-9A-Z]{1,3}$"
SITE_ID_PATTERN = r"^s-[0-9a-z]{1,40}$"


class Error(Schema):
    """Every error: a stable code scripts can match on, advice for people, details."""

    code: str = Field(examples=["api.not_found"])
    message: str
    detail: Any = None


class Page(Schema):
    count: int = Field(description="How many items match, on all pages.")
    limit: int
    offset: int
    next: str | None = Field(description="The next page's URL; null on the last page.")
    previous: str | None


class Point(Schema):
    latitude: float
    longitude: float
    precision_m: float | None = Field(
        description="null: the point as published; a number: rounded to a grid this coarse."
    )


class RegionOut(Schema):
    code: str
    name: str


class SiteSummary(Schema):
    id: str
    name: str
    url: str | None
    api_url: str


class SiteOut(Schema):
    id: str
    name: str
    names: dict[str, str]
    description: str
    type: str
    designation: str
    region: RegionOut | None
    settlement: str
    address: str
    location: Point | None
    wikidata: str | None
    external_ids: dict[str, Any]
    damage_status: str
    damage_date: dt.date | None
    has_3d: bool
    url: str | None
    api_url: str
    updated: dt.datetime


class SitePage(Page):
    items: list[SiteOut]


class RecordRef(Schema):
    id: str
    title: str
    api_url: str


DamageKindName = Literal["damaged", "destroyed", "looted", "threatened"]
SeverityName = Literal["unknown", "minor", "moderate", "severe", "total"]
StandingName = Literal["unesco", "ministry", "field", "capture", "news", "volunteer", "other"]
assert get_args(DamageKindName) == damage_vocabulary.KINDS, "DamageKindName is stale"
assert get_args(SeverityName) == damage_vocabulary.SEVERITIES, "SeverityName is stale"
assert get_args(StandingName) == damage_vocabulary.STANDINGS, "StandingName is stale"


class DamageRecordRef(Schema):
    id: str
    title: str
    url: str


class DamageEventOut(Schema):
    """One account of damage: what, when (as precise as published), by whose account."""

    id: str
    kind: DamageKindName
    severity: SeverityName
    date_start: dt.date | None = Field(description="A month or a year is given as its first day.")
    date_end: dt.date | None = Field(description="The end of a period; null for one date.")
    date_precision: Literal["day", "month", "year"] | None
    date_as_published: str
    standing: StandingName = Field(description="Whose account it is.")
    verified: bool = Field(description="True only for UNESCO's verification (standing unesco).")
    source_name: str
    source_url: str | None
    source_document: str
    references: list[str]
    description: str
    record: DamageRecordRef | None = Field(description="The public record it is about, if any.")
    capture_id: str | None
    recorded_at: dt.datetime = Field(description="When the archive recorded the account.")


class SiteDetail(SiteOut):
    records: list[RecordRef]
    damage_events: list[DamageEventOut] = Field(
        description="The site's public damage events, oldest first."
    )


class DerivativeOut(Schema):
    role: str = Field(examples=["web-medium"])
    mime: str
    size: int
    sha256: str
    url: str
    stats: dict[str, Any]


class CaptureOut(Schema):
    id: str
    record_id: str
    created: dt.datetime
    captured_at: dt.datetime | None
    kind: str
    format: str
    state: str
    licence: str | None
    licence_url: str | None
    location: Point | None
    stats: dict[str, Any]
    original_bytes: int
    derivatives: list[DerivativeOut]
    api_url: str


class RecordOut(Schema):
    id: str
    title: str
    description: str
    created: dt.datetime
    updated: dt.datetime
    url: str
    api_url: str
    embed_url: str | None
    thumbnail_url: str | None
    site: SiteSummary | None
    credits: list[str] = Field(description="Display names of contributors who asked for credit.")
    captures: list[CaptureOut]


class RecordPage(Page):
    items: list[RecordOut]


class OEmbedOut(Schema):
    version: str
    type: str
    title: str
    provider_name: str
    provider_url: str
    html: str
    width: int
    height: int
    thumbnail_url: str | None = None
    thumbnail_width: int | None = None
    thumbnail_height: int | None = None
    author_name: str | None = None
    license_url: str | None = None
