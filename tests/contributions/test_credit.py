"""Credit and the contributor in the preservation record.

A contributor who chose "credit me" is named publicly by their display name
(never their user name or e-mail); one who did not is not named at all. The
capture's OCFL object names the contributor by a pseudonymous account
reference (and the display name only when credited), with the consent and the
licence, and ``rebuild-index`` links the capture back to the account.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from tests.site.conftest import BOX_MESHOPT
from tests.testdata import data

pytestmark = pytest.mark.django_db

USERNAME = "mariia_petrenko_real"
EMAIL = "mariia.petrenko@example.org"
DISPLAY = "Зоряна Сова"


@pytest.fixture
def contributor(django_user_model: Any) -> Any:
    from spadok.accounts.services import profile_update

    user = django_user_model.objects.create_user(USERNAME, EMAIL, "pw-credit-test-1")
    profile_update(user=user, display_name=DISPLAY, credit_me=False)
    return user


@pytest.fixture
def ingested(storage_root: Path, tmp_path: Path, contributor: Any) -> Any:
    """A public record with one processed capture of ``contributor``, in its OCFL object."""
    from spadok.catalogue import contributions, services
    from spadok.catalogue.models import Capture, Licence, Record, Visibility
    from spadok.core import inputs

    [unit] = [
        u
        for u in inputs.expand([data(*BOX_MESHOPT)], tmp_path / "work")
        if isinstance(u, inputs.Unit)
    ]
    capture = services.capture_ingest(unit=unit, title="Дзвіниця")
    Capture.objects.filter(id=capture.id).update(contributor=contributor)
    capture.refresh_from_db()
    contributions.capture_describe(
        actor=contributor,
        capture=capture,
        title="Дзвіниця",
        licence=Licence.CC0,
        consent=True,
    )
    Record.objects.filter(id=capture.record_id).update(visibility=Visibility.PUBLIC)
    return Capture.objects.select_related("record").get(id=capture.id)


def _set_credit(user: Any, credit: bool) -> None:
    from spadok.accounts.services import profile_update

    profile_update(user=user, display_name=DISPLAY, credit_me=credit)


def _public(record_id: str) -> tuple[str, dict[str, Any]]:
    anon = Client(HTTP_ACCEPT_LANGUAGE="en")
    page = anon.get(f"/records/{record_id}/")
    assert page.status_code == 200
    payload = anon.get(f"/records/{record_id}.json")
    assert payload.status_code == 200
    return page.content.decode(), payload.json()


def _record_json(capture_id: str) -> dict[str, Any]:
    from spadok.core.preservation.ocfl import METADATA_RECORD
    from spadok.preservation import services as preservation

    with preservation.primary().open_logical(capture_id, METADATA_RECORD) as fh:
        result: dict[str, Any] = json.loads(fh.read())
    return result


def test_a_credited_contributor_is_named_by_display_name_only(
    ingested: Any, contributor: Any
) -> None:
    _set_credit(contributor, True)
    page, payload = _public(ingested.record_id)
    assert f"Captured by {DISPLAY}" in page
    assert [c["captured_by"] for c in payload["captures"]] == [DISPLAY]
    blob = page + json.dumps(payload, ensure_ascii=False)
    for secret in (USERNAME, EMAIL, EMAIL.split("@")[0]):
        assert secret not in blob


def test_without_credit_nobody_is_named(ingested: Any, contributor: Any) -> None:
    page, payload = _public(ingested.record_id)
    assert [c["captured_by"] for c in payload["captures"]] == [None]
    blob = page + json.dumps(payload, ensure_ascii=False)
    for secret in (DISPLAY, USERNAME, EMAIL, "Captured by"):
        assert secret not in blob


def test_record_json_names_the_account_pseudonymously(ingested: Any, contributor: Any) -> None:
    meta = _record_json(ingested.id)
    who = meta["capture"]["contributor"]
    assert who["account"] == contributor.profile.archive_ref
    assert who["account"].startswith("acct-") and len(who["account"]) == 29
    assert who["credited"] is False and "display_name" not in who
    assert who["licence"] == "cc0-1.0" and who["consent_at"]
    text = json.dumps(meta, ensure_ascii=False)
    for secret in (USERNAME, EMAIL, DISPLAY):
        assert secret not in text


def test_a_credit_change_reaches_record_json(ingested: Any, contributor: Any) -> None:
    """profile_update queues the rewrite after the commit; the job writes a new version."""
    from spadok.catalogue.contributions import contributor_rewrite_metadata

    _set_credit(contributor, True)
    contributor_rewrite_metadata(user_id=contributor.pk)  # what the queued job runs
    who = _record_json(ingested.id)["capture"]["contributor"]
    assert who["credited"] is True and who["display_name"] == DISPLAY
    _set_credit(contributor, False)
    contributor_rewrite_metadata(user_id=contributor.pk)
    who = _record_json(ingested.id)["capture"]["contributor"]
    assert who["credited"] is False and "display_name" not in who


def test_a_credit_change_queues_the_rewrite(
    contributor: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from spadok.accounts.services import profile_update

    with django_capture_on_commit_callbacks() as callbacks:
        profile_update(user=contributor, display_name=DISPLAY, credit_me=False)  # no change
    assert callbacks == []
    with django_capture_on_commit_callbacks() as callbacks:
        profile_update(user=contributor, display_name=DISPLAY, credit_me=True)
    assert len(callbacks) == 1
    with django_capture_on_commit_callbacks() as callbacks:
        profile_update(user=contributor, display_name="Інша Сова", credit_me=True)
    assert len(callbacks) == 1  # a credited name changed


def _lose_the_catalogue() -> None:
    from spadok.catalogue.models import Capture, Record, ReviewDecision
    from spadok.preservation.models import PreservationEvent

    ReviewDecision.objects.all().delete()
    Capture.objects.all().delete()
    Record.objects.all().delete()
    PreservationEvent.objects.all().delete()


def test_rebuild_index_links_the_contributor_back(ingested: Any, contributor: Any) -> None:
    from spadok.catalogue.models import Capture
    from spadok.preservation.services import catalogue_rebuild

    consent_at = ingested.consent_at
    _lose_the_catalogue()
    counts = catalogue_rebuild()
    assert counts["captures"] == 1 and counts["contributors"] == 1
    capture = Capture.objects.get(id=ingested.id)
    assert capture.contributor_id == contributor.pk
    assert capture.licence == "cc0-1.0" and capture.consent_at == consent_at
    assert catalogue_rebuild()["contributors"] == 1  # again: the same link


def test_rebuild_index_without_the_account_keeps_the_capture_unlinked(
    ingested: Any, contributor: Any
) -> None:
    from spadok.catalogue.models import Capture
    from spadok.preservation.services import catalogue_rebuild

    _lose_the_catalogue()
    contributor.delete()
    counts = catalogue_rebuild()
    assert counts["captures"] == 1 and counts["contributors"] == 0
    capture = Capture.objects.get(id=ingested.id)
    assert capture.contributor_id is None and capture.licence == "cc0-1.0"
