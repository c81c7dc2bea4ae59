"""``{% load spadok_compare %}``: the record page's offer to compare its captures."""

from __future__ import annotations

from typing import Any

from django import template

from spadok.compare import presenters, selectors
from spadok.compare.models import ComparisonState

register = template.Library()


@register.inclusion_tag("compare/partials/record_offer.html")
def compare_offer(record: Any) -> dict[str, Any]:
    """Shown on a record the visitor may already see: its captures are visible with it."""
    captures = selectors.comparable_captures(record)
    ready = [
        presenters.comparison_view(c)
        for c in selectors.record_comparisons(record)
        if c.state == ComparisonState.READY
    ][:5]
    return {"record": record, "enough": len(captures) >= 2, "comparisons": ready}
