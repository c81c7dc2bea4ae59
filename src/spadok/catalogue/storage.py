"""The archive's storage roots, opened once per process from the settings."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings

from spadok.core.storage.base import Replicated, open_storages


@lru_cache(maxsize=1)
def get_storage() -> Replicated:
    return open_storages(list(settings.SPADOK.storage_urls))


def reset_storage() -> None:
    """Forget the opened roots (tests change settings between cases)."""
    get_storage.cache_clear()
    from spadok.preservation.services import reset_stores

    reset_stores()
