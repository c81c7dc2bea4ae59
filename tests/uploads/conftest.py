"""Fixtures for uploads: a signed-in volunteer, a tus client over Django's test client."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from spadok.uploads.tus import encode_metadata

TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = "application/offset+octet-stream"


@pytest.fixture
def upload_dir(tmp_path: Path, settings: Any, storage_root: Path) -> Path:
    """This test's own uploads folder (and storage root, for the captures)."""
    folder = tmp_path / "uploads"
    settings.SPADOK = replace(settings.SPADOK, upload_dir=folder)
    return folder


@pytest.fixture
def volunteer(db: Any) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user("volunteer", "v@example.org", "pw-volunteer-1")


class Tus:
    """tus 1.0 requests through Django's test client."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.volunteer: Any = None

    def create(self, length: int, metadata: dict[str, str] | None = None, **headers: str) -> Any:
        h = {**TUS, "Upload-Length": str(length), **headers}
        if metadata:
            h["Upload-Metadata"] = encode_metadata(metadata)
        return self.post(h)

    def post(self, headers: dict[str, str], client: Any = None) -> Any:
        """A bodiless POST, as tus clients send it (the test client's post() sends a form)."""
        return (client or self.client).generic("POST", "/api/uploads/", b"", headers=headers)

    def head(self, url: str, **headers: str) -> Any:
        return self.client.head(url, headers={**TUS, **headers})

    def patch(
        self,
        url: str,
        offset: int,
        body: bytes,
        content_type: str = OCTETS,
        checksum: str | None = None,
        **headers: str,
    ) -> Any:
        h = {**TUS, "Upload-Offset": str(offset), **headers}
        if checksum:
            algorithm = checksum
            digest = base64.b64encode(hashlib.new(algorithm, body).digest()).decode()
            h["Upload-Checksum"] = f"{algorithm} {digest}"
        return self.client.generic("PATCH", url, body, content_type=content_type, headers=h)

    def delete(self, url: str) -> Any:
        return self.client.delete(url, headers=TUS)

    def upload(self, body: bytes, metadata: dict[str, str], piece: int = 100_000) -> Any:
        """Create, send every piece and run the filing job; HEAD's answer after it."""
        url = self.create(len(body), metadata)["Location"]
        for start in range(0, len(body), piece):
            response = self.patch(url, start, body[start : start + piece])
            assert response.status_code == 204, response.content
        self.finish(url)
        return url, self.head(url)

    @staticmethod
    def finish(url: str) -> str:
        """Run the job the last byte queued (a worker's part), as the worker would call it."""
        from spadok.uploads.tasks import finish_upload

        return str(finish_upload.call(url.rstrip("/").rsplit("/", 1)[-1]))


@pytest.fixture
def tus(client: Any, volunteer: Any, upload_dir: Path) -> Tus:
    client.force_login(volunteer)
    found = Tus(client)
    found.volunteer = volunteer
    return found
