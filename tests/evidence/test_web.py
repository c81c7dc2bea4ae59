"""The site's side of evidence: the published key, the curators' dossier button and download,
who may get a dossier, and that the private key is never served."""

from __future__ import annotations

import io
import json
import os
import stat
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from spadok.core.evidence import signing, verify_dossier
from tests.accounts.conftest import _fast_passwords, _fresh_rate_limits  # noqa: F401

pytestmark = pytest.mark.django_db

ACTORS = ("anonymous", "owner", "reviewer", "curator", "administrator")


def _client(client_for: Any, people: dict[str, Any], actor: str) -> Any:
    return client_for(None if actor == "anonymous" else people[actor])


def _unzip(response: Any, dest: Path) -> Path:
    body = b"".join(response.streaming_content)
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        zf.extractall(dest)
        (top,) = {name.split("/", 1)[0] for name in zf.namelist()}
    return dest / top


def test_the_public_key_is_published(client_for: Any) -> None:
    from spadok.evidence import keys

    client = client_for()
    response = client.get("/archive/key.pub")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    pem = response.content
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----") and b"PRIVATE" not in pem
    assert signing.fingerprint(signing.load_public(pem)) == keys.fingerprint()
    assert client.get("/.well-known/spadok-archive-key.pub").content == pem
    page = client.get(reverse("evidence:key"))
    assert page.status_code == 200
    text = page.content.decode()
    assert keys.fingerprint() in text and pem.decode().strip().splitlines()[1] in text


def test_the_private_key_is_kept_private(client_for: Any, settings: Any) -> None:
    from spadok.evidence import keys

    keys.archive_key()
    path = keys.key_path()
    assert path.is_file() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert not path.resolve().is_relative_to(Path(settings.STATIC_ROOT).resolve())
    client = client_for()
    secret = path.read_bytes()
    for url in (
        f"/static/{path.name}",
        f"/static/../evidence/{path.name}",
        "/static/evidence/archive-ed25519.pem",
        "/archive/key.pub",
        reverse("evidence:key"),
    ):
        response = client.get(url)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert secret not in body and b"PRIVATE KEY" not in body, url


def test_a_key_in_a_served_folder_or_readable_by_others_is_refused(
    settings: Any, tmp_path: Path
) -> None:
    from spadok.core.errors import SpadokError
    from spadok.evidence import keys

    inside = Path(settings.STATIC_ROOT) / "archive.pem"
    settings.SPADOK = replace(settings.SPADOK, evidence_key_path=inside)
    with pytest.raises(SpadokError) as caught:
        keys.archive_key()
    assert caught.value.code == "evidence.key_unsafe" and not inside.exists()

    loose = tmp_path / "loose.pem"
    loose.write_bytes(signing.generate_private_pem())
    os.chmod(loose, 0o644)
    settings.SPADOK = replace(settings.SPADOK, evidence_key_path=loose)
    with pytest.raises(SpadokError) as caught:
        keys.archive_key()
    assert caught.value.code == "evidence.key_unsafe"

    os.chmod(loose, 0o600)  # a configured key, kept properly, is used as it is
    assert keys.fingerprint() == signing.fingerprint(signing.load_private(loose.read_bytes()))

    settings.SPADOK = replace(settings.SPADOK, evidence_key_path=tmp_path / "absent.pem")
    with pytest.raises(SpadokError) as caught:  # never made silently at a configured path
        keys.archive_key()
    assert caught.value.code == "evidence.key_unreadable"


DOSSIER = {"anonymous": "login", "owner": "404", "reviewer": "404", "curator": "ok",
           "administrator": "ok"}  # fmt: skip


@pytest.mark.parametrize("actor", ACTORS)
def test_who_gets_the_dossier_and_the_button(
    actor: str, people: dict[str, Any], draft_capture: Any, client_for: Any
) -> None:
    from spadok.evidence.models import CustodyEntry

    client = _client(client_for, people, actor)
    record = draft_capture.record
    url = reverse("evidence:record-dossier", args=[record.id])
    assert client.get(url).status_code == 405  # a download that is logged: POST only
    response = client.post(url)
    outcome = {200: "ok", 404: "404"}.get(response.status_code, str(response.status_code))
    if response.status_code == 302 and "/accounts/login/" in response["Location"]:
        outcome = "login"
    assert outcome == DOSSIER[actor]
    made = CustodyEntry.objects.filter(chain=record.id, action="export.dossier").count()
    assert made == (1 if DOSSIER[actor] == "ok" else 0)
    page = client.get(reverse("catalogue:record", args=[record.id]))
    if page.status_code == 200:
        assert (url in page.content.decode()) == (DOSSIER[actor] == "ok")


def test_a_curator_downloads_a_dossier_that_verifies(
    people: dict[str, Any], draft_capture: Any, client_for: Any, tmp_path: Path
) -> None:
    from spadok.catalogue.contributions import review_decide
    from spadok.catalogue.models import Capture

    Capture.objects.filter(id=draft_capture.id).update(latitude=50.4501234, longitude=30.5234567)
    review_decide(
        actor=people["reviewer"], capture=draft_capture, decision="approve", visibility="coarse"
    )
    curator = client_for(people["curator"])
    response = curator.post(reverse("evidence:record-dossier", args=[draft_capture.record_id]))
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert "no-store" in response["Cache-Control"]
    root = _unzip(response, tmp_path)
    pub = tmp_path / "key.pub"
    pub.write_bytes(client_for().get("/archive/key.pub").content)
    report = verify_dossier(root, key=pub)
    assert report.ok, report.as_dict()

    capture = json.loads(
        (root / "data" / "metadata" / "captures" / f"{draft_capture.id}.json").read_text()
    )
    assert (capture["latitude"], capture["longitude"]) == (50.4501234, 30.5234567)  # exact
    decisions = json.loads((root / "data" / "metadata" / "review-decisions.json").read_text())
    assert [(d["decision"], d["visibility"]) for d in decisions] == [("approve", "coarse")]
    assert decisions[0]["reviewer"]["id"] == people["reviewer"].pk
    entries = [json.loads(x) for x in (root / "data/custody/log.jsonl").read_text().splitlines()]
    actions = {(e["chain"], e["action"]) for e in entries}
    assert (draft_capture.id, "review.approve") in actions
    assert (draft_capture.record_id, "record.visibility") in actions
    export = next(e for e in entries if e["action"] == "export.dossier")
    assert export["actor"]["id"] == people["curator"].pk and export["actor"]["role"] == "curator"
    original = root / "data" / "originals" / draft_capture.id / draft_capture.originals[0]["path"]
    assert original.stat().st_size == draft_capture.originals[0]["size"]


def test_a_sealed_record_s_dossier_is_for_its_readers_and_logged(
    people: dict[str, Any], draft_capture: Any, client_for: Any
) -> None:
    from spadok.catalogue.contributions import review_decide
    from spadok.catalogue.models import AccessLog
    from spadok.evidence.models import CustodyEntry

    review_decide(
        actor=people["curator"],
        capture=draft_capture,
        decision="approve",
        visibility="sealed",
        sealed_readers=[people["reader"]],
    )
    url = reverse("evidence:record-dossier", args=[draft_capture.record_id])
    assert client_for(people["curator"]).post(url).status_code == 404  # not a named reader
    assert client_for(people["reader"]).post(url).status_code == 200
    assert AccessLog.objects.filter(user=people["reader"], action="dossier").count() == 1
    sealed = CustodyEntry.objects.filter(chain=draft_capture.record_id, action="access.sealed")
    assert [e.entry()["actor"]["id"] for e in sealed] == [people["reader"].pk]
