"""Which reader a list needs, decided by its content, and one call to read it.

``--format auto`` looks at the headers: a Wikidata result has entity URIs in
a column, the UNESCO list has its own column titles (and the Science at Risk
list the same template with its own date and fundraising columns), a
Linked4Resilience export has its cultural-site URIs in a column, a GeoJSON file is a
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
from spadok.core.registry import generic, l4r, unesco, wikidata
from spadok.core.registry.geo import UKRAINE, Bounds
from spadok.core.registry.rows import SiteRow, Skip, csv_records, read_text

FORMATS = ("auto", "wikidata", "unesco", "science-at-risk", "l4r", "csv", "geojson")


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
    standing: str | None = None,
) -> ParsedList:
    """Read one list file; SpadokError when the file as a whole cannot be used.

    ``standing`` is the standing of the damage a generic list records (its
    ``damage_standing`` column, when mapped, wins); the UNESCO, Science at Risk
    and Linked4Resilience readers know their own.
    """
    if fmt not in FORMATS:
        raise SpadokError("registry.unknown_format", f"{path.name} (format {fmt!r} asked)")
    mapping = dict(mapping or {})
    text = read_text(path, limits)
    name = path.name
    stripped = text.lstrip()
    if fmt == "geojson" or (fmt == "auto" and stripped.startswith("{")):
        return _geojson(text, name, fmt, mapping, source, limits, bounds, standing)
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
            fmt = unesco.variant(header)
        elif l4r.looks_like(header, sample):
            fmt = "l4r"
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
    elif fmt in ("unesco", "science-at-risk"):
        if not unesco.looks_like(header, sample):
            raise SpadokError("registry.unknown_format", f"{name} (not the UNESCO list's columns)")
        if unesco.variant(header) != fmt:
            # A list's standing comes from what it is: never call Science at Risk's UNESCO's.
            raise SpadokError(
                "registry.unknown_format",
                f"{name} (the {unesco.variant(header)} list, not the {fmt} list: "
                "use --format auto)",
            )
        parsed.rows, parsed.skips = unesco.read(
            header, records, file=name, source=parsed.source, bounds=bounds, list_variant=fmt
        )
    elif fmt == "l4r":
        if not l4r.looks_like(header, sample):
            raise SpadokError(
                "registry.unknown_format", f"{name} (no column of Linked4Resilience site URIs)"
            )
        parsed.rows, parsed.skips = l4r.read(
            header, records, file=name, source=parsed.source, bounds=bounds
        )
    else:
        parsed.rows, parsed.skips = generic.read_csv(
            header, records, file=name, source=parsed.source, mapping=mapping, bounds=bounds,
            standing=standing,
        )  # fmt: skip
    return parsed


def _geojson(
    text: str,
    name: str,
    fmt: str,
    mapping: dict[str, str],
    source: str | None,
    limits: Limits,
    bounds: Bounds,
    standing: str | None = None,
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
        max_rows=limits.max_registry_rows, standing=standing,
    )  # fmt: skip
    return parsed
