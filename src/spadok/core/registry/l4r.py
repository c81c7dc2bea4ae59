"""Linked4Resilience's cultural-site damage events, as CSV exports of its linked data.

Linked4Resilience volunteers annotated UNESCO's list of damaged sites: they found
each site on a map, its Wikipedia article, the date damage was first reported
and news reports of it, and published every annotated site under a stable URI
(``https://linked4resilience.eu/data/cultural-sites/00153``). Two exports of
that data occur: the project's own (``URI, Site_Name, Address,
Observation_Year, Comment, Wiki_UA_Link, News_Link, Latitude, Longitude``) and
one enriched with candidate Wikidata matches (``site, name, altName, …,
wikidata_id, method, match_score``). Both repeat a site on several rows (one
per news link, per other name, per candidate match); the first row is the site
and the repeats are folded into it and reported as duplicates.

The account is the volunteers' desk research from open sources: its standing
is "volunteer", never verified, and never a field report. The URI is kept as
the site's ``l4r`` id and as the claim's own key, so that both exports (and
re-imports) describe one event. The enrichment's Wikidata matches are
candidates made by distance or by a Wikipedia link, often wrong (a railway
station for a church): they are kept in the provenance, never used to match.
"""

from __future__ import annotations

import re
from typing import Any

from spadok.core.registry.damage import DamageClaim, parse_dates, urls_in
from spadok.core.registry.geo import UKRAINE, Bounds, parse_wkt_point, valid_point
from spadok.core.registry.regions import region_code
from spadok.core.registry.rows import SiteRow, Skip, clean, language_of
from spadok.core.registry.types import site_type

URI = re.compile(r"^https?://linked4resilience\.eu/data/cultural-sites/(\d+)$")
SOURCE_NAME = "Linked4Resilience"
COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("Site_Name", "name"),
    "alt": ("altName",),
    "address": ("Address", "address"),
    "date": ("Observation_Year", "observationYear"),
    "comment": ("Comment", "comment"),
    "wiki_uk": ("Wiki_UA_Link", "wikiUA"),
    "news": ("News_Link", "newsLink"),
    "lat": ("Latitude", "latitude"),
    "lon": ("Longitude", "longitude"),
    "wkt": ("wkt",),
    "oblast": ("oblast",),
    "candidate": ("wikidata_id",),
    "candidate_label": ("wikidata_label",),
    "candidate_class": ("instance_of_label",),
    "method": ("method",),
    "score": ("match_score",),
    "distance": ("distance_km",),
}
NO_POINT = re.compile(r"(?i)^$|nan|undefined|^none$|^null$")


def _uri_column(header: list[str], sample: list[list[str]]) -> int | None:
    for col in range(len(header)):
        values = [r[col].strip() for r in sample if col < len(r) and r[col].strip()]
        if values and sum(bool(URI.match(v)) for v in values) >= 0.8 * len(values):
            return col
    return None


def looks_like(header: list[str], sample: list[list[str]]) -> bool:
    """A column of Linked4Resilience cultural-site URIs, and a name column."""
    names = {h.strip() for h in header}
    return _uri_column(header, sample) is not None and bool(names & set(COLUMNS["name"]))


def read(
    header: list[str],
    records: list[tuple[int, list[str]]],
    *,
    file: str,
    source: str = "l4r",
    bounds: Bounds = UKRAINE,
) -> tuple[list[SiteRow], list[Skip]]:
    uri_col = _uri_column(header, [cells for _, cells in records[:200]])
    assert uri_col is not None  # the caller detected the format
    index = {h.strip(): i for i, h in enumerate(header)}
    cols = {
        key: next((index[n] for n in names if n in index), None) for key, names in COLUMNS.items()
    }

    def get(cells: list[str], key: str) -> str:
        col = cols.get(key)
        return clean(cells[col]) if col is not None and col < len(cells) else ""

    rows: list[SiteRow] = []
    skips: list[Skip] = []
    first: dict[str, SiteRow] = {}
    for number, cells in records:
        if not any(c.strip() for c in cells):
            continue
        uri = clean(cells[uri_col]) if uri_col < len(cells) else ""
        if not URI.match(uri):
            skips.append(
                Skip(file, number, "invalid", f"no Linked4Resilience site URI (got {uri!r})")
            )
            continue
        name = get(cells, "name")
        earlier = first.get(uri)
        if earlier is not None:
            _fold(earlier, cells, get)
            skips.append(
                Skip(file, number, "duplicate",
                     f"{name!r}: same site ({uri}) as row {earlier.row}; its names and links "
                     "were added to it")
            )  # fmt: skip
            continue
        if not name:
            skips.append(Skip(file, number, "no_name", f"{uri} has no name"))
            continue
        point, raw_point = _point(get(cells, "lat"), get(cells, "lon"), get(cells, "wkt"))
        if point == "bad" or (
            isinstance(point, tuple) and not valid_point(point[0], point[1], bounds)
        ):
            why = "cannot be read" if point == "bad" else "is outside the area covered"
            skips.append(
                Skip(file, number, "bad_coordinates", f"{name!r}: the point {raw_point!r} {why}")
            )
            continue
        lat, lon = point if isinstance(point, tuple) else (None, None)
        address = get(cells, "address")
        raw_date = get(cells, "date")
        start, end, precision = parse_dates(raw_date)
        claim = DamageClaim(
            standing="volunteer",
            source_name=SOURCE_NAME,
            source_url=uri,
            date_start=start,
            date_end=end,
            precision=precision,
            date_as_published=raw_date,
            description=get(cells, "comment"),
            key=uri,
        )
        claim.add_references(urls_in(get(cells, "news")))
        row = SiteRow(
            file=file,
            row=number,
            source=source,
            names={language_of(name): name},
            type=site_type(name) or "other",
            region_code=region_code(get(cells, "oblast")) or _region_in(address),
            address=address[:300],
            latitude=lat,
            longitude=lon,
            damage_status=claim.kind,
            damage_date=start,
            damage=[claim],
        )
        row.external_ids["l4r"] = uri
        wiki = get(cells, "wiki_uk")
        if wiki.startswith(("http://", "https://")):
            row.external_ids["wikipedia_uk"] = wiki
        row.fact = _fact(uri, raw_date, precision, raw_point, get, cells)
        _add_alias(row, get(cells, "alt"))
        first[uri] = row
        rows.append(row)
    return rows, skips


def _point(lat: str, lon: str, wkt: str) -> tuple[tuple[float, float] | str | None, str]:
    """((lat, lon) | "bad" | None, the raw text): NaN and "undefined" mean no point."""
    if lat or lon:
        raw = f"{lat}, {lon}"
        if NO_POINT.search(lat) or NO_POINT.search(lon):
            return None, raw
        try:
            return (float(lat), float(lon)), raw
        except ValueError:
            return "bad", raw
    if wkt and not NO_POINT.search(wkt):
        return parse_wkt_point(wkt) or "bad", wkt
    return None, wkt


def _region_in(address: str) -> str | None:
    """The oblast an address names ("…, Kharkiv Oblast, Ukraine, 61000")."""
    for part in reversed([p.strip() for p in address.split(",")]):
        if re.search(r"(?i)\b(oblast|region|область)\b", part):
            return region_code(part)
    return None


def _add_alias(row: SiteRow, name: str) -> None:
    if not name or name in row.names.values() or name in row.aliases:
        return
    lang = language_of(name)
    if lang not in row.names:
        row.names[lang] = name
    else:
        row.aliases.append(name)


def _fact(
    uri: str, raw_date: str, precision: str, raw_point: str, get: Any, cells: list[str]
) -> dict[str, Any]:
    damage: dict[str, Any] = {"kind": "damaged", "reported_by": SOURCE_NAME, "uri": uri}
    if raw_date:
        damage["date_as_published"] = raw_date
        damage["precision"] = precision
    if news := urls_in(get(cells, "news")):
        damage["news"] = news
    fact: dict[str, Any] = {"key": uri, "damage": damage}
    if comment := get(cells, "comment"):
        fact["comment"] = comment
    if raw_point:
        fact["point"] = raw_point
    if get(cells, "candidate"):
        keys = ("candidate", "candidate_label", "candidate_class", "method", "score", "distance")
        fact["wikidata_candidate"] = {k: get(cells, k) for k in keys if get(cells, k)}
    return fact


def _fold(first: SiteRow, cells: list[str], get: Any) -> None:
    """Let the site's first row learn the names, links and comments of a repeat."""
    _add_alias(first, get(cells, "alt"))
    claim = first.damage[0]
    news = urls_in(get(cells, "news"))
    claim.add_references(news)
    known = first.fact.setdefault("damage", {}).setdefault("news", [])
    known.extend(u for u in news if u not in known)
    comment = get(cells, "comment")
    if comment and comment not in claim.description:
        claim.description = f"{claim.description}; {comment}" if claim.description else comment
