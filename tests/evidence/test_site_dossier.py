"""A site's dossier gathers every record of the site, with the site's exact location."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from spadok.core.evidence import verify_dossier

pytestmark = pytest.mark.django_db


def test_a_site_dossier_holds_all_its_records(make_capture: Any, tmp_path: Path) -> None:
    from spadok.catalogue.models import Record
    from spadok.core.errors import SpadokError
    from spadok.evidence import keys
    from spadok.evidence.dossiers import dossier_make
    from spadok.evidence.models import CustodyEntry
    from spadok.sites.models import Site

    site = Site.objects.create(
        names={"uk": "Спасо-Преображенський собор", "en": "Transfiguration Cathedral"},
        latitude=46.6354321,
        longitude=32.6178765,
        sensitive=True,
    )
    first = make_capture(record=Record.objects.create(title="Facade", site=site))
    second = make_capture(record=Record.objects.create(title="Bell tower", site=site))
    make_capture(title="Elsewhere")  # another record, not of this site

    written = dossier_make(subject_id=site.id, dest=tmp_path / "site")
    pub = tmp_path / "key.pub"
    pub.write_bytes(keys.public_pem())
    assert verify_dossier(written.path, key=pub).ok
    meta = written.path / "data" / "metadata"
    subject = json.loads((meta / "subject.json").read_text())
    assert subject["kind"] == "site" and subject["id"] == site.id
    assert set(subject["captures"]) == {first.id, second.id}
    assert {p.stem for p in (meta / "records").iterdir()} == {first.record_id, second.record_id}
    where = json.loads((meta / "site.json").read_text())
    assert (where["latitude"], where["longitude"]) == (46.6354321, 32.6178765)
    assert {p.name for p in (written.path / "data" / "originals").iterdir()} == {
        first.id,
        second.id,
    }
    # the export is in the site's chain and in each record's
    for chain in (site.id, first.record_id, second.record_id):
        assert CustodyEntry.objects.filter(chain=chain, action="export.dossier").count() == 1

    with pytest.raises(SpadokError) as caught:
        dossier_make(subject_id="s-nothing", dest=tmp_path / "none")
    assert caught.value.code == "evidence.not_found"


def test_a_damaged_stored_original_is_never_packaged(make_capture: Any, tmp_path: Path) -> None:
    from spadok.catalogue.storage import get_storage
    from spadok.core.errors import SpadokError
    from spadok.evidence.dossiers import dossier_make

    capture = make_capture()
    path = get_storage().local_path(capture.originals[0]["key"])
    assert path is not None
    raw = bytearray(path.read_bytes())
    raw[10] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(SpadokError) as caught:
        dossier_make(subject_id=capture.record_id, dest=tmp_path / "d")
    assert caught.value.code == "evidence.damaged_file"
    assert not (tmp_path / "d").exists() and not (tmp_path / ".d.partial").exists()
