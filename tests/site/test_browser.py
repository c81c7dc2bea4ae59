"""The record page in a real browser: the model renders, nothing leaves the server.

Debian's chromium driven by the pip ``playwright`` package (never ``playwright
install``). WebGL runs on SwiftShader, so loading takes seconds: waits are long.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.site.conftest import BOX_MESHOPT, FUZE_OBJ
from tests.testdata import data

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"localhost", "127.0.0.1"}
LOAD_TIMEOUT_MS = 90_000


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API runs an event loop in this thread; the test's own
    # database work is done before any page is opened.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


class Watch:
    """Every request and every console error of one page."""

    def __init__(self, page) -> None:  # type: ignore[no-untyped-def]
        self.requests: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def foreign(self) -> list[str]:
        out = []
        for url in self.requests:
            parts = urlsplit(url)
            if parts.scheme in {"data", "blob"}:
                continue
            if parts.hostname not in LOCAL_HOSTS:
                out.append(url)
        return out


def _rendered_share(with_model: bytes, without_model: bytes) -> tuple[float, float]:
    """Share of pixels the model changed, and how varied those pixels are."""
    import numpy as np
    from PIL import Image

    a = np.asarray(Image.open(io.BytesIO(with_model)).convert("RGB"), dtype=np.int16)
    b = np.asarray(Image.open(io.BytesIO(without_model)).convert("RGB"), dtype=np.int16)
    assert a.shape == b.shape
    changed = np.abs(a - b).max(axis=2) > 24
    share = float(changed.mean())
    spread = float(a[changed].std()) if changed.any() else 0.0
    return share, spread


def _context(browser, **kwargs):  # type: ignore[no-untyped-def]
    # Anything not on this machine fails to resolve, so a leak cannot succeed quietly.
    return browser.new_context(**kwargs)


def test_record_viewer_renders_locally(
    browser, live_server, ingest, make_capture, tmp_path
) -> None:
    from playwright.sync_api import expect

    capture = ingest(data(*FUZE_OBJ), title="Fuze bottle")
    url = live_server.url + capture.record.get_absolute_url()

    context = _context(browser, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    watch = Watch(page)
    page.goto(url)
    stage = page.locator("#viewer")
    expect(stage).to_have_attribute("data-state", "loaded", timeout=LOAD_TIMEOUT_MS)
    expect(page.locator("[data-viewer-lod]")).to_have_value(
        f"/records/{capture.record_id}/captures/{capture.id}/derivative/web-high"
    )
    viewer = page.locator("model-viewer")
    page.wait_for_timeout(1500)  # let the first frames settle after 'load'
    area = viewer.bounding_box()
    assert area is not None and area["width"] > 300 and area["height"] > 250
    shot = page.screenshot(clip=area)
    page.screenshot(path=str(tmp_path / "record-desktop.png"), full_page=True)
    viewer.evaluate("el => { el.style.visibility = 'hidden'; }")
    page.wait_for_timeout(200)
    empty = page.screenshot(clip=area)  # the stage's background alone
    share, spread = _rendered_share(shot, empty)
    assert share > 0.03, f"the model covers only {share:.1%} of the viewer"
    assert spread > 8, "the rendered pixels are a single flat colour"

    assert watch.foreign() == []
    assert watch.errors == []
    decoders = [u for u in watch.requests if "/static/vendor/" in u]
    assert any("model-viewer.min.js" in u for u in decoders)
    assert any("meshopt_decoder.cjs" in u for u in decoders), "the web copy is meshopt-compressed"
    context.close()
    if os.environ.get("SPADOK_KEEP_SCREENSHOTS"):
        shutil.copytree(tmp_path, os.environ["SPADOK_KEEP_SCREENSHOTS"], dirs_exist_ok=True)


def test_record_page_on_a_phone(browser, live_server, make_capture, tmp_path) -> None:
    from playwright.sync_api import expect

    box = data(*BOX_MESHOPT)
    capture = make_capture(
        title="Box on a phone",
        web={"web-high": box, "web-medium": box, "web-low": box},
    )
    url = live_server.url + capture.record.get_absolute_url()
    context = _context(
        browser,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    page = context.new_page()
    watch = Watch(page)
    page.goto(url)
    expect(page.locator("#viewer")).to_have_attribute(
        "data-state", "loaded", timeout=LOAD_TIMEOUT_MS
    )
    # phones start with a lighter copy
    expect(page.locator("[data-viewer-lod]")).to_have_value(
        f"/records/{capture.record_id}/captures/{capture.id}/derivative/web-medium"
    )
    for selector in ("model-viewer", "#downloads-title", ".files .file__name", "[data-viewer-lod]"):
        target = page.locator(selector).first
        target.scroll_into_view_if_needed()
        expect(target).to_be_visible()
        box_ = target.bounding_box()
        assert box_ is not None and box_["x"] >= 0 and box_["x"] + box_["width"] <= 390 + 0.5, (
            selector
        )
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"horizontal scrolling on a phone: {widths}"
    # A phone browser widens its layout to fit what overflows, so also check that every
    # menu link and the language buttons lie inside the phone's 390 pixels.
    page.evaluate("window.scrollTo(0, 0)")
    for item in [*page.locator(".site-nav a").all(), page.locator(".lang__buttons")]:
        box_ = item.bounding_box()
        assert box_ is not None and box_["x"] + box_["width"] <= 390 + 0.5, item
    page.screenshot(path=str(tmp_path / "record-phone.png"), full_page=True)
    page.goto(live_server.url + "/records/")
    expect(page.locator(".card").first).to_be_visible()
    page.screenshot(path=str(tmp_path / "browse-phone.png"), full_page=True)
    assert watch.foreign() == []
    assert watch.errors == []
    context.close()
    if os.environ.get("SPADOK_KEEP_SCREENSHOTS"):
        shutil.copytree(tmp_path, os.environ["SPADOK_KEEP_SCREENSHOTS"], dirs_exist_ok=True)
