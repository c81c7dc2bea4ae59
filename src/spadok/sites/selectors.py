"""Reads of the site registry, with the location rule every public surface relies on.

Sites are public (the registry is built from published lists), but the exact
point of a *sensitive* site is not: the public gets its settlement and region
and a point rounded to a 0.1° grid (about 11 km), never the coordinates.
:func:`public_point` is the only place that decides it; pages, the map, the
APIs, OAI-PMH and exports call it.

A site "has 3D" when a record the public may see, with a ready capture, is
filed under it: :func:`sites_with_public_3d` is that filter.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, QuerySet

from spadok.catalogue.models import Capture, CaptureState, Record
from spadok.catalogue.selectors import sees_exact_location, visible_q
from spadok.sites.models import Site

COARSE_DEGREES = 0.1
COARSE_PRECISION_M = 11_000.0


def public_point(site: Site, user: Any = None) -> tuple[float, float, float | None] | None:
    """(latitude, longitude, precision in metres or None) this user may see, or None."""
    if site.latitude is None or site.longitude is None:
        return None
    if not site.sensitive or sees_exact_location(user):
        return site.latitude, site.longitude, None
    return (
        round(round(site.latitude / COARSE_DEGREES) * COARSE_DEGREES, 1),
        round(round(site.longitude / COARSE_DEGREES) * COARSE_DEGREES, 1),
        COARSE_PRECISION_M,
    )


def public_records_q(user: Any = None) -> Any:
    """Records under a site that ``user`` may see and that have a ready capture."""
    ready = Capture.objects.filter(record=OuterRef("pk"), state=CaptureState.READY)
    return Record.objects.filter(visible_q(user)).filter(Exists(ready))


def sites_with_public_3d(user: Any = None) -> QuerySet[Site]:
    """Sites with at least one visible record that has a ready capture."""
    records = public_records_q(user).filter(site=OuterRef("pk"))
    return Site.objects.filter(Exists(records))


def annotate_has_3d(sites: QuerySet[Site], user: Any = None) -> QuerySet[Site]:
    """Add ``has_3d`` (bool) to each site, by the same rule as :func:`sites_with_public_3d`."""
    records = public_records_q(user).filter(site=OuterRef("pk"))
    return sites.annotate(has_3d=Exists(records))
