"""Errors of the REST API: ``{"code", "message", "detail"}`` with a stable code.

The codes and messages live in :data:`spadok.core.errors.CODES`; this module
maps them to HTTP statuses and turns Ninja's and Django's exceptions into them.
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import HttpError, ValidationError

from spadok.core.errors import SpadokError

log = logging.getLogger("spadok.api")

STATUS = {
    "api.not_found": 404,
    "api.invalid_request": 400,
    "api.format_unsupported": 501,
    "api.server_error": 500,
}


class ApiError(SpadokError):
    """A :class:`SpadokError` with an HTTP status (from :data:`STATUS`)."""

    @property
    def status(self) -> int:
        return STATUS.get(self.code, 400)


def not_found(what: str) -> ApiError:
    return ApiError("api.not_found", what)


def invalid(detail: str, context: dict[str, Any] | None = None) -> ApiError:
    return ApiError("api.invalid_request", detail, context)


def error_body(error: SpadokError) -> dict[str, Any]:
    return {"code": error.code, "message": error.message, "detail": error.context}


def _location(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("query", "path", "body")]
    return ".".join(parts) or "request"


def install(api: NinjaAPI) -> None:
    """Register the handlers on ``api``."""

    def respond(request: HttpRequest, error: ApiError) -> HttpResponse:
        response = api.create_response(request, error_body(error), status=error.status)
        return response

    @api.exception_handler(ApiError)
    def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
        return respond(request, exc)

    @api.exception_handler(ValidationError)
    def _validation(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        problems = [
            {"parameter": _location(e.get("loc", ())), "problem": str(e.get("msg", ""))}
            for e in exc.errors
        ]
        names = ", ".join(sorted({p["parameter"] for p in problems})) or "a parameter"
        return respond(request, invalid(f"check {names}", {"errors": problems}))

    @api.exception_handler(Http404)
    def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return respond(request, not_found("item"))

    @api.exception_handler(HttpError)
    def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        code = "api.not_found" if exc.status_code == 404 else "api.invalid_request"
        error = ApiError(code, str(exc.message))
        return api.create_response(request, error_body(error), status=exc.status_code)

    @api.exception_handler(Exception)
    def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
        log.exception("api: %s %s failed", request.method, request.path)
        return respond(request, ApiError("api.server_error", type(exc).__name__))
