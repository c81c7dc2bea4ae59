"""The tus 1.0 endpoint through Django's test client: every status a client can meet."""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from spadok.catalogue.models import Capture, Record, Visibility
from spadok.uploads.models import Upload, UploadChunk, UploadState
from tests.uploads.conftest import TUS, Tus

pytestmark = pytest.mark.django_db

NAME = "Софійський собор — фасад 2.glb"


def _error(response: Any) -> str:
    return response.json()["error"]["code"]


def test_options_says_what_the_server_supports(client: Any, upload_dir: Path) -> None:
    r = client.options("/api/uploads/")
    assert r.status_code == 204
    assert r["Tus-Resumable"] == "1.0.0"
    assert r["Tus-Version"] == "1.0.0"
    assert set(r["Tus-Extension"].split(",")) >= {
        "creation",
        "creation-with-upload",
        "termination",
        "checksum",
        "expiration",
    }
    assert r["Tus-Checksum-Algorithm"] == "sha256,sha1,md5"
    assert int(r["Tus-Max-Size"]) > 0


def test_a_whole_upload_becomes_a_draft_capture_with_equal_digests(
    tus: Tus, volunteer: Any, upload_dir: Path
) -> None:
    body = os.urandom(250_001)
    created = tus.create(len(body), {"filename": NAME, "title": "Софія, західний фасад"})
    assert created.status_code == 201, created.content
    assert created["Tus-Resumable"] == "1.0.0"
    assert created["Upload-Expires"].endswith("GMT")
    url = created["Location"]
    assert url.startswith("http://testserver/api/uploads/")

    head = tus.head(url)
    assert (head.status_code, head["Upload-Offset"], head["Upload-Length"]) == (200, "0", "250001")
    assert head["Cache-Control"] == "no-store"

    r = tus.patch(url, 0, body[:100_000])
    assert (r.status_code, r["Upload-Offset"]) == (204, "100000")
    assert "Upload-Expires" in r and "Spadok-Capture" not in r
    assert tus.head(url)["Upload-Offset"] == "100000"  # where a dropped client resumes
    tus.patch(url, 100_000, body[100_000:200_000])
    last = tus.patch(url, 200_000, body[200_000:])
    # the last byte's answer comes at once: the digests are taken, the filing is queued
    assert (last.status_code, last["Upload-Offset"]) == (204, "250001")
    assert "Spadok-Capture" not in last and "Upload-Expires" not in last
    upload = Upload.objects.get()
    assert upload.state == UploadState.COMPLETE and upload.capture_id is None
    assert upload.sha256 == hashlib.sha256(body).hexdigest()
    assert upload.sha512 == ""  # taken by the filing, from the copy in storage
    assert tus.client.get(url).json()["state"] == "complete"
    assert "Spadok-Capture" not in tus.head(url)

    assert tus.finish(url) == "done"
    capture_id = tus.head(url)["Spadok-Capture"]
    assert tus.finish(url) == "done"  # a retried job finds the capture made
    assert Capture.objects.count() == 1

    upload = Upload.objects.get()
    assert upload.state == UploadState.DONE and upload.capture_id == capture_id
    assert upload.sha256 == hashlib.sha256(body).hexdigest()
    assert upload.sha512 == hashlib.sha512(body).hexdigest()
    assert upload.filename == NAME
    chunks = list(UploadChunk.objects.filter(upload=upload).order_by("offset"))
    assert [(c.offset, c.length) for c in chunks] == [
        (0, 100_000),
        (100_000, 100_000),
        (200_000, 50_001),
    ]
    assert chunks[2].sha256 == hashlib.sha256(body[200_000:]).hexdigest()

    capture = Capture.objects.select_related("record").get(id=capture_id)
    assert capture.originals[0]["path"] == NAME
    assert capture.originals[0]["sha256"] == upload.sha256
    assert capture.originals[0]["sha512"] == upload.sha512
    assert capture.record.visibility == Visibility.DRAFT
    assert capture.record.title == "Софія, західний фасад"
    assert capture.contributor_id == volunteer.pk
    assert list(upload_dir.iterdir()) == []  # the part is gone once stored

    head = tus.head(url)
    assert (head["Upload-Offset"], head["Spadok-Capture"]) == ("250001", capture_id)
    status = tus.client.get(url).json()
    assert status == {
        **status,
        "offset": 250001,
        "length": 250001,
        "state": "done",
        "capture": capture_id,
        "record": capture.record_id,
        "error": None,
    }
    # the uploader sees their draft; nobody else does
    page = tus.client.get(f"/records/{capture.record_id}/")
    assert page.status_code == 200
    tus.client.logout()
    assert tus.client.get(f"/records/{capture.record_id}/").status_code == 404


def test_title_defaults_to_the_file_name(tus: Tus) -> None:
    _url, last = tus.upload(b"x" * 10, {"filename": "kyiv_lavra bell.ply"})
    record = Capture.objects.get(id=last["Spadok-Capture"]).record
    assert record.title == "kyiv lavra bell"


def test_a_capture_can_join_the_users_own_record(tus: Tus, django_user_model: Any) -> None:
    _url, first = tus.upload(b"a" * 10, {"filename": "a.glb"})
    record_id = Capture.objects.get(id=first["Spadok-Capture"]).record_id
    _url, second = tus.upload(b"b" * 10, {"filename": "b.glb", "record": record_id})
    assert Capture.objects.get(id=second["Spadok-Capture"]).record_id == record_id
    assert Record.objects.count() == 1

    other = Record.objects.create(title="Someone else's")
    r = tus.create(10, {"filename": "c.glb", "record": other.id})
    assert (r.status_code, _error(r)) == (403, "upload.record_unavailable")
    # a record holding a capture the user contributed (e.g. from the command line)
    Capture.objects.create(record=other, contributor=tus.volunteer)
    assert tus.create(10, {"filename": "c.glb", "record": other.id}).status_code == 201
    # staff may add to any record (checked on the selector: staff pages need two-factor)
    from spadok.uploads.selectors import record_for_upload

    staff = django_user_model.objects.create_user("curator", password="pw", is_staff=True)
    third = Record.objects.create(title="Nobody's")
    assert record_for_upload(user=staff, record_id=third.id) == third


def test_wrong_offset_is_409_and_changes_nothing(tus: Tus) -> None:
    url = tus.create(100, {"filename": "a.glb"})["Location"]
    assert tus.patch(url, 0, b"a" * 40).status_code == 204
    r = tus.patch(url, 10, b"b" * 40)
    assert (r.status_code, _error(r)) == (409, "upload.offset_mismatch")
    assert "40" in r.json()["error"]["message"]
    assert tus.head(url)["Upload-Offset"] == "40"
    r = tus.patch(url, 40, b"c" * 61)
    assert (r.status_code, _error(r)) == (413, "upload.exceeds_length")


@pytest.mark.parametrize("algorithm", ["sha256", "sha1", "md5"])
def test_checksums_are_checked_per_piece(tus: Tus, upload_dir: Path, algorithm: str) -> None:
    body = os.urandom(3000)
    url = tus.create(len(body), {"filename": "a.glb"})["Location"]
    assert tus.patch(url, 0, body[:1000], checksum=algorithm).status_code == 204
    bad = tus.client.generic(
        "PATCH",
        url,
        body[1000:2000],
        content_type="application/offset+octet-stream",
        headers={
            **TUS,
            "Upload-Offset": "1000",
            "Upload-Checksum": f"{algorithm} "
            + __import__("base64").b64encode(hashlib.new(algorithm, b"other").digest()).decode(),
        },
    )
    assert (bad.status_code, _error(bad)) == (460, "upload.checksum_mismatch")
    assert tus.head(url)["Upload-Offset"] == "1000"  # the damaged piece was discarded
    upload = Upload.objects.get()
    assert (upload_dir / f"{upload.id}.part").stat().st_size == 1000
    assert tus.patch(url, 1000, body[1000:], checksum=algorithm).status_code == 204
    upload.refresh_from_db()
    assert upload.sha256 == hashlib.sha256(body).hexdigest()


def test_unknown_checksum_algorithm_is_400(tus: Tus) -> None:
    url = tus.create(10, {"filename": "a.glb"})["Location"]
    r = tus.patch(url, 0, b"x" * 10, **{"Upload-Checksum": "crc32 AAAA"})
    assert (r.status_code, _error(r)) == (400, "upload.bad_request")


def test_wrong_content_type_is_415(tus: Tus) -> None:
    url = tus.create(10, {"filename": "a.glb"})["Location"]
    r = tus.patch(url, 0, b"x" * 10, content_type="application/octet-stream")
    assert (r.status_code, _error(r)) == (415, "upload.content_type")


def test_wrong_or_missing_version_is_412(tus: Tus) -> None:
    r = tus.post({"Upload-Length": "10"})
    assert (r.status_code, _error(r), r["Tus-Version"]) == (412, "upload.version", "1.0.0")
    r = tus.post({"Tus-Resumable": "0.2.2", "Upload-Length": "10"})
    assert r.status_code == 412 and r["Tus-Resumable"] == "1.0.0"


def test_upload_length_is_required(tus: Tus) -> None:
    r = tus.post({**TUS, "Upload-Defer-Length": "1"})
    assert (r.status_code, _error(r)) == (400, "upload.bad_request")
    r = tus.post(TUS)
    assert (r.status_code, _error(r)) == (400, "upload.bad_request")


def test_termination_deletes_the_part(tus: Tus, upload_dir: Path) -> None:
    url = tus.create(100, {"filename": "a.glb"})["Location"]
    tus.patch(url, 0, b"x" * 50)
    assert any(upload_dir.iterdir())
    assert tus.delete(url).status_code == 204
    assert list(upload_dir.iterdir()) == []
    r = tus.head(url)
    assert r.status_code == 404 and r.content == b""
    assert _error(tus.patch(url, 50, b"x")) == "upload.not_found"


def test_a_filed_upload_cannot_be_terminated(tus: Tus) -> None:
    url, _last = tus.upload(b"x" * 10, {"filename": "a.glb"})
    r = tus.delete(url)
    assert (r.status_code, _error(r)) == (409, "upload.finished")


def test_expiry_is_410_and_the_job_removes_the_part(tus: Tus, upload_dir: Path) -> None:
    from spadok.uploads.services import uploads_expire

    url = tus.create(100, {"filename": "a.glb"})["Location"]
    before = Upload.objects.get().expires_at
    tus.patch(url, 0, b"x" * 10)
    assert Upload.objects.get().expires_at >= before  # each piece extends it
    Upload.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    r = tus.head(url)
    assert r.status_code == 410
    assert _error(tus.patch(url, 10, b"x")) == "upload.expired"
    assert uploads_expire()["expired"] == 1
    assert Upload.objects.get().state == UploadState.EXPIRED
    assert list(upload_dir.iterdir()) == []
    assert uploads_expire()["expired"] == 0


def test_expiry_job_is_scheduled(settings: Any) -> None:
    from spadok.jobs.schedule import periodic_jobs

    assert {"fixity-audit", "expire-uploads"} <= set(periodic_jobs())


def test_files_over_the_limit_are_413(tus: Tus, settings: Any) -> None:
    limits = replace(settings.SPADOK.limits, max_file_bytes=1000)
    settings.SPADOK = replace(settings.SPADOK, limits=limits)
    r = tus.create(1001, {"filename": "big.e57"})
    assert (r.status_code, _error(r)) == (413, "upload.too_large")
    assert "1,000" in r.json()["error"]["message"]
    assert tus.client.options("/api/uploads/")["Tus-Max-Size"] == "1000"
    assert tus.create(1000, {"filename": "ok.e57"}).status_code == 201


def test_daily_quota(tus: Tus, settings: Any) -> None:
    settings.SPADOK = replace(settings.SPADOK, upload_bytes_per_day=1000)
    first = tus.create(600, {"filename": "a.glb"})["Location"]
    r = tus.create(600, {"filename": "b.glb"})
    assert (r.status_code, _error(r)) == (413, "upload.quota")
    tus.patch(first, 0, b"x" * 100)
    tus.delete(first)  # a cancelled upload counts with what it sent
    assert tus.create(600, {"filename": "b.glb"}).status_code == 201
    Upload.objects.update(created_at=timezone.now() - timedelta(hours=25))
    assert tus.create(900, {"filename": "c.glb"}).status_code == 201


def test_anonymous_users_get_401(client: Any, upload_dir: Path) -> None:
    r = Tus(client).post({**TUS, "Upload-Length": "10"})
    assert (r.status_code, _error(r)) == (401, "upload.auth_required")
    assert r["Tus-Resumable"] == "1.0.0"
    assert client.get("/upload/").status_code == 302  # the page sends them to sign in


def test_another_users_upload_is_not_found(tus: Tus, client: Any, django_user_model: Any) -> None:
    url = tus.create(10, {"filename": "a.glb"})["Location"]
    other = django_user_model.objects.create_user("other", password="pw")
    tus.client.force_login(other)
    assert tus.head(url).status_code == 404
    assert tus.patch(url, 0, b"x" * 10).status_code == 404
    assert tus.client.get("/api/uploads/00000000-0000-0000-0000-000000000000").status_code == 404


def test_session_requests_need_the_csrf_token(volunteer: Any, upload_dir: Path) -> None:
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(volunteer)
    headers = {**TUS, "Upload-Length": "10"}
    r = Tus(client).post(headers)
    assert (r.status_code, _error(r)) == (403, "upload.csrf_failed")
    page = client.get("/upload/")
    token = page.content.decode().split('data-csrf-token="', 1)[1].split('"', 1)[0]
    assert Tus(client).post({**headers, "X-CSRFToken": token}).status_code == 201


def test_method_override(tus: Tus) -> None:
    url = tus.create(10, {"filename": "a.glb"})["Location"]
    r = tus.client.post(
        url,
        b"x" * 10,
        content_type="application/offset+octet-stream",
        headers={**TUS, "X-HTTP-Method-Override": "PATCH", "Upload-Offset": "0"},
    )
    assert (r.status_code, r["Upload-Offset"]) == (204, "10")
    assert Upload.objects.get().state == UploadState.COMPLETE


def test_creation_with_upload(tus: Tus) -> None:
    body = b"0123456789" * 10
    r = tus.client.post(
        "/api/uploads/",
        body[:30],
        content_type="application/offset+octet-stream",
        headers={**TUS, "Upload-Length": "100", "Upload-Metadata": "filename YS5nbGI="},
    )
    assert (r.status_code, r["Upload-Offset"]) == (201, "30")
    tus.patch(r["Location"], 30, body[30:])
    assert Upload.objects.get().sha256 == hashlib.sha256(body).hexdigest()
    tus.finish(r["Location"])
    assert tus.head(r["Location"])["Spadok-Capture"]


def test_a_client_gone_mid_piece_keeps_what_arrived(volunteer: Any, upload_dir: Path) -> None:
    from spadok.uploads import services
    from spadok.uploads.tus import parse_checksum

    upload = services.upload_create(user=volunteer, length=100, metadata={"filename": "a.glb"})
    sent = [b"x" * 30]

    def read(n: int) -> bytes:
        if sent:
            return sent.pop()
        raise ConnectionResetError("the phone lost its signal")

    services.upload_append(user=volunteer, upload_id=upload.id, offset=0, read=read, length=60)
    upload.refresh_from_db()
    assert upload.offset == 30
    assert UploadChunk.objects.get().whole is False

    # with a checksum, part of a piece cannot be checked: it is discarded
    sent[:] = [b"y" * 10]
    checksum = parse_checksum("sha1 " + __import__("base64").b64encode(b"\0" * 20).decode())
    with pytest.raises(Exception) as info:
        services.upload_append(
            user=volunteer, upload_id=upload.id, offset=30, read=read, length=20, checksum=checksum
        )
    assert getattr(info.value, "code", None) == "upload.checksum_mismatch"
    upload.refresh_from_db()
    assert upload.offset == 30


def test_bytes_past_the_acknowledged_offset_are_cut(tus: Tus, upload_dir: Path) -> None:
    body = os.urandom(100)
    url = tus.create(100, {"filename": "a.glb"})["Location"]
    tus.patch(url, 0, body[:40])
    part = upload_dir / f"{Upload.objects.get().id}.part"
    with part.open("ab") as fh:  # a server killed after writing, before acknowledging
        fh.write(b"garbage")
    tus.patch(url, 40, body[40:])
    assert Upload.objects.get().sha256 == hashlib.sha256(body).hexdigest()


def test_filing_is_retried_when_storage_was_down(
    tus: Tus, monkeypatch: pytest.MonkeyPatch, upload_dir: Path
) -> None:
    from spadok.catalogue import services as catalogue
    from spadok.core.errors import SpadokError
    from spadok.uploads import services

    real = catalogue.capture_create_received

    def down(**kwargs: Any) -> Any:
        raise SpadokError("storage.unavailable", "s3://bucket: connection refused")

    monkeypatch.setattr(catalogue, "capture_create_received", down)
    url, last = tus.upload(b"z" * 50, {"filename": "a.glb"})
    assert "Spadok-Capture" not in last
    status = tus.client.get(url).json()
    assert status["state"] == "complete" and status["error"]["code"] == "storage.unavailable"
    monkeypatch.setattr(catalogue, "capture_create_received", real)
    Upload.objects.update(completed_at=timezone.now() - timedelta(minutes=10))
    assert services.uploads_expire()["filed"] == 1
    assert tus.head(url)["Spadok-Capture"]
    assert Capture.objects.count() == 1 and list(upload_dir.iterdir()) == []


def test_the_last_piece_queues_the_filing_job(
    tus: Tus, django_capture_on_commit_callbacks: Any
) -> None:
    from django_tasks_db.models import DBTaskResult

    body = os.urandom(1000)
    url = tus.create(len(body), {"filename": "a.glb"})["Location"]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert tus.patch(url, 0, body).status_code == 204
    assert len(callbacks) == 1
    job = DBTaskResult.objects.get(task_path="spadok.uploads.tasks.finish_upload")
    upload_id = url.rstrip("/").rsplit("/", 1)[-1]
    assert job.args_kwargs["args"] == [upload_id] and job.queue_name == "default"
    assert Capture.objects.count() == 0  # not in the request: the worker files it


def test_an_upload_whose_file_changed_before_filing_fails(tus: Tus, upload_dir: Path) -> None:
    url = tus.create(100, {"filename": "a.glb"})["Location"]
    tus.patch(url, 0, b"x" * 100)
    upload = Upload.objects.get()
    (upload_dir / f"{upload.id}.part").write_bytes(b"y" * 100)  # a disk fault, say
    assert tus.finish(url) == "failed"
    status = tus.client.get(url).json()
    assert status["error"]["code"] == "upload.digest_mismatch"
    assert Capture.objects.count() == 0


class _WorkerKilled(BaseException):
    """What a SIGKILL looks like from inside: nothing after this line runs."""


def test_a_filing_killed_after_the_object_was_written_files_it_once(
    tus: Tus, monkeypatch: pytest.MonkeyPatch, upload_dir: Path, storage_root: Path
) -> None:
    from spadok.catalogue import services as catalogue
    from spadok.core.preservation import audit
    from spadok.preservation import services as preservation
    from spadok.uploads import services

    real = catalogue._keep_originals

    def killed_after_writing(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)  # the object is in storage, the capture row not yet
        raise _WorkerKilled

    body = os.urandom(3000)
    url = tus.create(len(body), {"filename": "a.glb"})["Location"]
    assert tus.patch(url, 0, body).status_code == 204
    monkeypatch.setattr(catalogue, "_keep_originals", killed_after_writing)
    with pytest.raises(_WorkerKilled):
        tus.finish(url)
    upload = Upload.objects.get()
    assert upload.state == UploadState.COMPLETE and Capture.objects.count() == 0
    assert list(preservation.primary().object_ids()) == [services.capture_id_for(upload)]
    Upload.objects.update(record=None)  # killed before even the record was noted

    monkeypatch.setattr(catalogue, "_keep_originals", real)
    assert tus.finish(url) == "done"  # the job, re-queued by the reaper, runs again
    capture = Capture.objects.get()
    assert capture.id == services.capture_id_for(upload) == tus.head(url)["Spadok-Capture"]
    assert list(preservation.primary().object_ids()) == [capture.id]  # one object, not two
    assert capture.originals[0]["sha256"] == hashlib.sha256(body).hexdigest()
    assert audit(preservation.stores()).issues == []
    assert Record.objects.get() == capture.record  # no empty record left behind either


def test_a_filing_that_finds_a_different_object_under_its_id_does_not_take_it(
    tus: Tus, upload_dir: Path, tmp_path: Path
) -> None:
    from spadok.core.preservation.ocfl import OcflError
    from spadok.preservation import services as preservation
    from spadok.uploads import services

    body = os.urandom(3000)
    url = tus.create(len(body), {"filename": "a.glb"})["Location"]
    assert tus.patch(url, 0, body).status_code == 204
    upload = Upload.objects.get()
    other = tmp_path / "other.glb"
    other.write_bytes(b"not the upload")
    preservation.primary().create_object(
        services.capture_id_for(upload), [(other, "original/a.glb")], message="m", user_name="t"
    )
    with pytest.raises(OcflError, match=r"ocfl\.exists"):
        tus.finish(url)
    assert Capture.objects.count() == 0
