"""Regions: the ISO 3166-2:UA table, geoBoundaries boundaries, and assigning sites to them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from spadok.core.errors import SpadokError
from spadok.core.registry.regions import REGIONS, region_code
from spadok.core.registry.sources import read_list
from spadok.sites import services
from spadok.sites.models import Region, Site


def test_the_table_has_the_27_codes_of_the_standard(regions_geojson: Path) -> None:
    doc = json.loads(regions_geojson.read_text(encoding="utf-8"))
    published = {f["properties"]["shapeISO"]: f["properties"]["shapeName"] for f in doc["features"]}
    assert {r.code for r in REGIONS} == set(published) and len(REGIONS) == 27
    for code, name in published.items():
        assert region_code(name) == code, name  # geoBoundaries' own English names
    for info in REGIONS:
        assert region_code(info.uk) == info.code, info.uk
        assert region_code(info.en) == info.code, info.en


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Kyiv Oblast", "UA-32"), ("Київська область", "UA-32"), ("Kyivska", "UA-32"),
        ("Kiev region", "UA-32"), ("Kiev", "UA-30"), ("м. Київ", "UA-30"),
        ("Kharkivska", "UA-63"), ("Харківська обл.", "UA-63"), ("Kharkov", "UA-63"),
        ("Odes'ka oblast", "UA-51"), ("Odessa Oblast", "UA-51"), ("L’viv region", "UA-46"),
        ("Dnipropetrovs’k region", "UA-12"), ("Zaporizhzhya Region", "UA-23"),
        ("Zaporizhia Oblast", "UA-23"), ("Vinnytsya Region", "UA-05"),
        ("Ivano-Frankivsk Oblast", "UA-26"), ("Івано-Франківська область", "UA-26"),
        ("Chernivtsi", "UA-77"), ("Chernihiv", "UA-74"), ("Autonomous Republic of Crimea", "UA-43"),
        ("Sevastopol", "UA-40"), ("ua-46", "UA-46"), ("Myrhorod Raion", None), ("", None),
        ("Bavaria", None),
    ],
)  # fmt: skip
def test_region_spellings(text: str, code: str | None) -> None:
    assert region_code(text) == code


@pytest.mark.django_db
def test_import_regions_keeps_small_boundaries_with_ukrainian_names(
    regions_geojson: Path, museums_csv: Path
) -> None:
    services.import_sites([museums_csv])  # regions from the list's location column
    result = services.import_regions(regions_geojson)
    assert result["regions"] == 27 == Region.objects.exclude(geometry=None).count()
    assert result["bytes"] < regions_geojson.stat().st_size / 10  # simplified for the map
    lviv = Region.objects.get(code="UA-46")
    assert lviv.names == {"uk": "Львівська область", "en": "Lviv Oblast"}
    assert lviv.geometry is not None and lviv.geometry["type"] in ("Polygon", "MultiPolygon")
    # Every museum with a point now lies in the region whose boundary contains it.
    from shapely.geometry import Point, shape

    shapes = {r.code: shape(r.geometry) for r in Region.objects.all()}
    located = Site.objects.exclude(latitude=None)
    inside = sum(
        1 for s in located
        if s.region_id and shapes[s.region_id].covers(Point(s.longitude, s.latitude))
    )  # fmt: skip
    assert inside >= 0.98 * located.count()
    again = services.import_regions(regions_geojson)
    assert (again["created"], again["updated"], again["sites_reassigned"]) == (0, 0, 0)


@pytest.mark.django_db
def test_point_in_polygon_agrees_with_the_unesco_region_column(
    regions_geojson: Path, unesco_csv: Path
) -> None:
    services.import_regions(regions_geojson)
    services.import_sites([unesco_csv])
    # The list's own region per row, read independently: its Region column, else the
    # section it stands under ("22 sites in the Chernihiv Region").
    with unesco_csv.open(encoding="utf-8", newline="") as f:
        raw = list(csv.DictReader(f))
    declared: dict[int, str] = {}
    section = None
    for number, row in enumerate(raw, start=2):
        if not row["Title of the damage site in English"].strip():
            section = region_code(row[""].split(" in the ", 1)[-1])
            continue
        code = region_code(row["Region"]) or section
        if code:
            declared[number] = code
    by_row = {p["row"]: s for s in Site.objects.exclude(latitude=None) for p in s.provenance}
    compared = [(declared[n], s.region_id) for n, s in by_row.items() if n in declared]
    # Kyiv city is an enclave of Kyiv Oblast; the list files the city under the oblast.
    agree = sum(1 for d, r in compared if d == r or (d, r) == ("UA-32", "UA-30"))
    assert len(compared) > 200
    assert agree / len(compared) >= 0.95


@pytest.mark.django_db
def test_volunteer_site_gets_its_region_from_the_boundaries(regions_geojson: Path) -> None:
    services.import_regions(regions_geojson)
    site = services.describe_site(
        names={"uk": "Церква в Пирятині"}, latitude=50.2416, longitude=32.5136, type="church"
    )
    assert site.region_id == "UA-53"


def test_regions_file_errors(tmp_path: Path, museums_csv: Path) -> None:
    bad = tmp_path / "regions.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", '
                   '"properties": {"shapeISO": "DE-BY", "shapeName": "Bayern"}, '
                   '"geometry": {"type": "Point", "coordinates": [11, 48]}}]}')  # fmt: skip
    for path in (bad, museums_csv, tmp_path / "missing.geojson"):
        with pytest.raises(SpadokError) as info:
            services.import_regions(path)
        assert info.value.code in ("registry.bad_regions", "input.not_found")


def test_unesco_rows_without_region_use_their_section(unesco_csv: Path) -> None:
    parsed = read_list(unesco_csv)
    rows = {r.row: r for r in parsed.rows}
    with unesco_csv.open(encoding="utf-8", newline="") as f:
        raw = list(csv.DictReader(f))
    title = "Title of the damage site in English"
    no_region = [
        n for n, r in enumerate(raw, start=2) if r[title].strip() and not r["Region"].strip()
    ]
    assert no_region
    assert all(rows[n].region_code for n in no_region)
