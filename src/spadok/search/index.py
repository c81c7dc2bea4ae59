"""Keeping the search index in step with the catalogue and the registry.

Services call :func:`refresh_sites` and :func:`refresh_records` after they
change what is searchable (names, descriptions, places, visibility, captures).
Both are idempotent: a document is rebuilt from the rows as they are now, and
one whose row is gone leaves the index. :func:`rebuild` does the whole index
(``spadok reindex``).

The words go through :mod:`spadok.core.text` (lemmas, transliteration, one
apostrophe) and are written per backend: rows of the FTS5 table on SQLite, a
tsvector literal (positions and weights, no parser) on PostgreSQL.

Every write takes the index's next version (:func:`_next_version`, in the
writer's transaction): the documents it writes carry it and the documents it
removes are logged under it, which is how every process's copy of the columns
(:mod:`spadok.search.columns`) learns what changed. Anything that changes a
record's visibility must call :func:`refresh_records`: what everyone may see
is stored in the document (``public_from``).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Max, Prefetch
from django.utils import timezone

from spadok.core import text
from spadok.search.models import Kind, SearchChange, SearchDocument, SearchState

log = logging.getLogger(__name__)

# Long descriptions are cut: the first words say what a place is.
MAX_BODY_WORDS = 1500
CHUNK = 500
# Versions kept in the change log; a process whose copy is older reloads it whole.
KEEP_CHANGES = 5000

# The searchable English and Ukrainian names of site types, so "church" or
# "церква" finds churches whose names do not say so.
TYPE_WORDS = {
    "church": "church religious building церква храм собор",
    "monument": "monument memorial пам'ятник меморіал",
    "museum": "museum музей",
    "building": "historic building історична будівля",
    "archaeological": "archaeological site археологічна пам'ятка",
    "library": "library archive бібліотека архів",
    "theatre": "theatre cultural centre театр культурний центр",
    "object": "movable object рухомий предмет",
    "other": "",
}
DAMAGE_WORDS = {
    "threatened": "threatened під загрозою",
    "damaged": "damaged пошкоджено",
    "destroyed": "destroyed зруйновано",
    "looted": "looted пограбовано",
}


@dataclass
class Fields:
    """The text of one document, by weight: names over place over body."""

    names: str
    place: str
    body: str


def refresh_sites(site_ids: Iterable[str]) -> None:
    """Re-index these sites (deleted ones leave the index)."""
    from spadok.sites.models import Site

    ids = sorted({i for i in site_ids if i})
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        sites = {s.id: s for s in _sites_query(Site.objects.filter(id__in=chunk))}
        with transaction.atomic():
            _delete([f"site:{i}" for i in chunk if i not in sites])
            _write([_site_document(s) for s in sites.values()])


def refresh_records(record_ids: Iterable[str]) -> None:
    """Re-index these records (hidden or deleted ones leave the index).

    Hidden records stay in the index for the reviewers and named readers who may
    see them; :mod:`spadok.search.query` filters by the reader. The records'
    sites (old and new) are re-indexed too: their thumbnail, has-3D and formats
    come from their public records.
    """
    from spadok.catalogue.models import Record

    ids = sorted({i for i in record_ids if i})
    site_ids: set[str] = set()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        records = {r.id: r for r in _records_query(Record.objects.filter(id__in=chunk))}
        site_ids.update(
            SearchDocument.objects.filter(record_id__in=chunk)
            .exclude(site_id=None)
            .values_list("site_id", flat=True)
        )
        site_ids.update(r.site_id for r in records.values() if r.site_id)
        with transaction.atomic():
            _delete([f"record:{i}" for i in chunk if i not in records])
            _write([_record_document(r) for r in records.values()])
    if site_ids:
        refresh_sites(site_ids)


def rebuild(progress: Any = None) -> dict[str, int]:
    """Index every site and record again and drop documents of rows that are gone."""
    from spadok.catalogue.models import Record
    from spadok.sites.models import Site

    counts = {"sites": 0, "records": 0, "removed": 0}
    for kind, ids in (
        ("records", list(Record.objects.order_by("id").values_list("id", flat=True))),
        ("sites", list(Site.objects.order_by("id").values_list("id", flat=True))),
    ):
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            if kind == "records":
                records = list(_records_query(Record.objects.filter(id__in=chunk)))
                with transaction.atomic():
                    _write([_record_document(r) for r in records])
            else:
                sites = list(_sites_query(Site.objects.filter(id__in=chunk)))
                with transaction.atomic():
                    _write([_site_document(s) for s in sites])
            counts[kind] += len(chunk)
            if progress is not None:
                progress(kind, counts[kind], len(ids))
    stale = list(
        SearchDocument.objects.filter(kind=Kind.SITE, site=None).values_list("key", flat=True)
    ) + list(
        SearchDocument.objects.filter(kind=Kind.RECORD, record=None).values_list("key", flat=True)
    )
    with transaction.atomic():
        _delete(stale)
    counts["removed"] = len(stale)
    _vacuum_orphans()
    return counts


# -- reading the rows --------------------------------------------------------


def _public_records_prefetch() -> Prefetch:
    from spadok.catalogue.models import Capture, CaptureState, Derivative
    from spadok.catalogue.selectors import visible_records

    ready = (
        Capture.objects.filter(state=CaptureState.READY)
        .order_by("-created_at")
        .prefetch_related(
            Prefetch("derivatives", queryset=Derivative.objects.filter(role="thumbnail"))
        )
    )
    public = (
        visible_records(None)
        .order_by("-created_at")
        .prefetch_related(Prefetch("captures", queryset=ready))
    )
    return Prefetch("records", queryset=public, to_attr="public_records")


def _sites_query(qs: Any) -> Iterator[Any]:
    # The region's boundary is kilobytes of JSON per row and the index needs only names.
    return iter(
        qs.select_related("region")
        .defer("region__geometry")
        .prefetch_related(_public_records_prefetch())
    )


def _records_query(qs: Any) -> Iterator[Any]:
    """Records with their ready captures."""
    from spadok.catalogue.models import Capture, CaptureState, Derivative

    ready = (
        Capture.objects.filter(state=CaptureState.READY)
        .order_by("-created_at")
        .prefetch_related(
            Prefetch("derivatives", queryset=Derivative.objects.filter(role="thumbnail"))
        )
    )
    return iter(
        qs.select_related("site__region")
        .defer("site__region__geometry")
        .prefetch_related(Prefetch("captures", queryset=ready, to_attr="ready_captures"))
    )


def _thumbnail(captures: Iterable[Any]) -> Any:
    for capture in captures:
        if any(d.role == "thumbnail" for d in capture.derivatives.all()):
            return capture
    return None


def _region_names(region: Any) -> str:
    if region is None:
        return ""
    return " ".join(v for v in (region.names or {}).values() if v)


def _place(settlement: str, address: str, region: Any) -> str:
    return " ".join(p for p in (settlement, address, _region_names(region)) if p)


def _site_document(site: Any) -> tuple[SearchDocument, Fields]:
    records = list(getattr(site, "public_records", []))
    captures = [c for r in records for c in r.captures.all()]
    formats = sorted({c.format for c in captures if c.format})
    thumb = _thumbnail(captures)
    names = {k: v for k, v in (site.names or {}).items() if v}
    doc = SearchDocument(
        key=f"site:{site.id}",
        kind=Kind.SITE,
        site_id=site.id,
        names=names,
        sort_name=_sort_name(names),
        settlement=site.settlement or "",
        region=site.region_id or "",
        type=site.type or "",
        damage=site.damage_status or "",
        damage_date=site.damage_date,
        year=site.damage_date.year if site.damage_date else None,
        has_3d=bool(captures),
        formats=_formats(formats),
        thumb_record=thumb.record_id if thumb else "",
        thumb_capture=thumb.id if thumb else "",
        created_at=site.created_at,
        public_from=dt.date.min,  # sites are public
    )
    body = " ".join(
        [
            *(v for v in (site.descriptions or {}).values() if v),
            site.designation or "",
            TYPE_WORDS.get(site.type, ""),
            DAMAGE_WORDS.get(site.damage_status, ""),
            site.wikidata or "",
        ]
    )
    # Other names the site is known by (merged lists) are names too.
    aliases = [a for a in (getattr(site, "aliases", None) or []) if isinstance(a, str)]
    names_text = " ".join([*names.values(), *aliases])
    return doc, Fields(names_text, _place(site.settlement, site.address, site.region), body)


def _record_document(record: Any) -> tuple[SearchDocument, Fields]:
    from spadok.catalogue.selectors import is_public, public_since

    site = record.site
    captures = list(getattr(record, "ready_captures", []))
    public = is_public(record)
    thumb = _thumbnail(captures)
    formats = sorted({c.format for c in captures if c.format})
    when = next((c.captured_at for c in captures if c.captured_at), None) or (
        captures[0].created_at if captures else record.created_at
    )
    names = {"": record.title}
    doc = SearchDocument(
        key=f"record:{record.id}",
        kind=Kind.RECORD,
        record_id=record.id,
        site_id=site.id if site else None,
        names=names,
        sort_name=_sort_name(names),
        settlement=site.settlement if site else "",
        region=(site.region_id or "") if site else "",
        type=site.type if site else "",
        damage=site.damage_status if site else "",
        damage_date=site.damage_date if site else None,
        year=when.year if when else None,
        has_3d=bool(captures) and public,
        formats=_formats(formats),
        thumb_record=record.id if thumb else "",
        thumb_capture=thumb.id if thumb else "",
        created_at=record.created_at,
        public_from=public_since(record),
    )
    site_names = " ".join(v for v in (site.names or {}).values() if v) if site else ""
    place = _place(site.settlement, site.address, site.region) if site else ""
    body = " ".join(
        [
            record.description or "",
            site_names,
            TYPE_WORDS.get(site.type, "") if site else "",
            " ".join(formats),
        ]
    )
    return doc, Fields(record.title, place, body)


def _sort_name(names: dict[str, str]) -> str:
    name = names.get("uk") or names.get("en") or names.get("") or next(iter(names.values()), "")
    return text.normalise(name)[:300]


def _formats(formats: list[str]) -> str:
    return f"|{'|'.join(formats)}|" if formats else ""


# -- writing -----------------------------------------------------------------


def _tokens(value: str, *, limit: int | None = None) -> list[list[str]]:
    terms = text.index_terms(value)
    return terms[:limit] if limit else terms


def _next_version(removed: Iterable[int] = ()) -> int:
    """The index's next version, for the writes of the caller's transaction.

    The UPDATE locks the state row until the transaction ends, so versions are
    taken in the order of commits. The change log gets the version with a fresh
    token and the removed documents; old entries are pruned.
    """
    if not SearchState.objects.filter(id=1).update(version=F("version") + 1):
        # A flushed table (tests) or a database migrated without the row.
        last = SearchChange.objects.aggregate(last=Max("version"))["last"] or 0
        SearchState.objects.get_or_create(id=1, defaults={"version": last})
        SearchState.objects.filter(id=1).update(version=F("version") + 1)
    version = SearchState.objects.values_list("version", flat=True).get(id=1)
    SearchChange.objects.create(
        version=version,
        token=secrets.token_hex(16),
        removed=sorted(removed),
        changed_at=timezone.now(),
    )
    SearchChange.objects.filter(version__lte=version - KEEP_CHANGES).delete()
    return version


def _write(docs: list[tuple[SearchDocument, Fields]]) -> None:
    """Upsert documents and their words (inside the caller's transaction)."""
    if not docs:
        return
    version = _next_version()
    now = timezone.now()
    existing = dict(
        SearchDocument.objects.filter(key__in=[d.key for d, _ in docs]).values_list("key", "id")
    )
    new, old = [], []
    for doc, _ in docs:
        doc.indexed_at = now
        doc.version = version
        if doc.key in existing:
            doc.id = existing[doc.key]
            old.append(doc)
        else:
            new.append(doc)
    if old:
        fields = [
            f.name
            for f in SearchDocument._meta.concrete_fields
            if f.name not in ("id", "key") and not f.primary_key
        ]
        SearchDocument.objects.bulk_update(old, fields, batch_size=200)
    if new:
        SearchDocument.objects.bulk_create(new, batch_size=200)
        if connection.vendor != "postgresql" and any(d.id is None for d in new):
            ids = dict(
                SearchDocument.objects.filter(key__in=[d.key for d in new]).values_list("key", "id")
            )
            for d in new:
                d.id = ids[d.key]
    rows = [
        (
            doc.id,
            _tokens(fields.names),
            _tokens(fields.place),
            _tokens(fields.body, limit=MAX_BODY_WORDS),
        )
        for doc, fields in docs
    ]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.executemany(
                "UPDATE search_document SET tsv = %s::tsvector WHERE id = %s",
                [(_tsvector(n, p, b), i) for i, n, p, b in rows],
            )
        else:
            cursor.executemany("DELETE FROM search_fts WHERE rowid = %s", [(i,) for i, *_ in rows])
            cursor.executemany(
                "INSERT INTO search_fts (rowid, names, place, body) VALUES (%s, %s, %s, %s)",
                [(i, _flat(n), _flat(p), _flat(b)) for i, n, p, b in rows],
            )


def _delete(keys: list[str]) -> None:
    """Remove documents and their words (inside the caller's transaction)."""
    if not keys:
        return
    ids = list(SearchDocument.objects.filter(key__in=keys).values_list("id", flat=True))
    if not ids:
        return
    _next_version(removed=ids)
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.executemany("DELETE FROM search_fts WHERE rowid = %s", [(i,) for i in ids])
    SearchDocument.objects.filter(id__in=ids).delete()


def _vacuum_orphans() -> None:
    """FTS rows whose document is gone (a flushed table, a crash between writes)."""
    if connection.vendor == "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM search_fts WHERE rowid NOT IN (SELECT id FROM search_document)")


def _flat(terms: list[list[str]]) -> str:
    return " ".join(t for word in terms for t in word)


def _tsvector(*columns: list[list[str]]) -> str:
    """A tsvector literal: every token of a word at that word's position, weighted by column.

    Written as a literal, not through to_tsvector, so that PostgreSQL stores the
    tokens of :mod:`spadok.core.text` as they are, whatever its parser and locale.
    """
    weights = "ABD"
    entries: list[str] = []
    position = 0
    for weight, terms in zip(weights, columns, strict=True):
        position += 1  # a gap between columns
        for word in terms:
            position = min(position + 1, 16383)
            entries.extend(f"'{t}':{position}{weight}" for t in word)
    return " ".join(entries)
