"""The public shape of sites, records and captures for every open API.

REST, OAI-PMH, JSON-LD and oEmbed all read through here, and here only reads
through the catalogue's selectors and presenters and the registry's
:func:`~spadok.sites.selectors.public_point`: no contributor identity (except a
display name its owner chose to have credited), no device data, no exact
location of a capture, and the coarse point of a sensitive site.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from spadok.catalogue import presenters as catalogue_presenters
from spadok.catalogue.models import Capture, CaptureState, Record
from spadok.sites.i18n import localized
from spadok.sites.models import Site
from spadok.sites.selectors import public_point

# Licences as URLs people follow (schema.org, oEmbed, the REST API).
LICENCE_URLS = {
    "cc-by-4.0": "https://creativecommons.org/licenses/by/4.0/",
    "cc0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
}
# Europeana's edm:rights accepts only its listed URIs, in their http:// form.
EDM_RIGHTS = {
    "cc-by-4.0": "http://creativecommons.org/licenses/by/4.0/",
    "cc0-1.0": "http://creativecommons.org/publicdomain/zero/1.0/",
    "archive-only": "http://rightsstatements.org/vocab/InC/1.0/",
}
# No licence given: the honest statement is that nobody evaluated it.
EDM_RIGHTS_UNKNOWN = "http://rightsstatements.org/vocab/CNE/1.0/"
WEB_ROLES = ("web-high", "web-medium", "web-low", "web-points")
# The copy that embeds and aggregators get: light enough for a phone.
VIEWER_ROLES = ("web-medium", "web-low", "web-high", "web-points")


def absolute(request: HttpRequest, path: str) -> str:
    return request.build_absolute_uri(path)


def licence_url(licence: str | None) -> str | None:
    return LICENCE_URLS.get(licence or "")


def edm_rights(licence: str | None) -> str:
    return EDM_RIGHTS.get(licence or "", EDM_RIGHTS_UNKNOWN)


def site_url(site: Site) -> str | None:
    try:
        return reverse("sites:site", args=[site.id])
    except NoReverseMatch:  # the site pages are not installed
        return None


def ready_captures(record: Record) -> list[Capture]:
    """The record's ready captures, newest first (prefetched by the access selectors)."""
    found = [c for c in record.captures.all() if c.state == CaptureState.READY]
    return sorted(found, key=lambda c: c.created_at, reverse=True)


def shown_capture(record: Record) -> Capture | None:
    """The capture that stands for the record (as on its page and its card)."""
    found = ready_captures(record)
    return found[0] if found else None


def viewer_derivative(capture: Capture) -> Any:
    for role in VIEWER_ROLES:
        d = capture.derivative(role)
        if d is not None:
            return d
    return None


def derivative_path(record: Record, capture: Capture, role: str) -> str:
    return catalogue_presenters.file_url(record, capture, "derivative", role)


def credited_names(record: Record) -> list[str]:
    """Display names of the contributors who asked to be credited; nobody else, ever."""
    names: list[str] = []
    for capture in ready_captures(record):
        name = catalogue_presenters.credit_for(capture)
        if name and name not in names:
            names.append(name)
    return names


def point_dict(site: Site, user: Any = None) -> dict[str, Any] | None:
    point = public_point(site, user)
    if point is None:
        return None
    lat, lon, precision = point
    return {"latitude": lat, "longitude": lon, "precision_m": precision}


def site_summary(site: Site | None, request: HttpRequest) -> dict[str, Any] | None:
    if site is None:
        return None
    url = site_url(site)
    return {
        "id": site.id,
        "name": site.name(),
        "url": absolute(request, url) if url else None,
        "api_url": absolute(request, reverse("api:site_detail", args=[site.id])),
    }


def site_out(site: Site, request: HttpRequest, *, has_3d: bool) -> dict[str, Any]:
    """A site as the public may see it: a sensitive one without its address or exact point."""
    url = site_url(site)
    region = site.region
    return {
        "id": site.id,
        "name": site.name(),
        "names": dict(site.names or {}),
        "description": localized(site.descriptions),
        "type": site.type,
        "designation": site.designation,
        "region": {"code": region.code, "name": localized(region.names)} if region else None,
        "settlement": site.settlement,
        "address": "" if site.sensitive else site.address,
        "location": point_dict(site, request.user),
        "wikidata": site.wikidata or None,
        "external_ids": dict(site.external_ids or {}),
        "damage_status": site.damage_status,
        "damage_date": site.damage_date,
        "has_3d": has_3d,
        "url": absolute(request, url) if url else None,
        "api_url": absolute(request, reverse("api:site_detail", args=[site.id])),
        "updated": site.updated_at,
    }


def derivative_out(record: Record, capture: Capture, d: Any, request: HttpRequest) -> dict:
    stats = d.stats or {}
    counts = {k: stats[k] for k in ("triangles", "vertices", "points") if k in stats}
    return {
        "role": d.role,
        "mime": d.mime,
        "size": d.size,
        "sha256": d.sha256,
        "url": absolute(request, derivative_path(record, capture, d.role)),
        "stats": counts,
    }


def capture_out(record: Record, capture: Capture, request: HttpRequest) -> dict[str, Any]:
    """A capture's public facts: no contributor, no device, no exact location, no originals."""
    where = catalogue_presenters.location_for(record, capture, exact=False)
    ready = capture.state == CaptureState.READY
    derivs = sorted(capture.derivatives.all(), key=lambda d: d.role) if ready else []
    return {
        "id": capture.id,
        "record_id": record.id,
        "created": capture.created_at,
        "captured_at": capture.captured_at,
        "kind": capture.kind,
        "format": capture.format,
        "state": capture.state,
        "licence": capture.licence or None,
        "licence_url": licence_url(capture.licence),
        "location": {
            "latitude": where.latitude,
            "longitude": where.longitude,
            "precision_m": where.precision_m,
        }
        if where
        else None,
        "stats": dict(capture.stats or {}) if ready else {},
        "original_bytes": capture.original_bytes,
        "derivatives": [derivative_out(record, capture, d, request) for d in derivs],
        "api_url": absolute(request, reverse("api:capture_detail", args=[capture.id])),
    }


def record_out(record: Record, request: HttpRequest) -> dict[str, Any]:
    captures = ready_captures(record)
    shown = captures[0] if captures else None
    thumb = shown.derivative("thumbnail") if shown else None
    return {
        "id": record.id,
        "title": record.title,
        "description": record.description,
        "created": record.created_at,
        "updated": record.updated_at,
        "url": absolute(request, record.get_absolute_url()),
        "api_url": absolute(request, reverse("api:record_detail", args=[record.id])),
        "embed_url": absolute(request, reverse("embed", args=[record.id])) if shown else None,
        "thumbnail_url": absolute(request, derivative_path(record, shown, "thumbnail"))
        if shown and thumb
        else None,
        "site": site_summary(record.site, request),
        "credits": credited_names(record),
        "captures": [capture_out(record, c, request) for c in captures],
    }
