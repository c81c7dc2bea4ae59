"""``{% load spadok_damage %}``: a record's damage events (and the form) on its page."""

from __future__ import annotations

from typing import Any

from django import template

from spadok.damage import presenters, selectors
from spadok.damage.forms import DamageEventForm

register = template.Library()


@register.filter
def may_record_damage(user: Any) -> bool:
    return selectors.may_record_damage(user)


@register.inclusion_tag("damage/partials/record_events.html", takes_context=True)
def record_damage(context: template.Context, record: Any) -> dict[str, Any]:
    """The events about this record the reader may see, and the form for those who record."""
    request = context.get("request")
    user = getattr(request, "user", None)
    editor = selectors.may_edit_damage(user)
    events = [
        presenters.event_view(e, editor=editor) for e in selectors.record_events(record, user)
    ]
    may_add = selectors.may_record_damage(user)
    return {
        "record": record,
        "events": events,
        "may_add": may_add,
        "form": DamageEventForm(records=[record]) if may_add else None,
        "request": request,
        "csrf_token": context.get("csrf_token"),
    }
