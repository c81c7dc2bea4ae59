"""Importing published lists of sites and region boundaries (the heavy half of the services).

Called through :func:`spadok.sites.services.import_sites` and
:func:`spadok.sites.services.import_regions`. A list is read by
:mod:`spadok.core.registry`, matched against the registry in memory (same
Wikidata id, same external id, or the same normalised name within 1 km), and
written per file in one transaction with bulk inserts and updates; a site
changes only when a field really changes, so a second run reports nothing.

The damage a row records (its :class:`~spadok.core.registry.damage.DamageClaim`)
becomes a damage event of the site in the same transaction
(:mod:`spadok.damage.importing`); a site's damage status and date are derived
from its events there, never copied from a row.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from spadok.core.errors import SpadokError
from spadok.core.registry.damage import STANDINGS
from spadok.core.registry.generic import parse_mapping
from spadok.core.registry.geo import RegionIndex, distance_m
from spadok.core.registry.geoboundaries import read_regions
from spadok.core.registry.regions import REGIONS
from spadok.core.registry.rows import LINK_SCHEMES, SiteRow, Skip, normalise_name
from spadok.core.registry.sources import ParsedList, read_list
from spadok.damage.importing import ClaimAt, import_claims
from spadok.sites.models import Region, Site, SiteType
from spadok.sites.services import _refresh_after_commit, region_index

# --- importing published lists ----------------------------------------------------

MATCH_DISTANCE_M = 1000.0
BATCH = 1000


@dataclass
class ImportReport:
    """What an import did: counts, and one entry per skipped row or failed file."""

    imported: int = 0
    updated: int = 0
    skipped: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    # Damage events made ("imported") and completed ("updated") from the lists' claims.
    damage: dict[str, int] = field(default_factory=lambda: {"imported": 0, "updated": 0})

    @property
    def failed_files(self) -> int:
        return sum(1 for f in self.files if f["status"] == "error")

    def as_dict(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "updated": self.updated,
            "skipped": self.skipped,
            "errors": self.errors,
            "files": self.files,
            "damage": self.damage,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class _Known:
    """What matching needs to know of a site, kept in memory for the whole import."""

    id: str
    wikidata: str
    ids: set[tuple[str, str]]
    keys: set[str]
    latitude: float | None
    longitude: float | None
    region: str | None
    settlement: str


class _Matcher:
    """Finds the existing site a row describes: same QID, same id, or same name nearby."""

    def __init__(self) -> None:
        self.by_id: dict[str, _Known] = {}
        self.by_qid: dict[str, str] = {}
        self.by_ext: dict[tuple[str, str], str] = {}
        self.by_name: dict[str, set[str]] = defaultdict(set)
        rows = Site.objects.values_list(
            "id", "wikidata", "external_ids", "names", "aliases", "latitude", "longitude",
            "region_id", "settlement",
        )  # fmt: skip
        for sid, qid, ext, names, aliases, lat, lon, region, settlement in rows.iterator(
            chunk_size=5000
        ):
            self.add(sid, qid, ext or {}, names or {}, aliases or [], lat, lon, region, settlement)

    def add(
        self,
        sid: str,
        qid: str,
        ext: dict[str, str],
        names: dict[str, str],
        aliases: list[str],
        lat: float | None,
        lon: float | None,
        region: str | None,
        settlement: str,
    ) -> None:
        known = self.by_id.get(sid)
        if known is None:
            known = _Known(sid, qid, set(), set(), lat, lon, region, settlement)
            self.by_id[sid] = known
        known.wikidata = known.wikidata or qid
        if qid:
            self.by_qid.setdefault(qid, sid)
        for scheme, value in ext.items():
            if scheme not in LINK_SCHEMES and value:
                pair = (scheme, str(value))
                known.ids.add(pair)
                self.by_ext.setdefault(pair, sid)
        for name in [*names.values(), *aliases]:
            key = normalise_name(name)
            if key:
                known.keys.add(key)
                self.by_name[key].add(sid)
        if known.latitude is None and lat is not None:
            known.latitude, known.longitude = lat, lon
        known.region = known.region or region
        known.settlement = known.settlement or settlement

    def candidates(self, row: SiteRow, region: str | None) -> list[tuple[str, str, bool]]:
        """The sites the row may describe, best first: (site id, how, strong).

        A match is strong when it is by an id (Wikidata, the list's own id) or by
        the row's main name; a match only through another name (a Google Maps
        name, an alias) is weak: two entries of one list may share such a name.
        """
        found: list[tuple[str, str, bool]] = []
        if row.wikidata and row.wikidata in self.by_qid:
            found.append((self.by_qid[row.wikidata], f"Wikidata {row.wikidata}", True))
        for scheme, value in row.external_ids.items():
            if scheme not in LINK_SCHEMES and (scheme, value) in self.by_ext:
                found.append((self.by_ext[(scheme, value)], f"{scheme} id {value}", True))
        if found:
            return found
        main = normalise_name(next(iter(row.names.values()), ""))
        keys = {normalise_name(n) for n in [*row.names.values(), *row.aliases]} - {""}
        scored: dict[str, tuple[bool, float, str]] = {}
        for key in keys:
            for sid in self.by_name.get(key, ()):
                known = self.by_id[sid]
                if row.wikidata and known.wikidata and known.wikidata != row.wikidata:
                    continue
                if row.has_point and known.latitude is not None:
                    assert row.latitude is not None and row.longitude is not None
                    assert known.longitude is not None
                    d = distance_m(row.latitude, row.longitude, known.latitude, known.longitude)
                    if d > MATCH_DISTANCE_M:
                        continue
                    how = f"same name {d:.0f} m away"
                elif (
                    region
                    and known.region == region
                    and (not row.settlement or not known.settlement
                         or normalise_name(row.settlement) == normalise_name(known.settlement))
                ):  # fmt: skip
                    d, how = MATCH_DISTANCE_M, "same name in the same region"
                else:
                    continue
                strong = key == main
                previous = scored.get(sid)
                if previous is None or (strong, -d) > (previous[0], -previous[1]):
                    scored[sid] = (strong, d, how)
        ranked = sorted(scored.items(), key=lambda kv: (not kv[1][0], kv[1][1]))
        return [(sid, how, strong) for sid, (strong, _d, how) in ranked]


def _ensure_regions() -> None:
    """Every Ukrainian region exists as a row (names from the table), geometry or not."""
    have = set(Region.objects.values_list("code", flat=True))
    missing = [
        Region(code=r.code, names={"uk": r.uk, "en": r.en}) for r in REGIONS if r.code not in have
    ]
    if missing:
        Region.objects.bulk_create(missing, ignore_conflicts=True)


def _fact(row: SiteRow) -> dict[str, Any]:
    fact: dict[str, Any] = {"source": row.source, "file": row.file, "row": row.row}
    fact.update(row.fact)
    return fact


def _same_fact(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return {k: v for k, v in a.items() if k != "at"} == {k: v for k, v in b.items() if k != "at"}


def _merge(site: Site, row: SiteRow, region: str | None, now: str) -> set[str]:
    """Fold what the row knows into the site; the names of the fields that changed."""
    changed: set[str] = set()
    names = dict(site.names)
    aliases = list(site.aliases or [])
    known = {normalise_name(n) for n in [*names.values(), *aliases]}
    for lang, name in row.names.items():
        if lang not in names:
            names[lang] = name
            known.add(normalise_name(name))
    for name in [*row.names.values(), *row.aliases]:
        key = normalise_name(name)
        if key and key not in known:
            aliases.append(name)
            known.add(key)
    if names != site.names:
        site.names, changed = names, changed | {"names"}
    if aliases != (site.aliases or []):
        site.aliases, changed = aliases, changed | {"aliases"}
    descriptions = {**row.descriptions, **(site.descriptions or {})}
    if descriptions != (site.descriptions or {}):
        site.descriptions, changed = descriptions, changed | {"descriptions"}
    if row.wikidata and not site.wikidata:
        site.wikidata, changed = row.wikidata, changed | {"wikidata"}
    ext = {**row.external_ids, **(site.external_ids or {})}
    if ext != (site.external_ids or {}):
        site.external_ids, changed = ext, changed | {"external_ids"}
    if site.type == SiteType.OTHER and row.type != SiteType.OTHER:
        site.type, changed = row.type, changed | {"type"}
    for name in ("designation", "settlement", "address"):
        value = getattr(row, name)
        if value and not getattr(site, name):
            setattr(site, name, value)
            changed.add(name)
    if site.latitude is None and row.has_point:
        site.latitude, site.longitude = row.latitude, row.longitude
        changed |= {"latitude", "longitude"}
    if site.region_id is None and region:
        site.region_id = region
        changed.add("region")
    fact = _fact(row)
    provenance = list(site.provenance or [])
    same_place = [
        i for i, p in enumerate(provenance)
        if (p.get("source"), p.get("file"), p.get("row")) == (row.source, row.file, row.row)
    ]  # fmt: skip
    if not any(_same_fact(provenance[i], fact) for i in same_place):
        fact["at"] = now
        if same_place:
            provenance[same_place[0]] = fact
        else:
            provenance.append(fact)
        site.provenance = provenance
        changed.add("provenance")
    return changed


def _new_site(row: SiteRow, region: str | None, now: str) -> Site:
    return Site(
        names=dict(row.names),
        aliases=list(row.aliases),
        descriptions=dict(row.descriptions),
        type=row.type,
        designation=row.designation[:200],
        region_id=region,
        settlement=row.settlement[:200],
        address=row.address[:300],
        latitude=row.latitude,
        longitude=row.longitude,
        wikidata=row.wikidata,
        external_ids=dict(row.external_ids),
        provenance=[{**_fact(row), "at": now}],
    )


def import_sites(
    paths: list[Path] | list[str],
    *,
    fmt: str = "auto",
    mapping: dict[str, str] | list[str] | None = None,
    source: str | None = None,
    standing: str | None = None,
) -> ImportReport:
    """Import lists of sites and the damage they record; safe to run again.

    Each file is read whole, matched against the registry in memory, and
    written in one transaction with bulk inserts and updates; a file that
    cannot be read fails alone, the others go on. ``standing`` is the standing
    of a generic list's damage claims (default "other").
    """
    started = time.monotonic()
    report = ImportReport()
    limits = _limits()
    field_map = parse_mapping(mapping)
    if standing is not None and standing not in STANDINGS:
        raise SpadokError(
            "registry.bad_mapping", f"unknown standing {standing!r} (one of {', '.join(STANDINGS)})"
        )
    _ensure_regions()
    index = region_index()
    matcher = _Matcher()
    for raw_path in paths:
        path = Path(raw_path)
        entry: dict[str, Any] = {"file": str(path), "status": "ok", "format": None, "error": None}
        report.files.append(entry)
        try:
            parsed = read_list(
                path, fmt=fmt, mapping=field_map, source=source, limits=limits, standing=standing
            )
        except SpadokError as exc:
            entry.update(status="error", error=exc.as_dict())
            report.errors.append(
                {"file": str(path), "row": None, "code": exc.code, "reason": exc.message}
            )
            continue
        entry["format"] = parsed.format
        counts = _import_parsed(parsed, matcher, index, report)
        entry.update(counts)
    report.seconds = time.monotonic() - started
    return report


def _limits() -> Any:
    from django.conf import settings

    from spadok.core.limits import DEFAULT_LIMITS

    cfg = getattr(settings, "SPADOK", None)
    return getattr(cfg, "limits", DEFAULT_LIMITS)


def _region_of(row: SiteRow, index: RegionIndex | None) -> str | None:
    """By point-in-polygon when boundaries are known, else the list's own region column."""
    if index is not None and row.has_point:
        assert row.latitude is not None and row.longitude is not None
        code = index.locate(row.latitude, row.longitude)
        if code:
            return code
    return row.region_code


def _import_parsed(
    parsed: ParsedList, matcher: _Matcher, index: RegionIndex | None, report: ImportReport
) -> dict[str, int]:
    now = timezone.now().isoformat()
    counts = {"rows": len(parsed.rows) + len(parsed.skips), "imported": 0, "updated": 0,
              "skipped": 0}  # fmt: skip
    skips = list(parsed.skips)
    claimed: dict[str, int] = {}  # site id -> the row of this file that matched or made it
    matched: list[tuple[SiteRow, str, str | None]] = []
    new: list[Site] = []
    claims: list[ClaimAt] = []  # every row's damage claims, with the site they are about
    for row in parsed.rows:
        region = _region_of(row, index)
        sid: str | None = None
        duplicate_of: tuple[str, str] | None = None
        for candidate, how, strong in matcher.candidates(row, region):
            if candidate not in claimed:
                sid = candidate
                break
            if strong:  # the same site as an earlier row of this file
                duplicate_of = (candidate, how)
                break
        if duplicate_of is not None:
            skips.append(
                Skip(row.file, row.row, "duplicate",
                     f"{_label(row)}: same site as row {claimed[duplicate_of[0]]} "
                     f"({duplicate_of[1]})")
            )  # fmt: skip
            claims += _claims_of(row, duplicate_of[0], parsed.source)
            continue
        if sid is None:
            site = _new_site(row, region, now)
            new.append(site)
            sid = site.id
        else:
            matched.append((row, sid, region))
        claimed[sid] = row.row
        claims += _claims_of(row, sid, parsed.source)
        matcher.add(sid, row.wikidata, row.external_ids, row.names, row.aliases,
                    row.latitude, row.longitude, region, row.settlement)  # fmt: skip
    changed_sites: list[Site] = []
    changed_fields: set[str] = set()
    with transaction.atomic():
        for start in range(0, len(matched), BATCH):
            chunk = matched[start : start + BATCH]
            sites = Site.objects.in_bulk([sid for _, sid, _ in chunk])
            for row, sid, region in chunk:
                site = sites[sid]
                fields = _merge(site, row, region, now)
                if fields:
                    site.updated_at = timezone.now()
                    changed_sites.append(site)
                    changed_fields |= fields
        Site.objects.bulk_create(new, batch_size=BATCH)
        if changed_sites:
            Site.objects.bulk_update(
                changed_sites, sorted(changed_fields | {"updated_at"}), batch_size=BATCH
            )
        damage = import_claims(claims)
        touched = {s.id for s in new} | {s.id for s in changed_sites} | set(damage.sites_changed)
        _refresh_after_commit(sorted(touched))
    counts["damage_imported"] = damage.imported
    counts["damage_updated"] = damage.updated
    report.damage["imported"] += damage.imported
    report.damage["updated"] += damage.updated
    counts["imported"] = len(new)
    counts["updated"] = len(changed_sites)
    counts["skipped"] = len(skips)
    report.imported += len(new)
    report.updated += len(changed_sites)
    report.skipped += len(skips)
    report.errors.extend(s.as_dict() for s in sorted(skips, key=lambda s: s.row))
    return counts


def _claims_of(row: SiteRow, site_id: str, source: str) -> list[ClaimAt]:
    return [ClaimAt(c, site_id, source, row.file, row.row) for c in row.damage]


def _label(row: SiteRow) -> str:
    name = next(iter(row.names.values()), "")
    return f"{row.wikidata} {name!r}" if row.wikidata else repr(name)


# --- region boundaries ------------------------------------------------------------


def import_regions(path: Path | str) -> dict[str, Any]:
    """Store the simplified boundaries of a geoBoundaries ADM1 file; re-assign sites' regions.

    Returns {"regions", "created", "updated", "sites_reassigned", "bytes"}.
    """
    shapes = read_regions(Path(path), _limits())
    with transaction.atomic():
        existing = Region.objects.in_bulk([s.code for s in shapes])
        created = updated = 0
        for shape_ in shapes:
            region = existing.get(shape_.code)
            if region is None:
                Region.objects.create(
                    code=shape_.code, names=shape_.names, geometry=shape_.geometry
                )
                created += 1
            elif region.geometry != shape_.geometry or region.names != {
                **region.names,
                **shape_.names,
            }:
                region.geometry = shape_.geometry
                region.names = {**region.names, **shape_.names}
                region.save(update_fields=["geometry", "names"])
                updated += 1
        _ensure_regions()
        reassigned = reassign_regions()
    return {
        "regions": len(shapes),
        "created": created,
        "updated": updated,
        "sites_reassigned": reassigned,
        "bytes": sum(len(json.dumps(s.geometry)) for s in shapes),
    }


def reassign_regions() -> int:
    """Give every site with a point the region whose boundary contains it; how many moved."""
    index = region_index()
    if index is None:
        return 0
    moved: list[Site] = []
    now = timezone.now()
    rows = Site.objects.exclude(latitude=None).exclude(longitude=None)
    for sid, lat, lon, region in rows.values_list("id", "latitude", "longitude", "region_id"):
        if lat is None or lon is None:
            continue
        code = index.locate(lat, lon)
        if code and code != region:
            moved.append(Site(id=sid, region_id=code, updated_at=now))
    with transaction.atomic():
        Site.objects.bulk_update(moved, ["region", "updated_at"], batch_size=BATCH)
        _refresh_after_commit([s.id for s in moved])
    return len(moved)
