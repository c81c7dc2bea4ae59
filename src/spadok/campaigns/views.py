"""Campaign pages: the list, a campaign's dashboard, what to scan next, a task, and
the public national coverage map.

Campaign pages need a sign-in and are never cached; the coverage map and its
GeoJSON are public and the same for everyone. Objects come through the access
functions in :mod:`selectors`; writes through :mod:`services`, whose
``campaign.*`` errors are shown as a translated message, never a traceback.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from spadok.campaigns import presenters, selectors, services
from spadok.campaigns.forms import CampaignForm, PlaceForm, SiteSelectionForm, TaskForm
from spadok.campaigns.models import Campaign, Membership
from spadok.core.errors import SpadokError
from spadok.sites.models import Region

GEOJSON = "application/geo+json; charset=utf-8"
COVERAGE_MAX_AGE_S = 600


def _private(response: HttpResponse) -> HttpResponse:
    patch_cache_control(response, private=True, no_store=True)
    return response


def _lang() -> str:
    return (get_language() or "uk").split("-")[0]


def _map_settings() -> dict[str, str]:
    return {
        "tile_url": getattr(settings, "SPADOK_TILE_URL", ""),
        "tile_attribution": getattr(settings, "SPADOK_TILE_ATTRIBUTION", ""),
    }


def _map_labels() -> dict[str, Any]:
    return {
        "statuses": {k: str(v) for k, v in presenters.STATUS_LABELS.items()},
        "open": str(_("Open the task")),
        "approximate": str(_("Location shown approximately")),
        "you": str(_("You are here")),
        "locating": str(_("Finding your location…")),
        "denied": str(_("Your location could not be found. Click the map or name a settlement.")),
        "failed": str(_("The map could not be loaded. Try again later.")),
        "km": str(_("km")),
    }


def _fail(request: HttpRequest, exc: SpadokError) -> None:
    messages.error(request, presenters.error_message(exc))


# -- the list and a new campaign --------------------------------------------------------


@require_GET
@login_required
def campaign_list(request: HttpRequest) -> HttpResponse:
    joined = set(selectors.joined_campaign_ids(request.user))
    context = {
        "campaigns": selectors.campaigns_for(request.user),
        "joined": joined,
        "may_create": selectors.may_create_campaign(request.user),
        "claims": selectors.claims_of(request.user),
    }
    return _private(render(request, "campaigns/list.html", context))


@require_http_methods(["GET", "POST"])
@login_required
def campaign_new(request: HttpRequest) -> HttpResponse:
    if not selectors.may_create_campaign(request.user):
        raise Http404("no such page")
    form = CampaignForm(request.POST or None, lang=_lang(), initial={"wanted": ["exterior"]})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            region = Region.objects.filter(pk=data["region"]).first() if data["region"] else None
            area = services.Area(
                region=region,
                bbox=services.parse_bbox(data["bbox"]),
                polygon=services.parse_polygon(data["polygon"]),
            )
            campaign = services.campaign_create(
                actor=request.user,
                name=data["name"],
                description=data["description"],
                area=area,
                starts_on=data["starts_on"],
                ends_on=data["ends_on"],
                goal_sites=data["goal_sites"],
                goal_captures_per_day=data["goal_captures_per_day"],
                claim_hours=data["claim_hours"],
                wanted=data["wanted"],
            )
        except SpadokError as exc:
            _fail(request, exc)
        else:
            messages.success(request, _("The campaign is started. Now choose its sites."))
            return redirect(campaign.get_absolute_url() + "#sites")
    return _private(render(request, "campaigns/form.html", {"form": form}))


# -- a campaign -------------------------------------------------------------------------


@require_GET
@login_required
def campaign_page(request: HttpRequest, campaign_id: str) -> HttpResponse:
    campaign = selectors.access_campaign(request.user, campaign_id)
    coordinator = selectors.may_coordinate(request.user, campaign)
    progress = selectors.campaign_progress(campaign)
    context = {
        "campaign": campaign,
        "region_name": presenters.region_name(campaign.region, _lang()),
        "member": selectors.membership_of(request.user, campaign),
        "coordinator": coordinator,
        "progress": progress,
        "status_labels": presenters.STATUS_LABELS,
        "verdict_labels": presenters.VERDICT_LABELS,
        "statuses": [
            (code, presenters.STATUS_LABELS[code], n) for code, n in progress.statuses.items()
        ],
        "quality": [
            (presenters.VERDICT_LABELS.get(v, v), n) for v, n in sorted(progress.quality.items())
        ],
        "wanted": presenters.wanted_items(list(campaign.wanted)),
        "selection_form": SiteSelectionForm(lang=_lang()) if coordinator else None,
        "members": (
            Membership.objects.filter(campaign=campaign).select_related("user__profile")
            if coordinator
            else []
        ),
        "labels": _map_labels(),
        **_map_settings(),
    }
    return _private(render(request, "campaigns/campaign.html", context))


@require_GET
@login_required
@gzip_page
def campaign_geojson(request: HttpRequest, campaign_id: str) -> HttpResponse:
    """The campaign's targets with their status (the coverage map of its dashboard)."""
    campaign = selectors.access_campaign(request.user, campaign_id)
    features = selectors.campaign_features(campaign, request.user, lang=_lang())
    body = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
    return _private(HttpResponse(body, content_type=GEOJSON))


def _back(campaign: Campaign, anchor: str = "") -> HttpResponse:
    return redirect(campaign.get_absolute_url() + anchor)


@require_POST
@login_required
def campaign_sites(request: HttpRequest, campaign_id: str) -> HttpResponse:
    campaign = selectors.access_campaign(request.user, campaign_id)
    form = SiteSelectionForm(request.POST, lang=_lang())
    if not form.is_valid():
        messages.error(request, _("The sites were not added: check the form."))
        return _back(campaign, "#sites")
    data = form.cleaned_data
    has_3d = {"true": True, "false": False}.get(data["has_3d"])
    selection = None
    if data["by_filters"]:
        selection = services.SiteSelection(
            region=data["region"],
            type=data["type"],
            damage=data["damage"],
            has_3d=has_3d,
            within_area=data["within_area"],
        )
    ids = [s for s in data["site_ids"].replace(",", "\n").split() if s]
    try:
        added = services.campaign_add_sites(
            actor=request.user, campaign=campaign, selection=selection, site_ids=ids
        )
    except SpadokError as exc:
        _fail(request, exc)
    else:
        messages.success(request, _("Sites added: %(n)s.") % {"n": added})
    return _back(campaign, "#sites")


@require_POST
@login_required
def campaign_join(request: HttpRequest, campaign_id: str) -> HttpResponse:
    campaign = selectors.access_campaign(request.user, campaign_id)
    try:
        services.campaign_join(actor=request.user, campaign=campaign)
    except SpadokError as exc:
        _fail(request, exc)
        return _back(campaign)
    messages.success(request, _("You joined the campaign. Here is what to scan near you."))
    return redirect(reverse("campaigns:next") + f"?campaign={campaign.pk}")


@require_POST
@login_required
def campaign_leave(request: HttpRequest, campaign_id: str) -> HttpResponse:
    campaign = selectors.access_campaign(request.user, campaign_id)
    services.campaign_leave(actor=request.user, campaign=campaign)
    messages.success(request, _("You left the campaign; the tasks you held are open again."))
    return _back(campaign)


@require_POST
@login_required
def campaign_state(request: HttpRequest, campaign_id: str) -> HttpResponse:
    campaign = selectors.access_campaign(request.user, campaign_id)
    try:
        services.campaign_set_state(
            actor=request.user, campaign=campaign, state=request.POST.get("state", "")
        )
    except SpadokError as exc:
        _fail(request, exc)
    return _back(campaign)


@require_POST
@login_required
def member_role(request: HttpRequest, campaign_id: str, member_id: int) -> HttpResponse:
    campaign = selectors.access_campaign(request.user, campaign_id)
    member = Membership.objects.filter(pk=member_id, campaign=campaign).first()
    if member is None:
        raise Http404("no such member")
    try:
        services.member_set_role(
            actor=request.user, campaign=campaign, member=member, role=request.POST.get("role", "")
        )
    except SpadokError as exc:
        _fail(request, exc)
    return _back(campaign, "#members")


# -- what to scan next --------------------------------------------------------------------


def _place(form: PlaceForm) -> tuple[selectors.Place | None, str]:
    """The place the form names, and a message when it names none that can be used."""
    if not form.is_valid():
        return None, presenters.error_message(SpadokError("campaign.bad_place", "-"))
    data = form.cleaned_data
    if data.get("lat") is not None and data.get("lon") is not None:
        return selectors.Place(latitude=data["lat"], longitude=data["lon"]), ""
    if data.get("settlement"):
        place = selectors.settlement_place(data["settlement"])
        if place is None:
            return None, _("No site of the registry is in a settlement of that name.")
        return place, ""
    return None, ""


@require_GET
@login_required
def next_page(request: HttpRequest) -> HttpResponse:
    """Open tasks near the volunteer, on a map and in a list, by priority."""
    data = request.GET.copy() if request.GET else None
    if data is not None and not data.get("radius_km"):
        data["radius_km"] = str(int(selectors.DEFAULT_RADIUS_KM))
    form = PlaceForm(data)
    place, problem = _place(form) if request.GET else (None, "")
    campaign = None
    if request.GET.get("campaign"):
        campaign = selectors.access_campaign(request.user, request.GET["campaign"])
        if selectors.membership_of(request.user, campaign) is None:
            campaign = None
    radius = (
        form.cleaned_data.get("radius_km") if form.is_bound and form.is_valid() else None
    ) or 50
    if place is not None:
        found = selectors.tasks_near(
            user=request.user, place=place, radius_km=float(radius), campaign=campaign
        )
    else:  # no place yet: only the tasks the person holds
        found = [
            selectors.task_priority(t, request.user) for t in selectors.claims_of(request.user)
        ]
    lang = _lang()
    items = [presenters.near_item(n, lang) for n in found]
    context = {
        "form": form,
        "place": place,
        "problem": problem,
        "campaign": campaign,
        "items": items,
        "mine": [i for i in items if i["mine"]],
        "others": [i for i in items if not i["mine"]],
        "joined": selectors.joined_campaign_ids(request.user),
        "to_join": [
            c
            for c in selectors.campaigns_for(request.user).filter(state="active")[:20]
            if c.pk not in set(selectors.joined_campaign_ids(request.user))
        ],
        "map_data": {
            "place": [place.latitude, place.longitude] if place else None,
            "tasks": [
                {
                    k: i[k]
                    for k in (
                        "id",
                        "name",
                        "lat",
                        "lon",
                        "mine",
                        "approximate",
                        "url",
                        "distance_km",
                    )
                }
                for i in items
                if i["lat"] is not None
            ],
        },
        "labels": _map_labels(),
        "safety": presenters.SAFETY,
        **_map_settings(),
    }
    return _private(render(request, "campaigns/next.html", context))


# -- a task ------------------------------------------------------------------------------------


@require_GET
@login_required
def task_page(request: HttpRequest, task_id: int) -> HttpResponse:
    task = selectors.access_task(request.user, task_id)
    now = timezone.now()
    coordinator = selectors.may_coordinate(request.user, task.campaign)
    near = selectors.task_priority(task, request.user)
    holder = task.claimed_by if task.claim_active(now) else None
    recapture = task.state == "open" and task.verdict in ("poor", "failed")
    advice = _last_advice(task) if recapture and task.capture_id else ""
    context = {
        "task": task,
        "campaign": task.campaign,
        "status": selectors.task_status(task, now),
        "status_label": presenters.STATUS_LABELS[selectors.task_status(task, now)],
        "point": near.point,
        "reasons": presenters.reason_labels(near.priority.reasons),
        "wanted": presenters.wanted_items(list(task.wanted)),
        "safety": presenters.SAFETY,
        "mine": holder is not None and holder.pk == request.user.pk,
        "holder_name": selectors.display_name(holder) if holder is not None else "",
        "member": selectors.membership_of(request.user, task.campaign),
        "coordinator": coordinator,
        "verdict_label": presenters.VERDICT_LABELS.get(task.verdict or "pending", ""),
        "advice": advice,
        "recapture": recapture,
        "own_captures": selectors.own_captures_for_task(request.user, task),
        "task_form": (
            TaskForm(initial={"urgency": task.urgency, "wanted": task.wanted, "note": task.note})
            if coordinator
            else None
        ),
        "place": presenters.place_of(task),
        "name": task.site.name(_lang()),
        "map_data": {
            "place": None,
            "tasks": (
                [
                    {
                        "id": task.pk,
                        "name": task.site.name(_lang()),
                        "lat": near.point[0],
                        "lon": near.point[1],
                        "mine": False,
                        "status": selectors.task_status(task, now),
                        "approximate": near.point[2] is not None,
                        "url": "",
                        "distance_km": None,
                    }
                ]
                if near.point
                else []
            ),
        },
        "labels": _map_labels(),
        **_map_settings(),
    }
    return _private(render(request, "campaigns/task.html", context))


def _last_advice(task: Any) -> str:
    """What the reviewer or the reconstruction said about the capture that was too poor."""
    from spadok.catalogue.models import Capture
    from spadok.catalogue.selectors import latest_decisions

    decision = latest_decisions([task.capture_id]).get(task.capture_id)
    if decision is not None and decision.reason:
        return str(decision.reason)
    capture = Capture.objects.filter(pk=task.capture_id).only("stats").first()
    stats = capture.stats if capture is not None else {}
    for holder in (stats, stats.get("reconstruction"), stats.get("report")):
        if isinstance(holder, dict) and isinstance(holder.get("advice"), list):
            lines = [a.get("message", "") for a in holder["advice"] if isinstance(a, dict)]
            return " ".join(line for line in lines if line)[:2000]
    return ""


@require_POST
@login_required
def task_claim(request: HttpRequest, task_id: int) -> HttpResponse:
    task = selectors.access_task(request.user, task_id)
    try:
        if (
            request.POST.get("join")
            and selectors.membership_of(request.user, task.campaign) is None
        ):
            services.campaign_join(actor=request.user, campaign=task.campaign)
        task = services.task_claim(actor=request.user, task_id=task.pk)
    except SpadokError as exc:
        _fail(request, exc)
    else:
        until = timezone.localtime(task.claim_expires_at) if task.claim_expires_at else None
        messages.success(
            request,
            _("The task is yours until %(until)s. Others will not be sent there meanwhile.")
            % {"until": until.strftime("%Y-%m-%d %H:%M") if until else "-"},
        )
    return redirect(task.get_absolute_url())


@require_POST
@login_required
def task_release(request: HttpRequest, task_id: int) -> HttpResponse:
    task = selectors.access_task(request.user, task_id)
    try:
        services.task_release(actor=request.user, task_id=task.pk)
    except SpadokError as exc:
        _fail(request, exc)
    else:
        messages.success(request, _("You released the task; it is open for others."))
    return redirect(task.get_absolute_url())


@require_POST
@login_required
def task_edit(request: HttpRequest, task_id: int) -> HttpResponse:
    task = selectors.access_task(request.user, task_id)
    form = TaskForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The task was not changed: check the form."))
        return redirect(task.get_absolute_url())
    try:
        services.task_update(
            actor=request.user,
            task=task,
            urgency=form.cleaned_data["urgency"],
            wanted=form.cleaned_data["wanted"],
            note=form.cleaned_data["note"],
        )
    except SpadokError as exc:
        _fail(request, exc)
    else:
        messages.success(request, _("The task is changed."))
    return redirect(task.get_absolute_url())


@require_POST
@login_required
def task_remove(request: HttpRequest, task_id: int) -> HttpResponse:
    task = selectors.access_task(request.user, task_id)
    campaign = task.campaign
    try:
        services.campaign_remove_task(actor=request.user, task=task)
    except SpadokError as exc:
        _fail(request, exc)
        return redirect(task.get_absolute_url())
    messages.success(request, _("The site is no longer part of the campaign."))
    return _back(campaign, "#sites")


# -- the national coverage map (public) ------------------------------------------------------


@require_GET
def coverage_page(request: HttpRequest) -> HttpResponse:
    features = selectors.coverage_regions(lang=_lang())
    rows = sorted(
        (f["properties"] for f in features), key=lambda p: (-p["without_3d"], str(p["name"]))
    )
    context = {
        "rows": rows,
        "totals": selectors.coverage_totals(features),
        "labels": {
            "without": str(_("Sites without a 3D record")),
            "with": str(_("with a 3D record")),
            "share": str(_("Share with a 3D record")),
            "failed": str(_("The map could not be loaded. Try again later.")),
        },
        **_map_settings(),
    }
    response = render(request, "campaigns/coverage.html", context)
    if request.user.is_authenticated:
        _private(response)
    return response


@require_GET
@gzip_page
def coverage_geojson(request: HttpRequest) -> HttpResponse:
    """``GET /api/coverage.geojson``: regions with sites with and without a public 3D record."""
    lang = request.GET.get("lang", "")
    if lang not in {code for code, _name in settings.LANGUAGES}:
        lang = _lang()
    features = selectors.coverage_regions(lang=lang)
    body = json.dumps(
        {"type": "FeatureCollection", "features": features},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    response = HttpResponse(body, content_type=GEOJSON)
    patch_cache_control(response, public=True, max_age=COVERAGE_MAX_AGE_S)
    return response
