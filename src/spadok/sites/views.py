"""The site pages, the map, and the map's GeoJSON.

Sites are public; their exact points are not always (see :mod:`selectors`).
The GeoJSON is the same for every visitor (what the public sees), so shared
caches may keep it; pages for signed-in people are never cached.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Prefetch, QuerySet
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_cache_control
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import require_GET

from spadok.catalogue import presenters as record_presenters
from spadok.catalogue.models import Capture, CaptureState, Derivative, Visibility
from spadok.catalogue.selectors import visible_records
from spadok.core.errors import SpadokError
from spadok.damage import presenters as damage_presenters
from spadok.damage import selectors as damage_selectors
from spadok.damage.forms import DamageEventForm
from spadok.sites import geojson, presenters
from spadok.sites.i18n import localized
from spadok.sites.models import DamageStatus, Region, Site, SiteType

PAGE_SIZE = 50
GEOJSON = "application/geo+json"
GEOJSON_MAX_AGE_S = 300
REGIONS_MAX_AGE_S = 3600


def _lang(request: HttpRequest) -> str:
    """``?lang=`` when it names a site language, else the active one.

    A language in the URL keeps the GeoJSON cacheable (no dependence on cookies).
    """
    wanted = request.GET.get("lang", "")
    if wanted in {code for code, _name in settings.LANGUAGES}:
        return wanted
    return (get_language() or "uk").split("-")[0]


def _private_if_personal(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    if request.user.is_authenticated:
        # A reviewer sees exact points and drafts: never in a shared cache.
        patch_cache_control(response, private=True, no_store=True)
    return response


# -- the site page ----------------------------------------------------------------------


@require_GET
def site_page(request: HttpRequest, site_id: str) -> HttpResponse:
    site = (
        Site.objects.select_related("region").defer("region__geometry").filter(pk=site_id).first()
    )
    if site is None:
        raise Http404("no such site")
    ready = Capture.objects.filter(state=CaptureState.READY).prefetch_related(
        Prefetch("derivatives", queryset=Derivative.objects.order_by("role"))
    )
    # Sealed records are opened one by one from their own page, where each access is
    # written to the custody log; a listing here would show them without a trace.
    records = list(
        visible_records(request.user)
        .filter(site=site)
        .exclude(visibility=Visibility.SEALED)
        .prefetch_related(Prefetch("captures", queryset=ready))
        .order_by("-created_at")
    )
    view = presenters.site_view(site, request.user)
    editor = damage_selectors.may_edit_damage(request.user)
    events = damage_selectors.site_events(site, request.user)
    view.timeline = presenters.timeline(
        site, records, [damage_presenters.event_view(e, editor=editor) for e in events]
    )
    page_url = request.build_absolute_uri(site.get_absolute_url())
    jsonld = presenters.site_jsonld(
        view,
        page_url=page_url,
        records=[(r.title, request.build_absolute_uri(r.get_absolute_url())) for r in records],
        events=[damage_presenters.event_jsonld(e) for e in damage_selectors.public_of(events)],
    )
    may_add = damage_selectors.may_record_damage(request.user)
    response = render(
        request,
        "sites/site.html",
        {
            "view": view,
            "site": site,
            "cards": [record_presenters.record_card(r) for r in records],
            "jsonld": presenters.jsonld_script(jsonld),
            "damage_form": DamageEventForm(records=records) if may_add else None,
            **_map_settings(),
        },
    )
    return _private_if_personal(request, response)


# -- the list of sites ------------------------------------------------------------------


class SiteFilterForm(forms.Form):
    """The list's filters; every field is optional and labelled."""

    region = forms.ChoiceField(label=_("Region"), required=False)
    type = forms.ChoiceField(label=_("Type"), required=False)
    damage = forms.ChoiceField(label=_("Damage"), required=False)
    has_3d = forms.ChoiceField(
        label=_("3D model"),
        required=False,
        choices=[("", _("Any")), ("true", _("With a 3D model")), ("false", _("Without"))],
    )

    def __init__(self, *args: Any, lang: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        regions = sorted(
            (
                (code, localized(names, lang) or code)
                for code, names in Region.objects.values_list("code", "names")
            ),
            key=lambda c: c[1],
        )
        self._choices("region", [("", _("All regions")), *regions])
        self._choices(
            "type",
            [("", _("All types")), *((v, presenters.type_label(v)) for v in SiteType.values)],
        )
        self._choices(
            "damage",
            [
                ("", _("Any")),
                *((v, presenters.damage_label(v)) for v in DamageStatus.values if v),
                ("none", presenters.damage_label("")),
            ],
        )

    def _choices(self, name: str, choices: list[tuple[str, Any]]) -> None:
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices


def _listed(form: SiteFilterForm, lang: str) -> QuerySet[Site]:
    data = form.cleaned_data if form.is_valid() else {}
    flt = geojson.SiteFilter(
        type=data.get("type", ""),
        damage=data.get("damage", ""),
        has_3d={"true": True, "false": False}.get(data.get("has_3d", "")),
    )
    sites = geojson.filtered_sites(flt)
    if data.get("region"):
        sites = sites.filter(region_id=data["region"])
    # By name in the reader's language, then the fallbacks; the id keeps pages stable.
    order = Coalesce(KT(f"names__{lang}"), KT("names__uk"), KT("names__en"), "id")
    # The region's outline is large and not shown here: leave it in the database.
    return sites.select_related("region").defer("region__geometry").order_by(order, "id")


@require_GET
def site_list(request: HttpRequest) -> HttpResponse:
    lang = _lang(request)
    form = SiteFilterForm(request.GET, lang=lang)
    paginator = Paginator(_listed(form, lang), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    with_3d = geojson.public_3d_ids() if page.object_list else set()
    rows = [
        {
            "site": s,
            "name": s.name(lang),
            "type_label": presenters.type_label(s.type),
            "damage_label": presenters.damage_label(s.damage_status) if s.damage_status else "",
            "region": localized(s.region.names, lang) if s.region else "",
            "has_3d": s.pk in with_3d,
        }
        for s in page.object_list
    ]
    response = render(request, "sites/list.html", {"form": form, "page": page, "rows": rows})
    return _private_if_personal(request, response)


# -- the map ------------------------------------------------------------------------------


def _map_settings() -> dict[str, str]:
    return {
        "tile_url": getattr(settings, "SPADOK_TILE_URL", ""),
        "tile_attribution": getattr(settings, "SPADOK_TILE_ATTRIBUTION", ""),
    }


def map_labels() -> dict[str, Any]:
    """The interface strings the map's script needs, in the reader's language."""
    return {
        "types": {v: presenters.type_label(v) for v in SiteType.values},
        "damage": {v: presenters.damage_label(v) for v in DamageStatus.values},
        "has3d": str(_("3D model available")),
        "approximate": str(_("Location shown approximately")),
        "open": str(_("Open the site page")),
        "loading": str(_("Loading sites…")),
        "shown": str(_("Sites shown: %(n)s")),
        "tooMany": str(
            _("Too many sites in this view to show one by one. Zoom in, or narrow the filters.")
        ),
        "failed": str(_("The sites could not be loaded. Try again later.")),
        "sites": str(_("Sites")),
        "damaged": str(_("Damaged sites")),
        "with3d": str(_("Sites with a 3D model")),
        "noData": str(_("no sites")),
    }


@require_GET
def map_page(request: HttpRequest) -> HttpResponse:
    lang = _lang(request)
    form = SiteFilterForm(lang=lang)
    return render(
        request,
        "sites/map.html",
        {
            "form": form,
            "labels": map_labels(),
            "lang": lang,
            "legend_damage": [
                (v or "none", presenters.damage_label(v)) for v in DamageStatus.values
            ],
            **_map_settings(),
        },
    )


# -- GeoJSON ------------------------------------------------------------------------------


def _geojson_response(data: dict[str, Any], *, status: int = 200, max_age: int = 0) -> HttpResponse:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    response = HttpResponse(body, status=status, content_type=f"{GEOJSON}; charset=utf-8")
    if status == 200 and max_age:
        patch_cache_control(response, public=True, max_age=max_age)
    return response


def _error(error: SpadokError) -> HttpResponse:
    response = HttpResponse(
        json.dumps({"error": error.as_dict()}, ensure_ascii=False),
        status=400,
        content_type="application/json; charset=utf-8",
    )
    return response


@require_GET
@gzip_page
def sites_geojson(request: HttpRequest) -> HttpResponse:
    """``GET /api/sites.geojson?bbox=west,south,east,north[&type=&damage=&has_3d=&lang=]``."""
    try:
        bbox = geojson.parse_bbox(request.GET.get("bbox"))
        flt = geojson.parse_filter(request.GET)
        features = geojson.site_features(bbox, flt, lang=_lang(request))
    except SpadokError as exc:
        return _error(exc)
    return _geojson_response(geojson.collection(features), max_age=GEOJSON_MAX_AGE_S)


@require_GET
@gzip_page
def regions_geojson(request: HttpRequest) -> HttpResponse:
    """``GET /api/regions.geojson[?lang=]``: region outlines with their counts."""
    features = geojson.region_features(lang=_lang(request))
    return _geojson_response(geojson.collection(features), max_age=REGIONS_MAX_AGE_S)
