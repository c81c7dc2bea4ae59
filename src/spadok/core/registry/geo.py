"""Coordinates: parsing, plausibility, distance, and the point-in-region index.

Lists give points as WKT ("Point(lon lat)", note the order), as "lat, lon"
strings, or as two columns; all come here. A point is *plausible* when it is
a real WGS84 point inside the area the archive covers (by default Ukraine with
a margin, so that a swapped or mistyped pair is caught rather than mapped in
the sea); other areas pass their own :class:`Bounds`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class Bounds:
    min_lat: float
    max_lat: float
    min_lon: float
    max_lon: float

    def contains(self, lat: float, lon: float) -> bool:
        return self.min_lat <= lat <= self.max_lat and self.min_lon <= lon <= self.max_lon


WORLD = Bounds(-90.0, 90.0, -180.0, 180.0)
# Ukraine spans about 44.2-52.4 N and 22.1-40.2 E; a margin keeps border sites.
UKRAINE = Bounds(43.0, 53.5, 21.0, 41.5)

_NUM = r"[-+]?\d+(?:[.,]\d+)?"
_WKT_POINT = re.compile(rf"^\s*POINT\s*\(\s*({_NUM})\s+({_NUM})\s*\)\s*$", re.IGNORECASE)


def _num(text: str) -> float:
    return float(text.replace(",", "."))


def parse_wkt_point(text: str) -> tuple[float, float] | None:
    """(lat, lon) from WKT "Point(lon lat)", or None when it is not one."""
    m = _WKT_POINT.match(text or "")
    if not m:
        return None
    lon, lat = _num(m.group(1)), _num(m.group(2))
    return lat, lon


def parse_lat_lon(text: str) -> tuple[float, float] | None:
    """(lat, lon) from "lat, lon" (or "lat lon", "lat;lon"), or None."""
    text = (text or "").strip()
    if not text:
        return None
    m = re.match(rf"^\s*\(?\s*({_NUM})\s*[,;]\s*({_NUM})\s*\)?\s*$", text.replace(", ", ","))
    if m is None:
        m = re.match(rf"^\s*({_NUM})\s+({_NUM})\s*$", text)
    if m is None:
        return None
    try:
        return float(m.group(1)), float(m.group(2))
    except ValueError:
        return None


def valid_point(lat: Any, lon: Any, bounds: Bounds = WORLD) -> bool:
    """Finite numbers, a real WGS84 point, not (0, 0), inside ``bounds``."""
    try:
        lat_f, lon_f = float(lat), float(lon)
    except (TypeError, ValueError):
        return False
    if not (math.isfinite(lat_f) and math.isfinite(lon_f)):
        return False
    if not WORLD.contains(lat_f, lon_f) or (lat_f == 0.0 and lon_f == 0.0):
        return False
    return bounds.contains(lat_f, lon_f)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


class RegionIndex:
    """Which region contains a point: an STRtree over prepared polygons.

    Built once per import (or cached by the caller) from {code: GeoJSON
    geometry}; a lookup is a tree query plus one or two exact tests.
    """

    def __init__(self, geometries: Mapping[str, Mapping[str, Any]]) -> None:
        from shapely import STRtree, prepare
        from shapely.geometry import shape

        self.codes: list[str] = []
        geoms = []
        for code, geometry in geometries.items():
            geom = shape(geometry)
            if geom.is_empty:
                continue
            prepare(geom)
            self.codes.append(code)
            geoms.append(geom)
        self.geoms = geoms
        self.tree = STRtree(geoms)

    def __bool__(self) -> bool:
        return bool(self.codes)

    def locate(self, lat: float, lon: float) -> str | None:
        """The code of the region containing (lat, lon), or None outside all of them."""
        from shapely.geometry import Point

        point = Point(lon, lat)
        for i in self.tree.query(point):
            if self.geoms[int(i)].covers(point):
                return self.codes[int(i)]
        return None
