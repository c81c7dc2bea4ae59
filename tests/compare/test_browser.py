"""The comparison page in a real browser: the heat map renders, the slider moves the split,
the two captures turn together, and nothing is fetched from elsewhere."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest

from tests.site.test_browser import ARGS, CHROMIUM, LOAD_TIMEOUT_MS, Watch, _rendered_share

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def _warmth(shot: bytes, empty: bytes) -> float:
    """Mean red minus blue of the pixels the models cover (warm before, cool after)."""
    import numpy as np
    from PIL import Image

    a = np.asarray(Image.open(io.BytesIO(shot)).convert("RGB"), dtype=np.int16)
    b = np.asarray(Image.open(io.BytesIO(empty)).convert("RGB"), dtype=np.int16)
    covered = np.abs(a - b).max(axis=2) > 24
    assert covered.mean() > 0.02, "no model on the stage"
    return float((a[..., 0] - a[..., 2])[covered].mean())


def test_comparison_page_heat_map_and_slider(browser, live_server, ready, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    watch = Watch(page)
    page.goto(live_server.url + ready.get_absolute_url())

    # the heat map
    heat = page.locator("#heat-stage")
    expect(heat).to_have_attribute("data-state", "loaded", timeout=LOAD_TIMEOUT_MS)
    expect(page.locator("[data-legend]")).to_be_visible()
    viewer = page.locator("#heat-viewer")
    page.wait_for_timeout(1500)  # let the first frames settle after 'load'
    area = viewer.bounding_box()
    assert area is not None and area["width"] > 300 and area["height"] > 250
    shot = page.screenshot(clip=area)
    page.screenshot(path=str(tmp_path / "comparison-heat.png"), full_page=True)
    viewer.evaluate("el => { el.style.visibility = 'hidden'; }")
    page.wait_for_timeout(200)
    empty = page.screenshot(clip=area)
    viewer.evaluate("el => { el.style.visibility = ''; }")
    share, spread = _rendered_share(shot, empty)
    assert share > 0.03, f"the heat map covers only {share:.1%} of the viewer"
    assert spread > 8, "the rendered pixels are a single flat colour"

    # the slider: the before capture left of the split, the after capture right of it
    page.get_by_role("tab", name="Slider").click()
    stage = page.locator("#slider-stage")
    expect(stage).to_have_attribute("data-state", "loaded", timeout=LOAD_TIMEOUT_MS)
    page.wait_for_timeout(1500)
    box = stage.bounding_box()
    assert box is not None and box["width"] > 300
    split = page.locator("#split")
    top = page.locator("#slider-after")
    shots = {}
    for key, value in (("End", "100"), ("Home", "0")):
        split.focus()
        split.press(key)
        expect(stage).to_have_attribute("data-split", value)
        page.wait_for_timeout(300)
        shots[value] = stage.screenshot()  # the element, wherever focusing scrolled it
    assert "inset(0px 0px 0px 0%)" in top.evaluate("el => getComputedStyle(el).clipPath")
    for el in ("#slider-before", "#slider-after"):
        page.locator(el).evaluate("el => { el.style.visibility = 'hidden'; }")
    page.wait_for_timeout(200)
    background = stage.screenshot()
    for el in ("#slider-before", "#slider-after"):
        page.locator(el).evaluate("el => { el.style.visibility = ''; }")
    before_only, after_only = _warmth(shots["100"], background), _warmth(shots["0"], background)
    assert before_only > after_only + 10, (before_only, after_only)

    # dragging one of the two turns the other with it
    split.focus()
    for _ in range(50):
        split.press("ArrowRight")
    expect(stage).to_have_attribute("data-split", "50")
    stage.scroll_into_view_if_needed()
    box = stage.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.35, box["y"] + box["height"] * 0.45, steps=8)
    page.mouse.up()
    page.wait_for_timeout(500)
    thetas = page.evaluate(
        "[...document.querySelectorAll('#slider-stage model-viewer')]"
        ".map(v => v.getCameraOrbit().theta)"
    )
    assert abs(thetas[0]) > 0.05 and thetas[0] == pytest.approx(thetas[1], abs=1e-3), thetas

    # side by side
    page.get_by_role("tab", name="Side by side").click()
    for stage_id in ("#side-before-stage", "#side-after-stage"):
        expect(page.locator(stage_id)).to_have_attribute(
            "data-state", "loaded", timeout=LOAD_TIMEOUT_MS
        )
    page.screenshot(path=str(tmp_path / "comparison-side.png"), full_page=True)

    assert watch.foreign() == []
    assert watch.errors == []
    assert any("meshopt_decoder.cjs" in u for u in watch.requests)
    context.close()
    if os.environ.get("SPADOK_KEEP_SCREENSHOTS"):
        shutil.copytree(tmp_path, os.environ["SPADOK_KEEP_SCREENSHOTS"], dirs_exist_ok=True)


def test_comparison_page_follows_a_running_job(browser, live_server, pair, quick) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    from spadok.compare import services
    from spadok.compare.models import Comparison, ComparisonState

    comparison = services.comparison_request(before=pair[0], after=pair[1], params=quick)
    Comparison.objects.filter(id=comparison.id).update(
        state=ComparisonState.RUNNING, step="align", progress=0.4
    )
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.goto(live_server.url + comparison.get_absolute_url())
    status = page.locator("[data-comparison-status]")
    expect(status).to_have_attribute("data-state", "running")
    expect(page.locator("[data-status-percent]")).to_have_text("40%")
    Comparison.objects.filter(id=comparison.id).update(step="volume", progress=0.7)
    expect(page.locator("[data-status-percent]")).to_have_text("70%", timeout=10_000)
    Comparison.objects.filter(id=comparison.id).update(
        state=ComparisonState.FAILED, error_code="compare.not_aligned", error_message="Not aligned."
    )
    # at the end the page reloads itself and shows the outcome
    expect(page.locator("[data-error-code]")).to_have_text("compare.not_aligned", timeout=10_000)
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"horizontal scrolling on a phone: {widths}"
    context.close()
