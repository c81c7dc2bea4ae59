"""/api/oembed: oEmbed 1.0 for record pages (type "rich": an iframe of /embed/<record>)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from spadok.api import embed
from spadok.api.schemas import Error, OEmbedOut

router = Router(tags=["oembed"])


class OEmbedQuery(Schema):
    url: str = Field(max_length=2000, description="A record page's URL on this archive.")
    # Only json is offered (and listed); any other value gets the 501 oEmbed asks for.
    format: str = Field(
        "json", max_length=16, description="Only json.", json_schema_extra={"enum": ["json"]}
    )
    maxwidth: int | None = Field(None, ge=1, le=10_000)
    maxheight: int | None = Field(None, ge=1, le=10_000)


@router.get(
    "",
    response={200: OEmbedOut, 400: Error, 404: Error, 501: Error},
    url_name="oembed",
    summary="oEmbed for a record page",
)
def oembed(request: HttpRequest, query: Query[OEmbedQuery]) -> dict[str, Any]:
    return embed.oembed(request, query.url, query.format, query.maxwidth, query.maxheight)
