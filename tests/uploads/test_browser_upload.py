"""The upload page in a real browser: Uppy's Dashboard sends a GLB over tus and it
becomes a capture byte for byte, also when the connection breaks half-way."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.site.conftest import BOX_MESHOPT
from tests.site.test_browser import browser  # noqa: F401  (the fixture)
from tests.testdata import data

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parent.parent.parent
BUNDLE = ROOT / "build" / "static" / "uploads" / "upload.js"
TIMEOUT_MS = 60_000


@pytest.fixture(scope="session")
def bundle() -> Path:
    """The esbuild bundle `make setup` makes; built here when a developer skipped make."""
    entry = ROOT / "src" / "spadok" / "site" / "static_src" / "upload.js"
    if not BUNDLE.exists() or BUNDLE.stat().st_mtime < entry.stat().st_mtime:
        subprocess.run(["make", "-s", "build/static/uploads/upload.js"], cwd=ROOT, check=True)
    return BUNDLE


@pytest.fixture(autouse=True)
def jobs_run_at_once(settings: Any) -> None:
    """The filing job runs in the request (no worker here); the page polls until it is done."""
    settings.TASKS = {
        "default": {
            "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
            "QUEUES": ["default", "processing"],
        }
    }


def _page(browser: Any, live_server: Any, user: Any, language: str = "") -> Any:  # noqa: F811
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    cookies = [{"name": "sessionid", "value": client.cookies["sessionid"].value}]
    if language:
        cookies.append({"name": settings.LANGUAGE_COOKIE_NAME, "value": language})
    context.add_cookies([{**c, "url": live_server.url} for c in cookies])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(live_server.url + "/upload/")
    return page, errors


def _send(page: Any, path: Path, title: str) -> Any:
    from playwright.sync_api import expect

    page.locator(".uppy-Dashboard-input").first.set_input_files(str(path))
    expect(page.locator(".uppy-StatusBar-actionBtn--upload")).to_be_visible(timeout=TIMEOUT_MS)
    page.evaluate(
        "t => { const u = window.spadokUppy;"
        " u.getFiles().forEach(f => u.setFileMeta(f.id, {title: t})); }",
        title,
    )
    page.locator(".uppy-StatusBar-actionBtn--upload").click()
    done = page.locator('[data-upload-result="done"]')
    expect(done).to_be_visible(timeout=TIMEOUT_MS)
    return done


def test_uppy_uploads_a_glb(
    browser: Any,  # noqa: F811
    bundle: Path,
    live_server: Any,
    volunteer: Any,
    upload_dir: Path,
) -> None:
    from spadok.catalogue.models import Capture

    glb = data(*BOX_MESHOPT)
    page, errors = _page(browser, live_server, volunteer)
    done = _send(page, glb, "Коробка")
    capture = Capture.objects.select_related("record").get(id=done.get_attribute("data-capture"))
    assert capture.originals[0]["sha256"] == hashlib.sha256(glb.read_bytes()).hexdigest()
    assert capture.originals[0]["path"] == glb.name
    assert capture.record.title == "Коробка" and capture.contributor_id == volunteer.pk
    describe = page.locator('[data-upload-result="done"] a').nth(1).get_attribute("href")
    assert describe == f"/records/{capture.record_id}/captures/{capture.id}/"
    page.locator('[data-upload-result="done"] a').first.click()
    assert page.url.endswith(f"/records/{capture.record_id}/")
    page.goto(live_server.url + describe)
    assert page.locator("#describe-title").count() == 1
    assert errors == []
    page.context.close()


@pytest.mark.parametrize(
    ("language", "words"),
    [("uk", "Перетягніть файли"), ("en", "Drop files here")],
)
def test_uppy_speaks_the_pages_language(
    browser: Any,  # noqa: F811
    bundle: Path,
    live_server: Any,
    volunteer: Any,
    upload_dir: Path,
    language: str,
    words: str,
) -> None:
    from playwright.sync_api import expect

    page, errors = _page(browser, live_server, volunteer, language=language)
    assert page.locator("#uploader").get_attribute("data-locale") == language
    expect(page.locator(".uppy-Dashboard-AddFiles-title")).to_contain_text(
        words, timeout=TIMEOUT_MS
    )
    assert errors == []
    page.context.close()


def test_uppy_resumes_after_the_connection_breaks(
    browser: Any,  # noqa: F811
    bundle: Path,
    live_server: Any,
    volunteer: Any,
    upload_dir: Path,
    tmp_path: Path,
) -> None:
    from spadok.catalogue.models import Capture
    from spadok.uploads.models import UploadChunk

    big = tmp_path / "велика модель.glb"
    big.write_bytes(os.urandom(12 * 1024 * 1024))  # three 5 MB pieces
    page, errors = _page(browser, live_server, volunteer)
    patches = {"n": 0}

    def cut_the_second_piece(route: Any) -> None:
        if route.request.method == "PATCH":
            patches["n"] += 1
            if patches["n"] == 2:
                route.abort("connectionreset")
                return
        route.continue_()

    page.route("**/api/uploads/*", cut_the_second_piece)
    done = _send(page, big, "")
    capture = Capture.objects.get(id=done.get_attribute("data-capture"))
    assert capture.originals[0]["sha256"] == hashlib.sha256(big.read_bytes()).hexdigest()
    assert patches["n"] >= 4  # three pieces and the one sent again
    assert UploadChunk.objects.count() == 3
    assert errors == []
    page.context.close()
