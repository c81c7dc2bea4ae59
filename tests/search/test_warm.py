"""A web process loads what its first search needs as it starts, and starts anyway
when the database cannot give it yet."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.db import DatabaseError

from spadok.search import columns, query


@pytest.mark.django_db
def test_warm_loads_the_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded: list[Any] = []
    real = columns.current
    monkeypatch.setattr(columns, "current", lambda: loaded.append(real()) or loaded[-1])
    query.warm()
    assert len(loaded) == 1 and isinstance(loaded[0], columns.Columns)


def test_warm_survives_a_database_not_ready(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> columns.Columns:
        raise DatabaseError("no such table: search_document")

    monkeypatch.setattr(columns, "current", broken)
    with caplog.at_level(logging.WARNING, logger="spadok.search.query"):
        query.warm()
    assert "search columns not loaded at start" in caplog.text
