"""Public pages and file downloads of the catalogue."""

from __future__ import annotations

import hashlib
import mimetypes
import re
import secrets
from typing import Any

from django.core.cache import caches
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.html import escape
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
        response = _render_page(request, record)
    else:
        # Whether the record may be shown is checked on every request, kept copy or not.
        record = selectors.access_public_record(record_id)
        if _is_open(record) and not _has_messages(request):
            response = _kept_page(request, record)
        else:
            selectors.load_captures(record, every=True)
            response = _render_page(request, record)
    staff = user.is_active and user.is_staff
    if staff or not _is_open(record) or user.is_authenticated:
        # A shared cache must never keep a staff, private or personal version.
        patch_cache_control(response, private=True, no_store=True)
    return response


def _render_page(request: HttpRequest, record: Record, **extra: str) -> HttpResponse:
    parts = _record_parts(request, record, extra.get("csrf_token"))
    context = {"record": record, "parts": parts, **extra}
    return render(request, "catalogue/record.html", context)


def _has_messages(request: HttpRequest) -> bool:
    """Whether messages wait for this reader (read, not used up: the page shows them)."""
    storage = getattr(request, "_messages", None)
    return storage is not None and len(storage) > 0


def _kept_page(request: HttpRequest, record: Record) -> HttpResponse:
    """The public's page of a public record, kept whole by each process (the "pages"
    cache) under the digests of everything it shows: the record, its captures,
    derivatives, credits and site (:func:`selectors.record_page_stamp`), its damage
    events and comparisons; and the language, scheme and host. A change to any of
    them makes it again on the next request.

    Only for readers who are not signed in and have no message waiting: nothing else
    on it depends on who asks, except the CSRF token and the path the language form
    returns to. Those are rendered as stand-ins unique to the copy and replaced on
    every request, so each reader gets their own token (and its cookie).
    """
    from spadok.compare.selectors import record_offer_stamp
    from spadok.damage.selectors import record_events_stamp

    key = ":".join(
        [
            "record-html",
            record.id,
            selectors.record_page_stamp(record),
            hashlib.blake2b(
                (record_events_stamp(record) + record_offer_stamp(record)).encode(),
                digest_size=16,
            ).hexdigest(),
            get_language() or "",
            request.scheme or "",
            request.get_host(),
        ]
    )
    pages = caches["pages"]
    kept = pages.get(key)
    if kept is None:
        token, path = f"csrf{secrets.token_hex(16)}", f"/next{secrets.token_hex(16)}"
        selectors.load_captures(record, every=True)
        made = _render_page(request, record, csrf_token=token, next_path=path)
        kept = (token, path, made.content.decode())
        pages.set(key, kept)
    token, path, html = kept
    html = html.replace(token, get_token(request)).replace(path, escape(request.get_full_path()))
    return HttpResponse(html)


def _record_parts(
    request: HttpRequest, record: Record, csrf_token: str | None = None
) -> dict[str, str]:
    """The page's head (metadata, viewer scripts) and body for this reader (with the
    kept copy's stand-in for the CSRF token, when it is made for the public)."""
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
    context: dict[str, Any] = {"record": record, "shown": shown, "captures": views}
    if csrf_token is not None:
        context["csrf_token"] = csrf_token
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


# Longest byte range one request may ask for (a point tile is a few hundred kB).
MAX_RANGE_BYTES = 64 * 1024 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single ``Range: bytes=…`` within ``size``; None if unsatisfiable.

    Only single ranges are understood; the caller ignores anything else (RFC 9110
    lets a server answer a Range it does not support with the whole file).
    """
    found = _RANGE.match(header.strip())
    if found is None or not (found[1] or found[2]):
        raise ValueError("not a single byte range")
    if found[1]:
        first = int(found[1])
        last = min(int(found[2]), size - 1) if found[2] else size - 1
    else:  # the last N bytes
        first, last = max(0, size - int(found[2])), size - 1
    if first >= size or last < first:
        return None
    return first, min(last, first + MAX_RANGE_BYTES - 1)


def _cache(response: HttpResponseBase, record: Record) -> None:
    if record.visibility == Visibility.DRAFT or not _is_open(record):
        response["Cache-Control"] = "private, no-store"
    else:
        response["Cache-Control"] = "public, max-age=86400"


def _ranged(
    request: HttpRequest, record: Record, key: str, size: int, mime: str
) -> HttpResponseBase | None:
    """A 206 (or 416) answer to a ``Range`` request for a derivative; None: send it whole."""
    header = request.headers.get("Range")
    if not header:
        return None
    try:
        wanted = _byte_range(header, size)
    except ValueError:
        return None
    if wanted is None:
        response: HttpResponseBase = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    first, last = wanted
    storage = get_storage()
    local = storage.local_path(key)
    try:
        if local is not None:
            with local.open("rb") as fh:
                fh.seek(first)
                body = fh.read(last - first + 1)
        else:
            body = storage.read_range(key, first, last - first + 1)
    except FileNotFoundError:
        raise Http404("file missing from storage") from None
    response = HttpResponse(body, status=206, content_type=mime)
    response["Content-Range"] = f"bytes {first}-{first + len(body) - 1}/{size}"
    response["Accept-Ranges"] = "bytes"
    _cache(response, record)
    return response


@require_GET
def capture_file(
    request: HttpRequest, record_id: str, capture_id: str, kind: str, name: str
) -> HttpResponseBase:
    """Stream an original or a derivative from storage; derivatives also by byte range.

    A point cloud's tiles (``web-lod-data``) are byte ranges of one file, which
    its viewer asks for with ``Range`` requests as the visitor moves around.
    """
    record = selectors.access_record(request.user, record_id, action=None)
    capture = selectors.access_capture(request.user, record, capture_id)
    if kind not in ("original", "derivative"):
        raise Http404("no such file")
    if kind == "derivative" and request.headers.get("Range"):
        deriv = capture.derivative(name)
        if deriv is None:
            raise Http404("no such file")
        # Tiles come in hundreds of ranges per visit: the sealed-access entry is made
        # once, when the viewer opens the index (a whole-file request), not per tile.
        ranged = _ranged(request, record, deriv.key, deriv.size, deriv.mime)
        if ranged is not None:
            return ranged
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
    if kind == "derivative":
        response["Accept-Ranges"] = "bytes"
    _cache(response, record)
    return response
