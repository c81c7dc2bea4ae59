"""The capture page (describe, follow, retry), its status JSON, and the review queue."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from spadok.catalogue import contributions, presenters, selectors
from spadok.catalogue.forms import (
    DECISION_LABELS,
    NEW_SITE,
    VISIBILITY_LABELS,
    DecisionForm,
    DescribeForm,
)
from spadok.catalogue.models import Capture, CaptureState, LocationSource, Record
from spadok.catalogue.storage import get_storage
from spadok.core import geotag
from spadok.sites.i18n import localized
from spadok.sites.models import Site
from spadok.sites.selectors import public_point, sites_near

FINAL_STATES = (CaptureState.READY, CaptureState.FAILED)


def _private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "private, no-store"
    return response


def exif_location(capture: Capture) -> geotag.GpsFix | None:
    """The GPS position in the capture's photos (JPEG/HEIC originals, or inside its zip)."""
    wanted = [
        o
        for o in capture.originals
        if Path(o["path"]).suffix.lower() in geotag.PHOTO_SUFFIXES | {".zip"}
    ]
    if not wanted:
        return None
    storage = get_storage()
    workdir = Path(tempfile.mkdtemp(prefix="spadok-exif-"))
    try:
        paths: list[Path] = []
        for item in wanted[: geotag.MAX_PHOTOS]:
            target = workdir / f"{len(paths)}{Path(item['path']).suffix.lower()}"
            try:
                storage.fetch(item["key"], target)
            except (OSError, FileNotFoundError):
                continue
            paths.append(target)
        return geotag.gps_from_files(paths)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _initial(capture: Capture) -> dict[str, Any]:
    record = capture.record
    initial: dict[str, Any] = {
        "title": record.title,
        "description": record.description,
        "captured_at": timezone.localtime(capture.captured_at) if capture.captured_at else None,
        "licence": capture.licence or "cc-by-4.0",
        "flag_private_interior": capture.flag_private_interior,
        "flag_faces": capture.flag_faces,
        "consent": capture.consent_at is not None,
        "existing_record": capture.suggested_record_id or "",
        "site": capture.suggested_site_id or record.site_id or "",
        "flag_sensitive_site": capture.flag_sensitive_site,
    }
    if capture.latitude is not None:
        initial.update(
            latitude=capture.latitude,
            longitude=capture.longitude,
            location_precision_m=capture.location_precision_m,
            location_source=capture.location_source,
        )
    elif (fix := exif_location(capture)) is not None:
        initial.update(
            latitude=fix.latitude,
            longitude=fix.longitude,
            location_precision_m=fix.precision_m,
            location_source=LocationSource.EXIF,
        )
    else:
        initial["location_source"] = LocationSource.NONE
    return initial


# -- sites in the capture form ------------------------------------------------------

SITE_SUGGESTIONS = 10
NEAR_RADIUS_M = 2_000.0


def site_option(site: Site, user: Any, distance_m: float | None = None) -> dict[str, Any]:
    """A site as the picker shows it: name and place; a sensitive site's point only as
    the viewer may see it (coarse for contributors)."""
    point = public_point(site, user)
    region = localized(site.region.names) if site.region_id and site.region else ""
    return {
        "id": site.pk,
        "name": site.name(),
        "settlement": site.settlement,
        "region": region,
        "place": ", ".join(p for p in (site.settlement, region) if p),
        "approximate": bool(site.sensitive and point and point[2]),
        "distance_m": None if distance_m is None else int(round(distance_m, -1)),
        "url": site.get_absolute_url(),
    }


def sites_found(query: str, user: Any) -> list[dict[str, Any]]:
    """The registry's answer to a name typed in the capture form (the search index)."""
    query = " ".join(query.split())
    if len(query) < 2:
        return []
    from spadok.search.query import suggest_sites

    ids = [hit["id"] for hit in suggest_sites(query, limit=SITE_SUGGESTIONS, user=user)]
    by_id = Site.objects.select_related("region").in_bulk(ids)
    return [site_option(by_id[i], user) for i in ids if i in by_id]


def sites_nearby(lat: Any, lon: Any, user: Any) -> list[dict[str, Any]]:
    """Sites near the capture's point (from its photos or the map), nearest first."""
    try:
        lat, lon = float(lat), float(lon)
    except (TypeError, ValueError):
        return []
    return [
        site_option(site, user, metres)
        for site, metres in sites_near(lat, lon, NEAR_RADIUS_M, SITE_SUGGESTIONS, user=user)
    ]


def _site_choices(capture: Capture, user: Any, form: DescribeForm, query: str) -> dict[str, Any]:
    """What the site fieldset offers: the current choice, sites nearby, sites found."""
    chosen_id = str(form["site"].value() or "")
    current = None
    if chosen_id and chosen_id != NEW_SITE:
        site = Site.objects.select_related("region").filter(pk=chosen_id).first()
        current = site_option(site, user) if site is not None else None
    lat, lon = form["latitude"].value(), form["longitude"].value()
    near = [o for o in sites_nearby(lat, lon, user) if not current or o["id"] != current["id"]]
    seen = {o["id"] for o in near} | ({current["id"]} if current else set())
    found = [o for o in sites_found(query, user) if o["id"] not in seen]
    return {
        "current": current,
        "near": near,
        "found": found,
        "chosen": chosen_id,
        "new": chosen_id == NEW_SITE,
        "query": query,
        "searched": len(" ".join(query.split())) >= 2,
    }


def status_data(capture: Capture) -> dict[str, Any]:
    return {
        "state": capture.state,
        "state_label": str(presenters.STATE_LABELS.get(capture.state, capture.state)),  # type: ignore[call-overload]
        "step": capture.step,
        "progress": round(capture.progress or 0, 3),
        "error_code": capture.error_code,
        "error_message": capture.error_message,
    }


def _capture_page(
    request: HttpRequest, capture: Capture, form: DescribeForm | None, status: int = 200
) -> HttpResponse:
    record = capture.record
    own = capture.contributor_id == request.user.pk
    if form is None and own:
        initial = _initial(capture)
        asked = request.GET.get("site", "")[:40]
        if not initial["site"] and asked and Site.objects.filter(pk=asked).exists():
            initial["site"] = asked  # a campaign's task links here with its site
        form = DescribeForm(initial=initial)
    query = request.GET.get("q", "")
    found = [r for r in selectors.records_by_title(query, user=request.user) if r.pk != record.pk]
    suggested = capture.suggested_record
    decisions = list(capture.decisions.select_related("reviewer__profile")[:20])
    view = presenters.capture_view(record, capture, request.user)
    context = {
        "record": record,
        "capture": capture,
        "view": view,
        "reconstruction": presenters.reconstruction_view(capture),
        "form": form,
        "own": own,
        "query": query,
        "found": found,
        "suggested": suggested,
        "location": presenters.location_for(record, capture, exact=True),
        "status": status_data(capture),
        "polling": capture.state not in FINAL_STATES,
        "may_retry": capture.state == CaptureState.FAILED
        and contributions.may_retry(actor=request.user, capture=capture),
        "decisions": [(d, DECISION_LABELS.get(d.decision, d.decision)) for d in decisions],
        "visibility_labels": VISIBILITY_LABELS,
        "tile_url": getattr(settings, "SPADOK_TILE_URL", ""),
        "sites": _site_choices(capture, request.user, form, request.GET.get("site_q", ""))
        if form is not None
        else None,
        "new_site": NEW_SITE,
    }
    return _private(render(request, "catalogue/capture.html", context, status=status))


@require_http_methods(["GET", "POST"])
@login_required
def capture_page(request: HttpRequest, record_id: str, capture_id: str) -> HttpResponse:
    capture = selectors.access_own_capture(request.user, record_id, capture_id)
    if request.method == "GET":
        return _capture_page(request, capture, None)
    form = DescribeForm(request.POST)
    if not form.is_valid():
        return _capture_page(request, capture, form, status=400)
    data = form.cleaned_data
    suggested = None
    if data.get("existing_record"):
        suggested = (
            selectors.visible_records(request.user).filter(pk=data["existing_record"]).first()
        )
    site, new_site = _chosen_site(data, request)
    if site is False:
        form.add_error(None, _("That site is not in the registry: search for it again."))
        return _capture_page(request, capture, form, status=400)
    try:
        contributions.capture_describe(
            actor=request.user,
            capture=capture,
            title=data["title"],
            description=data.get("description") or "",
            suggested_record=suggested,
            captured_at=data.get("captured_at"),
            latitude=data.get("latitude"),
            longitude=data.get("longitude"),
            location_precision_m=data.get("location_precision_m"),
            location_source=data.get("location_source") or LocationSource.MAP,
            licence=data["licence"],
            consent=data["consent"],
            flag_private_interior=data.get("flag_private_interior", False),
            flag_faces=data.get("flag_faces", False),
            site=site if isinstance(site, Site) else None,
            new_site=new_site,
            flag_sensitive_site=data.get("flag_sensitive_site", False),
        )
    except PermissionDenied:
        raise Http404("no such capture") from None
    except ValidationError as exc:
        form.add_error(None, exc)
        return _capture_page(request, capture, form, status=400)
    messages.success(request, _("Thank you: the description was saved."))
    return redirect("catalogue:capture", record_id=capture.record_id, capture_id=capture.id)


def _chosen_site(
    data: dict[str, Any], request: HttpRequest
) -> tuple[Site | bool | None, contributions.NewSite | None]:
    """(the picked site, or None, or False for an unknown id; the new site described)."""
    choice = (data.get("site") or "").strip()
    if not choice:
        return None, None
    if choice == NEW_SITE:
        lang = (getattr(request, "LANGUAGE_CODE", "") or "uk").split("-")[0]
        return None, contributions.NewSite(
            name=data.get("new_site_name") or "",
            type=data.get("new_site_type") or "other",
            settlement=data.get("new_site_settlement") or "",
            lang=lang,
        )
    return Site.objects.filter(pk=choice).first() or False, None


@require_GET
@login_required
def capture_sites(request: HttpRequest, record_id: str, capture_id: str) -> JsonResponse:
    """The capture form's site picker, as JSON: sites found by name (``q``) and near a
    point (``lat``, ``lon``). What it says of a sensitive site is what the public may know."""
    selectors.access_own_capture(request.user, record_id, capture_id)
    response = JsonResponse(
        {
            "found": sites_found(request.GET.get("q", "")[:200], request.user),
            "near": sites_nearby(request.GET.get("lat"), request.GET.get("lon"), request.user),
        },
        json_dumps_params={"ensure_ascii": False},
    )
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
def capture_status(request: HttpRequest, record_id: str, capture_id: str) -> JsonResponse:
    if not request.user.is_authenticated:
        raise Http404("no such capture")
    capture = selectors.access_own_capture(request.user, record_id, capture_id)
    response = JsonResponse(status_data(capture))
    response["Cache-Control"] = "private, no-store"
    return response


@require_POST
@login_required
def capture_retry(request: HttpRequest, record_id: str, capture_id: str) -> HttpResponse:
    capture = selectors.access_own_capture(request.user, record_id, capture_id)
    try:
        contributions.capture_retry(actor=request.user, capture=capture)
    except PermissionDenied:
        raise Http404("no such capture") from None
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Processing starts again."))
    return redirect("catalogue:capture", record_id=record_id, capture_id=capture_id)


# -- review ------------------------------------------------------------------------


def _review_items(user: Any) -> list[dict[str, Any]]:
    items = []
    for capture in selectors.review_queue()[:100]:
        view = presenters.capture_view(capture.record, capture, user)
        if capture.state == CaptureState.READY:
            view.facts = presenters.capture_facts(capture)
        items.append(
            {
                "capture": capture,
                "view": view,
                "location": presenters.location_for(capture.record, capture, exact=True),
                "contributor": getattr(
                    getattr(capture.contributor, "profile", None), "display_name", ""
                ),
                **_review_sites(capture, user),
            }
        )
    return items


def _review_sites(capture: Capture, user: Any) -> dict[str, Any]:
    """The record's site, the contributor's suggestion, and the sites near the capture."""
    record_site = capture.record.site
    suggested = capture.suggested_site
    current = record_site or suggested
    near = []
    if capture.has_location:
        near = [
            o
            for o in sites_nearby(capture.latitude, capture.longitude, user)
            if current is None or o["id"] != current.pk
        ]
    return {
        "site": site_option(current, user) if current is not None else None,
        "site_sensitive": bool(current and current.sensitive),
        "site_suggested_differs": bool(
            suggested and record_site and suggested.pk != record_site.pk
        ),
        "suggested_site": site_option(suggested, user) if suggested is not None else None,
        "sites_near": near,
    }


@require_GET
@login_required
def review_queue(request: HttpRequest) -> HttpResponse:
    if not selectors.may_review(request.user):
        raise PermissionDenied("review.forbidden")
    context = {
        "items": _review_items(request.user),
        "form": DecisionForm(),
        "may_seal": selectors.may_seal(request.user),
    }
    return _private(render(request, "catalogue/review.html", context))


@require_POST
@login_required
def review_decide(request: HttpRequest, capture_id: str) -> HttpResponse:
    if not selectors.may_review(request.user):
        raise PermissionDenied("review.forbidden")
    capture = Capture.objects.select_related("record").filter(id=capture_id).first()
    if capture is None:
        raise Http404("no such capture")
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The decision was not saved: check the form."))
        return redirect("catalogue:review")
    data = form.cleaned_data
    target: Record | None = None
    if data.get("target_record"):
        target = selectors.visible_records(request.user).filter(pk=data["target_record"]).first()
        if target is None:
            messages.error(request, _("There is no record with that id."))
            return redirect("catalogue:review")
    site: Site | object | None = contributions.KEEP
    choice = (data.get("site_other") or "").strip() or (data.get("site") or "").strip()
    if "site" in request.POST and choice != "keep":
        site = Site.objects.filter(pk=choice).first() if choice else None
        if choice and site is None:
            messages.error(request, _("There is no site with that id."))
            return redirect("catalogue:review")
    try:
        contributions.review_decide(
            actor=request.user,
            capture=capture,
            decision=data["decision"],
            reason=data.get("reason") or "",
            visibility=data.get("visibility") or "",
            embargo_until=data.get("embargo_until"),
            sealed_readers=data.get("sealed_readers") or [],
            target_record=target,
            site=site,
            # marks a site sensitive; unmarking is a curator's act on the site itself
            site_sensitive=True if data.get("site_sensitive") else None,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("catalogue:review")
    # PermissionDenied (sealing by a reviewer) propagates: 403.
    messages.success(
        request,
        _("“%(title)s”: %(decision)s.")
        % {"title": capture.record.title, "decision": DECISION_LABELS[data["decision"]]},
    )
    return redirect("catalogue:review")


def capture_url(capture: Capture) -> str:
    return reverse("catalogue:capture", args=[capture.record_id, capture.id])
