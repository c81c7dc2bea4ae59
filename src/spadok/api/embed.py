"""oEmbed and the embeddable viewer (/embed/<record>): for news sites and lessons.

The embed page is the one page any site may frame (``frame-ancestors *``);
every other page keeps the strict policy that forbids framing. It shows public
records only, whoever is signed in: a frame on someone else's site must never
show what the visitor's own account may see.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.http.request import validate_host
from django.shortcuts import render
from django.urls import Resolver404, resolve, reverse
from django.utils.cache import patch_cache_control
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET

from spadok.api import presenters
from spadok.api.errors import ApiError, not_found
from spadok.catalogue import selectors
from spadok.catalogue.models import Record
from spadok.site.middleware import POLICY

DEFAULT_WIDTH, DEFAULT_HEIGHT = 640, 480
MIN_SIDE = 120
THUMBNAIL_SIDE = 512  # the policy's thumbnail is 512×512
# The strict policy with one change: any site may frame this page.
EMBED_POLICY = POLICY.replace("frame-ancestors 'none'", "frame-ancestors *")


def public_record(record_id: str) -> Record:
    """A record anyone may see, with its ready captures; else 404."""
    return selectors.access_record(None, record_id, action=None)


def record_from_url(request: HttpRequest, url: str) -> Record:
    """The public record a record page's (or embed page's) URL on this server names."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise not_found("record page at this URL")
    host = parts.hostname or ""
    if host != request.get_host().split(":")[0] and not validate_host(host, settings.ALLOWED_HOSTS):
        raise not_found("record page at this URL")
    try:
        match = resolve(parts.path)
    except Resolver404:
        raise not_found("record page at this URL") from None
    record_id = match.kwargs.get("record_id")
    if match.view_name not in ("catalogue:record", "embed") or not record_id:
        raise not_found("record page at this URL")
    try:
        return public_record(record_id)
    except Http404:
        raise not_found("record") from None


def _size(maxwidth: int | None, maxheight: int | None) -> tuple[int, int]:
    """The default 4:3 frame, shrunk (keeping its shape) to fit maxwidth × maxheight."""
    width, height = DEFAULT_WIDTH, DEFAULT_HEIGHT
    scale = 1.0
    if maxwidth:
        scale = min(scale, maxwidth / width)
    if maxheight:
        scale = min(scale, maxheight / height)
    return max(MIN_SIDE, int(width * scale)), max(MIN_SIDE, int(height * scale))


def oembed(
    request: HttpRequest, url: str, fmt: str, maxwidth: int | None, maxheight: int | None
) -> dict[str, Any]:
    """The oEmbed 1.0 "rich" answer for a public record page."""
    if fmt != "json":
        raise ApiError("api.format_unsupported", fmt)
    record = record_from_url(request, url)
    capture = presenters.shown_capture(record)
    if capture is None or presenters.viewer_derivative(capture) is None:
        raise not_found("3D model for this record")
    width, height = _size(maxwidth, maxheight)
    src = request.build_absolute_uri(reverse("embed", args=[record.id]))
    title = escape(record.title)
    html = (
        f'<iframe src="{src}" width="{width}" height="{height}" title="{title}" '
        f'style="border:0" loading="lazy" allow="fullscreen; xr-spatial-tracking" '
        f"allowfullscreen></iframe>"
    )
    credits = presenters.credited_names(record)
    out: dict[str, Any] = {
        "version": "1.0",
        "type": "rich",
        "title": record.title,
        "provider_name": settings.SPADOK.organization,
        "provider_url": request.build_absolute_uri("/"),
        "html": html,
        "width": width,
        "height": height,
        "license_url": presenters.licence_url(capture.licence),
    }
    if capture.derivative("thumbnail") is not None:
        thumb = presenters.derivative_path(record, capture, "thumbnail")
        out["thumbnail_url"] = request.build_absolute_uri(thumb)
        out["thumbnail_width"] = out["thumbnail_height"] = THUMBNAIL_SIDE
    if credits:
        out["author_name"] = ", ".join(credits)
    return out


def attribution(record: Record, capture: Any) -> dict[str, Any]:
    """What the embed's caption says: the licence, and the credited names if any."""
    licence = capture.licence or ""
    labels = {
        "cc-by-4.0": "CC BY 4.0",
        "cc0-1.0": "CC0 1.0",
        "archive-only": _("All rights reserved"),
    }
    return {
        "licence": labels.get(licence, _("Licence not stated")),
        "licence_url": presenters.licence_url(licence),
        "credits": presenters.credited_names(record),
    }


@require_GET
@xframe_options_exempt
def embed_page(request: HttpRequest, record_id: str) -> HttpResponse:
    try:
        record = public_record(record_id)
    except Http404:
        response = render(request, "api/embed_missing.html", status=404)
        response["Content-Security-Policy"] = EMBED_POLICY
        return response
    capture = presenters.shown_capture(record)
    model = presenters.viewer_derivative(capture) if capture else None
    thumb = capture.derivative("thumbnail") if capture else None
    context = {
        "record": record,
        "page_url": request.build_absolute_uri(record.get_absolute_url()),
        "model_url": presenters.derivative_path(record, capture, model.role)
        if capture and model
        else "",
        "poster_url": presenters.derivative_path(record, capture, "thumbnail")
        if capture and thumb
        else "",
        **(attribution(record, capture) if capture else {}),
    }
    response = render(request, "api/embed.html", context)
    response["Content-Security-Policy"] = EMBED_POLICY
    patch_cache_control(response, public=True, max_age=300)
    return response
