"""Fixtures for the site pages and the map: real regions and real museums.

Kept out of ``conftest.py`` (which the registry's tests own) and imported by
the page, map and browser tests. Rows are written with the ORM, straight from
the published files, so these tests do not depend on the importer's matching.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.testdata import data

REGIONS = ("geo", "ukraine_adm1_geoboundaries", "geoBoundaries-UKR-ADM1_simplified.geojson")
MUSEUMS = ("registry", "ukraine_disperseart_unibo", "Wikidata", "wikidata_ukrainian_museums.csv")
# Ukrainian names of a few regions, for the fallback tests (the file has English only).
UK_NAMES = {"UA-46": "Львівська область", "UA-30": "Київ", "UA-53": "Полтавська область"}
POINT = re.compile(r"Point\(\s*(-?[\d.]+)\s+(-?[\d.]+)\s*\)", re.IGNORECASE)


@pytest.fixture
def regions(db: Any) -> dict[str, Any]:
    """Ukraine's 27 first-level regions with their (simplified) outlines."""
    from spadok.sites.models import Region

    features = json.loads(data(*REGIONS).read_text(encoding="utf-8"))["features"]
    out = {}
    for f in features:
        code = f["properties"]["shapeISO"]
        names = {"en": f["properties"]["shapeName"]}
        if code in UK_NAMES:
            names["uk"] = UK_NAMES[code]
        out[code] = Region.objects.create(code=code, names=names, geometry=f["geometry"])
    return out


def museum_rows() -> list[dict[str, Any]]:
    """Each museum of the Wikidata list once (by QID), with its point and label language."""
    seen: dict[str, dict[str, Any]] = {}
    with data(*MUSEUMS).open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            qid = row["museum.value"].rsplit("/", 1)[-1]
            m = POINT.search(row["coord.value"])
            if not m or qid in seen:
                continue
            lang = row["museumLabel.xml:lang"] or "en"
            seen[qid] = {
                "qid": qid,
                "name": row["museumLabel.value"],
                "lang": lang,
                "lon": float(m[1]),
                "lat": float(m[2]),
                "settlement": row["locationLabel.value"],
            }
    return list(seen.values())


@pytest.fixture
def museums(regions: dict[str, Any]) -> list[Any]:
    """The real Wikidata museums as sites, each in the region its point falls in."""
    from shapely.geometry import Point, shape
    from shapely.prepared import prep

    from spadok.sites.models import Site, SiteType

    shapes = [(code, prep(shape(r.geometry))) for code, r in regions.items()]

    def region_of(lat: float, lon: float) -> str | None:
        p = Point(lon, lat)
        return next((code for code, s in shapes if s.contains(p)), None)

    sites = [
        Site(
            names={row["lang"]: row["name"]},
            type=SiteType.MUSEUM,
            latitude=row["lat"],
            longitude=row["lon"],
            wikidata=row["qid"],
            settlement=row["settlement"],
            region_id=region_of(row["lat"], row["lon"]),
        )
        for row in museum_rows()
    ]
    Site.objects.bulk_create(sites)
    return sites


@pytest.fixture
def make_site(db: Any) -> Callable[..., Any]:
    """One site with the given fields (names default to a Ukrainian and an English one)."""
    from spadok.sites.models import Site

    def make(**fields: Any) -> Any:
        fields.setdefault("names", {"uk": "Церква святого Миколая", "en": "St Nicholas Church"})
        return Site.objects.create(**fields)

    return make
