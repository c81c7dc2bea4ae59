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

import math
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


NEAR_RADIUS_M = 2_000.0
EARTH_RADIUS_M = 6_371_000.0


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine), in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def sites_near(
    lat: float,
    lon: float,
    radius_m: float = NEAR_RADIUS_M,
    limit: int = 10,
    *,
    user: Any = None,
) -> list[tuple[Site, float]]:
    """Sites within ``radius_m`` of a point, nearest first, as ``(site, metres)``.

    Distances are measured to the point ``user`` may see (:func:`public_point`):
    for a sensitive site and a viewer who may not see it exactly, the coarse
    point; so that probing with made-up capture locations cannot find where a
    sensitive site is.
    """
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or radius_m <= 0:
        return []
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    # Sensitive sites are compared by their coarse point, up to half a grid cell away.
    margin = COARSE_DEGREES
    near = Site.objects.filter(
        latitude__gte=lat - dlat - margin,
        latitude__lte=lat + dlat + margin,
        longitude__gte=lon - dlon - margin,
        longitude__lte=lon + dlon + margin,
    ).select_related("region")
    found: list[tuple[Site, float]] = []
    for site in near[:5000]:
        point = public_point(site, user)
        if point is None:
            continue
        metres = distance_m(lat, lon, point[0], point[1])
        if metres <= radius_m:
            found.append((site, metres))
    found.sort(key=lambda pair: (pair[1], pair[0].pk))
    return found[: max(0, limit)]
