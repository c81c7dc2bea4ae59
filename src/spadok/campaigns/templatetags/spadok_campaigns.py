"""``{% load spadok_campaigns %}``: campaign facts that other apps' pages show.

The review queue shows, beside a new capture, the good captures the archive
already has of the same site (``{% capture_duplicates capture %}``), so that
a reviewer can tell a repeat from a capture that adds something.
"""

from __future__ import annotations

from typing import Any

from django import template

from spadok.campaigns import selectors
from spadok.catalogue import presenters

register = template.Library()


@register.inclusion_tag("campaigns/partials/duplicates.html", takes_context=True)
def capture_duplicates(context: dict[str, Any], capture: Any) -> dict[str, Any]:
    user = context.get("user")
    found = selectors.duplicates_of(capture)
    return {
        "capture": capture,
        "duplicates": [
            {
                "capture": other,
                "record": other.record,
                "poster_url": presenters.capture_view(other.record, other, user).poster_url,
            }
            for other in found
        ],
    }
