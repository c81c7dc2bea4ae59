"""Shared fixtures. The test run gets its own SPADOK_HOME (set before Django loads)."""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

# Real servers (SeaweedFS for S3) as session fixtures, started only when a test asks.
pytest_plugins = ["tests.servers"]

os.environ.setdefault("SPADOK_HOME", tempfile.mkdtemp(prefix="spadok-test-home-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spadok.site.settings")

# Load the settings now, with the SPADOK_HOME above; pytest-django then finishes
# Django's set-up in its pytest_configure. (Naming the settings module in the
# pytest ini instead would load them before this file runs, with the default
# home ./var inside the repository.)
from django.conf import settings as _settings  # noqa: E402

_settings.DATABASES  # noqa: B018


@pytest.fixture
def storage_root(tmp_path: Path, settings):  # type: ignore[no-untyped-def]
    """A fresh local storage root for one test (the embedded profile)."""
    from spadok.catalogue.storage import reset_storage

    root = tmp_path / "storage"
    settings.SPADOK = replace(settings.SPADOK, storage_urls=(root.as_uri(),))
    reset_storage()
    yield root
    reset_storage()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(  # type: ignore[no-untyped-def]
    django_db_modify_db_settings_parallel_suffix, tmp_path_factory
):
    """Keep the SQLite test database in a file, not in memory.

    Tests that run real workers (``spadok worker`` as a subprocess) must see
    the rows the test wrote; an in-memory database exists only inside the test
    process. PostgreSQL needs nothing: its test database ``test_<name>`` is on
    the same server (see :func:`tests.procs.test_database_url`).
    """
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        db.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("db") / "test.sqlite3")


@pytest.fixture(autouse=True)
def _default_language():  # type: ignore[no-untyped-def]
    """Each test starts in the site's default language: a request through the test
    client leaves its language active in the thread, which would leak into the next."""
    from django.utils import translation

    translation.activate("uk")
    yield
    translation.deactivate()
