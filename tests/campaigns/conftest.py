"""Fixtures for campaigns: people, sites placed at known distances, captures in known states."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any

import pytest

from tests.accounts.conftest import _fast_passwords, client_for, make_user  # noqa: F401
from tests.site.conftest import make_capture  # noqa: F401

# The volunteer stands here (near Kharkiv); sites are placed by distance and bearing.
HOME = (50.0, 36.2)
KM_PER_DEG_LAT = 6371.0088 * math.pi / 180


def offset(
    km_north: float, km_east: float = 0.0, origin: tuple[float, float] = HOME
) -> tuple[float, float]:
    lat = origin[0] + km_north / KM_PER_DEG_LAT
    lon = origin[1] + km_east / (KM_PER_DEG_LAT * math.cos(math.radians(origin[0])))
    return lat, lon


@pytest.fixture(autouse=True)
def _jobs_run_at_once(settings: Any) -> None:
    """Jobs queued by the services (syncing tasks with captures) run in the request."""
    settings.TASKS = {
        "default": {
            "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
            "QUEUES": ["default", "processing"],
        }
    }


@pytest.fixture
def people(make_user: Callable[..., Any]) -> dict[str, Any]:  # noqa: F811
    return {
        "curator": make_user("curator", "curator"),
        "reviewer": make_user("reviewer", "reviewer"),
        "anna": make_user("anna"),
        "bohdan": make_user("bohdan"),
        "other": make_user("other"),
    }


@pytest.fixture
def make_site() -> Callable[..., Any]:
    from spadok.sites.models import Site

    def make(name: str, km_north: float, km_east: float = 0.0, **fields: Any) -> Site:
        lat, lon = offset(km_north, km_east)
        return Site.objects.create(
            names={"uk": name, "en": name}, latitude=lat, longitude=lon, **fields
        )

    return make


@pytest.fixture
def campaign(people: dict[str, Any]) -> Any:
    from spadok.campaigns import services

    return services.campaign_create(actor=people["curator"], name="Kharkiv region, spring")


@pytest.fixture
def capture_of(make_capture: Callable[..., Any]) -> Callable[..., Any]:  # noqa: F811
    """A processed capture filed under a site (its record is public unless told)."""
    from spadok.catalogue.models import Record, Visibility

    def make(
        site: Any,
        *,
        verdict: str | None = None,
        days_ago: float = 1,
        contributor: Any = None,
        visibility: str = Visibility.PUBLIC,
        **fields: Any,
    ) -> Any:
        record = Record.objects.create(
            title=f"Scan of {site.name()}", site=site, visibility=visibility
        )
        stats: dict[str, Any] = {"triangles": 120_000, "vertices": 60_000}
        if verdict is not None:
            stats["verdict"] = verdict
        created = dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)
        return make_capture(
            record=record, stats=stats, created_at=created, contributor=contributor, **fields
        )

    return make
