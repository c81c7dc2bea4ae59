"""Recording damage (site and record pages), correcting it, and the public statistics.

The forms are for reviewers, curators and administrators (see
:mod:`spadok.damage.selectors`); everyone else gets a 404. The dashboard and
its CSV/JSON tables are public and the same for every visitor (cacheable).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from spadok.catalogue.models import Record, Visibility
from spadok.catalogue.selectors import access_record, visible_records
from spadok.core.errors import SpadokError
from spadok.damage import charts, selectors, services, stats
from spadok.damage.forms import DamageEventForm, RetractForm, initial_of
from spadok.sites.models import Site

STATS_MAX_AGE_S = 300


def _lang(request: HttpRequest) -> str:
    wanted = request.GET.get("lang", "")
    if wanted in {code for code, _name in settings.LANGUAGES}:
        return wanted
    return (get_language() or "uk").split("-")[0]


def _private(response: HttpResponse) -> HttpResponse:
    patch_cache_control(response, private=True, no_store=True)
    return response


def site_records(site: Site, user: Any) -> list[Record]:
    """The site's records whose captures an event may name (the user's view, unsealed)."""
    return list(
        visible_records(user)
        .filter(site=site)
        .exclude(visibility=Visibility.SEALED)
        .order_by("-created_at")[:50]
    )


def _form_page(
    request: HttpRequest,
    form: DamageEventForm,
    *,
    site: Site | None,
    record: Record | None,
    action: str,
    event: Any = None,
) -> HttpResponse:
    context = {
        "form": form,
        "site": site,
        "record": record,
        "action": action,
        "event": event,
        "retract_form": RetractForm() if event is not None else None,
    }
    status = 400 if form.is_bound and not form.is_valid() else 200
    return _private(render(request, "damage/form.html", context, status=status))


def _save(request: HttpRequest, form: DamageEventForm, **subject: Any) -> Any:
    """The new event, or None with the service's reason added to the form."""
    try:
        return services.damage_event_create(by=request.user, **subject, **form.service_fields())
    except SpadokError as exc:
        form.add_error(None, exc.message)
        return None


@login_required
@require_http_methods(["GET", "POST"])
def site_add(request: HttpRequest, site_id: str) -> HttpResponse:
    """Record an account of damage to a site."""
    site = selectors.access_site_for_damage(request.user, site_id)
    records = site_records(site, request.user)
    form = DamageEventForm(request.POST or None, records=records)
    action = reverse("damage:site-add", args=[site.id])
    if request.method == "POST" and form.is_valid():
        event = _save(request, form, site=site)
        if event is not None:
            messages.success(request, _("The damage event was recorded."))
            return redirect(f"{site.get_absolute_url()}#event-{event.id}")
    return _form_page(request, form, site=site, record=None, action=action)


@login_required
@require_http_methods(["GET", "POST"])
def record_add(request: HttpRequest, record_id: str) -> HttpResponse:
    """Record an account of damage to a record (and so to its site)."""
    if not selectors.may_record_damage(request.user):
        raise Http404("no such record")
    record = access_record(request.user, record_id, action="damage")
    form = DamageEventForm(request.POST or None, records=[record])
    action = reverse("damage:record-add", args=[record.id])
    if request.method == "POST" and form.is_valid():
        event = _save(request, form, record=record)
        if event is not None:
            messages.success(request, _("The damage event was recorded."))
            return redirect(f"{record.get_absolute_url()}#event-{event.id}")
    return _form_page(request, form, site=record.site, record=record, action=action)


def _back(event: Any) -> str:
    if event.record_id is not None:
        return f"{event.record.get_absolute_url()}#event-{event.id}"
    return f"{event.site.get_absolute_url()}#event-{event.id}"


@login_required
@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, event_id: str) -> HttpResponse:
    """Correct an event (curators and administrators); every change is in the custody log."""
    event = selectors.access_event(request.user, event_id)
    if event.retracted:
        raise Http404("no such damage event")
    if event.record is not None:
        records = [event.record]
    else:
        assert event.site is not None  # an event is about a record or a site
        records = site_records(event.site, request.user)
    form = DamageEventForm(request.POST or None, records=records, initial=initial_of(event))
    action = reverse("damage:edit", args=[event.id])
    if request.method == "POST" and form.is_valid():
        fields = form.service_fields()
        try:
            services.damage_event_update(event=event, by=request.user, **fields)
        except SpadokError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("The damage event was corrected."))
            return redirect(_back(event))
    return _form_page(
        request, form, site=event.site, record=event.record, action=action, event=event
    )


@login_required
@require_POST
def retract(request: HttpRequest, event_id: str) -> HttpResponse:
    event = selectors.access_event(request.user, event_id)
    form = RetractForm(request.POST)
    if form.is_valid():
        try:
            services.damage_event_retract(
                event=event, by=request.user, reason=form.cleaned_data["reason"]
            )
        except SpadokError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("The damage event was retracted."))
            return redirect(_back(event))
    else:
        messages.error(request, _("Say why the event is retracted."))
    return redirect(reverse("damage:edit", args=[event.id]))


# -- the public statistics ----------------------------------------------------------------


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    lang = _lang(request)
    tables = stats.all_tables(lang)
    regions_data = [
        {k: r[k] for k in ("region", "name", "verified_sites", "reported_only_sites")}
        for r in tables["by-region"].rows
    ]
    context = {
        "region_table": tables["by-region"],
        "kind_table": tables["by-kind"],
        "standing_table": tables["by-standing"],
        "month_table": tables["by-month"],
        "coverage_table": tables["coverage"],
        "totals": stats.totals(tables),
        "region_bars": charts.bars(
            tables["by-region"].rows, ["verified_sites", "reported_only_sites"]
        ),
        "kind_bars": charts.bars(tables["by-kind"].rows, ["verified_events", "reported_events"]),
        "standing_bars": charts.bars(tables["by-standing"].rows, ["events"]),
        "coverage_bars": charts.bars(
            tables["coverage"].rows, ["verified_with_3d", "verified_without_3d"]
        ),
        "months": charts.months_chart(tables["by-month"].rows),
        "regions_data": regions_data,
        "map_labels": charts.map_labels(),
        "lang": lang,
        "tile_url": getattr(settings, "SPADOK_TILE_URL", ""),
        "tile_attribution": getattr(settings, "SPADOK_TILE_ATTRIBUTION", ""),
    }
    response = render(request, "damage/dashboard.html", context)
    if request.user.is_authenticated:
        return _private(response)
    return response


def _csv(table: stats.Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow([_cell(row.get(c)) for c in table.columns])
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@require_GET
def stats_export(request: HttpRequest, name: str, ext: str) -> HttpResponse:
    """``/damage/stats/<table>.csv`` and ``.json``: the tables behind the charts."""
    if name not in stats.TABLES or ext not in ("csv", "json"):
        raise Http404("no such table")
    lang = _lang(request)
    with translation.override(lang):  # labels and names in the asked language
        table = stats.table(name, lang)
        if ext == "csv":
            response = HttpResponse(_csv(table), content_type="text/csv; charset=utf-8")
        else:
            body = json.dumps(table.as_dict(), cls=DjangoJSONEncoder, ensure_ascii=False, indent=1)
            response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="damage-{name}.{ext}"'
    response["Access-Control-Allow-Origin"] = "*"
    patch_cache_control(response, public=True, max_age=STATS_MAX_AGE_S)
    # Names and labels follow ?lang=, else the reader's language (cookie or header).
    patch_vary_headers(response, ["Accept-Language", "Cookie"])
    return response
