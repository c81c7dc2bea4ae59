"""Any CSV or GeoJSON list, read through a column mapping.

A mapping names, for each field of a site, the column (or GeoJSON property)
that holds it: ``name`` (or ``name_uk``, ``name_en``, ``name_<lang>``),
``lat`` and ``lon`` (or ``point`` for one "lat, lon" cell, ``wkt`` for
"Point(lon lat)"), ``type``, ``designation``, ``region``, ``settlement``,
``address``, ``wikidata``, ``description``/``description_<lang>``,
``id`` (the list's own id, kept under the source's name) and ``id.<scheme>``
for other ids, and the damage the row records: ``damage_status`` (the kind:
damaged, destroyed, looted, threatened, in English or Ukrainian),
``damage_date`` (a date, a month, a year, or a range), ``damage_date_end``,
``damage_severity``, ``damage_standing`` (unesco, ministry, field, capture,
news, volunteer, other), ``damage_source`` (who says so), ``damage_url``,
``damage_document`` and ``damage_description``. Fields the mapping leaves
out are guessed from common column names; a GeoJSON point geometry gives the
coordinates (a polygon gives a point inside it).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from spadok.core.errors import SpadokError
from spadok.core.registry.damage import (
    MAX_DESCRIPTION_CHARS,
    MAX_URL_CHARS,
    STANDINGS,
    DamageClaim,
    parse_dates,
    parse_kind,
    parse_severity,
    parse_standing,
    urls_in,
)
from spadok.core.registry.geo import (
    UKRAINE,
    Bounds,
    parse_lat_lon,
    parse_wkt_point,
    valid_point,
)
from spadok.core.registry.regions import region_code
from spadok.core.registry.rows import SiteRow, Skip, clean, language_of
from spadok.core.registry.types import site_type

FIELDS = ("name", "lat", "lon", "point", "wkt", "type", "designation", "region", "settlement",
          "address", "wikidata", "description", "damage_status", "damage_date", "id",
          "damage_date_end", "damage_severity", "damage_standing", "damage_source", "damage_url",
          "damage_document", "damage_description")  # fmt: skip
DAMAGE_FIELDS = tuple(f for f in FIELDS if f.startswith("damage_"))
FIELD_PATTERN = re.compile(r"^(name|description)_[a-z]{2,3}$|^id\.[a-z0-9_]{1,32}$")
GUESSES: dict[str, tuple[str, ...]] = {
    "name": ("name", "title", "site_name", "sitename", "label", "назва", "name_en", "itemlabel"),
    "lat": ("lat", "latitude", "широта", "y"),
    "lon": ("lon", "lng", "long", "longitude", "довгота", "x"),
    "point": ("geo location", "latlon", "lat_lon", "coordinates", "координати"),
    "wkt": ("wkt", "coord", "point_wkt", "geometry"),
    "type": ("type", "category", "instance_of_label", "kind", "тип"),
    "designation": ("designation", "protection", "status_protection"),
    "region": ("region", "oblast", "область", "admin1", "province"),
    "settlement": ("settlement", "city", "town", "village", "locality", "населений пункт"),
    "address": ("address", "адреса"),
    "wikidata": ("wikidata", "qid", "wikidata_id", "wikidata id"),
    "description": ("description", "опис"),
    "damage_status": ("damage_status", "damage", "status"),
    "damage_date": ("damage_date", "date of damage"),
    "damage_date_end": ("damage_date_end",),
    "damage_severity": ("damage_severity", "severity"),
    "damage_standing": ("damage_standing", "standing"),
    "damage_source": ("damage_source",),
    "damage_url": ("damage_url", "source_url"),
    "damage_document": ("damage_document",),
    "damage_description": ("damage_description",),
}
QID = re.compile(r"Q\d+")


def parse_mapping(pairs: list[str] | Mapping[str, str] | None) -> dict[str, str]:
    """{field: column} from ["field=column", ...], checking the field names."""
    if not pairs:
        return {}
    items = pairs.items() if isinstance(pairs, Mapping) else [_split(p) for p in pairs]
    out: dict[str, str] = {}
    for field_name, column in items:
        field_name = field_name.strip().lower()
        if field_name not in FIELDS and not FIELD_PATTERN.match(field_name):
            raise SpadokError(
                "registry.bad_mapping",
                f"unknown field {field_name!r} (fields: {', '.join(FIELDS)}, name_<lang>, "
                "description_<lang>, id.<scheme>)",
            )
        if not column.strip():
            raise SpadokError("registry.bad_mapping", f"no column given for {field_name!r}")
        out[field_name] = column.strip()
    return out


def _split(pair: str) -> tuple[str, str]:
    if "=" not in pair:
        raise SpadokError("registry.bad_mapping", f"{pair!r} is not field=column")
    key, value = pair.split("=", 1)
    return key, value


def resolve_mapping(columns: list[str], mapping: Mapping[str, str], file: str) -> dict[str, str]:
    """The mapping completed by guesses, every column checked to exist in the file."""
    by_lower = {c.strip().lower(): c for c in columns}
    resolved: dict[str, str] = {}
    for field_name, column in mapping.items():
        actual = column if column in columns else by_lower.get(column.lower())
        if actual is None:
            raise SpadokError(
                "registry.bad_mapping",
                f"{file} has no column {column!r} (columns: {', '.join(columns[:30])})",
            )
        resolved[field_name] = actual
    point_fields = {"lat", "lon", "point", "wkt"}
    if not point_fields & resolved.keys():
        lat = next((by_lower[g] for g in GUESSES["lat"] if g in by_lower), None)
        lon = next((by_lower[g] for g in GUESSES["lon"] if g in by_lower), None)
        if lat and lon:
            resolved["lat"], resolved["lon"] = lat, lon
    for field_name, guesses in GUESSES.items():
        if field_name in resolved:
            continue
        if field_name == "name" and any(k.startswith("name_") for k in resolved):
            continue
        if field_name in point_fields and point_fields & resolved.keys():
            continue
        for guess in guesses:
            if guess in by_lower and by_lower[guess] not in resolved.values():
                resolved[field_name] = by_lower[guess]
                break
    if ("lat" in resolved) != ("lon" in resolved):
        raise SpadokError("registry.bad_mapping", "lat and lon must be mapped together")
    if not ({"name"} | {k for k in resolved if k.startswith("name_")}) & resolved.keys():
        raise SpadokError("registry.bad_mapping", f"no name column found in {file}")
    return resolved


def looks_like_csv(header: list[str]) -> bool:
    """A plain list: a column we would take as the name."""
    try:
        resolve_mapping(header, {}, "")
    except SpadokError:
        return False
    return True


def read_csv(
    header: list[str],
    records: list[tuple[int, list[str]]],
    *,
    file: str,
    source: str,
    mapping: Mapping[str, str],
    bounds: Bounds = UKRAINE,
    standing: str | None = None,
) -> tuple[list[SiteRow], list[Skip]]:
    _check_standing(standing)
    resolved = resolve_mapping(header, mapping, file)
    index = {c: i for i, c in enumerate(header)}
    rows: list[SiteRow] = []
    skips: list[Skip] = []
    for number, cells in records:
        if not any(c.strip() for c in cells):
            continue
        values = {f: cells[index[c]] if index[c] < len(cells) else "" for f, c in resolved.items()}
        _row(values, None, file, number, source, bounds, rows, skips, standing)
    return rows, skips


def looks_like_geojson(doc: Any) -> bool:
    return isinstance(doc, dict) and doc.get("type") in ("FeatureCollection", "Feature")


def read_geojson(
    doc: Any,
    *,
    file: str,
    source: str,
    mapping: Mapping[str, str],
    bounds: Bounds = UKRAINE,
    max_rows: int,
    standing: str | None = None,
) -> tuple[list[SiteRow], list[Skip]]:
    _check_standing(standing)
    features = [doc] if doc.get("type") == "Feature" else doc.get("features")
    if not isinstance(features, list):
        raise SpadokError(
            "registry.unknown_format", f"{file} (a FeatureCollection without features)"
        )
    if len(features) > max_rows:
        raise SpadokError("registry.too_large", f"{file} has more than {max_rows:,} features")
    columns: list[str] = []
    for feature in features[:1000]:
        for key in properties(feature) or {}:
            if key not in columns:
                columns.append(key)
    resolved = resolve_mapping(columns, mapping, file) if columns else {}
    rows: list[SiteRow] = []
    skips: list[Skip] = []
    for number, feature in enumerate(features, start=1):
        if not isinstance(feature, dict):
            skips.append(Skip(file, number, "invalid", "the feature is not an object"))
            continue
        props = properties(feature)
        if props is None:
            skips.append(
                Skip(file, number, "invalid", "the feature's properties are not an object")
            )
            continue
        values = {f: _text(props.get(c)) for f, c in resolved.items()}
        _row(values, feature.get("geometry"), file, number, source, bounds, rows, skips, standing)
    return rows, skips


def properties(feature: Any) -> dict[str, Any] | None:
    """A feature's properties ({} when it has none); None when they are not an object."""
    if not isinstance(feature, dict):
        return None
    props = feature.get("properties")
    if props is None:
        return {}
    return props if isinstance(props, dict) else None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return str(value) if not isinstance(value, (dict, list)) else json.dumps(value)


def _geometry_point(geometry: Any) -> tuple[float, float] | str | None:
    """(lat, lon) from a GeoJSON geometry, None if absent, "bad" if unusable."""
    if not geometry:
        return None
    try:
        from shapely.geometry import shape

        geom = shape(geometry)
        if geom.is_empty:
            return None
        point = geom if geom.geom_type == "Point" else geom.representative_point()
        return float(point.y), float(point.x)
    except Exception:  # any malformed geometry: report the row, go on
        return "bad"


def _row(
    values: dict[str, str],
    geometry: Any,
    file: str,
    number: int,
    source: str,
    bounds: Bounds,
    rows: list[SiteRow],
    skips: list[Skip],
    standing: str | None = None,
) -> None:
    values = {k: clean(v) for k, v in values.items()}
    names: dict[str, str] = {}
    for key, value in values.items():
        if key.startswith("name_") and value:
            names[key[5:]] = value
    if values.get("name"):
        names.setdefault(language_of(values["name"]), values["name"])
    if not names:
        skips.append(Skip(file, number, "no_name", "the row has no name"))
        return
    label = next(iter(names.values()))
    point: tuple[float, float] | str | None = None
    raw = ""
    if values.get("lat") or values.get("lon"):
        raw = f"{values.get('lat', '')}, {values.get('lon', '')}"
        point = parse_lat_lon(raw) or "bad"
    elif values.get("point"):
        raw = values["point"]
        point = parse_lat_lon(raw) or "bad"
    elif values.get("wkt"):
        raw = values["wkt"]
        point = parse_wkt_point(raw) or "bad"
    elif geometry is not None:
        raw = "geometry"
        point = _geometry_point(geometry)
    if point == "bad" or (isinstance(point, tuple) and not valid_point(point[0], point[1], bounds)):
        why = "cannot be read" if point == "bad" else "is outside the area covered"
        skips.append(Skip(file, number, "bad_coordinates", f"{label!r}: the point {raw!r} {why}"))
        return
    lat, lon = point if isinstance(point, tuple) else (None, None)
    kind = site_type(values.get("type", "")) if values.get("type") else site_type(label)
    claim = _claim(values, source, standing)
    damage_date = claim.date_start if claim else None
    precision = claim.precision if claim else ""
    row = SiteRow(
        file=file,
        row=number,
        source=source,
        names=names,
        type=kind or "other",
        designation=values.get("designation", "")[:200],
        region_code=region_code(values.get("region")),
        settlement=values.get("settlement", "")[:200],
        address=values.get("address", "")[:300],
        latitude=lat,
        longitude=lon,
        damage_status=claim.kind if claim else "",
        damage_date=damage_date,
        damage=[claim] if claim else [],
    )
    if m := QID.search(values.get("wikidata", "")):
        row.wikidata = m.group(0)
    for key, value in values.items():
        if key == "id" and value:
            row.external_ids[source] = value
        elif key.startswith("id.") and value:
            row.external_ids[key[3:]] = value
        elif key == "description" and value:
            row.descriptions[language_of(value)] = value
        elif key.startswith("description_") and value:
            row.descriptions[key[12:]] = value
    fact: dict[str, Any] = {}
    if values.get("type"):
        fact["class"] = values["type"]
    if raw and raw != "geometry":
        fact["point"] = raw
    if values.get("damage_status") or damage_date:
        fact["damage"] = {"as_published": values.get("damage_status", "")}
        if damage_date:
            fact["damage"]["date"] = damage_date.isoformat()
            fact["damage"]["precision"] = precision
    for key in DAMAGE_FIELDS:
        if key not in ("damage_status", "damage_date") and values.get(key):
            fact.setdefault("damage", {})[key.removeprefix("damage_")] = values[key]
    row.fact = fact
    rows.append(row)


def _check_standing(standing: str | None) -> None:
    if standing is not None and standing not in STANDINGS:
        raise SpadokError(
            "registry.bad_mapping",
            f"unknown standing {standing!r} (one of {', '.join(STANDINGS)})",
        )


def _claim(values: dict[str, str], source: str, standing: str | None) -> DamageClaim | None:
    """The row's account of damage, when it records a kind or a date of damage.

    A kind that cannot be read and no date: no claim (the raw value stays in the
    provenance). A date alone records damage of an unstated kind: "damaged".
    """
    raw_kind = values.get("damage_status", "")
    raw_date = values.get("damage_date", "")
    kind = parse_kind(raw_kind)
    start, end, precision = parse_dates(raw_date)
    if not kind and start is None:
        return None
    if raw_end := values.get("damage_date_end", ""):
        end_start, end_end, end_precision = parse_dates(raw_end)
        end = end_end or end_start or end
        if end_precision and precision:
            precision = max(precision, end_precision, key=("day", "month", "year").index)
        raw_date = f"{raw_date} – {raw_end}" if raw_date else raw_end
    if start and end and end < start:
        start, end = end, start
    url = values.get("damage_url", "")
    links = urls_in(url)
    claim = DamageClaim(
        standing=parse_standing(values.get("damage_standing", "")) or standing or "other",
        kind=kind or "damaged",
        severity=parse_severity(values.get("damage_severity", "")),
        date_start=start,
        date_end=end if end != start else None,
        precision=precision,
        date_as_published=raw_date[:100],
        source_name=(values.get("damage_source") or _named(source))[:200],
        source_url=links[0] if links else "",
        source_document=values.get("damage_document", "")[:300],
        description=values.get("damage_description", "")[:MAX_DESCRIPTION_CHARS],
        key=values.get("id", "")[:200],
    )
    claim.add_references([u for u in links[1:] if len(u) <= MAX_URL_CHARS])
    return claim


def _named(source: str) -> str:
    """The list's name as the source of its claims, unless it is only the format's name."""
    return "" if source in ("csv", "geojson") else source
