"""Importing the real published lists: Wikidata query results and the UNESCO list.

Expected numbers are derived here from the raw files with the csv module (not
from the importer), so a reader bug cannot make its own test pass.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from spadok.core.registry.rows import SKIP_CODES
from spadok.sites import services
from spadok.sites.models import Site

pytestmark = pytest.mark.django_db

ENTITY = re.compile(r"^http://www\.wikidata\.org/entity/(Q\d+)$")
WKT = re.compile(r"^Point\(([-\d.]+) ([-\d.]+)\)$")


def raw_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def spaced(text: str) -> str:
    """Names are stored single-spaced (no-break spaces and doubled spaces folded)."""
    return " ".join(text.split())


def skips_of(report: services.ImportReport, file: Path) -> dict[int, dict[str, Any]]:
    return {e["row"]: e for e in report.errors if e["file"] == file.name}


def test_wikidata_museums_one_site_per_item(
    museums_csv: Path, refreshed: list[str], django_capture_on_commit_callbacks: Any
) -> None:
    raw = raw_rows(museums_csv)
    qids = {ENTITY.match(r["museum.value"]).group(1) for r in raw}  # type: ignore[union-attr]
    first_point: dict[str, tuple[float, float]] = {}
    for r in raw:
        qid = ENTITY.match(r["museum.value"]).group(1)  # type: ignore[union-attr]
        if (m := WKT.match(r["coord.value"])) and qid not in first_point:
            first_point[qid] = (float(m.group(2)), float(m.group(1)))

    with django_capture_on_commit_callbacks(execute=True):
        report = services.import_sites([museums_csv])

    assert report.imported == len(qids)
    assert report.updated == 0
    assert report.skipped == len(raw) - len(qids)
    skips = skips_of(report, museums_csv)
    assert {e["code"] for e in skips.values()} == {"duplicate"}
    assert all("same site as row" in e["reason"] for e in skips.values())
    sites = {s.wikidata: s for s in Site.objects.all()}
    assert set(sites) == qids
    with_point = {q for q, s in sites.items() if s.latitude is not None}
    assert with_point == set(first_point)
    for qid, (lat, lon) in first_point.items():
        assert (sites[qid].latitude, sites[qid].longitude) == pytest.approx((lat, lon))
    # Labels are kept in their language: Cyrillic ones under "uk", Latin under "en".
    pyriatyn = sites["Q12140604"]
    assert pyriatyn.names == {"uk": "Пирятинський районний народний краєзнавчий музей"}
    assert pyriatyn.type == "museum"
    assert pyriatyn.region_id == "UA-53"  # from "Poltava Oblast" in a repeated row
    assert pyriatyn.settlement == "Pyriatyn"
    assert Counter(s.type for s in sites.values()).most_common(1)[0][0] == "museum"
    assert set(refreshed) == {s.id for s in sites.values()}


def test_wikidata_heritage_rows_each_imported_or_explained(heritage_csv: Path) -> None:
    raw = raw_rows(heritage_csv)
    report = services.import_sites([heritage_csv])

    skips = skips_of(report, heritage_csv)
    assert report.imported + report.skipped == len(raw)
    assert report.imported == Site.objects.count()
    for number, row in enumerate(raw, start=2):
        qid = ENTITY.match(row["item.value"]).group(1)  # type: ignore[union-attr]
        label = row["itemLabel.value"]
        if not label or label == qid:  # Wikidata gives the QID when an item has no label
            assert skips[number]["code"] == "no_name", number
            assert qid in skips[number]["reason"]
        elif number in skips:
            assert skips[number]["code"] == "not_a_site"
            assert row["typeLabel.value"] in skips[number]["reason"]
        else:
            site = Site.objects.get(wikidata=qid)
            assert spaced(label) in site.names.values()
    # Places and objects are never refused; designs and titles are.
    refused = Counter(raw[n - 2]["typeLabel.value"] for n, e in skips.items()
                      if e["code"] == "not_a_site")  # fmt: skip
    assert refused["coat of arms"] == sum(r["typeLabel.value"] == "coat of arms" for r in raw)
    for kind in ("painting", "monument", "burial mound", "icon"):
        assert refused[kind] == 0
    monuments = {ENTITY.match(r["item.value"]).group(1) for r in raw  # type: ignore[union-attr]
                 if r["typeLabel.value"] == "monument" and r["itemLabel.xml:lang"]}  # fmt: skip
    assert set(Site.objects.filter(type="monument").values_list("wikidata", flat=True)) >= monuments
    assert Site.objects.get(wikidata="Q4343470").names == {"ru": "Памятник гетману Мазепе (Киев)"}


def test_unesco_list_sections_points_and_damage(unesco_csv: Path) -> None:
    raw = raw_rows(unesco_csv)
    title = "Title of the damage site in English"
    sections = {n for n, r in enumerate(raw, start=2) if not r[title].strip() and r[""].strip()}
    sites_in_file = [(n, r) for n, r in enumerate(raw, start=2) if r[title].strip()]
    assert len(sections) == 14  # the file has 14 regional sections (see its first column)

    report = services.import_sites([unesco_csv])

    skips = skips_of(report, unesco_csv)
    for n in sections:
        assert skips[n]["code"] == "section_header"
        assert "section header" in skips[n]["reason"]
        assert raw[n - 2][""] in skips[n]["reason"]
    others = {n: e for n, e in skips.items() if n not in sections}
    assert all(e["code"] == "duplicate" for e in others.values())
    assert report.imported == len(sites_in_file) - len(others)
    assert report.imported + report.skipped == len(raw)

    by_row = {p["row"]: s for s in Site.objects.all() for p in s.provenance}
    for n, r in sites_in_file:
        if n in others:
            continue
        site = by_row[n]
        # One title carries a stray list number ("268. Manuk-Bey's mansion"): dropped.
        assert re.sub(r"^\d+\.\s+", "", spaced(r[title])) in site.names.values()
        if re.search(r"(?i)monument of local (importance|significance)", r[title]):
            assert site.designation == "monument of local significance"
        assert site.damage_status in ("damaged", "destroyed")
        fact = next(p for p in site.provenance if p["row"] == n)
        assert fact["source"] == "unesco" and fact["damage"]["verified_by"] == "UNESCO"
        date = r["Date of damage (first reported)"].strip()
        if re.fullmatch(r"\d{4}-\d\d-\d\d", date):
            assert str(site.damage_date) == date
            assert fact["damage"]["precision"] == "day"
        elif re.fullmatch(r"\d{4}-\d\d", date):
            assert str(site.damage_date) == f"{date}-01"
            assert fact["damage"]["precision"] == "month"
        elif re.fullmatch(r"\d{4}", date):
            assert fact["damage"]["precision"] == "year"
        point = r["Geo location"].strip()
        if m := re.fullmatch(r"([\d.]+),\s*([\d.]+)", point):
            assert (site.latitude, site.longitude) == pytest.approx(
                (float(m.group(1)), float(m.group(2)))
            )
        else:
            assert site.latitude is None
    # A row without a region of its own takes its section's ("22 sites in the Chernihiv Region").
    chernihiv = by_row[3]
    assert chernihiv.region_id == "UA-74" and chernihiv.settlement == "Chernihiv"
    assert chernihiv.names["uk"] == "Чернігівський обласний молодіжний центр"


def test_unesco_and_wikidata_lists_meet_in_one_site(
    museums_csv: Path, unesco_csv: Path, unesco_qid_csv: Path
) -> None:
    museum_qids = {ENTITY.match(r["museum.value"]).group(1)  # type: ignore[union-attr]
                   for r in raw_rows(museums_csv)}  # fmt: skip
    listed = [r for r in raw_rows(unesco_qid_csv) if r["qid"].strip()]
    listed_qids = {r["qid"].strip() for r in listed}
    shared = museum_qids & listed_qids
    assert shared  # the two lists overlap on real museums

    services.import_sites([museums_csv, unesco_csv])
    before = Site.objects.count()
    report = services.import_sites([unesco_qid_csv])

    # The QID version of the UNESCO list is the same list: almost every row merges.
    rows_with_title = sum(1 for r in raw_rows(unesco_qid_csv)
                          if r["Title of the damage site in English"].strip())  # fmt: skip
    assert report.updated >= 0.95 * (rows_with_title - report.skipped + 14)
    assert Site.objects.count() - before == report.imported <= 0.02 * rows_with_title
    for qid in shared:
        site = Site.objects.get(wikidata=qid)  # exactly one site per QID
        files = {p["file"] for p in site.provenance}
        assert {"wikidata_ukrainian_museums.csv", "unesco-damage-sites-qid.csv"} <= files
        assert site.damage_status in ("damaged", "destroyed")
    qids = Counter(Site.objects.exclude(wikidata="").values_list("wikidata", flat=True))
    assert max(qids.values()) == 1
    # Names from both lists survive the merge: the museum's label and UNESCO's title.
    merged = [s for s in Site.objects.all()
              if {"unesco.csv", "wikidata_ukrainian_museums.csv"} <= {p["file"] for p in s.provenance}]  # fmt: skip  # noqa: E501
    assert merged, "the UNESCO list names museums that Wikidata lists nearby"
    for site in merged:
        assert len(set(site.names.values()) | set(site.aliases)) >= 2


@pytest.mark.db_both
def test_import_is_idempotent(
    heritage_csv: Path, museums_csv: Path, unesco_csv: Path, unesco_qid_csv: Path,
    django_capture_on_commit_callbacks: Any, refreshed: list[str],
) -> None:  # fmt: skip
    files = [heritage_csv, museums_csv, unesco_csv, unesco_qid_csv]
    with django_capture_on_commit_callbacks(execute=True):
        first = services.import_sites(files)
    assert first.imported > 1000 and not first.failed_files
    assert set(refreshed) == set(Site.objects.values_list("id", flat=True))
    snapshot = {s.id: (s.names, s.aliases, s.external_ids, s.provenance, s.region_id,
                       s.damage_status, s.damage_date) for s in Site.objects.all()}  # fmt: skip
    refreshed.clear()

    with django_capture_on_commit_callbacks(execute=True):
        second = services.import_sites(files)

    assert (second.imported, second.updated) == (0, 0)
    assert second.skipped == first.skipped
    assert [(e["file"], e["row"], e["code"]) for e in second.errors] == [
        (e["file"], e["row"], e["code"]) for e in first.errors
    ]
    assert refreshed == []
    again = {s.id: (s.names, s.aliases, s.external_ids, s.provenance, s.region_id,
                    s.damage_status, s.damage_date) for s in Site.objects.all()}  # fmt: skip
    assert again == snapshot


def test_every_skip_has_a_known_code_and_a_reason(
    heritage_csv: Path, museums_csv: Path, unesco_csv: Path, l4r_enriched_csv: Path
) -> None:
    report = services.import_sites([heritage_csv, museums_csv, unesco_csv, l4r_enriched_csv])
    assert report.skipped == sum(1 for e in report.errors if e["row"] is not None)
    for error in report.errors:
        assert error["code"] in SKIP_CODES
        assert error["reason"].strip() and isinstance(error["row"], int)
    # The enriched file doubles quotes inside quoted names ("Popov Manor""): every row is
    # read whole, and its "POINT(undefined NaN)" rows are sites without a point, not errors.
    enriched = [e for e in report.errors if e["file"] == l4r_enriched_csv.name]
    assert {e["code"] for e in enriched} == {"duplicate"}
    no_point = {r["site"] for r in raw_rows(l4r_enriched_csv) if "NaN" in r["wkt"]}
    assert no_point
    for uri in no_point:
        site = Site.objects.get(external_ids__l4r=uri)
        assert site.latitude is None or site.provenance[0]["file"] != l4r_enriched_csv.name
