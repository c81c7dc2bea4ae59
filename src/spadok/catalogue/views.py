"""Public pages and file downloads of the catalogue."""

from __future__ import annotations

import mimetypes
from typing import Any

from django.core.cache import caches
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.views.decorators.http import require_GET

from spadok.catalogue import presenters, selectors
from spadok.catalogue.models import Capture, Record, Visibility
from spadok.catalogue.storage import get_storage

PAGE_SIZE = 24
HOME_LATEST = 8


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    records = list(selectors.record_list_public()[:HOME_LATEST])
    return render(
        request,
        "catalogue/home.html",
        {
            "cards": [presenters.record_card(r) for r in records],
            "counts": selectors.catalogue_counts(),
        },
    )


@require_GET
def browse(request: HttpRequest) -> HttpResponse:
    paginator = Paginator(selectors.record_list_public(), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "catalogue/browse.html",
        {"page": page, "cards": [presenters.record_card(r) for r in page.object_list]},
    )


@require_GET
def record_page(request: HttpRequest, record_id: str) -> HttpResponse:
    user = request.user
    if user.is_authenticated:
        record = selectors.access_record(user, record_id, captures="every")
        parts = _record_parts(request, record)
    else:
        # The public's page of a public record is the same for everyone: kept.
        record = selectors.access_record(user, record_id, captures="none")
        parts = _public_parts(request, record)
    response = render(request, "catalogue/record.html", {"record": record, "parts": parts})
    staff = user.is_active and user.is_staff
    if staff or not _is_open(record) or user.is_authenticated:
        # A shared cache must never keep a staff, private or personal version.
        patch_cache_control(response, private=True, no_store=True)
    return response


def _public_parts(request: HttpRequest, record: Record) -> dict[str, str]:
    """The head and body of the page as the public sees it, kept by each process
    under the digest of everything they show (:func:`selectors.record_page_stamp`),
    the language and the host: a change to the record, a capture, a derivative, a
    credit or the site makes them again on the next request.

    Only for readers who are not signed in, and only for public records: nothing
    in them depends on who asks. Whether the record may be shown is checked on
    every request, before this.
    """
    if not _is_open(record):
        selectors.load_captures(record, every=True)
        return _record_parts(request, record)
    key = ":".join(
        [
            "record-page",
            record.id,
            selectors.record_page_stamp(record),
            get_language() or "",
            request.scheme or "",
            request.get_host(),
        ]
    )
    pages = caches["pages"]
    parts = pages.get(key)
    if parts is None:
        selectors.load_captures(record, every=True)
        parts = _record_parts(request, record)
        pages.set(key, parts)
    # Our own rendered templates, kept as strings.
    return {name: mark_safe(html) for name, html in parts.items()}


def _record_parts(request: HttpRequest, record: Record) -> dict[str, str]:
    """The page's head (metadata, viewer scripts) and body for this reader."""
    user = request.user
    views = [presenters.capture_view(record, c, user) for c in record.captures.all()]
    reviewer = selectors.may_review(user)
    for view in views:
        own = view.capture.contributor_id == user.pk and user.is_authenticated
        view.location = presenters.location_for(record, view.capture, exact=reviewer or own)
        if reviewer or own:
            view.manage_url = reverse("catalogue:capture", args=[record.id, view.capture.id])
    shown = next((v for v in views if v.ready), None)
    if user.is_active and user.is_staff:
        _add_history(views)
    context = {"record": record, "shown": shown, "captures": views}
    return {
        "head": render_to_string("catalogue/partials/record_head.html", context, request),
        "content": render_to_string("catalogue/partials/record_content.html", context, request),
    }


def _is_open(record: Record) -> bool:
    """Whether anyone may see it (the public set of :mod:`selectors`)."""
    return selectors.is_public(record)


def _add_history(views: list[presenters.CaptureView]) -> None:
    """Each capture's preservation events; staff only, never on the public page or JSON."""
    from spadok.preservation import presenters as events
    from spadok.preservation.selectors import events_by_object

    found = events_by_object(v.capture.id for v in views)
    for view in views:
        view.history = events.event_views(found.get(view.capture.id, []))


def _file_urls(record: Record, capture: Capture) -> dict[str, Any]:
    def url(kind: str, name: str) -> str:
        return reverse("catalogue:file", args=[record.id, capture.id, kind, name])

    return {
        "originals": [url("original", o["path"]) for o in capture.originals],
        "derivatives": {d.role: url("derivative", d.role) for d in capture.derivatives.all()},
    }


def record_data(record: Record, request: HttpRequest | None = None) -> dict[str, Any]:
    """The public JSON view of a record; no contributor or device data.

    Never an exact location: "coarse" records give it rounded to 0.1°, others none.
    """
    captures = []
    for capture in record.captures.all():
        urls = _file_urls(record, capture)
        where = presenters.location_for(record, capture, exact=False)
        captures.append(
            {
                "location": {
                    "latitude": where.latitude,
                    "longitude": where.longitude,
                    "precision_m": where.precision_m,
                }
                if where
                else None,
                "captured_at": capture.captured_at.isoformat() if capture.captured_at else None,
                "licence": capture.licence or None,
                "captured_by": presenters.credit_for(capture) or None,  # only if credit chosen
                "id": capture.id,
                "created": capture.created_at.isoformat(),
                "kind": capture.kind,
                "format": capture.format,
                "state": capture.state,
                "stats": capture.stats,
                "originals": [
                    {
                        "path": o["path"],
                        "size": o["size"],
                        "sha256": o["sha256"],
                        "url": u
                        if request and selectors.sees_originals(request.user, capture)
                        else None,
                    }
                    for o, u in zip(capture.originals, urls["originals"], strict=True)
                ],
                "derivatives": [
                    {**d.as_dict(), "url": urls["derivatives"][d.role]}
                    for d in capture.derivatives.all()
                ],
            }
        )
    data: dict[str, Any] = {
        "id": record.id,
        "title": record.title,
        "description": record.description,
        "created": record.created_at.isoformat(),
        "url": record.get_absolute_url(),
        "captures": captures,
    }
    if request is not None:
        data["url"] = request.build_absolute_uri(data["url"])
    return data


@require_GET
def record_json(request: HttpRequest, record_id: str) -> JsonResponse:
    record = selectors.access_record(request.user, record_id, action="json")
    response = JsonResponse(record_data(record, request), json_dumps_params={"ensure_ascii": False})
    if not _is_open(record):
        patch_cache_control(response, private=True, no_store=True)
    return response


@require_GET
def capture_file(
    request: HttpRequest, record_id: str, capture_id: str, kind: str, name: str
) -> FileResponse:
    """Stream an original or a derivative from storage."""
    record = selectors.access_record(request.user, record_id, action=None)
    capture = selectors.access_capture(request.user, record, capture_id)
    if kind not in ("original", "derivative"):
        raise Http404("no such file")
    selectors.log_sealed_access(request.user, record, capture, f"file:{kind}")
    if kind == "original":
        item = next((o for o in capture.originals if o["path"] == name), None)
        if item is None or not selectors.sees_originals(request.user, capture):
            raise Http404("no such file")
        key, filename = item["key"], name.rsplit("/", 1)[-1]
        mime = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        attachment = True
    elif kind == "derivative":
        deriv = capture.derivative(name)
        if deriv is None:
            raise Http404("no such file")
        key, mime = deriv.key, deriv.mime
        ext = key.rsplit(".", 1)[-1]
        filename = f"{record.id}-{deriv.role}.{ext}"
        attachment = request.GET.get("download") == "1"
    else:
        raise Http404("no such file")
    storage = get_storage()
    local = storage.local_path(key)
    try:
        stream = local.open("rb") if local is not None else storage.open(key).__enter__()
    except FileNotFoundError:
        raise Http404("file missing from storage") from None
    response = FileResponse(stream, as_attachment=attachment, filename=filename, content_type=mime)
    if record.visibility == Visibility.DRAFT or not _is_open(record):
        response["Cache-Control"] = "private, no-store"
    else:
        response["Cache-Control"] = "public, max-age=86400"
    return response
