"""Which reader a list needs, decided by its content, and one call to read it.

``--format auto`` looks at the headers: a Wikidata result has entity URIs in
a column, the UNESCO list has its own column titles, a GeoJSON file is a
FeatureCollection (a geoBoundaries file is refused here: it holds regions, not
sites), and any other CSV with a column we can take as the name is read as a
generic list. File names are never trusted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from spadok.core.errors import SpadokError
from spadok.core.limits import DEFAULT_LIMITS, Limits
from spadok.core.registry import generic, unesco, wikidata
from spadok.core.registry.geo import UKRAINE, Bounds
from spadok.core.registry.rows import SiteRow, Skip, csv_records, read_text

FORMATS = ("auto", "wikidata", "unesco", "csv", "geojson")


@dataclass
class ParsedList:
    file: str
    format: str
    source: str
    rows: list[SiteRow] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)


def read_list(
    path: Path,
    *,
    fmt: str = "auto",
    mapping: Mapping[str, str] | None = None,
    source: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    bounds: Bounds = UKRAINE,
) -> ParsedList:
    """Read one list file; SpadokError when the file as a whole cannot be used."""
    if fmt not in FORMATS:
        raise SpadokError("registry.unknown_format", f"{path.name} (format {fmt!r} asked)")
    mapping = dict(mapping or {})
    text = read_text(path, limits)
    name = path.name
    stripped = text.lstrip()
    if fmt == "geojson" or (fmt == "auto" and stripped.startswith("{")):
        return _geojson(text, name, fmt, mapping, source, limits, bounds)
    if fmt == "auto" and stripped.startswith("["):
        raise SpadokError("registry.unknown_format", f"{name} (a JSON array, not GeoJSON)")
    header, records = csv_records(text, name, limits)
    if len(header) < 2:
        raise SpadokError("registry.unknown_format", f"{name} (not a table with columns)")
    sample = [cells for _, cells in records[:200]]
    if fmt == "auto":
        if wikidata.looks_like(header, sample):
            fmt = "wikidata"
        elif unesco.looks_like(header, sample):
            fmt = "unesco"
        elif mapping or generic.looks_like_csv(header):
            fmt = "csv"
        else:
            raise SpadokError(
                "registry.unknown_format", f"{name} (columns: {', '.join(header[:12])})"
            )
    parsed = ParsedList(file=name, format=fmt, source=source or fmt)
    if fmt == "wikidata":
        if not wikidata.looks_like(header, sample):
            raise SpadokError(
                "registry.unknown_format", f"{name} (no column of Wikidata item URIs)"
            )
        parsed.rows, parsed.skips = wikidata.read(
            header, records, file=name, source=parsed.source, bounds=bounds
        )
    elif fmt == "unesco":
        if not unesco.looks_like(header, sample):
            raise SpadokError("registry.unknown_format", f"{name} (not the UNESCO list's columns)")
        parsed.rows, parsed.skips = unesco.read(
            header, records, file=name, source=parsed.source, bounds=bounds
        )
    else:
        parsed.rows, parsed.skips = generic.read_csv(
            header, records, file=name, source=parsed.source, mapping=mapping, bounds=bounds
        )
    return parsed


def _geojson(
    text: str,
    name: str,
    fmt: str,
    mapping: dict[str, str],
    source: str | None,
    limits: Limits,
    bounds: Bounds,
) -> ParsedList:
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise SpadokError("registry.unknown_format", f"{name} (not valid JSON: {exc})") from exc
    if not generic.looks_like_geojson(doc):
        raise SpadokError("registry.unknown_format", f"{name} (JSON, but not GeoJSON features)")
    features = doc.get("features") or []
    first = (
        generic.properties(features[0]) if isinstance(features, list) and features else None
    ) or {}
    if "shapeISO" in first and "name" not in mapping:
        raise SpadokError(
            "registry.unknown_format",
            f"{name} (region boundaries, not sites: use 'spadok import-regions')",
        )
    parsed = ParsedList(file=name, format="geojson", source=source or "geojson")
    parsed.rows, parsed.skips = generic.read_geojson(
        doc, file=name, source=parsed.source, mapping=mapping, bounds=bounds,
        max_rows=limits.max_registry_rows,
    )  # fmt: skip
    return parsed
