"""Fixtures for the site registry: the real published lists, read through tests.testdata."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.testdata import data


@pytest.fixture
def heritage_csv() -> Path:
    return data("registry", "ukraine_disperseart_unibo", "Wikidata",
                "wikidata_ukrainian_cultural_heritage.csv")  # fmt: skip


@pytest.fixture
def museums_csv() -> Path:
    return data("registry", "ukraine_disperseart_unibo", "Wikidata",
                "wikidata_ukrainian_museums.csv")  # fmt: skip


@pytest.fixture
def unesco_csv() -> Path:
    return data("registry", "ukraine_damage_linked4resilience", "input", "unesco.csv")


@pytest.fixture
def unesco_qid_csv() -> Path:
    return data("registry", "ukraine_disperseart_unibo", "processed_data",
                "unesco-damage-sites-qid.csv")  # fmt: skip


@pytest.fixture
def l4r_csv() -> Path:
    return data("registry", "ukraine_disperseart_unibo", "processed_data",
                "cultural_damage_L4R2.csv")  # fmt: skip


@pytest.fixture
def l4r_enriched_csv() -> Path:
    return data("registry", "ukraine_disperseart_unibo", "processed_data",
                "cultural_damage_l4R_wiki_enriched.csv")  # fmt: skip


@pytest.fixture
def regions_geojson() -> Path:
    return data("geo", "ukraine_adm1_geoboundaries", "geoBoundaries-UKR-ADM1.geojson")


@pytest.fixture
def refreshed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The site ids the services asked the search index to refresh (after commit)."""
    calls: list[str] = []
    monkeypatch.setattr("spadok.search.index.refresh_sites", lambda ids: calls.extend(ids))
    return calls
