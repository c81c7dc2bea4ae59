"""The map and the language switch in a real browser (Debian's chromium via playwright).

No tile server is configured: the region outlines are the whole base map, and
nothing may be fetched from anywhere but this server.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest

from spadok.catalogue.models import Record
from tests.site import conftest as site_fixtures
from tests.site import test_browser as browser_fixtures
from tests.site.test_browser import Watch
from tests.sites import map_fixtures

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Fixtures shared with other test packages (pytest finds them by these names).
make_capture = site_fixtures.make_capture
browser = browser_fixtures.browser
make_site = map_fixtures.make_site
museums = map_fixtures.museums
regions = map_fixtures.regions

TIMEOUT_MS = 30_000


def test_map_clusters_markers_and_opens_a_site(
    browser,
    live_server,
    settings,
    museums,
    make_site,
    make_capture,
    tmp_path,
) -> None:
    from playwright.sync_api import expect

    settings.SPADOK_TILE_URL = ""
    # Far from every museum (the Black Sea coast of Kherson oblast): a marker of its own.
    alone = make_site(
        names={"uk": "Маяк на косі", "en": "Lighthouse on the spit"},
        type="monument",
        damage_status="destroyed",
        latitude=46.1,
        longitude=33.6,
        region_id="UA-65",
    )
    capture = make_capture(title="Lighthouse scan")
    Record.objects.filter(pk=capture.record_id).update(site=alone)

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    watch = Watch(page)
    page.goto(live_server.url + "/map/")
    stage = page.locator("#sites-map")
    expect(stage).to_have_attribute("data-state", "loaded", timeout=TIMEOUT_MS)
    assert int(stage.get_attribute("data-count") or 0) == len(museums) + 1
    expect(page.locator(".leaflet-tile")).to_have_count(0)  # no tiles
    expect(page.locator("path.leaflet-interactive").first).to_be_visible()  # region outlines
    expect(page.locator(".marker-cluster").first).to_be_visible()  # the museums, clustered
    expect(page.locator("#choropleth-legend li").first).to_be_visible()
    expect(page.locator("#map-status")).to_contain_text(str(len(museums) + 1))
    page.screenshot(path=str(tmp_path / "map.png"), full_page=True)

    # zoom in (as a reader would) until the lighthouse leaves its cluster
    stage.evaluate("el => el.spadokMap.setView([46.1, 33.6], 9)")
    marker = page.locator('.leaflet-marker-icon[title="Lighthouse on the spit"]')
    expect(marker).to_be_visible()
    # destroyed, with a 3D model: told by glyph, shape and ring, not colour alone
    expect(marker.locator(".site-marker--destroyed.site-marker--3d")).to_have_count(1)
    # by keyboard: a marker takes focus, Enter opens its popup
    marker.focus()
    page.keyboard.press("Enter")
    expect(page.locator(".leaflet-popup .site-popup__name")).to_have_text("Lighthouse on the spit")
    page.locator(".leaflet-popup-close-button").click()
    expect(page.locator(".leaflet-popup")).to_have_count(0)
    marker.click()
    link = page.locator(".leaflet-popup .site-popup__name")
    expect(link).to_have_text("Lighthouse on the spit")
    expect(page.locator(".leaflet-popup")).to_contain_text("3D model available")
    link.click()
    page.wait_for_url(f"**{alone.get_absolute_url()}")
    expect(page.locator("h1")).to_have_text("Lighthouse on the spit")
    expect(page.locator("#site-map")).to_have_attribute("data-state", "loaded")
    page.screenshot(path=str(tmp_path / "site.png"), full_page=True)

    # switching the choropleth re-colours the regions and its legend
    page.goto(live_server.url + "/map/")
    expect(stage).to_have_attribute("data-state", "loaded", timeout=TIMEOUT_MS)
    page.get_by_label("Number of damaged sites").check()
    expect(page.locator("#choropleth-legend h3")).to_have_text("Damaged sites")
    expect(page.locator("#choropleth-legend li")).to_have_count(2)  # none, and 1–1

    assert watch.foreign() == []
    assert watch.errors == []
    context.close()
    if os.environ.get("SPADOK_KEEP_SCREENSHOTS"):
        shutil.copytree(tmp_path, os.environ["SPADOK_KEEP_SCREENSHOTS"], dirs_exist_ok=True)


def _press_tab_until(page: Any, selector: str, limit: int = 40) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"document.activeElement.matches({selector!r})"):
            return
    raise AssertionError(f"{selector} cannot be reached with the keyboard")


def test_language_switch_by_keyboard(browser, live_server, make_site) -> None:
    from playwright.sync_api import expect

    site = make_site(latitude=50.45, longitude=30.52)
    context = browser.new_context(locale="uk-UA")
    page = context.new_page()
    watch = Watch(page)
    page.goto(live_server.url + site.get_absolute_url())
    expect(page.locator("html")).to_have_attribute("lang", "uk")
    expect(page.locator("h1")).to_have_text("Церква святого Миколая")
    group = page.locator(".lang__buttons")
    assert group.get_attribute("aria-labelledby") == "lang-label"

    _press_tab_until(page, 'button[name="language"][value="en"]')
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("St Nicholas Church")
    expect(page.locator(".site-nav")).to_contain_text("Map")
    assert page.url.endswith(site.get_absolute_url())  # the same page, in English
    expect(page.locator('button[name="language"][value="en"]')).to_have_attribute(
        "aria-pressed", "true"
    )

    _press_tab_until(page, 'button[name="language"][value="uk"]')
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    expect(page.locator("html")).to_have_attribute("lang", "uk")
    expect(page.locator("h1")).to_have_text("Церква святого Миколая")
    assert watch.foreign() == []
    assert watch.errors == []
    context.close()
