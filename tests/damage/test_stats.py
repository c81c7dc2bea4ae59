"""The public statistics against the published lists, read here independently; the exports."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from spadok.damage import services
from spadok.damage.models import DamageEvent
from spadok.sites import services as sites
from tests.damage.conftest import raw_rows, unesco_site_rows

pytestmark = pytest.mark.django_db

DATE_COLUMN = "Date of damage (first reported)"


def _json(client: Client, name: str) -> dict[str, Any]:
    response = client.get(f"/damage/stats/{name}.json?lang=en")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    return response.json()


def _rows(client: Client, name: str) -> dict[str, dict[str, Any]]:
    doc = _json(client, name)
    key = doc["columns"][0]
    return {row[key]: row for row in doc["rows"]}


def test_verified_damage_by_region_is_the_lists_own_count(unesco_csv: Path) -> None:
    # Independently: the rows the list files under Kharkiv, by their region column or,
    # when a row names none, by the section it is in ("56 sites in the Kharkiv Region").
    rows = unesco_site_rows(unesco_csv)
    kharkiv = [n for n, row, section in rows if "kharkiv" in (row["Region"] or section).lower()]
    section_says = next(
        int(m[1])
        for _n, row in raw_rows(unesco_csv)
        if (m := re.match(r"^(\d+) sites in the Kharkiv Region$", row[""].strip()))
    )
    assert len(kharkiv) == section_says == 56

    sites.import_sites([unesco_csv])
    client = Client()
    by_region = _rows(client, "by-region")
    assert by_region["UA-63"]["verified_sites"] == len(kharkiv)
    assert by_region["UA-63"]["verified_events"] == len(kharkiv)
    assert by_region["UA-63"]["name"] == "Kharkiv Oblast"
    assert sum(r["verified_sites"] for r in by_region.values()) == len(rows)
    assert all(r["reported_sites"] == r["reported_events"] == 0 for r in by_region.values())
    assert len([code for code in by_region if code]) == 27  # every region, damaged or not

    # over time: each month's verified events are the rows dated to a day or a month in it
    months = Counter()
    year_only = Counter()
    undated = 0
    for _n, row, _s in rows:
        raw = row[DATE_COLUMN].strip()
        if m := re.match(r"^(\d{4}-\d\d)(-\d\d)?(\s|$)", raw):
            months[m[1]] += 1
        elif re.fullmatch(r"\d{4}", raw):
            year_only[raw] += 1
        else:
            undated += 1
    doc = _json(client, "by-month")
    for row in doc["rows"]:
        if row["precision"] == "month":
            assert row["verified_events"] == months.get(row["period"], 0), row
        elif row["precision"] == "year":
            assert row["verified_events"] == year_only[row["period"]]
        else:
            assert row["verified_events"] == undated
    assert {r["period"] for r in doc["rows"] if r["precision"] == "month"} >= set(months)
    assert sum(r["verified_events"] for r in doc["rows"]) == len(rows)
    # and the page shows the same figures
    page = client.get("/damage/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'data-total="verified_sites">{len(rows)}<' in page
    line = re.search(r'<tr data-region="UA-63">(.*?)</tr>', page, re.S)
    assert line and re.search(rf'<td class="num">{len(kharkiv)}\b', line[1])


def test_verified_and_reported_are_kept_apart(
    unesco_csv: Path, l4r_csv: Path, science_csv: Path
) -> None:
    sites.import_sites([unesco_csv, l4r_csv, science_csv])
    client = Client()
    uris = {row["URI"] for _n, row in raw_rows(l4r_csv)}
    science = [r for _n, r in raw_rows(science_csv) if r["Title of the damage site in English"]]
    standing = _rows(client, "by-standing")
    assert standing["unesco"]["verified"] is True
    assert standing["unesco"]["events"] == len(unesco_site_rows(unesco_csv))
    assert standing["volunteer"] == {
        "standing": "volunteer",
        "label": "Volunteer research from open sources",
        "verified": False,
        "events": len(uris),
        "sites": len(uris),
    }
    assert standing["other"]["events"] == len(science) and not standing["other"]["verified"]
    assert all(not standing[s]["verified"] for s in standing if s != "unesco")

    by_region = _rows(client, "by-region")
    reported = sum(r["reported_events"] for r in by_region.values())
    assert reported == len(uris) + len(science)
    verified_sites = set(
        DamageEvent.objects.filter(standing="unesco").values_list("site_id", flat=True)
    )
    reported_sites = set(
        DamageEvent.objects.exclude(standing="unesco").values_list("site_id", flat=True)
    )
    assert sum(r["verified_sites"] for r in by_region.values()) == len(verified_sites)
    assert sum(r["reported_sites"] for r in by_region.values()) == len(reported_sites)
    assert sum(r["reported_only_sites"] for r in by_region.values()) == len(
        reported_sites - verified_sites
    )
    kinds = _rows(client, "by-kind")
    assert kinds["damaged"]["verified_events"] == standing["unesco"]["events"]
    assert kinds["damaged"]["reported_events"] == reported
    assert kinds["destroyed"]["verified_events"] == kinds["destroyed"]["reported_events"] == 0


def test_csv_and_json_exports_hold_the_same_table(unesco_csv: Path, l4r_csv: Path) -> None:
    sites.import_sites([unesco_csv, l4r_csv])
    client = Client()
    for name in ("by-region", "by-kind", "by-standing", "by-month", "coverage"):
        doc = _json(client, name)
        response = client.get(f"/damage/stats/{name}.csv?lang=en")
        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert "public" in response["Cache-Control"]
        table = list(csv.reader(io.StringIO(response.content.decode("utf-8"))))
        assert table[0] == doc["columns"]
        as_text = [
            ["true" if v is True else "false" if v is False else str(v) for v in r.values()]
            for r in doc["rows"]
        ]
        assert table[1:] == as_text, name
        assert all(list(r) == doc["columns"] for r in doc["rows"])
    assert client.get("/damage/stats/by-nothing.json").status_code == 404
    assert client.get("/damage/stats/by-region.xlsx").status_code == 404
    # the Ukrainian export names regions in Ukrainian when the list gave the name
    uk = client.get("/damage/stats/by-region.json?lang=uk").json()
    assert next(r for r in uk["rows"] if r["region"] == "UA-63")["name"] == "Харківська область"


def test_only_public_accounts_count_and_no_point_is_given(
    make_site: Any, make_capture: Any, curator: Any, regions: dict[str, Any]
) -> None:
    from spadok.catalogue.models import Record, Visibility

    secret_lat, secret_lon = 50.123_456, 36.654_321
    hidden_place = make_site(
        names={"en": "Vault"}, latitude=secret_lat, longitude=secret_lon, sensitive=True,
        region_id="UA-63", address="SECRET-STREET 5",
    )  # fmt: skip
    services.damage_event_create(by=curator, site=hidden_place, kind="destroyed", standing="unesco")
    internal = make_site(names={"en": "Internal"}, region_id="UA-63")
    services.damage_event_create(
        by=curator, site=internal, kind="damaged", standing="field", public=False,
        description="INTERNAL-NOTE",
    )  # fmt: skip
    gone = make_site(names={"en": "Retracted"}, region_id="UA-63")
    wrong = services.damage_event_create(by=curator, site=gone, kind="damaged", standing="news")
    services.damage_event_retract(event=wrong, by=curator, reason="wrong place")
    drafted = make_site(names={"en": "Drafted"}, region_id="UA-63")
    record = Record.objects.create(title="Draft", site=drafted, visibility=Visibility.DRAFT)
    services.damage_event_create(by=curator, record=record, kind="looted", standing="news")
    scanned = make_site(names={"en": "Scanned"}, region_id="UA-63")
    make_capture(record=Record.objects.create(title="Scan", site=scanned))
    services.damage_event_create(by=curator, site=scanned, kind="damaged", standing="news")

    client = Client()
    kharkiv = _rows(client, "by-region")["UA-63"]
    # the sensitive site counts (verified), and so does the scanned one (reported only)
    assert (kharkiv["verified_sites"], kharkiv["reported_sites"]) == (1, 1)
    assert kharkiv["reported_only_sites"] == 1 and kharkiv["reported_events"] == 1
    coverage = _rows(client, "coverage")["UA-63"]
    assert coverage["sites"] == 5 and coverage["sites_with_3d"] == 1
    assert (coverage["verified_with_3d"], coverage["verified_without_3d"]) == (0, 1)
    assert (coverage["reported_only_with_3d"], coverage["reported_only_without_3d"]) == (1, 0)
    texts = [client.get("/damage/").content.decode()]
    for name in ("by-region", "by-kind", "by-standing", "by-month", "coverage"):
        for ext in ("csv", "json"):
            texts.append(client.get(f"/damage/stats/{name}.{ext}").content.decode())
    for text in texts:
        for secret in ("SECRET-STREET", "INTERNAL-NOTE", curator.username, curator.email,
                       f"{secret_lat:.3f}", f"{secret_lon:.3f}", "Vault"):  # fmt: skip
            assert secret not in text
