"""Fixtures for damage events: the real published lists, users per role, captures, regions."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from tests.contributions.conftest import (  # noqa: F401
    client_for,
    make_capture,
    make_user,
    people,
)
from tests.sites.conftest import (  # noqa: F401
    l4r_csv,
    l4r_enriched_csv,
    refreshed,
    unesco_csv,
    unesco_qid_csv,
)
from tests.sites.map_fixtures import make_site, regions  # noqa: F401
from tests.testdata import data


@pytest.fixture
def curator(make_user: Any) -> Any:  # noqa: F811
    return make_user("curator-olha", "curator")


@pytest.fixture
def reviewer(make_user: Any) -> Any:  # noqa: F811
    return make_user("reviewer-taras", "reviewer")


@pytest.fixture
def science_csv() -> Path:
    return data("registry", "ukraine_damage_linked4resilience", "input", "science-at-risk.csv")


def raw_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(spreadsheet row number, row) of a CSV, read with the csv module alone."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(enumerate(csv.DictReader(f), start=2))


TITLE = "Title of the damage site in English"
UK_NAME = "Name of damanged site in Ukrainian on Google Maps"


def unesco_site_rows(path: Path) -> list[tuple[int, dict[str, str], str]]:
    """The rows of the UNESCO template that name a site, with the region section they are in.

    Section rows ("22 sites in the Chernihiv Region") have no title; every other
    row with a title or a Ukrainian name is a site.
    """
    out = []
    section = ""
    for number, row in raw_rows(path):
        lead = (row.get("") or row.get("Column") or "").strip()
        if not row[TITLE].strip() and lead.lower().endswith(("region", "regions")):
            section = lead
            continue
        if row[TITLE].strip() or row.get(UK_NAME, "").strip():
            out.append((number, row, section))
    return out


def event_by_row(file: Path) -> dict[int, Any]:
    """Each imported event by the row of ``file`` it was read from."""
    from spadok.damage.models import DamageEvent

    found: dict[int, Any] = {}
    for event in DamageEvent.objects.select_related("site"):
        for ref in event.import_refs:
            if ref["file"] == file.name:
                found[ref["row"]] = event
    return found
