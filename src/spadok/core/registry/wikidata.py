"""Wikidata query results saved as CSV.

Two shapes occur: the Query Service's own CSV (``item,itemLabel,coord``) and
the SPARQL-JSON flattened to columns (``item.type,item.value,
itemLabel.xml:lang,itemLabel.value,coord.value``) as in the data sets this
project was tested on. Both are read by variable name: the item is the first
variable whose values are entity URIs, its label is ``<var>Label``, the point
is any WKT "Point(lon lat)" variable, the class is ``typeLabel`` (or
``instanceLabel``, ``classLabel``...), and a location label, when there is one,
gives the settlement or the oblast.

A query that joins an item to several locations repeats the item: the first
row is the site and the others are reported as duplicates, after their
location facts have been folded into it.
"""

from __future__ import annotations

import re
from typing import Any

from spadok.core.registry.geo import UKRAINE, Bounds, parse_wkt_point, valid_point
from spadok.core.registry.regions import region_code
from spadok.core.registry.rows import SiteRow, Skip, clean, language_of
from spadok.core.registry.types import site_type

ENTITY = re.compile(r"^https?://www\.wikidata\.org/entity/(Q\d+)$")
QID = re.compile(r"^Q\d+$")
TYPE_VARS = ("typeLabel", "instanceLabel", "instance_ofLabel", "classLabel", "kindLabel")
PLACE_VARS = ("locationLabel", "settlementLabel", "placeLabel", "cityLabel", "adminLabel",
              "oblastLabel", "regionLabel")  # fmt: skip
_OBLAST_HINT = re.compile(r"(?i)\b(oblast|region|область|autonomous republic|республіка)\b")
_RAION = re.compile(r"(?i)\b(raion|район|district|hromada|громада)\b")


def _variables(header: list[str]) -> dict[str, dict[str, int]]:
    """{var: {"value": col, "lang": col}} from either CSV shape."""
    out: dict[str, dict[str, int]] = {}
    for i, name in enumerate(header):
        if name.endswith(".value"):
            out.setdefault(name[: -len(".value")], {})["value"] = i
        elif name.endswith(".xml:lang"):
            out.setdefault(name[: -len(".xml:lang")], {})["lang"] = i
        elif "." not in name:
            out.setdefault(name, {})["value"] = i
    return {k: v for k, v in out.items() if "value" in v}


def looks_like(header: list[str], sample: list[list[str]]) -> bool:
    """A Wikidata result: some variable holds entity URIs in most sample rows."""
    return _item_var(_variables(header), sample) is not None


def _item_var(variables: dict[str, dict[str, int]], sample: list[list[str]]) -> str | None:
    for var, cols in variables.items():
        col = cols["value"]
        values = [r[col] for r in sample if col < len(r) and r[col].strip()]
        if values and sum(bool(ENTITY.match(v.strip())) for v in values) >= 0.8 * len(values):
            return var
    return None


def read(
    header: list[str],
    records: list[tuple[int, list[str]]],
    *,
    file: str,
    source: str = "wikidata",
    bounds: Bounds = UKRAINE,
) -> tuple[list[SiteRow], list[Skip]]:
    variables = _variables(header)
    item = _item_var(variables, [cells for _, cells in records[:200]])
    assert item is not None  # the caller detected the format
    label_var = f"{item}Label" if f"{item}Label" in variables else None
    desc_var = f"{item}Description" if f"{item}Description" in variables else None
    type_var = next((v for v in TYPE_VARS if v in variables), None)
    place_vars = [v for v in PLACE_VARS if v in variables]
    point_vars = [v for v in variables if v not in (item, label_var, type_var)]

    def get(cells: list[str], var: str | None, part: str = "value") -> str:
        if var is None or part not in variables.get(var, {}):
            return ""
        col = variables[var][part]
        return clean(cells[col]) if col < len(cells) else ""

    rows: list[SiteRow] = []
    skips: list[Skip] = []
    first: dict[str, SiteRow] = {}
    for number, cells in records:
        if not any(c.strip() for c in cells):
            continue
        uri = get(cells, item)
        m = ENTITY.match(uri)
        if not m:
            skips.append(Skip(file, number, "invalid", f"no Wikidata item URI (got {uri!r})"))
            continue
        qid = m.group(1)
        label = get(cells, label_var)
        if not label or QID.match(label):
            skips.append(Skip(file, number, "no_name", f"{qid} has no label in any language"))
            continue
        type_label = get(cells, type_var)
        kind = site_type(type_label)
        if kind == "other":  # no class column, or an unknown class: the label, the variable
            kind = next(
                (k for k in (site_type(label), site_type(item)) if k and k != "other"), "other"
            )
        if kind is None:
            skips.append(
                Skip(file, number, "not_a_site",
                     f"{qid} {label!r} is a {type_label!r}, not a place or object of heritage")
            )  # fmt: skip
            continue
        lat = lon = None
        raw_point = ""
        for var in point_vars:
            value = get(cells, var)
            point = parse_wkt_point(value)
            if point is not None:
                raw_point = value
                lat, lon = point
                break
        if raw_point and not valid_point(lat, lon, bounds):
            skips.append(
                Skip(file, number, "bad_coordinates",
                     f"{qid} {label!r}: the point {raw_point!r} is outside the area covered")
            )  # fmt: skip
            continue
        places = [get(cells, v) for v in place_vars]
        settlement, region = _place(places)
        row = SiteRow(
            file=file,
            row=number,
            source=source,
            names={language_of(label, get(cells, label_var, "lang")): label},
            type=kind,
            region_code=region,
            settlement=settlement,
            latitude=lat,
            longitude=lon,
            wikidata=qid,
            fact=_fact(qid, type_label, places, raw_point, get(cells, "image")),
        )
        if desc_var and (desc := get(cells, desc_var)):
            row.descriptions[language_of(desc, get(cells, desc_var, "lang"))] = desc
        earlier = first.get(qid)
        if earlier is not None:
            _fold(earlier, row)
        else:
            first[qid] = row
        rows.append(row)
    return rows, skips


def _place(labels: list[str]) -> tuple[str, str | None]:
    """(settlement, region code) from location labels: an oblast, a raion, or a place."""
    settlement, region = "", None
    for label in labels:
        if not label:
            continue
        code = region_code(label)
        if _OBLAST_HINT.search(label) or code in ("UA-30", "UA-40"):
            region = region or code
            if code in ("UA-30", "UA-40") and not _OBLAST_HINT.search(label):
                settlement = settlement or label
        elif _RAION.search(label):
            region = region or code
        else:
            settlement = settlement or label
            region = region or code
    return settlement, region


def _fact(qid: str, type_label: str, places: list[str], point: str, image: str) -> dict[str, Any]:
    fact: dict[str, Any] = {"key": qid}
    if type_label:
        fact["class"] = type_label
    if any(places):
        fact["location"] = [p for p in places if p]
    if point:
        fact["point"] = point
    if image:
        fact["image"] = image
    return fact


def _fold(first: SiteRow, repeat: SiteRow) -> None:
    """Let the first row of a repeated item learn what the repeat knows."""
    first.settlement = first.settlement or repeat.settlement
    first.region_code = first.region_code or repeat.region_code
    if first.latitude is None and repeat.latitude is not None:
        first.latitude, first.longitude = repeat.latitude, repeat.longitude
    for lang, name in repeat.names.items():
        first.names.setdefault(lang, name)
    for place in repeat.fact.get("location", []):
        if place not in first.fact.setdefault("location", []):
            first.fact["location"].append(place)
