"""The metadata formats: ``oai_dc`` (records and sites) and ``edm`` (records).

EDM follows Europeana's model for 3D: an ``edm:ProvidedCHO`` with ``edm:type``
3D, an ``ore:Aggregation`` whose ``edm:isShownAt`` is the record page,
``edm:isShownBy`` the web GLB, ``edm:object`` the thumbnail and ``edm:rights``
a creativecommons.org or rightsstatements.org URI from the capture's licence,
and the site as an ``edm:Place`` with the point the public may see, never more.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from lxml import etree

from spadok.api import presenters
from spadok.catalogue.models import Record
from spadok.sites.i18n import localized
from spadok.sites.models import Site, SiteType

XSI = "http://www.w3.org/2001/XMLSchema-instance"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC = "http://purl.org/dc/elements/1.1/"
DCTERMS = "http://purl.org/dc/terms/"
EDM = "http://www.europeana.eu/schemas/edm/"
ORE = "http://www.openarchives.org/ore/terms/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
WGS84 = "http://www.w3.org/2003/01/geo/wgs84_pos#"
OWL = "http://www.w3.org/2002/07/owl#"

GLB = "model/gltf-binary"


@dataclass(frozen=True)
class Format:
    prefix: str
    schema: str
    namespace: str
    for_sites: bool


FORMATS = {
    "oai_dc": Format("oai_dc", "http://www.openarchives.org/OAI/2.0/oai_dc.xsd", OAI_DC, True),
    "edm": Format("edm", "http://www.europeana.eu/schemas/edm/EDM.xsd", RDF, False),
}


def _sub(parent: Any, ns: str, tag: str, text: str | None = None, **attrs: str) -> Any:
    el = etree.SubElement(parent, f"{{{ns}}}{tag}")
    if text is not None:
        el.text = text
    for key, value in attrs.items():
        el.set(key, value)
    return el


def _resource(parent: Any, ns: str, tag: str, uri: str) -> Any:
    el = _sub(parent, ns, tag)
    el.set(f"{{{RDF}}}resource", uri)
    return el


def site_uri(site: Site, request: HttpRequest) -> str:
    url = presenters.site_url(site)
    return request.build_absolute_uri(url) if url else f"urn:spadok:site:{site.id}"


def site_type_label(site: Site) -> str:
    return str(SiteType(site.type).label) if site.type in SiteType.values else site.type


def _coverage(site: Site) -> list[str]:
    parts = [site.name()]
    if site.settlement:
        parts.append(site.settlement)
    if site.region:
        parts.append(localized(site.region.names, "en") or site.region.code)
    return [", ".join(parts)]


def _public_point_text(site: Site) -> str | None:
    point = presenters.point_dict(site, None)
    if point is None:
        return None
    return f"{point['latitude']:.6g}, {point['longitude']:.6g}"


def _dc_root() -> Any:
    root = etree.Element(f"{{{OAI_DC}}}dc", nsmap={"oai_dc": OAI_DC, "dc": DC, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", f"{OAI_DC} {FORMATS['oai_dc'].schema}")
    return root


def record_oai_dc(record: Record, request: HttpRequest) -> Any:
    root = _dc_root()
    page = request.build_absolute_uri(record.get_absolute_url())
    capture = presenters.shown_capture(record)
    _sub(root, DC, "title", record.title)
    if record.description:
        _sub(root, DC, "description", record.description)
    for name in presenters.credited_names(record):
        _sub(root, DC, "contributor", name)
    _sub(root, DC, "publisher", settings.SPADOK.organization)
    _sub(root, DC, "date", record.created_at.date().isoformat())
    _sub(root, DC, "type", "InteractiveResource")
    _sub(root, DC, "type", "3D")
    if capture is not None:
        _sub(root, DC, "format", GLB)
    _sub(root, DC, "identifier", page)
    _sub(root, DC, "identifier", record.id)
    if record.site is not None:
        _sub(root, DC, "subject", site_type_label(record.site))
        for text in _coverage(record.site):
            _sub(root, DC, "coverage", text)
        if point := _public_point_text(record.site):
            _sub(root, DC, "coverage", point)
        _sub(root, DC, "relation", site_uri(record.site, request))
    licence = capture.licence if capture else ""
    _sub(root, DC, "rights", presenters.licence_url(licence) or presenters.edm_rights(licence))
    return root


def site_oai_dc(site: Site, request: HttpRequest) -> Any:
    root = _dc_root()
    for lang, name in sorted((site.names or {}).items()):
        if name:
            _sub(root, DC, "title", name, **{XML_LANG: lang})
    if not site.names:
        _sub(root, DC, "title", site.id)
    for lang, text in sorted((site.descriptions or {}).items()):
        if text:
            _sub(root, DC, "description", text, **{XML_LANG: lang})
    _sub(root, DC, "type", "Place")
    _sub(root, DC, "subject", site_type_label(site))
    _sub(root, DC, "identifier", site_uri(site, request))
    _sub(root, DC, "identifier", site.id)
    if site.wikidata:
        _sub(root, DC, "relation", f"http://www.wikidata.org/entity/{site.wikidata}")
    for text in _coverage(site):
        _sub(root, DC, "coverage", text)
    if point := _public_point_text(site):
        _sub(root, DC, "coverage", point)
    if site.damage_status:
        _sub(root, DC, "description", f"damage: {site.damage_status}", **{XML_LANG: "en"})
    _sub(root, DC, "publisher", settings.SPADOK.organization)
    return root


def _edm_place(root: Any, site: Site, request: HttpRequest) -> str:
    uri = site_uri(site, request)
    place = _sub(root, EDM, "Place")
    place.set(f"{{{RDF}}}about", uri)
    point = presenters.point_dict(site, None)
    if point is not None:
        _sub(place, WGS84, "lat", f"{point['latitude']:.6g}")
        _sub(place, WGS84, "long", f"{point['longitude']:.6g}")
    for lang, name in sorted((site.names or {}).items()):
        if name:
            _sub(place, SKOS, "prefLabel", name, **{XML_LANG: lang})
    if site.settlement:
        _sub(place, SKOS, "note", site.settlement)
    if site.wikidata:
        _resource(place, OWL, "sameAs", f"http://www.wikidata.org/entity/{site.wikidata}")
    return uri


def record_edm(record: Record, request: HttpRequest) -> Any:
    nsmap = {
        "rdf": RDF,
        "dc": DC,
        "dcterms": DCTERMS,
        "edm": EDM,
        "ore": ORE,
        "skos": SKOS,
        "wgs84_pos": WGS84,
        "owl": OWL,
        "xsi": XSI,
    }
    root = etree.Element(f"{{{RDF}}}RDF", nsmap=nsmap)
    page = request.build_absolute_uri(record.get_absolute_url())
    cho_uri, agg_uri = f"{page}#cho", f"{page}#aggregation"
    capture = presenters.shown_capture(record)
    licence = capture.licence if capture else ""
    rights = presenters.edm_rights(licence)

    cho = _sub(root, EDM, "ProvidedCHO")
    cho.set(f"{{{RDF}}}about", cho_uri)
    _sub(cho, DC, "title", record.title)
    if record.description:
        _sub(cho, DC, "description", record.description)
    _sub(cho, DC, "identifier", record.id)
    for name in presenters.credited_names(record):
        _sub(cho, DC, "contributor", name)
    _sub(cho, DC, "type", site_type_label(record.site) if record.site else "3D model")
    if record.site is not None:
        _resource(cho, DCTERMS, "spatial", site_uri(record.site, request))
    _sub(cho, EDM, "type", "3D")

    shown_by = thumb_url = None
    if capture is not None:
        model = presenters.viewer_derivative(capture)
        if model is not None:
            shown_by = request.build_absolute_uri(
                presenters.derivative_path(record, capture, model.role)
            )
            web = _sub(root, EDM, "WebResource")
            web.set(f"{{{RDF}}}about", shown_by)
            _sub(web, DC, "format", model.mime)
            _sub(web, DCTERMS, "extent", f"{model.size} bytes")
            _resource(web, EDM, "rights", rights)
        thumb = capture.derivative("thumbnail")
        if thumb is not None:
            thumb_url = request.build_absolute_uri(
                presenters.derivative_path(record, capture, "thumbnail")
            )
            web = _sub(root, EDM, "WebResource")
            web.set(f"{{{RDF}}}about", thumb_url)
            _sub(web, DC, "format", thumb.mime)
            _resource(web, EDM, "rights", rights)
    if record.site is not None:
        _edm_place(root, record.site, request)

    agg = _sub(root, ORE, "Aggregation")
    agg.set(f"{{{RDF}}}about", agg_uri)
    _resource(agg, EDM, "aggregatedCHO", cho_uri)
    _sub(agg, EDM, "dataProvider", settings.SPADOK.organization)
    _resource(agg, EDM, "isShownAt", page)
    if shown_by:
        _resource(agg, EDM, "isShownBy", shown_by)
    if thumb_url:
        _resource(agg, EDM, "object", thumb_url)
    _sub(agg, EDM, "provider", settings.SPADOK.organization)
    _resource(agg, EDM, "rights", rights)
    return root


WRITERS: dict[tuple[str, str], Callable[[Any, HttpRequest], Any]] = {
    ("record", "oai_dc"): record_oai_dc,
    ("record", "edm"): record_edm,
    ("site", "oai_dc"): site_oai_dc,
}
