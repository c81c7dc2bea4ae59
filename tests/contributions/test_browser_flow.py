"""The whole contribution story in a real browser, with nothing forced from the side:

a contributor signs up, sends a GLB through Uppy, the connection is cut half-way and
the upload resumes to a byte-identical original; a reviewer signs in and approves it;
an anonymous visitor finds it in the public grid and the viewer shows it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from tests.site.test_browser import LOAD_TIMEOUT_MS, Watch, browser  # noqa: F401
from tests.uploads.conftest import upload_dir  # noqa: F401  (this test's storage, uploads)
from tests.uploads.test_browser_upload import bundle, jobs_run_at_once  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# The last piece's answer waits for the filing and processing jobs (run at once, in
# the request): a model of a third of a million triangles takes a while in CI.
PROCESS_TIMEOUT_MS = 240_000
TIMEOUT_MS = 30_000
CHUNK = 5 * 1024 * 1024  # the upload page's piece size (uploads.views.upload_page)

TITLE = "Ротонда в Полтаві"
USERNAME = "olena_scans"
EMAIL = "olena.private@example.org"
DISPLAY_NAME = "Poltava walker"
PASSWORD = "lantern-harbour-violet-42"


def _glb(path: Path) -> Path:
    """A real GLB of two pieces and a bit: a finely subdivided sphere (about 8 MB)."""
    import trimesh

    sphere = trimesh.creation.icosphere(subdivisions=7, radius=1.0)
    path.write_bytes(sphere.export(file_type="glb", include_normals=True))
    assert path.stat().st_size > CHUNK + CHUNK // 4, "the file must need more than one piece"
    return path


def _context(browser: Any) -> Any:  # noqa: F811
    return browser.new_context(viewport={"width": 1100, "height": 900}, locale="en-GB")


def _sign_up(page: Any, live_server: Any) -> None:
    from django.urls import reverse
    from playwright.sync_api import expect

    page.goto(live_server.url + "/accounts/signup/")
    form = page.locator("form", has=page.locator("input[name=password2]"))
    form.locator("input[name=username]").fill(USERNAME)
    form.locator("input[name=email]").fill(EMAIL)
    form.locator("input[name=password1]").fill(PASSWORD)
    form.locator("input[name=password2]").fill(PASSWORD)
    form.locator("input[name=display_name]").fill(DISPLAY_NAME)
    expect(form.locator("input[name=credit_me]")).not_to_be_checked()  # no credit asked
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(live_server.url + reverse("accounts:account"), timeout=TIMEOUT_MS)


def _upload_with_a_cut(page: Any, live_server: Any, glb: Path) -> tuple[Any, dict[str, int]]:
    """Send the file through Uppy; the second piece's connection is reset once."""
    from playwright.sync_api import expect

    patches = {"sent": 0, "cut": 0}

    def cut_the_second_piece(route: Any) -> None:
        if route.request.method == "PATCH":
            patches["sent"] += 1
            if patches["sent"] == 2:
                patches["cut"] += 1
                route.abort("connectionreset")
                return
        route.continue_()

    page.route("**/api/uploads/*", cut_the_second_piece)
    page.goto(live_server.url + "/upload/")
    page.locator(".uppy-Dashboard-input").first.set_input_files(str(glb))
    upload = page.locator(".uppy-StatusBar-actionBtn--upload")
    expect(upload).to_be_visible(timeout=TIMEOUT_MS)
    page.evaluate(
        "t => { const u = window.spadokUppy;"
        " u.getFiles().forEach(f => u.setFileMeta(f.id, {title: t})); }",
        TITLE,
    )
    upload.click()
    done = page.locator('[data-upload-result="done"]')
    expect(done).to_be_visible(timeout=PROCESS_TIMEOUT_MS)
    return done, patches


def _sign_in(page: Any, live_server: Any, username: str, password: str) -> None:
    from django.urls import reverse
    from playwright.sync_api import expect

    page.goto(live_server.url + "/accounts/login/")
    form = page.locator("form.signin__form")
    form.locator("input[name=login]").fill(username)
    form.locator("input[name=password]").fill(password)
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(live_server.url + reverse("accounts:account"), timeout=TIMEOUT_MS)


def test_sign_up_upload_resume_review_and_publish(  # type: ignore[no-untyped-def]
    browser,  # noqa: F811
    bundle,  # noqa: F811
    live_server,
    upload_dir,  # noqa: F811
    make_user,
    tmp_path,
) -> None:
    from django.contrib.auth import get_user_model
    from playwright.sync_api import expect

    from spadok.catalogue.models import Capture, CaptureState, Visibility
    from spadok.catalogue.storage import get_storage
    from spadok.uploads.models import Upload, UploadChunk, UploadState

    glb = _glb(tmp_path / "ротонда.glb")
    source = glb.read_bytes()
    # made before any page opens (the test's database work stays out of the browser's way)
    reviewer = make_user("reviewer-anna", "reviewer", mfa=False)

    # 1. The contributor signs up and uploads; the second piece's connection breaks.
    contributor_context = _context(browser)
    page = contributor_context.new_page()
    contributor_watch = Watch(page)
    _sign_up(page, live_server)
    done, patches = _upload_with_a_cut(page, live_server, glb)

    contributor = get_user_model().objects.select_related("profile").get(username=USERNAME)
    assert contributor.email == EMAIL
    assert contributor.profile.display_name == DISPLAY_NAME and not contributor.profile.credit_me
    capture = Capture.objects.select_related("record").get(id=done.get_attribute("data-capture"))
    assert capture.contributor_id == contributor.pk
    assert capture.record.title == TITLE and capture.record.visibility == Visibility.DRAFT

    pieces = -(-len(source) // CHUNK)
    assert patches["cut"] == 1 and patches["sent"] == pieces + 1, patches  # one piece resent
    upload = Upload.objects.get(capture=capture)
    assert upload.state == UploadState.DONE and upload.user_id == contributor.pk
    chunks = list(UploadChunk.objects.filter(upload=upload).order_by("offset"))
    assert [c.offset for c in chunks] == [i * CHUNK for i in range(pieces)]  # no gap, no overlap

    # the original in the capture's object is the file sent, byte for byte
    digest = hashlib.sha256(source).hexdigest()
    original = capture.originals[0]
    assert original["path"] == glb.name and original["size"] == len(source)
    assert upload.sha256 == digest  # recorded on arrival, from the bytes received
    assert original["sha256"] == upload.sha256
    stored = get_storage().read_bytes(original["key"])
    assert stored == source and hashlib.sha256(stored).hexdigest() == digest

    # the filing job queued process_capture, which ran at once (a worker's part elsewhere)
    capture.refresh_from_db()
    assert capture.state == CaptureState.READY, (capture.error_code, capture.error_message)
    assert capture.derivatives.filter(role__startswith="web-").exists()
    assert capture.derivatives.filter(role="thumbnail").exists()
    # the console's only complaint is the cut itself
    assert [e for e in contributor_watch.errors if "ERR_CONNECTION_RESET" not in e] == []
    assert contributor_watch.foreign() == []
    contributor_context.close()

    # 2. A reviewer signs in (no second factor for reviewers) and approves it as public.
    reviewer_context = _context(browser)
    page = reviewer_context.new_page()
    reviewer_watch = Watch(page)
    _sign_in(page, live_server, reviewer.username, "correct horse battery")
    page.goto(live_server.url + "/review/")
    item = page.locator(f'[data-review-capture="{capture.id}"]')
    expect(item).to_be_visible(timeout=TIMEOUT_MS)
    expect(item.locator("h2")).to_have_text(TITLE)
    approve = item.locator('form[data-action="approve"]')
    approve.locator("select[name=visibility]").select_option("public")
    approve.locator("button[type=submit]").click()
    expect(page.locator(".message--success")).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator(f'[data-review-capture="{capture.id}"]')).to_have_count(0)
    assert reviewer_watch.errors == []
    reviewer_context.close()
    capture.record.refresh_from_db()
    assert capture.record.visibility == Visibility.PUBLIC

    # 3. Anyone finds it in the public grid, and the record page shows the model.
    public_context = _context(browser)
    page = public_context.new_page()
    public_watch = Watch(page)
    page.goto(live_server.url + "/records/")
    card = page.locator(".card", has_text=TITLE)
    expect(card).to_be_visible(timeout=TIMEOUT_MS)
    expect(card.locator("img")).to_have_attribute(
        "src", f"/records/{capture.record_id}/captures/{capture.id}/derivative/thumbnail"
    )
    grid_html = page.content()
    card.get_by_role("link").first.click()
    expect(page).to_have_url(live_server.url + capture.record.get_absolute_url())
    expect(page.locator("h1")).to_have_text(TITLE)
    expect(page.locator("#viewer")).to_have_attribute(
        "data-state", "loaded", timeout=LOAD_TIMEOUT_MS
    )
    expect(page.locator("model-viewer")).to_be_visible()
    record_html = page.content()
    answer = page.request.get(live_server.url + f"/records/{capture.record_id}.json")
    assert answer.ok and capture.id in answer.text()
    record_json = answer.text()
    # who sent it stays private: no user name, no email, and (no credit asked) no name
    for html in (grid_html, record_html, record_json):
        for private in (USERNAME, EMAIL, EMAIL.split("@")[0], DISPLAY_NAME):
            assert private not in html, private
    assert public_watch.errors == [] and public_watch.foreign() == []
    public_context.close()
