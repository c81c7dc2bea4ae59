"""What the public pages show about a site, and its schema.org ``Place`` in JSON-LD.

Views call these; templates lay the result out. The point always comes from
:func:`selectors.public_point` and the street address is withheld where the
point is: a sensitive site is shown by its settlement and region only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.conf import settings
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from spadok.catalogue.models import Capture, CaptureState, Record
from spadok.catalogue.selectors import sees_exact_location
from spadok.sites import selectors
from spadok.sites.i18n import localized
from spadok.sites.models import DamageStatus, Site, SiteType

TYPE_LABELS = {
    SiteType.CHURCH: _("Religious building"),
    SiteType.MONUMENT: _("Monument or memorial"),
    SiteType.MUSEUM: _("Museum"),
    SiteType.BUILDING: _("Historic building"),
    SiteType.ARCHAEOLOGICAL: _("Archaeological site"),
    SiteType.LIBRARY: _("Library or archive"),
    SiteType.THEATRE: _("Theatre or cultural centre"),
    SiteType.OBJECT: _("Movable object"),
    SiteType.OTHER: _("Other"),
}
DAMAGE_LABELS = {
    DamageStatus.UNKNOWN: _("No damage recorded"),
    DamageStatus.THREATENED: _("Threatened"),
    DamageStatus.DAMAGED: _("Damaged"),
    DamageStatus.DESTROYED: _("Destroyed"),
    DamageStatus.LOOTED: _("Looted"),
}
LANGUAGE_NAMES = {code: name for code, name in settings.LANGUAGES}
WIKIDATA_ENTITY = "https://www.wikidata.org/entity/"
WIKIDATA_PAGE = "https://www.wikidata.org/wiki/"


def type_label(value: str) -> str:
    return str(TYPE_LABELS.get(value, value))  # type: ignore[call-overload]


def damage_label(value: str) -> str:
    return str(DAMAGE_LABELS.get(value, value))  # type: ignore[call-overload]


@dataclass
class Point:
    latitude: float
    longitude: float
    precision_m: float | None

    @property
    def approximate(self) -> bool:
        return self.precision_m is not None


@dataclass
class OtherName:
    lang: str
    language: str
    name: str


@dataclass
class TimelineEntry:
    day: date | None  # None: a damage event whose date is not known (listed last)
    kind: str  # "capture" | "damage"
    text: str
    url: str = ""
    # A damage event: its source, standing and date as published (spadok.damage).
    event: Any = None


@dataclass
class SiteView:
    site: Site
    name: str
    other_names: list[OtherName]
    description: str
    type_label: str
    damage_label: str
    region_name: str
    address: str  # empty for the public when the site is sensitive
    point: Point | None
    wikidata_url: str
    timeline: list[TimelineEntry] = field(default_factory=list)


def site_view(site: Site, user: Any = None) -> SiteView:
    lang = (get_language() or "uk").split("-")[0]
    name = site.name(lang)
    others = [
        OtherName(lang=code, language=LANGUAGE_NAMES.get(code, code), name=value)
        for code, value in sorted(site.names.items())
        if value and value != name
    ]
    point = selectors.public_point(site, user)
    exact = not site.sensitive or sees_exact_location(user)
    return SiteView(
        site=site,
        name=name,
        other_names=others,
        description=localized(site.descriptions, lang),
        type_label=type_label(site.type),
        damage_label=damage_label(site.damage_status),
        region_name=localized(site.region.names, lang) if site.region else "",
        address=site.address if exact else "",
        point=Point(*point) if point else None,
        wikidata_url=f"{WIKIDATA_PAGE}{site.wikidata}" if site.wikidata else "",
    )


def timeline(
    site: Site, records: list[Record], events: list[Any] | None = None
) -> list[TimelineEntry]:
    """What happened to a site, oldest first: its ready captures and its damage events
    (views from :func:`spadok.damage.presenters.event_view`), those of unknown date last.

    A site with a damage status but no events (from before events were recorded)
    shows its status on its date.
    """
    entries: list[TimelineEntry] = []
    by_id = {r.pk: r for r in records}
    captures = Capture.objects.filter(record__in=by_id, state=CaptureState.READY).only(
        "id", "record_id", "captured_at", "created_at", "format"
    )
    for capture in captures:
        record = by_id[capture.record_id]
        when = capture.captured_at or capture.created_at
        entries.append(
            TimelineEntry(
                day=when.date(),
                kind="capture",
                text=str(_("3D capture of “%(title)s”")) % {"title": record.title},
                url=record.get_absolute_url(),
            )
        )
    for view in events or []:
        entries.append(TimelineEntry(day=view.day, kind="damage", text=view.kind_label, event=view))
    if not events and site.damage_date and site.damage_status:
        entries.append(
            TimelineEntry(
                day=site.damage_date, kind="damage", text=damage_label(site.damage_status)
            )
        )
    return sorted(entries, key=lambda e: (e.day is None, e.day or date.max, e.kind))


def _lang_values(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"@language": k, "@value": v} for k, v in sorted(values.items()) if v]


def site_jsonld(
    view: SiteView,
    *,
    page_url: str,
    records: list[tuple[str, str]] | None = None,
    events: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The site as a schema.org ``Place`` (names in every language, the public point only),
    with its public damage events as ``event``."""
    site = view.site
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Place",
        "@id": page_url,
        "url": page_url,
        "name": _lang_values(site.names) or site.id,
        "identifier": site.id,
    }
    if site.descriptions:
        data["description"] = _lang_values(site.descriptions)
    if view.point:
        coords = {
            "@type": "GeoCoordinates",
            "latitude": view.point.latitude,
            "longitude": view.point.longitude,
        }
        if view.point.approximate:
            # A coarse point is a circle, not a spot: say so instead of feigning precision.
            data["geo"] = {
                "@type": "GeoCircle",
                "geoMidpoint": coords,
                "geoRadius": view.point.precision_m,
            }
        else:
            data["geo"] = coords
    if site.wikidata:
        data["sameAs"] = [f"{WIKIDATA_ENTITY}{site.wikidata}"]
    if site.region:
        data["containedInPlace"] = {
            "@type": "AdministrativeArea",
            "identifier": site.region.code,
            "name": _lang_values(site.region.names) or site.region.code,
        }
    address: dict[str, Any] = {"@type": "PostalAddress", "addressCountry": "UA"}
    if site.settlement:
        address["addressLocality"] = site.settlement
    if view.address:
        address["streetAddress"] = view.address
    if view.region_name:
        address["addressRegion"] = view.region_name
    data["address"] = address
    if records:
        data["subjectOf"] = [
            {"@type": "CreativeWork", "name": title, "url": url} for title, url in records
        ]
    if events:
        data["event"] = events
    return data


def jsonld_script(data: dict[str, Any]) -> SafeString:
    """A ``<script type="application/ld+json">`` data block, safe inside HTML.

    Browsers do not run data blocks and the Content Security Policy does not
    apply to them; ``<``, ``>`` and ``&`` are escaped so that no text in the
    data can end the element.
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")).translate(
        {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026"}
    )
    return mark_safe(f'<script type="application/ld+json">{text}</script>')
