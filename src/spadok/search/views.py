"""The search page ``/search?q=…``: the same results as ``/api/search``, as HTML.

Facets are a GET form of checkboxes and links, so everything works without
JavaScript; every link keeps the other parameters. Bad parameters give the
page with the error's message and status 400.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from spadok.core.errors import SpadokError
from spadok.search import query

FACET_TITLES = {
    "kind": _("Kind"),
    "type": _("Type"),
    "region": _("Region"),
    "damage": _("Damage"),
    "date": _("Date of damage or capture"),
    "has_3d": _("3D model"),
    "format": _("Format"),
}
KIND_LABELS = {"site": _("Sites"), "record": _("Records")}
KIND_SINGULAR = {"site": _("Site"), "record": _("Record")}
TYPE_LABELS = {
    "church": _("Religious building"),
    "monument": _("Monument or memorial"),
    "museum": _("Museum"),
    "building": _("Historic building"),
    "archaeological": _("Archaeological site"),
    "library": _("Library or archive"),
    "theatre": _("Theatre or cultural centre"),
    "object": _("Movable object"),
    "other": _("Other"),
}
DAMAGE_LABELS = {
    "threatened": _("Threatened"),
    "damaged": _("Damaged"),
    "destroyed": _("Destroyed"),
    "looted": _("Looted"),
    query.NO_DAMAGE: _("No damage recorded"),
}
HAS_3D_LABELS = {"true": _("Has a 3D model"), "false": _("No 3D model yet")}
SORT_LABELS = {
    "relevance": _("Best match"),
    "name": _("Name"),
    "newest": _("Newest"),
    "damaged": _("Damaged most recently"),
}


@dataclass
class FacetOption:
    value: str
    label: str
    count: int
    selected: bool
    url: str  # the page with this value toggled


@dataclass
class FacetGroup:
    name: str
    title: str
    options: list[FacetOption]


def _label(name: str, value: str, regions: dict[str, str]) -> str:
    if name == "kind":
        return str(KIND_LABELS.get(value, value))
    if name == "type":
        return str(TYPE_LABELS.get(value, value))
    if name == "damage":
        return str(DAMAGE_LABELS.get(value, value))
    if name == "has_3d":
        return str(HAS_3D_LABELS.get(value, value))
    if name == "region":
        return regions.get(value, value)
    if name == "format":
        return value.upper()
    return value


def page_url(params: query.SearchParams, **change: Any) -> str:
    """``?…`` for these parameters with some changed (a value of None drops one)."""
    data: dict[str, Any] = {"q": params.q, **params.filters.as_params()}
    if params.sort != "relevance":
        data["sort"] = params.sort
    if params.per_page != query.DEFAULT_PER_PAGE:
        data["per_page"] = params.per_page
    data.update(change)
    data = {k: v for k, v in data.items() if v not in (None, "", [])}
    return "?" + urlencode(data, doseq=True)


def _toggle(params: query.SearchParams, name: str, value: str) -> str:
    current = params.filters.as_params().get(name, [])
    single = name in ("kind", "date", "has_3d")
    if value in current:
        new = [v for v in current if v != value]
    else:
        new = [value] if single else [*current, value]
    return page_url(params, **{name: new or None})


def facet_groups(result: query.SearchResult) -> list[FacetGroup]:
    from spadok.sites.i18n import localized
    from spadok.sites.models import Region

    codes = [v.value for v in result.facets.get("region", [])]
    regions = {r.code: localized(r.names) or r.code for r in Region.objects.filter(code__in=codes)}
    groups = []
    for name, values in result.facets.items():
        options = [
            FacetOption(
                v.value,
                _label(name, v.value, regions),
                v.count,
                v.selected,
                _toggle(
                    result.params,
                    name,
                    "1"
                    if name == "has_3d" and v.value == "true"
                    else "0"
                    if name == "has_3d"
                    else v.value,
                ),
            )
            for v in values
        ]
        if options:
            groups.append(FacetGroup(name, str(FACET_TITLES[name]), options))
    return groups


@require_GET
def search_page(request: HttpRequest) -> HttpResponse:
    try:
        params = query.parse_params(request.GET)
        result = query.search_params(params, user=request.user)
    except SpadokError as exc:
        return render(
            request,
            "search/search.html",
            {"error": exc, "q": str(request.GET.get("q", ""))[: query.MAX_QUERY_CHARS]},
            status=400,
        )
    sorts = [
        {"value": k, "label": v, "selected": k == params.sort, "url": page_url(params, sort=k)}
        for k, v in SORT_LABELS.items()
    ]
    return render(
        request,
        "search/search.html",
        {
            "q": params.q,
            "params": params,
            "result": result,
            "hits": [_present(h) for h in result.hits],
            "groups": facet_groups(result),
            "sorts": sorts,
            "first_number": (params.page - 1) * params.per_page + 1,
            "filtered": bool(params.filters.as_params()),
            "clear_url": page_url(params, **{k: None for k in params.filters.as_params()}),
            "prev_url": page_url(params, page=params.page - 1) if params.page > 1 else "",
            "next_url": page_url(params, page=params.page + 1)
            if params.page < min(result.pages, query.MAX_PAGE)
            else "",
        },
    )


def _present(hit: query.Hit) -> dict[str, Any]:
    return {
        "hit": hit,
        "kind_label": KIND_SINGULAR.get(hit.kind, hit.kind),
        "type_label": TYPE_LABELS.get(hit.type, "") if hit.type else "",
        "damage_label": DAMAGE_LABELS.get(hit.damage, "") if hit.damage else "",
    }
