"""Small helpers the routers share."""

from __future__ import annotations

import datetime as dt
import re

from django.http import HttpResponse
from django.utils import timezone
from django.utils.cache import patch_cache_control

ID_RE = re.compile(r"^[a-z]-[0-9a-z]{1,40}$")


def valid_id(value: str) -> bool:
    """Ids are ``<letter>-<base32>``; anything else cannot exist (and never reaches SQL)."""
    return bool(ID_RE.match(value))


def aware(value: dt.datetime) -> dt.datetime:
    """A datetime without a zone is read as UTC; the result is in UTC.

    Times at the very ends of the calendar (0001-01-01T00:00+01:00) have no UTC
    equivalent: they are clamped to the first or last representable instant.
    """
    if timezone.is_naive(value):
        value = value.replace(tzinfo=dt.UTC)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        edge = dt.datetime.min if value.year == dt.MINYEAR else dt.datetime.max
        return edge.replace(tzinfo=dt.UTC)


def private(response: HttpResponse) -> None:
    """A shared cache must never keep an answer that depends on who asked."""
    patch_cache_control(response, private=True, no_store=True)
