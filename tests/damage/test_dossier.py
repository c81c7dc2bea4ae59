"""Evidence dossiers carry the damage events, with their sources and who entered them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from spadok.core.evidence import verify_dossier
from spadok.damage import services

pytestmark = pytest.mark.django_db


def test_a_dossier_holds_every_event_and_still_verifies(
    make_site: Any, make_capture: Any, curator: Any, reviewer: Any, tmp_path: Path
) -> None:
    from spadok.catalogue.models import Record
    from spadok.evidence import keys
    from spadok.evidence.dossiers import dossier_make

    site = make_site(latitude=47.1, longitude=37.5)
    capture = make_capture(record=Record.objects.create(title="Portal", site=site))
    verified = services.damage_event_create(
        by=curator, site=site, kind="damaged", standing="unesco", source_name="UNESCO",
        source_url="https://www.unesco.org/en/articles/x", date_start="2022-03",
        date_precision="month",
    )  # fmt: skip
    shown = services.damage_event_create(
        by=reviewer, capture=capture, kind="destroyed", standing="capture",
        date_start="2023-07-23", description="The portal has collapsed.",
    )  # fmt: skip
    internal = services.damage_event_create(
        by=curator, site=site, kind="threatened", standing="field", public=False,
        source_document="Field note 17/2024",
    )  # fmt: skip
    withdrawn = services.damage_event_create(by=curator, site=site, kind="looted", standing="news")
    services.damage_event_retract(event=withdrawn, by=curator, reason="another museum")
    elsewhere = make_site(names={"en": "Elsewhere"})
    services.damage_event_create(by=curator, site=elsewhere, kind="damaged", standing="news")

    pub = tmp_path / "key.pub"
    pub.write_bytes(keys.public_pem())
    for subject, expected in (
        (site.id, {verified.id, shown.id, internal.id, withdrawn.id}),
        (capture.record_id, {verified.id, shown.id, internal.id, withdrawn.id}),
    ):
        written = dossier_make(subject_id=subject, dest=tmp_path / subject)
        report = verify_dossier(written.path, key=pub)
        assert report.ok, report
        events = json.loads((written.path / "data" / "damage" / "events.json").read_text())
        assert {e["id"] for e in events} == expected
        by_id = {e["id"]: e for e in events}
        assert by_id[verified.id]["verified"] is True
        assert by_id[verified.id]["standing"] == "unesco"
        assert by_id[verified.id]["date_start"] == "2022-03-01"
        assert by_id[verified.id]["date_precision"] == "month"
        assert by_id[verified.id]["source_url"] == "https://www.unesco.org/en/articles/x"
        # who entered each: for investigators, by account id and display name
        assert by_id[verified.id]["entered_by"] == {
            "id": curator.pk, "name": curator.profile.display_name
        }  # fmt: skip
        assert by_id[shown.id]["entered_by"]["id"] == reviewer.pk
        assert by_id[shown.id]["capture_id"] == capture.id
        assert by_id[shown.id]["record"] == capture.record_id
        assert by_id[internal.id]["public"] is False
        assert by_id[internal.id]["source_document"] == "Field note 17/2024"
        assert by_id[withdrawn.id]["retraction_reason"] == "another museum"
        assert by_id[withdrawn.id]["retracted_by"]["id"] == curator.pk
        # and the custody log in the same dossier has each event's entry
        log = (written.path / "data" / "custody" / "log.jsonl").read_text().splitlines()
        recorded = {
            json.loads(line)["data"].get("event")
            for line in log
            if json.loads(line)["action"].startswith("damage.")
        }
        assert expected <= recorded
