"""``{% load spadok_compare %}``: the record page's offer to compare its captures."""

from __future__ import annotations

from typing import Any

from django import template

from spadok.compare import presenters, selectors

register = template.Library()


@register.inclusion_tag("compare/partials/record_offer.html")
def compare_offer(record: Any) -> dict[str, Any]:
    """Shown on a record the visitor may already see: its captures are visible with it."""
    enough, ready = selectors.record_offer(record)
    views = [presenters.comparison_view(c) for c in ready]
    return {"record": record, "enough": enough, "comparisons": views}
