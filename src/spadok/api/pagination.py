"""Limit/offset pages with the next and previous page's URL."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import QuerySet
from django.http import HttpRequest

T = TypeVar("T")


def _page_url(request: HttpRequest, offset: int) -> str:
    query = request.GET.copy()
    query["offset"] = str(offset)
    return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")


def paginate(
    request: HttpRequest, items: QuerySet[Any], *, limit: int, offset: int
) -> tuple[list[Any], dict[str, Any]]:
    """One page of ``items`` and the page's counts and links."""
    count = items.count()
    rows = list(items[offset : offset + limit])
    page = {
        "count": count,
        "limit": limit,
        "offset": offset,
        "next": _page_url(request, offset + limit) if offset + limit < count else None,
        "previous": _page_url(request, max(0, offset - limit)) if offset > 0 else None,
    }
    return rows, page
