"""Damage events from the real published lists, through ``import-sites``.

Expected numbers come from the raw files, read here with the csv module, never
from the importer's own readers.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from spadok.core.errors import SpadokError
from spadok.core.evidence.chain import check_chains
from spadok.core.registry.damage import UNESCO_LIST_URL
from spadok.core.registry.sources import read_list
from spadok.damage.models import DamageEvent
from spadok.evidence.models import CustodyEntry, CustodyHead
from spadok.sites import services
from spadok.sites.models import Site
from tests.damage.conftest import TITLE, event_by_row, raw_rows, unesco_site_rows

pytestmark = pytest.mark.django_db

DAY = re.compile(r"^(\d{4})-(\d\d)-(\d\d)$")
MONTH = re.compile(r"^(\d{4})-(\d\d)$")
YEAR = re.compile(r"^(\d{4})$")
TWO_DAYS = re.compile(r"^(\d{4}-\d\d-\d\d)\s+(\d{4}-\d\d-\d\d)$")
DATE_COLUMN = "Date of damage (first reported)"


def _expected_date(raw: str) -> tuple[str | None, str | None, str]:
    raw = raw.strip()
    if m := DAY.match(raw):
        return raw, None, "day"
    if m := MONTH.match(raw):
        return f"{raw}-01", None, "month"
    if m := YEAR.match(raw):
        return f"{m[1]}-01-01", None, "year"
    if m := TWO_DAYS.match(raw):
        return m[1], m[2], "day"
    return None, None, ""


def test_unesco_list_gives_one_verified_event_per_site(unesco_csv: Path) -> None:
    rows = unesco_site_rows(unesco_csv)
    assert len(rows) > 300

    report = services.import_sites([unesco_csv])

    events = DamageEvent.objects.all()
    assert report.damage == {"imported": len(rows), "updated": 0}
    assert events.count() == len(rows)
    assert {e.standing for e in events} == {"unesco"}
    assert all(e.verified for e in events)
    assert len({e.site_id for e in events}) == len(rows)  # one event per site
    by_row = event_by_row(unesco_csv)
    assert set(by_row) == {n for n, _row, _section in rows}
    seen_range = False
    for number, row, _section in rows:
        event = by_row[number]
        start, end, precision = _expected_date(row[DATE_COLUMN])
        assert (str(event.date_start) if event.date_start else None) == start, number
        assert (str(event.date_end) if event.date_end else None) == end, number
        assert event.date_precision == precision, number
        seen_range |= end is not None
        # UNESCO's list says "damaged"; volunteers' notes never make it "destroyed".
        assert (event.kind, event.severity) == ("damaged", "unknown")
        assert (event.source_name, event.source_url) == ("UNESCO", UNESCO_LIST_URL)
        cited = " ".join((row["Reference to the first reported news article, reports, etc."],
                          row["Other reporting references"]))  # fmt: skip
        links = re.findall(r"https?://\S+", cited)
        for link in links:
            assert link.rstrip(".,;)]") in event.references
        assert event.entered_by is None and event.public
        # the site's status is derived from its event
        assert event.site.damage_status == "damaged"
        assert event.site.damage_date == event.date_start
    assert seen_range, "the list has a cell with two dates: a range"
    # each event is in its site's custody chain
    recorded = CustodyEntry.objects.filter(action="damage.recorded")
    assert recorded.count() == len(rows)
    assert {e.chain for e in recorded} == {e.site_id for e in events}
    entry = recorded.filter(chain=by_row[rows[0][0]].site_id).get().entry()
    assert entry["actor"]["kind"] == "system"
    assert entry["data"]["standing"] == "unesco" and entry["data"]["verified"] is True
    assert entry["data"]["imported_from"] == [
        {"source": "unesco", "file": unesco_csv.name, "row": rows[0][0]}
    ]


@pytest.mark.db_both
def test_every_damage_list_imports_once_and_again_changes_nothing(
    unesco_csv: Path,
    unesco_qid_csv: Path,
    l4r_csv: Path,
    l4r_enriched_csv: Path,
    science_csv: Path,
    django_capture_on_commit_callbacks: Any,
    refreshed: list[str],
) -> None:
    files = [unesco_csv, unesco_qid_csv, l4r_csv, l4r_enriched_csv, science_csv]
    with django_capture_on_commit_callbacks(execute=True):
        first = services.import_sites(files)
    assert not first.failed_files
    assert [f["format"] for f in first.files] == [
        "unesco", "unesco", "l4r", "l4r", "science-at-risk"
    ]  # fmt: skip
    standing = Counter(DamageEvent.objects.values_list("standing", flat=True))

    # UNESCO: both copies of the list are one list: one verified event per site they name
    unesco_sites = {
        s.pk
        for s in Site.objects.all()
        if {p["file"] for p in s.provenance} & {unesco_csv.name, unesco_qid_csv.name}
    }
    assert standing["unesco"] == len(unesco_sites)
    per_site = Counter(
        DamageEvent.objects.filter(standing="unesco").values_list("site_id", flat=True)
    )
    assert max(per_site.values()) == 1
    # Linked4Resilience: one volunteer event per published URI, from either export
    uris = {row["URI"] for _n, row in raw_rows(l4r_csv)} | {
        row["site"] for _n, row in raw_rows(l4r_enriched_csv)
    }
    assert standing["volunteer"] == len(uris) == len({row["URI"] for _n, row in raw_rows(l4r_csv)})
    # Science at Risk: its own account, never UNESCO's
    science = [r for _n, r in raw_rows(science_csv) if r[TITLE].strip()]
    assert standing["other"] == len(science)
    assert set(standing) == {"unesco", "volunteer", "other"}
    assert sum(standing.values()) == first.damage["imported"]
    assert set(refreshed) >= set(DamageEvent.objects.values_list("site_id", flat=True))

    # the entries written in bulk make whole chains: a copy's entry follows the first's
    entries = [e.entry() for e in CustodyEntry.objects.order_by("chain", "seq")]
    heads = {h.chain: {"seq": h.seq, "hash": h.hash} for h in CustodyHead.objects.all()}
    assert check_chains(list(enumerate(entries, 1)), heads) == []
    assert Counter(e["action"] for e in entries)["damage.corrected"] == first.damage["updated"]
    assert first.damage["updated"] > 0  # the second copy of each list added its row

    snapshot = {
        e.pk: (e.kind, e.date_start, e.date_end, e.source_url, e.references, e.import_refs,
               e.site_id, e.description)
        for e in DamageEvent.objects.all()
    }  # fmt: skip
    sites = {s.pk: (s.damage_status, s.damage_date, s.updated_at) for s in Site.objects.all()}
    entries = CustodyEntry.objects.count()
    refreshed.clear()

    with django_capture_on_commit_callbacks(execute=True):
        second = services.import_sites(files)

    assert second.damage == {"imported": 0, "updated": 0}
    assert (second.imported, second.updated) == (0, 0)
    again = {
        e.pk: (e.kind, e.date_start, e.date_end, e.source_url, e.references, e.import_refs,
               e.site_id, e.description)
        for e in DamageEvent.objects.all()
    }  # fmt: skip
    assert again == snapshot
    assert {s.pk: (s.damage_status, s.damage_date, s.updated_at) for s in Site.objects.all()} == (
        sites
    )
    assert CustodyEntry.objects.count() == entries
    assert refreshed == []


def test_linked4resilience_events_are_volunteer_research(
    unesco_csv: Path, l4r_csv: Path, l4r_enriched_csv: Path
) -> None:
    news: dict[str, set[str]] = defaultdict(set)
    dates: dict[str, str] = {}
    for _n, row in raw_rows(l4r_csv):
        # a link's trailing full stop is the sentence's, not the address's
        news[row["URI"]] |= {
            u.rstrip(".,;)]") for u in re.findall(r"https?://\S+", row["News_Link"])
        }
        dates.setdefault(row["URI"], row["Observation_Year"].strip())
    services.import_sites([unesco_csv, l4r_csv, l4r_enriched_csv])

    events = {e.source_url: e for e in DamageEvent.objects.filter(standing="volunteer")}
    assert set(events) == set(news)
    for uri, event in events.items():
        assert not event.verified and event.source_name == "Linked4Resilience"
        assert set(event.references) >= news[uri]
        assert event.site.external_ids["l4r"] == uri
        start, _end, precision = _expected_date(dates[uri])
        assert (str(event.date_start) if event.date_start else None) == start
        assert event.date_precision == precision
    # most describe a site UNESCO verified: the same site holds both accounts, apart
    both = sum(
        1
        for e in events.values()
        if DamageEvent.objects.filter(site=e.site, standing="unesco").exists()
    )
    assert both >= 0.8 * len(events)
    # the enrichment's Wikidata guesses are kept as candidates, never as the site's id
    candidate = next(
        r for _n, r in raw_rows(l4r_enriched_csv) if r["method"] == "coords" and r["wikidata_id"]
    )
    site = events[candidate["site"]].site
    assert site.wikidata != candidate["wikidata_id"] or not site.wikidata
    assert any(
        p.get("wikidata_candidate", {}).get("candidate") == candidate["wikidata_id"]
        for p in site.provenance
    )


def test_science_at_risk_is_its_own_list(science_csv: Path) -> None:
    with pytest.raises(SpadokError) as caught:
        read_list(science_csv, fmt="unesco")
    assert caught.value.code == "registry.unknown_format"
    assert "science-at-risk" in caught.value.message

    services.import_sites([science_csv])
    rows = [(n, r) for n, r in raw_rows(science_csv) if r[TITLE].strip()]
    by_row = event_by_row(science_csv)
    assert set(by_row) == {n for n, _r in rows}
    for number, row in rows:
        event = by_row[number]
        assert (event.standing, event.verified, event.source_name) == (
            "other", False, "Science at Risk"
        )  # fmt: skip
        own = re.findall(r"https?://scienceatrisk\.org\S*", row["Reports by Media"])
        assert event.source_url == (own[0] if own else "")
        if row["Date of damage"].strip().lower() == "not found":
            assert event.date_start is None and event.date_precision == ""
        site = event.site
        fact = next(p for p in site.provenance if p["file"] == science_csv.name)
        assert "verified_by" not in fact["damage"]
        assert fact["damage"]["reported_by"] == "Science at Risk"


def _write(path: Path, rows: list[list[str]]) -> Path:
    import csv

    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def test_a_generic_list_maps_damage_columns(tmp_path: Path) -> None:
    header = ["Код", "Назва", "lat", "lon", "Стан", "Дата", "Кінець", "Ступінь", "Хто",
              "Джерело", "Посилання", "Опис"]  # fmt: skip
    path = _write(
        tmp_path / "ministry.csv",
        [
            header,
            ["46-1", "Церква святого Юра", "49.8385", "24.0128", "пошкоджено", "2022-03",
             "2022-05", "значні", "МКІП", "Міністерство культури", "https://mcip.gov.ua/list/1 "
             "https://example.org/more", "Вибиті вікна й дах"],
            ["46-2", "Ратуша", "49.8419", "24.0316", "знищено", "12.03.2022", "", "", "", "",
             "", ""],
            ["46-3", "Пам’ятник", "49.83", "24.02", "невідомо що", "", "", "", "", "", "", ""],
        ],
    )  # fmt: skip
    mapping = ["id=Код", "name=Назва", "damage_status=Стан", "damage_date=Дата",
               "damage_date_end=Кінець", "damage_severity=Ступінь", "damage_standing=Хто",
               "damage_source=Джерело", "damage_url=Посилання",
               "damage_description=Опис"]  # fmt: skip
    report = services.import_sites([path], mapping=mapping, source="lviv-list", standing="news")
    assert report.damage["imported"] == 2
    church = DamageEvent.objects.get(site__external_ids__has_key="lviv-list", kind="damaged")
    assert (church.standing, church.severity, church.source_name) == (
        "ministry", "severe", "Міністерство культури"
    )  # fmt: skip
    assert (str(church.date_start), str(church.date_end), church.date_precision) == (
        "2022-03-01", "2022-05-01", "month"
    )  # fmt: skip
    assert church.source_url == "https://mcip.gov.ua/list/1"
    assert church.references == ["https://example.org/more"]
    assert church.description == "Вибиті вікна й дах"
    hall = DamageEvent.objects.get(kind="destroyed")
    # no standing column value: the list's own (--standing news); its name is the source
    assert (hall.standing, hall.source_name, str(hall.date_start)) == (
        "news", "lviv-list", "2022-03-12"
    )  # fmt: skip
    assert hall.site.damage_status == "destroyed"
    monument = Site.objects.get(names__uk="Пам’ятник")
    assert not DamageEvent.objects.filter(site=monument).exists()  # an unreadable kind, no date
    assert monument.damage_status == ""

    again = services.import_sites([path], mapping=mapping, source="lviv-list", standing="news")
    assert again.damage == {"imported": 0, "updated": 0}
    assert DamageEvent.objects.count() == 2

    with pytest.raises(SpadokError) as caught:
        services.import_sites([path], mapping=mapping, standing="rumour")
    assert caught.value.code == "registry.bad_mapping"


@pytest.mark.slow
def test_the_command_line_reports_damage_events(tmp_path: Path, science_csv: Path) -> None:
    from tests.sites.test_import_generic import run_cli

    rows = [r for _n, r in raw_rows(science_csv) if r[TITLE].strip()]
    proc = run_cli(tmp_path / "home", "import-sites", str(science_csv))
    assert proc.returncode == 0, proc.stderr
    assert f"(science-at-risk): {len(rows)} rows" in proc.stdout
    assert f"damage events: {len(rows)} imported, 0 updated" in proc.stdout
