"""Damage in a real browser (Debian's chromium via playwright): a site's timeline of
captures and accounts of damage, a curator recording one, and the statistics dashboard
with its choropleth, over the real UNESCO and Linked4Resilience lists."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.damage.conftest import event_by_row, unesco_site_rows
from tests.site import test_browser as browser_fixtures
from tests.site.test_browser import Watch

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TIMEOUT_MS = 30_000
browser = browser_fixtures.browser  # the fixture, found by this name


def _context(browser: Any, live_server: Any, user: Any = None, **kwargs: Any) -> Any:
    context = browser.new_context(locale="en-GB", **kwargs)
    if user is not None:
        from django.test import Client

        client = Client()
        client.force_login(user)
        context.add_cookies(
            [{"name": "sessionid", "value": client.cookies["sessionid"].value,
              "url": live_server.url}]
        )  # fmt: skip
    return context


def _keep(tmp_path: Path) -> None:
    if os.environ.get("SPADOK_KEEP_SCREENSHOTS"):
        shutil.copytree(tmp_path, os.environ["SPADOK_KEEP_SCREENSHOTS"], dirs_exist_ok=True)


def test_a_sites_timeline_shows_captures_and_accounts_in_date_order(
    browser,
    live_server,
    unesco_csv,
    l4r_csv,
    make_capture,
    curator,
    tmp_path,
) -> None:
    from playwright.sync_api import expect

    from spadok.catalogue.models import Record
    from spadok.damage.models import DamageEvent
    from spadok.sites import services

    services.import_sites([unesco_csv, l4r_csv])
    # a site both lists name, dated to the day: UNESCO's verification and the volunteers'
    by_row = event_by_row(unesco_csv)
    verified = next(
        by_row[n]
        for n, _row, _s in unesco_site_rows(unesco_csv)
        if by_row[n].date_precision == "day"
        and DamageEvent.objects.filter(site=by_row[n].site, standing="volunteer").exists()
    )
    site = verified.site
    before = verified.date_start - dt.timedelta(days=400)
    after = verified.date_start + dt.timedelta(days=30)
    for title, day in (("Before the war", before), ("After the strike", after)):
        make_capture(
            record=Record.objects.create(title=title, site=site),
            captured_at=dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC),
        )

    context = _context(browser, live_server, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    watch = Watch(page)
    page.goto(live_server.url + site.get_absolute_url())
    entries = page.locator(".timeline > .timeline__entry")
    expect(entries.first).to_be_visible()
    days = [d for d in entries.locator("time").evaluate_all("ts => ts.map(t => t.dateTime)") if d]
    assert days == sorted(days) and len(days) >= 3
    expect(entries.nth(0)).to_contain_text("3D capture of “Before the war”")
    mine = page.locator(f"#event-{verified.id}")
    expect(mine).to_contain_text("Verified")
    expect(mine).to_contain_text("Verified by UNESCO")
    expect(mine.get_by_role("link", name="UNESCO")).to_have_attribute("href", verified.source_url)
    reported = page.locator(".timeline__entry--damage", has_text="Volunteer research")
    expect(reported.first).to_contain_text("Reported")
    expect(reported.first.get_by_role("link", name="Linked4Resilience")).to_be_visible()
    expect(page.get_by_text("Record damage")).to_have_count(0)  # not for the public
    page.screenshot(path=str(tmp_path / "timeline.png"), full_page=True)
    assert watch.foreign() == [] and watch.errors == []
    context.close()

    # a curator records a field report through the form on the same page
    context = _context(browser, live_server, curator, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    watch = Watch(page)
    page.goto(live_server.url + site.get_absolute_url())
    page.get_by_text("Record damage").click()
    form = page.locator("#record-damage form")
    form.get_by_label("What happened").select_option("destroyed")
    form.get_by_label("Date (or the start of the period)").fill(str(after - dt.timedelta(days=3)))
    form.get_by_label("Whose account is it").select_option("field")
    form.locator("#id_source_name").fill("Kharkiv heritage inspectorate")
    form.get_by_label("Description").fill("Only the walls stand.")
    form.get_by_role("button", name="Record this event").click()
    expect(page.locator(".message--success")).to_be_visible(timeout=TIMEOUT_MS)
    made = DamageEvent.objects.get(standing="field")
    assert page.url.endswith(f"#event-{made.id}")
    new = page.locator(f"#event-{made.id}")
    expect(new).to_contain_text("Field report")
    expect(new).to_contain_text("Kharkiv heritage inspectorate")
    expect(new).to_contain_text("Correct or retract this event")
    # it sits between the verified account and the later capture
    order = page.locator(".timeline > .timeline__entry").evaluate_all(
        "els => els.map(e => e.textContent)"
    )
    at = next(i for i, t in enumerate(order) if "Only the walls stand." in t)
    assert "After the strike" in order[at + 1]
    expect(page.locator("dl.site__facts")).to_contain_text("Destroyed")
    page.screenshot(path=str(tmp_path / "timeline-curator.png"), full_page=True)
    assert watch.foreign() == [] and watch.errors == []
    context.close()
    _keep(tmp_path)


def test_the_dashboard_maps_and_tables_the_real_lists(
    browser,
    live_server,
    regions,
    unesco_csv,
    l4r_csv,
    tmp_path,
) -> None:
    from playwright.sync_api import expect

    from spadok.sites import services

    services.import_sites([unesco_csv, l4r_csv])
    rows = unesco_site_rows(unesco_csv)
    context = _context(browser, live_server, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    watch = Watch(page)
    page.goto(live_server.url + "/damage/")
    stage = page.locator("#damage-map")
    expect(stage).to_have_attribute("data-state", "loaded", timeout=TIMEOUT_MS)
    expect(page.locator("#damage-map path.leaflet-interactive")).to_have_count(len(regions))
    expect(page.locator(".leaflet-tile")).to_have_count(0)
    legend = page.locator("#damage-map-legend")
    expect(legend.locator("h3")).to_have_text("Sites with UNESCO-verified damage")
    verified_colours = stage.locator("path.leaflet-interactive").evaluate_all(
        "ps => ps.map(p => p.getAttribute('fill'))"
    )
    page.get_by_label("Sites with reported damage only").check()
    expect(stage).to_have_attribute("data-measure", "reported_only_sites")
    expect(legend.locator("h3")).to_have_text("Sites with reported damage only")
    reported_colours = stage.locator("path.leaflet-interactive").evaluate_all(
        "ps => ps.map(p => p.getAttribute('fill'))"
    )
    assert verified_colours != reported_colours
    expect(page.locator('[data-total="verified_sites"]')).to_have_text(str(len(rows)))
    # the table under the map says what the export says (checked against the list elsewhere)
    exported = page.request.get(live_server.url + "/damage/stats/by-region.json").json()
    kharkiv = next(r for r in exported["rows"] if r["region"] == "UA-63")
    assert kharkiv["verified_sites"] > 40
    cell = page.locator('#table-by-region tr[data-region="UA-63"] td').first
    expect(cell).to_have_text(str(kharkiv["verified_sites"]))
    months = page.locator("#chart-by-month g.month")
    assert months.count() >= 24  # 2022-02 to 2024-08, every month drawn
    expect(page.locator('#table-by-standing tr[data-standing="volunteer"]')).to_contain_text(
        "Reported"
    )
    link = page.locator('a[href^="/damage/stats/by-region.csv"]')
    answer = page.request.get(live_server.url + (link.get_attribute("href") or ""))
    assert answer.status == 200
    assert answer.text().splitlines()[0].startswith("region,name,verified_sites")
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
    assert watch.foreign() == [] and watch.errors == []
    context.close()

    # on a phone: the page does not scroll sideways; wide tables scroll in their box
    context = _context(
        browser, live_server, viewport={"width": 390, "height": 844}, is_mobile=True,
        has_touch=True, device_scale_factor=2,
    )  # fmt: skip
    page = context.new_page()
    page.goto(live_server.url + "/damage/")
    expect(page.locator("#damage-map")).to_have_attribute("data-state", "loaded")
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"horizontal scrolling on a phone: {widths}"
    page.screenshot(path=str(tmp_path / "dashboard-phone.png"), full_page=True)
    context.close()
    _keep(tmp_path)
