"""A small local loader of the real registry lists into sites, for the search tests.

The registry importer (``spadok import-sites``) is tested in tests/sites; the
search tests need only realistic rows: the Wikidata museum list (names in
Ukrainian or English, a place, a WKT point) and the linked4resilience damage
list (English and Ukrainian names, oblast, date of the observed damage).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

from tests.testdata import data

# Ukrainian names of the regions the tests search by (the geo file has English only).
REGION_UK = {
    "UA-63": "Харківська область",
    "UA-53": "Полтавська область",
    "UA-32": "Київська область",
    "UA-30": "Київ",
    "UA-74": "Чернігівська область",
    "UA-46": "Львівська область",
    "UA-14": "Донецька область",
}
_POINT = re.compile(r"Point\s*\(\s*([-\d.]+)\s+([-\d.]+)\s*\)", re.I)


def load_regions() -> dict[str, Any]:
    from spadok.sites.models import Region

    path = data("geo", "ukraine_adm1_geoboundaries", "geoBoundaries-UKR-ADM1_simplified.geojson")
    by_name: dict[str, Any] = {}
    for feature in json.loads(Path(path).read_text(encoding="utf-8"))["features"]:
        code = feature["properties"]["shapeISO"]
        name = feature["properties"]["shapeName"]
        names = {"en": name, **({"uk": REGION_UK[code]} if code in REGION_UK else {})}
        region, _ = Region.objects.update_or_create(code=code, defaults={"names": names})
        by_name[name.casefold()] = region
    return by_name


def _point(wkt: str) -> tuple[float | None, float | None]:
    m = _POINT.search(wkt or "")
    return (float(m.group(2)), float(m.group(1))) if m else (None, None)


def load_museums(regions: dict[str, Any], limit: int | None = None) -> list[Any]:
    """Sites of type museum from the Wikidata museum list."""
    from spadok.sites.models import Site

    path = data(
        "registry", "ukraine_disperseart_unibo", "Wikidata", "wikidata_ukrainian_museums.csv"
    )
    sites = []
    with open(path, encoding="utf-8", newline="") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            if limit is not None and i >= limit:
                break
            lang = row["museumLabel.xml:lang"] or "en"
            lat, lon = _point(row["coord.value"])
            location = row["locationLabel.value"]
            region = regions.get(location.casefold())
            sites.append(
                Site(
                    names={lang: row["museumLabel.value"]},
                    type="museum",
                    settlement="" if region else location,
                    region=region,
                    latitude=lat,
                    longitude=lon,
                    wikidata=row["museum.value"].rsplit("/", 1)[-1],
                )
            )
    return Site.objects.bulk_create(sites)


def load_damaged(regions: dict[str, Any]) -> list[Any]:
    """Damaged sites (one per linked4resilience id) with English and Ukrainian names."""
    from spadok.sites.models import Site

    path = data(
        "registry",
        "ukraine_disperseart_unibo",
        "processed_data",
        "cultural_damage_l4R_wiki_enriched.csv",
    )
    seen: set[str] = set()
    sites = []
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["site"] in seen or not row["name"]:
                continue
            seen.add(row["site"])
            names = {"en": row["name"]}
            if row["altName"]:
                names["uk"] = row["altName"]
            try:
                when = dt.date.fromisoformat(row["observationYear"][:10])
            except ValueError:
                when = None
            lat, lon = _point(row["wkt"])
            address = row["address"]
            sites.append(
                Site(
                    names=names,
                    descriptions={"en": row["comment"]} if row["comment"] else {},
                    type="building",
                    region=regions.get((row["oblast"] or "").casefold()),
                    settlement=address.split(",")[-4].strip() if address.count(",") >= 4 else "",
                    address=address,
                    latitude=lat,
                    longitude=lon,
                    damage_status="damaged",
                    damage_date=when,
                    wikidata=row["wikidata_id"],
                )
            )
    return Site.objects.bulk_create(sites)
