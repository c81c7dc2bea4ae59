"""The tus 1.0 endpoint (/api/uploads/) and the upload page (/upload/).

Every response carries ``Tus-Resumable``; errors carry a JSON body
``{"error": {"code", "message"}}`` with the status from :data:`tus.STATUS`.
The request body is never read whole: PATCH streams it into the part file.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from spadok.core.errors import SpadokError
from spadok.uploads import selectors, services, tus
from spadok.uploads.models import Upload, UploadState

UNSAFE = {"POST", "PATCH", "DELETE", "PUT"}
NO_CACHE = "no-store"


def _method(request: HttpRequest) -> str:
    """The request's method; a POST may stand for another (X-HTTP-Method-Override)."""
    method = (request.method or "GET").upper()
    override = request.headers.get("X-HTTP-Method-Override", "").strip().upper()
    if method == "POST" and override:
        return override
    return method


def _headers(response: HttpResponse) -> HttpResponse:
    response["Tus-Resumable"] = tus.VERSION
    response["Cache-Control"] = NO_CACHE
    return response


def _error(exc: SpadokError, method: str) -> HttpResponse:
    status = tus.status_for(exc.code)
    response: HttpResponse
    if method == "HEAD":
        response = HttpResponse(status=status)
    else:
        response = JsonResponse({"error": exc.as_dict()}, status=status)
    if status == 412:
        response["Tus-Version"] = tus.VERSION
    return _headers(response)


def _options() -> HttpResponse:
    response = HttpResponse(status=204)
    response["Tus-Version"] = tus.VERSION
    response["Tus-Extension"] = tus.EXTENSIONS
    response["Tus-Max-Size"] = str(settings.SPADOK.limits.max_file_bytes)
    response["Tus-Checksum-Algorithm"] = ",".join(tus.CHECKSUM_ALGORITHMS)
    return _headers(response)


class _NoView:
    """What CsrfViewMiddleware.process_view inspects: a view that is not exempt."""

    csrf_exempt = False


def _check_request(request: HttpRequest, method: str, *, needs_version: bool = True) -> None:
    """The tus version, the user and, for cookie sessions, the CSRF token."""
    if needs_version:
        tus.check_version(request.headers.get("Tus-Resumable"))
    if not request.user.is_authenticated:
        raise SpadokError("upload.auth_required")
    # A personal API token (set by the accounts middleware) is not sent by a
    # browser on its own, so it needs no CSRF token; a session cookie does.
    if getattr(request, "auth_token", None) is not None:
        return
    if method in UNSAFE or (request.method or "").upper() in UNSAFE:
        check = CsrfViewMiddleware(lambda r: HttpResponse())
        if check.process_view(request, _NoView(), (), {}) is not None:  # type: ignore[arg-type]
            raise SpadokError("upload.csrf_failed")


def _protocol(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        method = _method(request)
        try:
            return _headers(view(request, method, *args, **kwargs))
        except SpadokError as exc:
            return _error(exc, method)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return csrf_exempt(wrapped)  # checked in _check_request, after the user is known


def _content_length(request: HttpRequest) -> int:
    raw = request.META.get("CONTENT_LENGTH") or "0"
    return tus.parse_length(raw, "Content-Length")


def _upload_url(request: HttpRequest, upload: Upload) -> str:
    return request.build_absolute_uri(reverse("uploads:upload", args=[upload.id]))


def _progress_headers(response: HttpResponse, upload: Upload) -> HttpResponse:
    response["Upload-Offset"] = str(upload.offset)
    if upload.state == UploadState.UPLOADING:
        response["Upload-Expires"] = tus.http_date(upload.expires_at)
    if upload.capture_id:
        response[tus.CAPTURE_HEADER] = upload.capture_id
    return response


@_protocol
def collection(request: HttpRequest, method: str) -> HttpResponse:
    """OPTIONS (what the server supports) and POST (creation, with or without a first piece)."""
    if method == "OPTIONS":
        return _options()
    if method != "POST":
        raise SpadokError("upload.bad_request", f"{method} is not allowed here; use POST")
    _check_request(request, method)
    if "Upload-Defer-Length" in request.headers:
        raise SpadokError("upload.bad_request", "Upload-Defer-Length is not supported")
    length = tus.parse_length(request.headers.get("Upload-Length"), "Upload-Length")
    metadata = tus.parse_metadata(request.headers.get("Upload-Metadata"))
    body = _content_length(request)
    if body and request.content_type != tus.OFFSET_CONTENT_TYPE:
        raise SpadokError("upload.content_type", repr(request.content_type))
    checksum = tus.parse_checksum(request.headers.get("Upload-Checksum")) if body else None
    upload = services.upload_create(user=request.user, length=length, metadata=metadata)
    response = HttpResponse(status=201)
    response["Location"] = _upload_url(request, upload)
    if body:  # creation-with-upload: the first piece came with the POST
        try:
            upload = services.upload_append(
                user=request.user,
                upload_id=upload.id,
                offset=0,
                read=request.read,
                length=body,
                checksum=checksum,
            )
        except SpadokError as exc:
            if exc.code != "upload.checksum_mismatch":
                raise
            upload.refresh_from_db()  # created, the piece discarded: resume with HEAD
        _progress_headers(response, upload)
    else:
        response["Upload-Expires"] = tus.http_date(upload.expires_at)
    return response


@_protocol
def upload(request: HttpRequest, method: str, upload_id: uuid.UUID) -> HttpResponse:
    """HEAD (where to resume), PATCH (the next piece), DELETE (cancel), GET (status as JSON)."""
    if method == "OPTIONS":
        return _options()
    if method == "GET":
        _check_request(request, method, needs_version=False)
        found = selectors.upload_for_user(user=request.user, upload_id=upload_id)
        response: HttpResponse = JsonResponse(selectors.upload_status(found))
        if found.capture_id:
            response[tus.CAPTURE_HEADER] = found.capture_id
        return response
    _check_request(request, method)
    if method == "HEAD":
        found = selectors.upload_for_user(user=request.user, upload_id=upload_id)
        response = _progress_headers(HttpResponse(status=200), found)
        response["Upload-Length"] = str(found.length)
        if found.metadata:
            response["Upload-Metadata"] = tus.encode_metadata(found.metadata)
        return response
    if method == "PATCH":
        if request.content_type != tus.OFFSET_CONTENT_TYPE:
            raise SpadokError("upload.content_type", repr(request.content_type))
        offset = tus.parse_length(request.headers.get("Upload-Offset"), "Upload-Offset")
        checksum = tus.parse_checksum(request.headers.get("Upload-Checksum"))
        found = services.upload_append(
            user=request.user,
            upload_id=upload_id,
            offset=offset,
            read=request.read,
            length=_content_length(request),
            checksum=checksum,
        )
        return _progress_headers(HttpResponse(status=204), found)
    if method == "DELETE":
        services.upload_terminate(user=request.user, upload_id=upload_id)
        return HttpResponse(status=204)
    raise SpadokError("upload.bad_request", f"{method} is not allowed here")


@login_required
@require_GET
def upload_page(request: HttpRequest) -> HttpResponse:
    """The upload page: Uppy's Dashboard, bundled at install time (static_src/upload.js)."""
    return render(
        request,
        "uploads/upload.html",
        {
            "limits": selectors.upload_limits(user=request.user),
            "record_id": request.GET.get("record", "")[:32],
            "chunk_bytes": 5 * 1024 * 1024,
        },
    )
