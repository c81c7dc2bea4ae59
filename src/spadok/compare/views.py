"""Comparison pages: choose two captures, follow the job, see and nudge the result."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from spadok.catalogue import selectors as catalogue
from spadok.catalogue.storage import get_storage
from spadok.compare import presenters, selectors, services
from spadok.compare.forms import CompareForm, NudgeForm
from spadok.compare.models import Comparison
from spadok.core.compare import parse_params
from spadok.core.errors import SpadokError


def _private_unless_open(response: HttpResponse, request: HttpRequest, open_: bool) -> None:
    if request.user.is_authenticated or not open_:
        patch_cache_control(response, private=True, no_store=True)


@require_http_methods(["GET", "POST"])
def record_compare(request: HttpRequest, record_id: str) -> HttpResponse:
    """Pick two captures of a record (GET); ask for their comparison (POST, signed in)."""
    record = catalogue.access_record(request.user, record_id)
    captures = selectors.comparable_captures(record)
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        form = CompareForm(request.POST, captures=captures)
        if form.is_valid():
            by_id = {c.id: c for c in captures}
            data = form.cleaned_data
            try:
                params = parse_params(
                    {"threshold": data.get("threshold"), "heatmap_on": data["heatmap_on"]}
                )
                comparison = services.comparison_request(
                    before=by_id[data["before"]],
                    after=by_id[data["after"]],
                    params=params,
                    requested_by=request.user,
                )
            except SpadokError as exc:
                form.add_error(None, exc.message)
            else:
                return redirect(comparison)
        status = 400
    else:
        form = CompareForm(captures=captures)
        status = 200
    comparisons = [presenters.comparison_view(c) for c in selectors.record_comparisons(record)]
    response = render(
        request,
        "compare/record_compare.html",
        {
            "record": record,
            "form": form,
            "enough": len(captures) >= 2,
            "comparisons": comparisons,
        },
        status=status,
    )
    _private_unless_open(response, request, _record_open(record.pk))
    return response


def _record_open(record_id: str) -> bool:
    return catalogue.visible_records(None).filter(pk=record_id).exists()


@require_GET
def comparison_page(request: HttpRequest, comparison_id: str) -> HttpResponse:
    comparison = selectors.access_comparison(request.user, comparison_id)
    view = presenters.comparison_view(comparison)
    nudge = NudgeForm(initial={"refine": True}) if view.ready or view.verdict == "failed" else None
    record = comparison.after.record
    response = render(
        request,
        "compare/comparison.html",
        {
            "view": view,
            "record": record,
            "nudge": nudge,
            "page_data": {
                "state": comparison.state,
                "statusUrl": view.urls["status"],
                "models": {
                    r: view.urls[r] for r in ("heatmap", "before", "after") if r in view.urls
                },
            },
        },
    )
    _private_unless_open(response, request, selectors.is_public(comparison))
    return response


@require_GET
def comparison_status(request: HttpRequest, comparison_id: str) -> JsonResponse:
    comparison = selectors.access_comparison(request.user, comparison_id, action=None)
    response = JsonResponse(presenters.status_data(comparison))
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
def comparison_file(request: HttpRequest, comparison_id: str, role: str) -> FileResponse:
    comparison = selectors.access_comparison(request.user, comparison_id, action=f"file:{role}")
    item = (comparison.files or {}).get(role)
    if item is None or role not in services.FILES:
        raise Http404("no such file")
    storage = get_storage()
    local = storage.local_path(item["key"])
    try:
        stream: Any = (
            local.open("rb") if local is not None else storage.open(item["key"]).__enter__()
        )
    except FileNotFoundError:
        raise Http404("file missing from storage") from None
    name = f"{comparison.id}-{services.FILES[role][0]}"
    response = FileResponse(
        stream,
        as_attachment=request.GET.get("download") == "1",
        filename=name,
        content_type=item["mime"],
    )
    if selectors.is_public(comparison):
        response["Cache-Control"] = "public, max-age=86400"
    else:
        response["Cache-Control"] = "private, no-store"
    return response


@require_POST
def comparison_nudge(request: HttpRequest, comparison_id: str) -> HttpResponse:
    """Queue the comparison again from its alignment moved by the offsets given."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    comparison: Comparison = selectors.access_comparison(request.user, comparison_id)
    form = NudgeForm(request.POST)
    if not form.is_valid():
        problems = [
            f"{form.fields[name].label}: {' '.join(str(e) for e in errors)}"
            for name, errors in form.errors.items()
            if name in form.fields
        ]
        messages.error(
            request, _("The offsets are not valid: %(errors)s") % {"errors": "; ".join(problems)}
        )
        return redirect(comparison)
    translate, rotate = form.offsets()
    try:
        nudged = services.comparison_nudge(
            comparison=comparison,
            translate=translate,
            rotate=rotate,
            threshold=form.cleaned_data.get("threshold"),
            refine=bool(form.cleaned_data.get("refine")),
            requested_by=request.user,
        )
    except SpadokError as exc:
        messages.error(request, exc.message)
        return redirect(comparison)
    return redirect(nudged)
