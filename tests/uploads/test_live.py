"""Uploads against real servers: a tus client killed mid-upload resumes from a new
process (tuspy against ``spadok serve``), and two writers at one offset."""

from __future__ import annotations

import hashlib
import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from spadok.uploads.tus import encode_metadata
from tests import procs
from tests.site.test_serve import free_port, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parent.parent.parent


def _session(user: Any) -> tuple[str, str]:
    """A Cookie header (session + CSRF) for this user, and the CSRF token to send."""
    from django.test import Client
    from django.utils.crypto import get_random_string

    client = Client()
    client.force_login(user)
    csrf = get_random_string(32)
    return f"sessionid={client.cookies['sessionid'].value}; csrftoken={csrf}", csrf


@pytest.fixture
def served(tmp_path: Path, storage_root: Path, upload_dir: Path):  # type: ignore[no-untyped-def]
    """``spadok serve`` (granian) on this test's database, storage and uploads folder."""
    port = free_port()
    env = procs.spadok_env(SPADOK_UPLOAD_DIR=str(upload_dir))
    log = tmp_path / "serve.log"
    proc = procs.spadok_popen("serve", "--port", str(port), "--workers", "0", env=env, log=log)
    try:
        wait_for(f"http://127.0.0.1:{port}/", timeout=90)
    except AssertionError:
        proc.kill()
        raise AssertionError(log.read_text()[-3000:]) from None
    yield f"http://127.0.0.1:{port}"
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def _client(url: str, path: Path, store: Path, cookie: str, csrf: str, **opts: str) -> Any:
    extra = [x for k, v in opts.items() for x in (f"--{k}", v)]
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "tests.uploads.tus_client", url, str(path), str(store)),
            *("--cookie", cookie, "--csrf", csrf, *extra),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def test_a_killed_client_resumes_from_a_new_process(
    served: str, volunteer: Any, tmp_path: Path, upload_dir: Path
) -> None:
    from spadok.catalogue.models import Capture
    from spadok.uploads.models import Upload, UploadState

    source = tmp_path / "Десятинна церква scan.glb"
    source.write_bytes(os.urandom(20 * 1024 * 1024))
    store = tmp_path / "tus-urls.json"
    cookie, csrf = _session(volunteer)
    endpoint = served + "/api/uploads/"

    first = _client(endpoint, source, store, cookie, csrf, chunk="1048576", pause="0.05")
    assert first.stdout is not None
    reached = 0
    for line in first.stdout:
        if line.startswith("offset"):
            reached = int(line.split()[1])
            if reached >= 6 * 1024 * 1024:
                break
    first.send_signal(signal.SIGKILL)  # the phone's battery died mid-upload
    first.wait(timeout=10)
    assert 0 < reached < source.stat().st_size, first.stderr.read() if first.stderr else ""
    upload = Upload.objects.get()
    assert upload.state == UploadState.UPLOADING and upload.offset >= reached

    second = _client(endpoint, source, store, cookie, csrf, chunk="4194304")
    out, err = second.communicate(timeout=180)
    assert second.returncode == 0, err[-3000:]
    start = out.splitlines()[0].split()
    assert start[0] == "start" and int(start[2]) >= reached  # resumed, not restarted
    upload.refresh_from_db()
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    # the last PATCH answered before the filing: a worker files it
    assert upload.state == UploadState.COMPLETE and upload.sha256 == digest
    procs.spadok("worker", "--batch", env=procs.spadok_env(SPADOK_UPLOAD_DIR=str(upload_dir)))
    upload.refresh_from_db()
    assert upload.state == UploadState.DONE
    capture = Capture.objects.get(id=upload.capture_id)
    assert capture.originals[0]["sha256"] == digest
    assert capture.originals[0]["path"] == source.name
    assert Upload.objects.count() == 1
    assert sum(c.length for c in upload.chunks.all()) == source.stat().st_size


def test_two_writers_at_one_offset(
    live_server: Any, volunteer: Any, upload_dir: Path, tmp_path: Path
) -> None:
    from spadok.uploads.models import Upload

    body = os.urandom(8 * 1024 * 1024)
    cookie, csrf = _session(volunteer)
    host = urlsplit(live_server.url)
    base = {"Tus-Resumable": "1.0.0", "Cookie": cookie, "X-CSRFToken": csrf}

    def request(method: str, path: str, headers: dict[str, str], data: Any = None) -> Any:
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
        conn.request(method, path, body=data, headers={**base, **headers})
        response = conn.getresponse()
        response.read()
        conn.close()
        return response

    created = request(
        "POST",
        "/api/uploads/",
        {"Upload-Length": str(len(body)), "Upload-Metadata": encode_metadata({"filename": "a"})},
    )
    path = urlsplit(created.getheader("Location")).path
    half = 4 * 1024 * 1024
    patch = {"Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"}

    def slow_body() -> Any:
        for start in range(0, half, 256 * 1024):
            time.sleep(0.05)
            yield body[start : start + 256 * 1024]

    statuses: dict[str, int] = {}

    def slow() -> None:
        r = request("PATCH", path, {**patch, "Content-Length": str(half)}, slow_body())
        statuses["slow"] = r.status

    writer = threading.Thread(target=slow)
    writer.start()
    time.sleep(0.3)  # the slow writer holds the lock now
    other = body[:65536][::-1]  # different bytes at the same offset
    statuses["fast"] = request("PATCH", path, patch, other).status
    writer.join(timeout=60)
    assert sorted(statuses.values()) == [204, 409], statuses
    upload = Upload.objects.get()
    assert upload.offset == half if statuses["slow"] == 204 else len(other)
    rest = request(
        "PATCH",
        path,
        {**patch, "Upload-Offset": str(upload.offset)},
        body[upload.offset :],
    )
    assert rest.status == 204
    upload.refresh_from_db()
    expected = body if statuses["slow"] == 204 else other + body[len(other) :]
    assert upload.sha256 == hashlib.sha256(expected).hexdigest()
    from spadok.uploads.tasks import finish_upload

    assert finish_upload.call(str(upload.id)) == "done"  # the worker's part
    upload.refresh_from_db()
    assert upload.capture_id is not None
