"""Shared fixtures. The test run gets its own SPADOK_HOME (set before Django loads)."""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

os.environ.setdefault("SPADOK_HOME", tempfile.mkdtemp(prefix="spadok-test-home-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spadok.site.settings")


@pytest.fixture
def storage_root(tmp_path: Path, settings):  # type: ignore[no-untyped-def]
    """A fresh local storage root for one test (the embedded profile)."""
    from spadok.catalogue.storage import reset_storage

    root = tmp_path / "storage"
    settings.SPADOK = replace(settings.SPADOK, storage_urls=(root.as_uri(),))
    reset_storage()
    yield root
    reset_storage()
