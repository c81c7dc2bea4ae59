"""The write path for the site registry.

Every change to sites and regions goes through these functions: a volunteer
describing a new site (:func:`describe_site`), a curator marking one sensitive
(:func:`set_sensitive`), and the importers of published lists
(:func:`import_sites`, :func:`import_regions`). The search index is told about
changed sites after the transaction commits, never before.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from spadok.core.errors import SpadokError
from spadok.core.registry.geo import WORLD, RegionIndex, valid_point
from spadok.sites.models import Region, Site, SiteType

if TYPE_CHECKING:
    from spadok.sites.importing import ImportReport

MAX_NAME_CHARS = 300
MAX_SETTLEMENT_CHARS = 200


def _refresh_after_commit(site_ids: list[str]) -> None:
    """Re-index these sites once the surrounding transaction has committed."""
    if not site_ids:
        return
    ids = list(site_ids)

    def refresh() -> None:
        from spadok.search.index import refresh_sites

        refresh_sites(ids)

    transaction.on_commit(refresh)


# --- region lookup ---------------------------------------------------------------

_region_index_lock = threading.Lock()
_region_index: tuple[tuple[tuple[str, int], ...], RegionIndex] | None = None


def region_index() -> RegionIndex | None:
    """The point-in-region index of the imported region geometries, or None if none.

    Cached per process and rebuilt when the set of region geometries changes.
    """
    global _region_index
    rows = list(Region.objects.exclude(geometry=None).values_list("code", "geometry"))
    if not rows:
        return None
    key = tuple(sorted((code, len(str(geom))) for code, geom in rows))
    with _region_index_lock:
        if _region_index is None or _region_index[0] != key:
            _region_index = (key, RegionIndex({code: geom for code, geom in rows if geom}))
        return _region_index[1]


def _region_for_point(lat: float | None, lon: float | None) -> Region | None:
    if lat is None or lon is None:
        return None
    index = region_index()
    code = index.locate(lat, lon) if index else None
    return Region.objects.filter(code=code).first() if code else None


# --- a volunteer describes a site -------------------------------------------------


def _user_ref(user: Any) -> str | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return str(user.pk)


def _clean_names(names: Any) -> dict[str, str]:
    if not isinstance(names, dict):
        raise SpadokError("registry.invalid_site", "names must be given per language")
    out: dict[str, str] = {}
    for lang, value in names.items():
        if not isinstance(lang, str) or not (2 <= len(lang) <= 8) or not lang.isascii():
            raise SpadokError("registry.invalid_site", f"unknown language code {lang!r}")
        if value is None:
            continue
        if not isinstance(value, str):
            raise SpadokError("registry.invalid_site", f"the name in {lang!r} is not text")
        text = " ".join(value.split())
        if len(text) > MAX_NAME_CHARS:
            raise SpadokError(
                "registry.invalid_site",
                f"the name in {lang!r} is longer than {MAX_NAME_CHARS} characters",
            )
        if text:
            out[lang.lower()] = text
    if not out:
        raise SpadokError("registry.invalid_site", "a name is required in at least one language")
    return out


def _clean_point(latitude: Any, longitude: Any) -> tuple[float | None, float | None]:
    if latitude is None and longitude is None:
        return None, None
    if latitude is None or longitude is None:
        raise SpadokError("registry.invalid_site", "give both latitude and longitude, or neither")
    if isinstance(latitude, bool) or isinstance(longitude, bool):
        raise SpadokError("registry.invalid_site", "latitude and longitude must be numbers")
    try:
        lat, lon = float(latitude), float(longitude)
    except (TypeError, ValueError) as exc:
        raise SpadokError(
            "registry.invalid_site", "latitude and longitude must be numbers"
        ) from exc
    if not (math.isfinite(lat) and math.isfinite(lon)) or not valid_point(lat, lon, WORLD):
        raise SpadokError(
            "registry.invalid_site",
            f"({latitude}, {longitude}) is not a point on Earth "
            "(latitude -90..90, longitude -180..180)",
        )
    return lat, lon


def describe_site(
    *,
    names: dict[str, str],
    latitude: float | None,
    longitude: float | None,
    type: str,
    settlement: str = "",
    sensitive: bool = False,
    by_user: Any = None,
) -> Site:
    """File a new site described by a volunteer (from the capture form).

    Validates everything before writing; the region comes from the point when
    region boundaries have been imported.
    """
    clean_names = _clean_names(names)
    lat, lon = _clean_point(latitude, longitude)
    if type not in SiteType.values:
        raise SpadokError(
            "registry.invalid_site",
            f"unknown site type {type!r} (one of {', '.join(SiteType.values)})",
        )
    if not isinstance(settlement, str):
        raise SpadokError("registry.invalid_site", "the settlement must be text")
    settlement = " ".join(settlement.split())
    if len(settlement) > MAX_SETTLEMENT_CHARS:
        raise SpadokError(
            "registry.invalid_site",
            f"the settlement is longer than {MAX_SETTLEMENT_CHARS} characters",
        )
    fact: dict[str, Any] = {"source": "volunteer", "at": timezone.now().isoformat()}
    if (ref := _user_ref(by_user)) is not None:
        fact["by"] = ref
    with transaction.atomic():
        site = Site.objects.create(
            names=clean_names,
            type=type,
            settlement=settlement,
            latitude=lat,
            longitude=lon,
            sensitive=bool(sensitive),
            region=_region_for_point(lat, lon),
            provenance=[fact],
        )
        _refresh_after_commit([site.id])
    return site


def set_sensitive(site: Site, sensitive: bool, by_user: Any = None) -> Site:
    """Mark a site sensitive (the public sees only a coarse place) or not."""
    sensitive = bool(sensitive)
    with transaction.atomic():
        locked = Site.objects.select_for_update().get(pk=site.pk)
        if locked.sensitive != sensitive:
            fact: dict[str, Any] = {
                "source": "curator",
                "at": timezone.now().isoformat(),
                "set": {"sensitive": sensitive},
            }
            if (ref := _user_ref(by_user)) is not None:
                fact["by"] = ref
            locked.sensitive = sensitive
            locked.provenance = [*locked.provenance, fact]
            locked.save(update_fields=["sensitive", "provenance", "updated_at"])
            _refresh_after_commit([locked.pk])
    site.sensitive = locked.sensitive
    site.provenance = locked.provenance
    return site


# --- importing published lists (the work is in spadok.sites.importing) ------------


def import_sites(
    paths: list[Path] | list[str],
    *,
    fmt: str = "auto",
    mapping: dict[str, str] | list[str] | None = None,
    source: str | None = None,
    standing: str | None = None,
) -> ImportReport:
    """Import lists of sites and the damage they record; safe to run again.

    The report has ``imported``, ``updated``, ``skipped``, ``errors`` (one
    ``{"file", "row", "code", "reason"}`` per skipped row or failed file) and
    ``damage`` (the damage events imported and updated).
    """
    from spadok.sites import importing

    return importing.import_sites(paths, fmt=fmt, mapping=mapping, source=source, standing=standing)


def import_regions(path: Path | str) -> dict[str, Any]:
    """Store simplified geoBoundaries ADM1 boundaries and re-assign sites to them."""
    from spadok.sites import importing

    return importing.import_regions(path)
