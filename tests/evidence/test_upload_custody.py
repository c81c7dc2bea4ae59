"""A real scan uploaded over tus and processed: its custody chain starts with the hash
taken when its last byte arrived, and its dossier carries the chain and the arrival."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from spadok.core.evidence import verify_dossier
from tests.evidence.conftest import GARGOYLE
from tests.testdata import data
from tests.uploads.conftest import Tus, tus, upload_dir, volunteer  # noqa: F401

pytestmark = pytest.mark.django_db


def test_upload_processing_and_dossier_are_in_the_chain(tus: Tus, tmp_path: Path) -> None:  # noqa: F811
    from spadok.catalogue import services
    from spadok.evidence import keys
    from spadok.evidence.dossiers import dossier_make
    from spadok.evidence.models import CustodyEntry
    from spadok.uploads.models import Upload

    source = data(*GARGOYLE)
    body = source.read_bytes()
    tus.upload(body, {"filename": source.name, "title": "Gargoyle"}, piece=400_000)
    upload = Upload.objects.get()
    assert upload.capture_id and upload.state == "done"
    assert services.capture_process(capture_id=upload.capture_id) == "done"

    chain = [row.entry() for row in CustodyEntry.objects.filter(chain=upload.capture_id)]
    assert [e["action"] for e in chain] == [
        "upload.received",
        "processing.started",
        "processing.finished",
    ]
    arrival = chain[0]
    assert arrival["actor"]["id"] == tus.volunteer.pk
    assert arrival["data"]["files"] == [
        {
            "path": source.name,
            "size": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
            "sha512": hashlib.sha512(body).hexdigest(),
        }
    ]
    assert arrival["data"]["chunks"] == 4
    assert set(chain[2]["data"]["derivatives"]) >= {"web-high", "thumbnail"}

    written = dossier_make(subject_id=upload.record_id, dest=tmp_path / "dossier")
    pub = tmp_path / "key.pub"
    pub.write_bytes(keys.public_pem())
    report = verify_dossier(written.path, key=pub)
    assert report.ok, report.as_dict()
    meta = json.loads(
        (written.path / "data" / "metadata" / "captures" / f"{upload.capture_id}.json").read_text()
    )
    assert meta["arrival"]["sha256"] == hashlib.sha256(body).hexdigest()
    assert [c["length"] for c in meta["arrival"]["chunks"]] == [400_000, 400_000, 400_000, 150_393]
    assert (
        written.path / "data" / "originals" / upload.capture_id / source.name
    ).read_bytes() == body
