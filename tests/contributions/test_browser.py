"""Contributions in a real browser (no inline scripts: the CSP forbids them)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.site.test_browser import browser  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
TIMEOUT_MS = 30_000


def _page(browser: Any, live_server: Any, user: Any, path: str) -> tuple[Any, list[str]]:  # noqa: F811
    from django.test import Client

    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport={"width": 1100, "height": 900}, locale="en-GB")
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.extend([m.text] if m.type == "error" else []))
    page.goto(live_server.url + path)
    return page, errors


def test_a_reviewer_approves_and_the_record_is_public(  # type: ignore[no-untyped-def]
    browser,  # noqa: F811
    live_server,
    people,
    draft_capture,
) -> None:
    from playwright.sync_api import expect

    page, errors = _page(browser, live_server, people["reviewer"], "/review/")
    item = page.locator(f'[data-review-capture="{draft_capture.id}"]')
    expect(item).to_be_visible()
    approve = item.locator('form[data-action="approve"]')
    approve.locator("select[name=visibility]").select_option("public")
    approve.locator("button[type=submit]").click()
    expect(page.locator(".message--success")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator(f'[data-review-capture="{draft_capture.id}"]')).to_have_count(0)

    page.goto(live_server.url + "/records/")
    card = page.locator(".card", has_text="Church of St Nicholas")
    expect(card).to_be_visible(timeout=TIMEOUT_MS)
    expect(card.locator("img")).to_have_attribute(
        "src",
        f"/records/{draft_capture.record_id}/captures/{draft_capture.id}/derivative/thumbnail",
    )
    assert errors == []


def test_the_map_sets_the_point_without_tiles(  # type: ignore[no-untyped-def]
    browser,  # noqa: F811
    live_server,
    people,
    draft_capture,
) -> None:
    from playwright.sync_api import expect

    path = f"/records/{draft_capture.record_id}/captures/{draft_capture.id}/"
    page, errors = _page(browser, live_server, people["owner"], path)
    the_map = page.locator("#capture-map")
    expect(the_map).to_have_class(re.compile(r"(^|\s)map--plain(\s|$)"), timeout=TIMEOUT_MS)
    the_map.click(position={"x": 200, "y": 150})
    expect(page.locator("[data-map-lat]")).not_to_have_value("")
    expect(page.locator("[data-map-lon]")).not_to_have_value("")
    expect(page.locator("[data-map-source]")).to_have_value("map")
    assert all("tile" not in e for e in errors) and errors == []


def test_the_capture_page_follows_processing(  # type: ignore[no-untyped-def]
    browser,  # noqa: F811
    live_server,
    people,
    make_capture,
) -> None:
    from playwright.sync_api import expect

    from spadok.catalogue.models import Capture, Record

    record = Record.objects.create(title="Being processed", visibility="draft")
    capture = make_capture(record=record, state="processing", contributor=people["owner"])
    path = f"/records/{record.id}/captures/{capture.id}/"
    page, errors = _page(browser, live_server, people["owner"], path)
    status = page.locator("[data-capture-status]")
    expect(status).to_have_attribute("data-state", "processing")
    Capture.objects.filter(id=capture.id).update(step="web", progress=0.5)
    expect(page.locator("[data-status-percent]")).to_have_text("50%", timeout=TIMEOUT_MS)
    Capture.objects.filter(id=capture.id).update(
        state="failed", error_code="processing.failed", error_message="It broke. Try again."
    )
    expect(page.locator("[data-error-code]")).to_have_text("processing.failed", timeout=TIMEOUT_MS)
    expect(page.get_by_role("button", name="Try the processing again")).to_be_visible()
    assert errors == []


def test_the_site_picker_searches_maps_and_saves(  # type: ignore[no-untyped-def]
    browser,  # noqa: F811
    live_server,
    people,
    draft_capture,
) -> None:
    """Search as you type, pick a site drawn on the map, save: the record is filed under it."""
    from playwright.sync_api import expect

    from spadok.catalogue.models import Capture, Record
    from spadok.search.index import refresh_sites
    from spadok.sites.models import Site

    near = Site.objects.create(
        names={"uk": "Андріївська церква", "en": "St Andrew's Church"},
        type="church",
        settlement="Київ",
        latitude=50.45893,
        longitude=30.51787,
    )
    far = Site.objects.create(
        names={"uk": "Андріївський костел", "en": "Church of St Andrew, Lviv"},
        type="church",
        settlement="Львів",
        latitude=49.8385,
        longitude=24.0338,
    )
    refresh_sites([near.pk, far.pk])
    Capture.objects.filter(id=draft_capture.id).update(latitude=50.45907, longitude=30.51798)
    path = f"/records/{draft_capture.record_id}/captures/{draft_capture.id}/"
    page, errors = _page(browser, live_server, people["owner"], path)

    # the site nearby is offered at once; the new-site fields wait until asked for
    expect(page.locator(f'[data-site-near][data-site-option="{near.pk}"]')).to_be_visible()
    expect(page.locator("[data-site-new-fields]")).to_be_hidden(timeout=TIMEOUT_MS)
    page.locator("input[data-site-new]").check()
    expect(page.locator("[data-site-new-fields]")).to_be_visible()

    # search as you type: the answer comes without leaving the page
    page.locator("#site-search").fill("Андріївський костел Львів")
    found = page.locator(f'[data-site-found][data-site-option="{far.pk}"]')
    expect(found).to_be_visible(timeout=TIMEOUT_MS)
    assert "site_q" not in page.url

    # the registry's sites on the capture map: click one, then "This site"
    dot = page.locator("#capture-map path.site-dot")
    expect(dot).to_have_count(1, timeout=TIMEOUT_MS)
    dot.click()
    page.locator("[data-pick-site]").click()
    expect(page.locator(f'input[name=site][value="{near.pk}"]')).to_be_checked()
    expect(page.locator("[data-site-new-fields]")).to_be_hidden()

    page.locator("input[name=consent]").check()
    page.get_by_role("button", name="Save the description").click()
    expect(page.locator(".message--success")).to_be_visible(timeout=TIMEOUT_MS)
    assert Record.objects.get(id=draft_capture.record_id).site_id == near.pk
    assert errors == []
