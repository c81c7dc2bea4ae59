"""schema.org JSON-LD for record pages: a CreativeWork about a Place, with its 3DModel.

Built from the same public presenters as the APIs: the site's public point
only, the licence as a URL, and a contributor only when they asked for credit.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from spadok.api import presenters
from spadok.catalogue.models import Record
from spadok.sites.i18n import localized
from spadok.sites.models import Site

GLB_MIME = "model/gltf-binary"
# Inside <script>, "<", ">" and "&" must not appear raw (no "</script>" from a title).
_SCRIPT_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}


def place(site: Site, request: HttpRequest) -> dict[str, Any]:
    """A site as a schema.org Place, with the point the public may see."""
    url = presenters.site_url(site)
    out: dict[str, Any] = {
        "@type": "Place",
        "@id": request.build_absolute_uri(url) if url else f"urn:spadok:site:{site.id}",
        "name": site.name(),
        "identifier": site.id,
    }
    if url:
        out["url"] = request.build_absolute_uri(url)
    if desc := localized(site.descriptions):
        out["description"] = desc
    address: dict[str, Any] = {"@type": "PostalAddress", "addressCountry": "UA"}
    if site.settlement:
        address["addressLocality"] = site.settlement
    if site.region:
        address["addressRegion"] = localized(site.region.names) or site.region.code
    out["address"] = address
    point = presenters.point_dict(site, None)
    if point:
        out["geo"] = {
            "@type": "GeoCoordinates",
            "latitude": point["latitude"],
            "longitude": point["longitude"],
        }
    if site.wikidata:
        out["sameAs"] = f"https://www.wikidata.org/wiki/{site.wikidata}"
    return out


def record_graph(record: Record, request: HttpRequest) -> dict[str, Any]:
    page = request.build_absolute_uri(record.get_absolute_url())
    work: dict[str, Any] = {
        "@type": "CreativeWork",
        "@id": page,
        "url": page,
        "name": record.title,
        "identifier": record.id,
        "dateCreated": record.created_at.isoformat(),
        "dateModified": record.updated_at.isoformat(),
        "publisher": {"@type": "Organization", "name": settings.SPADOK.organization},
        "isAccessibleForFree": True,
    }
    if record.description:
        work["description"] = record.description
    graph: list[dict[str, Any]] = [work]
    if record.site is not None:
        spot = place(record.site, request)
        work["about"] = work["spatialCoverage"] = {"@id": spot["@id"]}
        graph.append(spot)
    credits = presenters.credited_names(record)
    if credits:
        work["contributor"] = [{"@type": "Person", "name": n} for n in credits]
    models = []
    for capture in presenters.ready_captures(record):
        glbs = [capture.derivative(r) for r in presenters.WEB_ROLES]
        encodings = [
            {
                "@type": "MediaObject",
                "contentUrl": request.build_absolute_uri(
                    presenters.derivative_path(record, capture, d.role)
                ),
                "encodingFormat": GLB_MIME,
                "contentSize": str(d.size),
                "name": d.role,
            }
            for d in glbs
            if d is not None and d.mime == GLB_MIME
        ]
        if not encodings:
            continue
        model: dict[str, Any] = {
            "@type": "3DModel",
            "@id": f"{page}#{capture.id}",
            "name": record.title,
            "encoding": encodings,
            "embedUrl": request.build_absolute_uri(reverse("embed", args=[record.id])),
            "dateCreated": capture.created_at.isoformat(),
        }
        if url := presenters.licence_url(capture.licence):
            model["license"] = url
        if capture.derivative("thumbnail") is not None:
            model["thumbnailUrl"] = request.build_absolute_uri(
                presenters.derivative_path(record, capture, "thumbnail")
            )
        models.append(model)
    if models:
        work["associatedMedia"] = [{"@id": m["@id"]} for m in models]
        if "license" in models[0]:
            work["license"] = models[0]["license"]
        if "thumbnailUrl" in models[0]:
            work["thumbnailUrl"] = models[0]["thumbnailUrl"]
        graph.extend(models)
    return {"@context": "https://schema.org", "@graph": graph}


def as_script_text(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True).translate(_SCRIPT_ESCAPES)
