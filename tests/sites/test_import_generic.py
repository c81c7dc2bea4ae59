"""Generic CSV and GeoJSON lists with a column mapping, bad files, and the command line."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from spadok.core.errors import SpadokError
from spadok.sites import services
from spadok.sites.models import Site

pytestmark = pytest.mark.django_db


def write_csv(path: Path, rows: list[list[str]], delimiter: str = ",") -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, delimiter=delimiter).writerows(rows)
    return path


def by_code(sites: Any) -> dict[str, Site]:
    return {s.external_ids["lviv-register"]: s for s in sites}


def test_csv_with_a_mapping(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "register.csv",
        [
            ["Код", "Назва", "Name", "Широта", "Довгота", "Область", "Тип", "Стан", "Дата"],
            [
                "46-101",
                "Церква святого Юра",
                "St George's Cathedral",
                "49.8385",
                "24.0128",
                "Львівська область",
                "собор",
                "пошкоджено",
                "12.03.2022",
            ],
            [
                "46-102",
                "Пам’ятник Шевченку",
                "",
                "49.8390",
                "24.0300",
                "Lvivska",
                "пам'ятник",
                "",
                "",
            ],
            ["46-103", "", "", "49.0", "24.0", "Lviv", "", "", ""],
            ["46-104", "Замок", "Castle", "149.0", "24.0", "Lviv", "castle", "", ""],
            ["46-101", "Церква святого Юра", "", "49.8385", "24.0128", "", "", "", ""],
        ],
        delimiter=";",
    )
    mapping = ["id=Код", "name_uk=Назва", "name_en=Name", "lat=Широта", "lon=Довгота",
               "region=Область", "type=Тип", "damage_status=Стан", "damage_date=Дата"]  # fmt: skip
    report = services.import_sites([path], fmt="csv", mapping=mapping, source="lviv-register")

    assert (report.imported, report.updated, report.skipped) == (2, 0, 3)
    codes = {e["row"]: e["code"] for e in report.errors}
    assert codes == {4: "no_name", 5: "bad_coordinates", 6: "duplicate"}
    cathedral = by_code(Site.objects.all())["46-101"]
    assert cathedral.names == {"uk": "Церква святого Юра", "en": "St George's Cathedral"}
    assert (cathedral.type, cathedral.region_id) == ("church", "UA-46")
    assert cathedral.damage_status == "damaged"
    assert str(cathedral.damage_date) == "2022-03-12"
    assert cathedral.provenance[0]["source"] == "lviv-register"
    monument = by_code(Site.objects.all())["46-102"]
    assert monument.type == "monument" and monument.region_id == "UA-46"


def test_names_match_across_apostrophes_case_and_spacing(tmp_path: Path) -> None:
    header = ["name", "lat", "lon"]
    first = write_csv(tmp_path / "a.csv", [header, ["Пам’ятник  Шевченку", "50.4500", "30.52"]])
    second = write_csv(
        tmp_path / "b.csv",
        [["title", "latitude", "longitude", "wikidata"],
         ["пам'ятник шевченку", "50.4540", "30.5230", "Q1"]],
    )  # fmt: skip
    far = write_csv(tmp_path / "c.csv", [header, ["Памʼятник Шевченку", "50.5000", "30.5200"]])
    services.import_sites([first])
    report = services.import_sites([second])
    assert (report.imported, report.updated) == (0, 1)  # about 500 m away: the same site
    site = Site.objects.get()
    assert site.wikidata == "Q1"
    assert site.aliases == []  # the same name, differently typed, is not another name
    report = services.import_sites([far])  # 5.5 km away: another monument
    assert report.imported == 1


def test_geojson_with_a_mapping(tmp_path: Path) -> None:
    doc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [30.5234, 50.4501]},
             "properties": {"title": "Софійський собор", "qid": "Q188893", "kind": "cathedral"}},
            {"type": "Feature",
             "geometry": {"type": "Polygon", "coordinates": [[[30.55, 50.43], [30.56, 50.43],
                                                              [30.56, 50.44], [30.55, 50.43]]]},
             "properties": {"title": "Києво-Печерська лавра", "qid": "", "kind": ""}},
            {"type": "Feature", "geometry": None, "properties": {"title": "", "qid": "Q9"}},
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [0, 0]},
             "properties": {"title": "Null Island"}},
        ],
    }  # fmt: skip
    path = tmp_path / "sites.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    report = services.import_sites([path], mapping=["name=title", "wikidata=qid", "type=kind"])
    assert report.files[0]["format"] == "geojson"
    assert (report.imported, report.skipped) == (2, 2)
    assert {e["row"]: e["code"] for e in report.errors} == {3: "no_name", 4: "bad_coordinates"}
    sophia = Site.objects.get(wikidata="Q188893")
    assert (sophia.latitude, sophia.longitude) == (50.4501, 30.5234)
    assert sophia.type == "church" and sophia.names == {"uk": "Софійський собор"}
    lavra = Site.objects.get(names__uk="Києво-Печерська лавра")
    assert (
        lavra.latitude is not None and 50.43 <= lavra.latitude <= 50.44 and lavra.type == "church"
    )


def test_linked4resilience_list_meets_the_unesco_list(unesco_csv: Path, l4r_csv: Path) -> None:
    services.import_sites([unesco_csv])
    before = Site.objects.count()
    with l4r_csv.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    report = services.import_sites(
        [l4r_csv], fmt="csv", source="l4r",
        mapping=["name=Site_Name", "lat=Latitude", "lon=Longitude", "id.l4r=URI",
                 "address=Address"],
    )  # fmt: skip
    assert report.files[0]["rows"] == len(rows)
    assert report.imported + report.updated + report.skipped == len(rows)
    # The same sites as the UNESCO list, by name within 1 km: most merge, few are new.
    assert report.updated >= 0.8 * len(rows)
    assert Site.objects.count() - before == report.imported
    merged = Site.objects.filter(external_ids__has_key="l4r").count()
    assert merged == report.imported + report.updated


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "input.empty"),
        (b"\x00\x01\x02PK\x03\x04 binary", "registry.unreadable"),
        (b"\xff\xfe\xfa not utf", "registry.unreadable"),
        ("Код;Примітка\n1;x\n".encode(), "registry.unknown_format"),
        (b'{"type": "Topology"}', "registry.unknown_format"),
        (b"[1, 2, 3]", "registry.unknown_format"),
        (b"{not json", "registry.unknown_format"),
    ],
)
def test_unusable_files_fail_alone_with_a_code(
    tmp_path: Path, museums_csv: Path, content: bytes, code: str
) -> None:
    bad = tmp_path / "list.csv"
    bad.write_bytes(content)
    report = services.import_sites([bad, museums_csv])
    assert report.failed_files == 1
    assert report.files[0]["status"] == "error" and report.files[0]["error"]["code"] == code
    assert report.files[1]["status"] == "ok" and report.imported > 0
    (error,) = [e for e in report.errors if e["row"] is None]
    assert error["code"] == code and error["reason"]


def test_regions_file_is_not_a_site_list(regions_geojson: Path) -> None:
    report = services.import_sites([regions_geojson])
    assert report.files[0]["error"]["code"] == "registry.unknown_format"
    assert "import-regions" in report.files[0]["error"]["message"]


def test_missing_file_and_bad_mapping(tmp_path: Path, museums_csv: Path) -> None:
    report = services.import_sites([tmp_path / "nope.csv"])
    assert report.files[0]["error"]["code"] == "input.not_found"
    with pytest.raises(SpadokError) as info:
        services.import_sites([museums_csv], mapping=["colour=Farbe"])
    assert info.value.code == "registry.bad_mapping"
    with pytest.raises(SpadokError):
        services.import_sites([museums_csv], mapping=["name"])
    report = services.import_sites([museums_csv], fmt="csv", mapping=["name=Назва"])
    assert report.files[0]["error"]["code"] == "registry.bad_mapping"
    assert "Назва" in report.files[0]["error"]["message"]


def test_row_limit(tmp_path: Path, settings: Any) -> None:
    from dataclasses import replace

    settings.SPADOK = replace(settings.SPADOK, limits=replace(settings.SPADOK.limits,
                                                              max_registry_rows=2))  # fmt: skip
    path = write_csv(tmp_path / "big.csv", [["name", "lat", "lon"]] + [["x", "50", "30"]] * 3)
    report = services.import_sites([path])
    assert report.files[0]["error"]["code"] == "registry.too_large"
    assert not Site.objects.exists()


def run_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SPADOK_HOME": str(home)}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "spadok", *args], capture_output=True, text=True, env=env,
        timeout=600,
    )  # fmt: skip


@pytest.mark.slow
def test_cli_json_and_exit_status(
    tmp_path: Path, museums_csv: Path, unesco_csv: Path, regions_geojson: Path
) -> None:
    home = tmp_path / "home"
    missing = tmp_path / "missing.csv"
    proc = run_cli(home, "import-sites", "--json", str(museums_csv), str(unesco_csv),
                   str(missing))  # fmt: skip
    assert proc.returncode == 1, proc.stderr  # one file failed entirely
    report = json.loads(proc.stdout)
    assert {"imported", "updated", "skipped", "errors"} <= report.keys()
    assert report["imported"] > 600 and "Traceback" not in proc.stderr
    failed = [e for e in report["errors"] if e["row"] is None]
    assert [(e["file"], e["code"]) for e in failed] == [(str(missing), "input.not_found")]
    assert any(e["code"] == "section_header" and e["reason"].startswith("section header")
               for e in report["errors"])  # fmt: skip

    proc = run_cli(home, "import-sites", "--json", str(museums_csv), str(unesco_csv))
    assert proc.returncode == 0, proc.stderr
    again = json.loads(proc.stdout)
    assert (again["imported"], again["updated"]) == (0, 0)

    proc = run_cli(home, "import-regions", "--json", str(regions_geojson))
    assert proc.returncode == 0, proc.stderr
    regions = json.loads(proc.stdout)
    assert regions["regions"] == 27 and regions["sites_reassigned"] >= 0

    proc = run_cli(home, "import-sites", str(museums_csv))  # the human summary
    assert proc.returncode == 0
    assert "0 imported, 0 updated" in proc.stdout and "[duplicate]" in proc.stdout
    proc = run_cli(home, "import-regions", str(museums_csv))
    assert proc.returncode == 1 and "registry.bad_regions" in proc.stdout
