"""Numbers for people: counts, bytes, lengths, areas and volumes in the page's language.

Usable as template filters (``{% load spadok_format %}``) and as plain functions.
"""

from __future__ import annotations

import math
from typing import Any

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.template.defaultfilters import filesizeformat
from django.utils.formats import number_format
from django.utils.translation import gettext as _

register = template.Library()


def _num(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _sig(number: float, digits: int = 3) -> str:
    """A number with about ``digits`` significant digits, localised."""
    if number == 0:
        return number_format(0)
    places = max(0, digits - 1 - math.floor(math.log10(abs(number))))
    number = round(number, places)
    while places > 0 and round(number, places - 1) == number:  # no trailing zeros
        places -= 1
    return number_format(number, decimal_pos=places, use_l10n=True, force_grouping=True)


@register.filter
def count(value: Any) -> str:
    """12345 -> "12 345" (grouped as the language groups digits)."""
    number = _num(value)
    if number is None:
        return ""
    return str(intcomma(int(number)))


@register.filter
def filesize(value: Any) -> str:
    """Bytes as KB/MB/GB, translated."""
    number = _num(value)
    return "" if number is None else str(filesizeformat(int(number)))


@register.filter
def decimal(value: Any) -> str:
    number = _num(value)
    return "" if number is None else _sig(number)


@register.filter
def metres(value: Any) -> str:
    """A length in metres, shown in mm, cm, m or km as fits."""
    number = _num(value)
    if number is None:
        return ""
    size = abs(number)
    if size >= 1000:
        return _("%(n)s km") % {"n": _sig(number / 1000)}
    if size >= 1 or size == 0:
        return _("%(n)s m") % {"n": _sig(number)}
    if size >= 0.01:
        return _("%(n)s cm") % {"n": _sig(number * 100)}
    return _("%(n)s mm") % {"n": _sig(number * 1000)}


@register.filter
def square_metres(value: Any) -> str:
    number = _num(value)
    if number is None:
        return ""
    if 0 < abs(number) < 0.01:
        return _("%(n)s cm²") % {"n": _sig(number * 1e4)}
    return _("%(n)s m²") % {"n": _sig(number)}


@register.filter
def cubic_metres(value: Any) -> str:
    number = _num(value)
    if number is None:
        return ""
    if 0 < abs(number) < 0.001:
        return _("%(n)s cm³") % {"n": _sig(number * 1e6)}
    return _("%(n)s m³") % {"n": _sig(number)}


@register.filter
def short_hash(value: Any, length: int = 12) -> str:
    text = str(value or "")
    return text[:length] + "…" if len(text) > length else text
