"""A strict Content Security Policy: the site loads nothing from elsewhere."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

# model-viewer compiles WebAssembly decoders (Draco, meshopt, Basis) and uses
# blob: workers; everything else comes from this server only.
POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "connect-src 'self' data: blob:",
        "worker-src 'self' blob:",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", _policy())
        return response


def _policy() -> str:
    """The policy, letting map tiles in from the one server SPADOK_TILE_URL names."""
    from urllib.parse import urlsplit

    from django.conf import settings

    tiles = getattr(settings, "SPADOK_TILE_URL", "")
    if not tiles:
        return POLICY
    parts = urlsplit(tiles)
    origin = f"{parts.scheme}://{parts.netloc.replace('{s}', '*')}"  # {s}: any subdomain
    return POLICY.replace("img-src 'self' data: blob:", f"img-src 'self' data: blob: {origin}")
