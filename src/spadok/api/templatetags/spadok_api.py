"""``{% record_metadata record %}``: JSON-LD and oEmbed discovery in a record page's head."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe

from spadok.api import jsonld, presenters
from spadok.catalogue import selectors
from spadok.catalogue.models import Record

register = template.Library()


@register.simple_tag(takes_context=True)
def record_metadata(context: dict[str, Any], record: Record) -> SafeString:
    """Nothing for records the public may not see: crawlers and embeds get public ones only."""
    request = context.get("request")
    if request is None or not selectors.is_public(record):
        return mark_safe("")
    data = jsonld.as_script_text(jsonld.record_graph(record, request))
    head = format_html('<script type="application/ld+json">{}</script>', mark_safe(data))
    capture = presenters.shown_capture(record)
    if capture is not None and presenters.viewer_derivative(capture) is not None:
        page = request.build_absolute_uri(record.get_absolute_url())
        query = urlencode({"url": page, "format": "json"})
        href = request.build_absolute_uri(f"{reverse('api:oembed')}?{query}")
        head += format_html(
            '\n<link rel="alternate" type="application/json+oembed" href="{}" title="{}">',
            href,
            record.title,
        )
    return head
