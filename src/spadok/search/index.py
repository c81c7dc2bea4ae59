"""Keeping the search index in step with the catalogue and the registry.

Services call :func:`refresh_sites` and :func:`refresh_records` after they
change what is searchable (names, descriptions, places, visibility, captures).
"""

from __future__ import annotations

from collections.abc import Iterable


def refresh_sites(site_ids: Iterable[str]) -> None:
    """Re-index these sites (deleted ones leave the index)."""


def refresh_records(record_ids: Iterable[str]) -> None:
    """Re-index these records (hidden or deleted ones leave the index)."""
