"""The streaming point viewer in a real browser: the root tile is drawn at once, zooming
asks for more tiles by byte range, a phone gets a smaller budget, and a browser
without WebGL 2 is told so and shown the preview image."""

from __future__ import annotations

import io

import pytest

from tests.site.pointfixtures import tiled_capture_fixture  # noqa: F401 - a fixture
from tests.site.test_browser import LOAD_TIMEOUT_MS, Watch, browser  # noqa: F401 - a fixture

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BACKGROUND = (245, 245, 242)  # the viewer's clear colour


def _drawn(png: bytes) -> tuple[float, float]:
    """Share of pixels unlike the background, and how varied they are."""
    import numpy as np
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
    changed = np.abs(img - np.array(BACKGROUND)).max(axis=2) > 24
    return float(changed.mean()), float(img[changed].std()) if changed.any() else 0.0


def _tiles(stage) -> int:  # type: ignore[no-untyped-def]
    return int(stage.get_attribute("data-tiles-requested") or 0)


def test_point_viewer_draws_the_root_then_refines_on_zoom(
    browser,  # noqa: F811
    live_server,
    tiled_capture,
    tmp_path,
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    watch = Watch(page)
    statuses: list[int] = []
    page.on("response", lambda r: "web-lod-data" in r.url and statuses.append(r.status))
    page.goto(live_server.url + tiled_capture.record.get_absolute_url())
    stage = page.locator("#pointviewer")
    expect(stage).to_have_attribute("data-state", "loaded", timeout=LOAD_TIMEOUT_MS)
    page.wait_for_timeout(1500)  # the first frames after the root tile
    canvas = page.locator("#pointviewer canvas")
    area = canvas.bounding_box()
    assert area is not None and area["width"] > 300 and area["height"] > 250
    share, spread = _drawn(page.screenshot(clip=area))
    page.screenshot(path=str(tmp_path / "points-desktop.png"))
    assert share > 0.03, f"the cloud covers only {share:.1%} of the canvas"
    assert spread > 8, "the drawn pixels are a single flat colour"

    before = _tiles(stage)
    assert before >= 1
    for _ in range(4):
        page.click("[data-pv-zoom-in]")
    expect(stage).not_to_have_attribute("data-tiles-requested", str(before), timeout=30_000)
    page.wait_for_timeout(1500)
    assert _tiles(stage) > before
    page.mouse.move(area["x"] + area["width"] / 2, area["y"] + area["height"] / 2)
    page.mouse.wheel(0, -600)  # the wheel zooms too
    page.wait_for_timeout(1500)
    assert statuses and all(s == 206 for s in statuses), statuses
    assert watch.foreign() == []
    assert watch.errors == []
    context.close()


def test_point_viewer_on_a_phone(browser, live_server, tiled_capture) -> None:  # noqa: F811 - browser
    from playwright.sync_api import expect

    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )
    page = context.new_page()
    watch = Watch(page)
    page.goto(live_server.url + tiled_capture.record.get_absolute_url())
    stage = page.locator("#pointviewer")
    expect(stage).to_have_attribute("data-state", "loaded", timeout=LOAD_TIMEOUT_MS)
    canvas = page.locator("#pointviewer canvas")
    area = canvas.bounding_box()
    assert area is not None and area["width"] <= 390
    assert canvas.evaluate("el => getComputedStyle(el).touchAction") == "none"  # touch orbits
    page.wait_for_timeout(1000)
    assert int(stage.get_attribute("data-points-shown") or 0) <= 1_000_000  # the phone budget
    assert watch.errors == []
    context.close()


def test_without_webgl2_the_preview_is_shown(browser, live_server, tiled_capture) -> None:  # noqa: F811 - browser
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(
        "HTMLCanvasElement.prototype.getContext = function () { return null; };"
    )
    page = context.new_page()
    watch = Watch(page)
    page.goto(live_server.url + tiled_capture.record.get_absolute_url())
    stage = page.locator("#pointviewer")
    expect(stage).to_have_attribute("data-state", "nowebgl", timeout=LOAD_TIMEOUT_MS)
    expect(page.locator("[data-pv-poster]")).to_be_visible()
    expect(page.locator("[data-pv-status]")).to_contain_text("WebGL")
    assert watch.errors == []
    context.close()
