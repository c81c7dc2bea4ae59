"""What every page's header needs to know about the catalogue."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from spadok.catalogue import selectors


def review(request: HttpRequest) -> dict[str, Any]:
    """``may_review``: show the review queue in the menu."""
    user = getattr(request, "user", None)
    return {"may_review": user is not None and selectors.may_review(user)}
