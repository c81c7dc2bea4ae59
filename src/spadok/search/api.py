"""``GET /api/search``: the search page's results as JSON (a django-ninja Router).

The REST API mounts :data:`router` at ``/api/search``. The endpoint parses the
parameters with :func:`spadok.search.query.parse_params` and calls
:func:`spadok.search.query.search_params`, exactly as the page does, so both
return the same ranking. Parameters are declared as strings (for the schema)
and checked by that one parser: a bad one is a 400 with a ``search.*`` code.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema

from spadok.core.errors import SpadokError
from spadok.search import query

router = Router(tags=["search"])


class HitOut(Schema):
    kind: str
    id: str
    title: str
    names: dict[str, str]
    url: str
    thumbnail_url: str | None
    settlement: str
    region: str
    region_name: str
    type: str
    damage: str
    damage_date: str | None
    year: int | None
    has_3d: bool
    formats: list[str]
    site_id: str | None
    latitude: float | None
    longitude: float | None
    precision_m: float | None
    score: float


class FacetValueOut(Schema):
    value: str
    count: int
    selected: bool


class SearchOut(Schema):
    q: str
    sort: str
    page: int
    per_page: int
    pages: int
    total: int
    results: list[HitOut]
    facets: dict[str, list[FacetValueOut]]


class ErrorOut(Schema):
    code: str
    message: str
    detail: dict[str, Any] | None = None


class SearchIn(Schema):
    # Plain strings: the one parser the page uses checks them, so a bad value is
    # the same ``search.*`` error on the page and here.
    q: str = ""
    kind: str = ""
    type: str = ""
    region: str = ""
    damage: str = ""
    date: str = ""
    has_3d: str = ""
    format: str = ""
    sort: str = ""
    page: str = ""
    per_page: str = ""


def as_json(result: query.SearchResult, request: HttpRequest | None = None) -> dict[str, Any]:
    """The result as the API returns it (absolute URLs when a request is given)."""

    def absolute(url: str) -> str:
        return request.build_absolute_uri(url) if (request is not None and url) else url

    p = result.params
    return {
        "q": p.q,
        "sort": p.sort,
        "page": p.page,
        "per_page": p.per_page,
        "pages": result.pages,
        "total": result.total,
        "results": [
            {
                **hit.__dict__,
                "url": absolute(hit.url),
                "thumbnail_url": absolute(hit.thumbnail_url) or None,
            }
            for hit in result.hits
        ],
        "facets": {name: [v.__dict__ for v in values] for name, values in result.facets.items()},
    }


@router.get(
    "",
    response={200: SearchOut, 400: ErrorOut},
    summary="Search sites and records",
    url_name="api-search",
)
def search(request: HttpRequest, params: Query[SearchIn]) -> Any:
    """Full text over names, descriptions and places in Ukrainian and English.

    Filters take one value or several (repeat the parameter or separate with
    commas): type, region (ISO 3166-2, e.g. UA-46), damage (threatened, damaged,
    destroyed, looted, none), date (2022 or 2020s), has_3d (true/false), format
    (glb, ply…), kind (site/record). sort: relevance, name, newest, damaged;
    per_page at most 100. The same ranking as the page /search.
    """
    try:
        parsed = query.parse_params(request.GET)
        result = query.search_params(parsed, user=request.user)
    except SpadokError as exc:
        return 400, {**exc.as_dict(), "detail": exc.context}
    return 200, as_json(result, request)
