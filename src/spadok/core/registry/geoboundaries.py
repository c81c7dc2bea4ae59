"""Region boundaries from geoBoundaries (ADM1 of Ukraine, GeoJSON).

Each feature carries ``shapeISO`` (the ISO 3166-2 code) and ``shapeName``
(English). The stored boundary is simplified (about 1 km tolerance, points
rounded to about 10 m) so that the per-region choropleth stays small; region
assignment by point-in-polygon along a border is as good as the source's
own 1:1M-scale lines. Ukrainian names come from the table in
:mod:`spadok.core.registry.regions`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spadok.core.errors import SpadokError
from spadok.core.limits import DEFAULT_LIMITS, Limits
from spadok.core.registry.regions import BY_CODE, region_code
from spadok.core.registry.rows import read_text

TOLERANCE_DEG = 0.01  # about 1 km
DECIMALS = 4  # about 10 m


@dataclass
class RegionShape:
    code: str
    names: dict[str, str]
    geometry: dict[str, Any]
    source_name: str


def read_regions(path: Path, limits: Limits = DEFAULT_LIMITS) -> list[RegionShape]:
    """Every region in the file, simplified; SpadokError when it is not such a file."""
    text = read_text(path, limits)
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise SpadokError("registry.bad_regions", f"{path.name} (not JSON: {exc})") from exc
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(features, list) or not features:
        raise SpadokError("registry.bad_regions", f"{path.name} (no features)")
    from shapely import set_precision
    from shapely.geometry import mapping, shape
    from shapely.validation import make_valid

    out: dict[str, RegionShape] = {}
    for feature in features:
        props = (feature.get("properties") or {}) if isinstance(feature, dict) else {}
        iso = str(props.get("shapeISO") or "").strip().upper()
        name = str(props.get("shapeName") or "").strip()
        code = iso if iso in BY_CODE else region_code(name)
        if code is None:
            raise SpadokError(
                "registry.bad_regions",
                f"{path.name} (feature {name or iso or '?'!r} is not a region of Ukraine)",
            )
        try:
            geom = shape(feature["geometry"])
        except Exception as exc:  # malformed geometry of any kind
            raise SpadokError(
                "registry.bad_regions", f"{path.name} (the boundary of {code} is malformed)"
            ) from exc
        if not geom.is_valid:
            geom = make_valid(geom)
        simple = geom.simplify(TOLERANCE_DEG, preserve_topology=True)
        simple = set_precision(simple, 10**-DECIMALS)
        if simple.is_empty:
            simple = geom
        info = BY_CODE[code]
        out[code] = RegionShape(
            code=code,
            names={"uk": info.uk, "en": info.en},
            geometry=_rounded(mapping(simple)),
            source_name=name,
        )
    return sorted(out.values(), key=lambda r: r.code)


def _rounded(obj: Any) -> Any:
    """GeoJSON with plain lists and coordinates rounded (JSON columns stay small)."""
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_rounded(v) for v in obj]
    if isinstance(obj, float):
        return round(obj, DECIMALS)
    return obj
