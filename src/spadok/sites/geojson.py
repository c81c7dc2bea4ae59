"""The map's data: sites as GeoJSON points and regions as outlines with counts.

Everything here is what the *public* sees, for every visitor alike, so that a
shared cache may keep it: points come from :func:`selectors.public_point`
(sensitive sites on a 0.1° grid), "has 3D" from :func:`sites_with_public_3d`.

Bounding-box filtering is done on the public point, not on the stored one:
filtering a sensitive site by its exact coordinates would let anyone narrow
the box until the site drops out, and so find the point the grid hides.

Built for a registry of 100k sites: one query reads only the columns a
feature needs, as tuples; a view holds at most :data:`MAX_FEATURES` features
(the caller asks for a smaller box beyond that; the region layer is the overview).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q
from django.urls import reverse

from spadok.core.errors import SpadokError
from spadok.sites import selectors
from spadok.sites.i18n import localized
from spadok.sites.models import DamageStatus, Region, Site, SiteType

MAX_FEATURES = 20_000
# Damage statuses counted as "damaged" in the region layer (threatened is not damage yet).
DAMAGED = (DamageStatus.DAMAGED, DamageStatus.DESTROYED, DamageStatus.LOOTED)
# Region outlines are sent with coordinates rounded to this many decimals (about 100 m).
OUTLINE_DECIMALS = 3
# Half a cell of the coarse grid: a sensitive site's public point may lie this far
# (in degrees) from its stored one, so the query looks that much beyond the box.
_MARGIN = selectors.COARSE_DEGREES / 2 + 1e-9


@dataclass(frozen=True)
class BBox:
    west: float
    south: float
    east: float
    north: float

    def contains(self, lat: float, lon: float) -> bool:
        return self.south <= lat <= self.north and self.west <= lon <= self.east


@dataclass(frozen=True)
class SiteFilter:
    type: str = ""
    damage: str = ""
    has_3d: bool | None = None


def parse_bbox(raw: str | None) -> BBox:
    """``west,south,east,north`` in degrees (WGS 84), or ``map.bad_bbox``."""
    if not raw:
        raise SpadokError("map.bad_bbox", "bbox is missing")
    parts = raw.split(",")
    if len(parts) != 4:
        raise SpadokError("map.bad_bbox", f"{raw!r} has {len(parts)} numbers, not 4")
    try:
        west, south, east, north = (float(p) for p in parts)
    except ValueError:
        raise SpadokError("map.bad_bbox", f"{raw!r} is not four numbers") from None
    if not all(abs(v) < float("inf") for v in (west, south, east, north)):
        raise SpadokError("map.bad_bbox", f"{raw!r} is not four finite numbers")
    if not (-180 <= west <= 180 and -180 <= east <= 180):
        raise SpadokError("map.bad_bbox", f"longitudes {west}, {east} are outside -180..180")
    if not (-90 <= south <= 90 and -90 <= north <= 90):
        raise SpadokError("map.bad_bbox", f"latitudes {south}, {north} are outside -90..90")
    if west >= east or south >= north:
        raise SpadokError("map.bad_bbox", f"{raw!r} is empty or inverted")
    return BBox(west, south, east, north)


def parse_filter(params: Mapping[str, str]) -> SiteFilter:
    """The optional ``type``, ``damage`` and ``has_3d`` filters, or ``map.bad_filter``."""
    kind = params.get("type", "")
    if kind and kind not in SiteType.values:
        raise SpadokError(
            "map.bad_filter", f"type={kind!r}; use one of {', '.join(SiteType.values)}"
        )
    damage = params.get("damage", "")
    damages = [v for v in DamageStatus.values if v] + ["none"]
    if damage and damage not in damages:
        raise SpadokError("map.bad_filter", f"damage={damage!r}; use one of {', '.join(damages)}")
    raw = params.get("has_3d", "").lower()
    flags = {"": None, "true": True, "1": True, "false": False, "0": False}
    if raw not in flags:
        raise SpadokError("map.bad_filter", f"has_3d={raw!r}; use true or false")
    return SiteFilter(type=kind, damage=damage, has_3d=flags[raw])


def filtered_sites(f: SiteFilter) -> Any:
    """Sites that match the filters (all sites are public; their points are not)."""
    sites = Site.objects.all()
    if f.type:
        sites = sites.filter(type=f.type)
    if f.damage == "none":
        sites = sites.filter(damage_status="")
    elif f.damage:
        sites = sites.filter(damage_status=f.damage)
    if f.has_3d is not None:
        with_3d = _public_3d_site_ids()
        sites = sites.filter(pk__in=with_3d) if f.has_3d else sites.exclude(pk__in=with_3d)
    return sites


def _public_3d_site_ids() -> Any:
    """The ids of sites with public 3D, by :func:`selectors.sites_with_public_3d`'s rule.

    Asked from the records' side: there are far fewer records than sites, so this
    reads a few rows through the record's site index instead of testing every site.
    """
    return selectors.public_records_q(None).exclude(site=None).values("site_id")


def public_3d_ids() -> set[str]:
    return set(_public_3d_site_ids().values_list("site_id", flat=True))


def _public(lat: float, lon: float, sensitive: bool) -> tuple[float, float]:
    point = selectors.public_point(Site(latitude=lat, longitude=lon, sensitive=sensitive, id="-"))
    assert point is not None
    return point[0], point[1]


def site_features(
    bbox: BBox, f: SiteFilter, *, lang: str, limit: int | None = None
) -> list[dict[str, Any]]:
    """GeoJSON features of the sites whose public point lies in ``bbox``.

    Raises ``map.too_many_features`` when more than ``limit`` (default
    :data:`MAX_FEATURES`) would be sent.
    """
    limit = MAX_FEATURES if limit is None else limit
    box = Q(
        latitude__gte=bbox.south - _MARGIN,
        latitude__lte=bbox.north + _MARGIN,
        longitude__gte=bbox.west - _MARGIN,
        longitude__lte=bbox.east + _MARGIN,
    )
    exact_box = Q(
        sensitive=False,
        latitude__gte=bbox.south,
        latitude__lte=bbox.north,
        longitude__gte=bbox.west,
        longitude__lte=bbox.east,
    )
    sites = filtered_sites(f)
    # Counted first, so that a view of the whole country is refused without reading it:
    # every non-sensitive site in the box is sent, a sensitive one only if its public
    # point falls inside, so the first count is a floor and the sum a ceiling.
    floor = sites.filter(exact_box).count()
    if floor > limit:
        raise SpadokError("map.too_many_features", _too_many(limit))
    rows = (
        sites.filter(exact_box | (Q(sensitive=True) & box))
        .order_by("pk")
        .values_list("pk", "names", "type", "damage_status", "latitude", "longitude", "sensitive")
    )
    with_3d = public_3d_ids()
    url = reverse("sites:site", args=["__id__"])
    features: list[dict[str, Any]] = []
    for pk, names, kind, damage, lat, lon, sensitive in _chunks(rows):
        if sensitive:
            lat, lon = _public(lat, lon, True)
            if not bbox.contains(lat, lon):
                continue
        if len(features) >= limit:
            raise SpadokError("map.too_many_features", _too_many(limit))
        features.append(
            {
                "type": "Feature",
                "id": pk,
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {
                    "id": pk,
                    "name": localized(names, lang) or pk,
                    "type": kind,
                    "damage_status": damage,
                    "has_3d": pk in with_3d,
                    "approximate": sensitive,
                    "url": url.replace("__id__", pk),
                },
            }
        )
    return features


def _too_many(limit: int) -> str:
    return f"more than {limit:,} (at most {limit:,} are sent at once)"


def _chunks(rows: Any) -> Iterator[tuple[Any, ...]]:
    yield from rows.iterator(chunk_size=5000)


def region_features(*, lang: str) -> list[dict[str, Any]]:
    """Each region with a geometry, its outline and its counts (sites, damaged, with 3D)."""
    with_3d = _public_3d_site_ids()
    counts: dict[str, dict[str, Any]] = {
        row["region"]: dict(row)
        for row in Site.objects.filter(region__isnull=False)
        .values("region")
        .annotate(
            sites=Count("pk"),
            damaged=Count("pk", filter=Q(damage_status__in=DAMAGED)),
            with_3d=Count("pk", filter=Q(pk__in=with_3d)),
        )
    }
    out = []
    for code, names, geometry in Region.objects.exclude(geometry=None).values_list(
        "code", "names", "geometry"
    ):
        if not geometry:
            continue
        row = counts.get(code, {})
        out.append(
            {
                "type": "Feature",
                "id": code,
                "geometry": _rounded(geometry),
                "properties": {
                    "code": code,
                    "name": localized(names, lang) or code,
                    "sites": row.get("sites", 0),
                    "damaged": row.get("damaged", 0),
                    "with_3d": row.get("with_3d", 0),
                    "url": f"{reverse('sites:site-list')}?region={code}",
                },
            }
        )
    return out


def _rounded(geometry: dict[str, Any]) -> dict[str, Any]:
    """The geometry with coordinates rounded to :data:`OUTLINE_DECIMALS` (a lighter download)."""

    def walk(value: Any) -> Any:
        if isinstance(value, list):
            if value and isinstance(value[0], int | float):
                return [round(v, OUTLINE_DECIMALS) for v in value]
            return [walk(v) for v in value]
        return value

    return {**geometry, "coordinates": walk(geometry.get("coordinates", []))}


def collection(features: Iterable[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features), **extra}
