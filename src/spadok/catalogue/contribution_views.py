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
from spadok.catalogue.forms import DECISION_LABELS, VISIBILITY_LABELS, DecisionForm, DescribeForm
from spadok.catalogue.models import Capture, CaptureState, LocationSource, Record
from spadok.catalogue.storage import get_storage
from spadok.core import geotag

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
        form = DescribeForm(initial=_initial(capture))
    query = request.GET.get("q", "")
    found = [r for r in selectors.records_by_title(query, user=request.user) if r.pk != record.pk]
    suggested = capture.suggested_record
    decisions = list(capture.decisions.select_related("reviewer__profile")[:20])
    view = presenters.capture_view(record, capture, request.user)
    context = {
        "record": record,
        "capture": capture,
        "view": view,
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
        )
    except PermissionDenied:
        raise Http404("no such capture") from None
    except ValidationError as exc:
        form.add_error(None, exc)
        return _capture_page(request, capture, form, status=400)
    messages.success(request, _("Thank you: the description was saved."))
    return redirect("catalogue:capture", record_id=capture.record_id, capture_id=capture.id)


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
            }
        )
    return items


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
