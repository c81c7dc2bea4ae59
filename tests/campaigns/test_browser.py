"""A campaign in a real browser, on the real registry: a coordinator starts a campaign
over the UNESCO list of damaged sites of the Kharkiv region; a volunteer, located by
the browser, sees the nearest open task first, claims it, uploads a scan through
Uppy, describes it as the task's site, and the campaign's coverage map shows the site
as scanned."""

from __future__ import annotations

from typing import Any

import pytest

from tests.site.test_browser import Watch, browser  # noqa: F401  (the fixture)
from tests.testdata import data
from tests.uploads.conftest import upload_dir  # noqa: F401  (this test's upload folder)
from tests.uploads.test_browser_upload import bundle  # noqa: F401  (Uppy's bundle)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TIMEOUT_MS = 60_000
KHARKIV = "UA-63"
NAME = "Kharkiv region, damaged heritage, spring"


@pytest.fixture
def registry(storage_root: Any) -> None:
    from spadok.sites.services import import_regions, import_sites

    import_regions(data("geo", "ukraine_adm1_geoboundaries", "geoBoundaries-UKR-ADM1.geojson"))
    report = import_sites(
        [data("registry", "ukraine_damage_linked4resilience", "input", "unesco.csv")]
    )
    assert report.imported > 300


def _context(browser: Any, live_server: Any, user: Any, **options: Any) -> Any:  # noqa: F811
    from django.test import Client

    client = Client()
    client.force_login(user)
    context = browser.new_context(
        viewport={"width": 1100, "height": 900}, locale="en-GB", **options
    )
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    return context


def test_a_campaign_from_the_registry_to_a_scanned_site(
    browser: Any,  # noqa: F811
    bundle: Any,  # noqa: F811
    upload_dir: Any,  # noqa: F811
    live_server: Any,
    registry: None,
    make_user: Any,
) -> None:
    from playwright.sync_api import expect

    from spadok.campaigns import selectors
    from spadok.campaigns.models import Campaign, Task, TaskState
    from spadok.sites.models import Site

    coordinator = make_user("coordinator", "curator")
    volunteer = make_user("volunteer")
    expected = Site.objects.filter(region_id=KHARKIV).count()
    in_region = Site.objects.filter(region_id=KHARKIV, latitude__isnull=False, sensitive=False)
    on_map = Site.objects.filter(region_id=KHARKIV, latitude__isnull=False).count()
    assert on_map >= 10

    # -- the coordinator starts the campaign and chooses its sites by filters
    context = _context(browser, live_server, coordinator)
    page = context.new_page()
    watch = Watch(page)
    page.goto(live_server.url + "/campaigns/new/")
    page.get_by_label("Name").fill(NAME)
    page.get_by_label("Region").select_option(KHARKIV)
    page.get_by_label("Goal: sites covered").fill("10")
    page.get_by_role("button", name="Start the campaign").click()
    expect(page.locator("#sites")).to_be_visible(timeout=TIMEOUT_MS)
    sites_form = page.locator("[data-sites-form]")
    expect(sites_form.get_by_label("Only inside the campaign's area")).to_be_checked()
    sites_form.get_by_label("Add the sites the filters choose").check()
    sites_form.get_by_role("button", name="Add the sites").click()
    expect(page.locator(".messages")).to_contain_text(
        f"Sites added: {expected}.", timeout=TIMEOUT_MS
    )
    campaign = Campaign.objects.get(name=NAME)
    assert Task.objects.filter(campaign=campaign).count() == expected
    coverage = page.locator("[data-campaign-map]")
    expect(coverage).to_have_attribute("data-state", "loaded", timeout=TIMEOUT_MS)
    expect(coverage).to_have_attribute("data-count", str(on_map))  # those with a point
    expect(coverage).to_have_attribute("data-status-open", str(on_map))
    assert watch.errors == []
    context.close()

    # -- the volunteer stands a hundred metres from one of the damaged sites
    target = in_region.exclude(damage_status="").order_by("id").first()
    assert target is not None
    here = (target.latitude + 0.0009, target.longitude)
    nearest = selectors.tasks_near(
        user=coordinator, place=selectors.Place(*here), campaign=campaign
    )
    assert nearest[0].task.site_id == target.pk and nearest[0].distance_km < 0.2
    context = _context(
        browser,
        live_server,
        volunteer,
        geolocation={"latitude": here[0], "longitude": here[1]},
        permissions=["geolocation"],
    )
    page = context.new_page()
    watch = Watch(page)
    page.goto(live_server.url + campaign.get_absolute_url())
    page.locator("[data-action=join]").click()
    expect(page).to_have_url(f"{live_server.url}/next/?campaign={campaign.pk}", timeout=TIMEOUT_MS)
    page.get_by_role("button", name="Use my location").click()
    first = page.locator("[data-open-tasks] [data-task]").first
    task = Task.objects.get(campaign=campaign, site=target)
    expect(first).to_have_attribute("data-task", str(task.pk), timeout=TIMEOUT_MS)
    expect(first.locator("[data-distance]")).to_contain_text("0.1 km")
    expect(page.locator("[data-next-map]")).to_have_attribute("data-state", "loaded")

    # -- claims it
    first.locator("h3 a").click()
    page.locator("[data-action=claim]").click()
    expect(page.locator("[data-task-mine]")).to_be_visible(timeout=TIMEOUT_MS)
    task.refresh_from_db()
    assert task.claimed_by_id == volunteer.pk

    # -- uploads a scan through Uppy (tus), then describes it as this site
    page.get_by_role("link", name="Upload a scan").last.click()
    page.locator(".uppy-Dashboard-input").first.set_input_files(
        str(data("awkward", "trimesh_models", "no_indices_3storybuilding.glb"))
    )
    expect(page.locator(".uppy-StatusBar-actionBtn--upload")).to_be_visible(timeout=TIMEOUT_MS)
    page.locator(".uppy-StatusBar-actionBtn--upload").click()
    expect(page.locator('[data-upload-result="done"]')).to_be_visible(timeout=TIMEOUT_MS)
    page.goto(live_server.url + task.get_absolute_url())
    page.locator("[data-own-captures] a").first.click()
    expect(page.locator(f'input[name=site][value="{target.pk}"]')).to_be_checked(timeout=TIMEOUT_MS)
    page.get_by_label("What did you capture?").fill("Three-storey building, all round")
    page.locator("input[name=consent]").check()
    page.get_by_role("button", name="Save the description").click()
    expect(page.locator(".messages")).to_be_visible(timeout=TIMEOUT_MS)
    task.refresh_from_db()
    assert task.state == TaskState.DONE and task.completed_by_id == volunteer.pk

    # -- the coverage map shows the site as scanned
    page.goto(live_server.url + campaign.get_absolute_url())
    coverage = page.locator("[data-campaign-map]")
    expect(coverage).to_have_attribute("data-state", "loaded", timeout=TIMEOUT_MS)
    expect(coverage).to_have_attribute("data-status-done", "1")
    expect(coverage).to_have_attribute("data-status-open", str(on_map - 1))
    expect(page.locator('[data-status-count="done"] strong')).to_have_text("1")
    assert watch.errors == []
    assert all(
        r.startswith(live_server.url) or r.startswith("data:") or r.startswith("blob:")
        for r in watch.requests
    )
    context.close()
