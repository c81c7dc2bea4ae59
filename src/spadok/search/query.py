"""Searching sites and records: the one function the page and the API both call.

:func:`search` matches the query's words (each in its forms, lemmas and both
scripts, see :func:`spadok.core.text.query_terms`) against the index
(:mod:`spadok.search.matching`: ids and ranks only; SQLite: bm25 with names over
place over description; PostgreSQL: ts_rank with the same weights as A/B/D),
keeps only what the reader may see, applies the facet filters, counts the
facets (:mod:`spadok.search.facets`) and orders (:mod:`spadok.search.ordering`)
on the process's copy of the documents' columns (:mod:`spadok.search.columns`),
and loads one page. :func:`parse_params` turns request parameters into its
arguments and raises ``search.*`` errors for bad ones, so that the page and the
API accept and refuse exactly the same things.

Who may see a record: what everyone sees is the document's ``public_from``
(the catalogue's :func:`~spadok.catalogue.selectors.public_since`) against
today; a signed-in reader who sees more gets the documents the catalogue's
:func:`~spadok.catalogue.selectors.visible_q` adds; and the page's records are
checked once more against :func:`~spadok.catalogue.selectors.visible_records`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db import DatabaseError
from django.db.models import Exists, OuterRef
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from spadok.core import text
from spadok.core.errors import SpadokError
from spadok.search import columns, facets, matching, ordering
from spadok.search.facets import FACETS, NO_DAMAGE
from spadok.search.matching import BM25_WEIGHTS, PG_WEIGHTS, fts5_query, tsquery
from spadok.search.models import Kind, SearchDocument

log = logging.getLogger(__name__)

SORTS = ("relevance", "name", "newest", "damaged")
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
MAX_PAGE = 500
MAX_QUERY_CHARS = 200
MAX_QUERY_WORDS = 12
MAX_FILTER_VALUES = 30
# Match sets with at most this many hidden documents ask the catalogue about those
# only; larger ones ask about every hidden document of the index.
_ASK_BY_ID = 2000
_REGION = re.compile(r"^[A-Z]{2}-[A-Z0-9]{1,3}$")
_TOKEN = re.compile(r"^[a-z0-9_-]{1,32}$")
_DATE = re.compile(r"^(\d{4})(s?)$", re.ASCII)
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
__all__ = [
    "BM25_WEIGHTS",
    "FACETS",
    "NO_DAMAGE",
    "PG_WEIGHTS",
    "SORTS",
    "FacetValue",
    "Filters",
    "Hit",
    "SearchParams",
    "SearchResult",
    "fts5_query",
    "parse_params",
    "search",
    "search_params",
    "suggest_sites",
    "tsquery",
    "warm",
]


def warm() -> None:
    """Load what a process's first search would otherwise wait for, once, as it starts:
    the lemmatiser's dictionaries (seconds) and the copy of the index's columns (about
    a second at 100k documents). A database not ready yet leaves the columns to the
    first search, as before."""
    text.load_dictionaries()
    try:
        columns.current()
    except DatabaseError as exc:
        log.warning("search columns not loaded at start: %s", exc)


@dataclass(frozen=True)
class Filters:
    kind: str = ""
    region: tuple[str, ...] = ()
    type: tuple[str, ...] = ()
    damage: tuple[str, ...] = ()
    date: str = ""  # "2022" or "2020s"
    has_3d: bool | None = None
    format: tuple[str, ...] = ()

    def as_params(self) -> dict[str, list[str]]:
        """The filters as query parameters (for links that change one of them)."""
        params: dict[str, list[str]] = {}
        for name in ("region", "type", "damage", "format"):
            if getattr(self, name):
                params[name] = list(getattr(self, name))
        if self.kind:
            params["kind"] = [self.kind]
        if self.date:
            params["date"] = [self.date]
        if self.has_3d is not None:
            params["has_3d"] = ["1" if self.has_3d else "0"]
        return params


@dataclass(frozen=True)
class SearchParams:
    q: str = ""
    filters: Filters = field(default_factory=Filters)
    sort: str = "relevance"
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE


@dataclass
class Hit:
    kind: str
    id: str
    title: str
    names: dict[str, str]
    url: str
    thumbnail_url: str
    settlement: str
    region: str
    region_name: str
    type: str
    damage: str
    damage_date: str | None
    year: int | None
    has_3d: bool
    formats: list[str]
    site_id: str | None
    # A site's point as this reader may see it (public_point); records give none.
    latitude: float | None = None
    longitude: float | None = None
    precision_m: float | None = None
    score: float = 0.0


@dataclass
class FacetValue:
    value: str
    count: int
    selected: bool


@dataclass
class SearchResult:
    params: SearchParams
    total: int
    hits: list[Hit]
    facets: dict[str, list[FacetValue]]

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.params.per_page))


# -- parameters ----------------------------------------------------------------


def _bad(name: str, value: str, why: str) -> SpadokError:
    shown = value if len(value) <= 40 else value[:40] + "…"
    return SpadokError("search.bad_parameter", f"{name}={shown!r} ({why})")


def _get_list(params: Any, name: str) -> list[str]:
    if hasattr(params, "getlist"):
        values = params.getlist(name)
    else:
        raw = params.get(name)
        values = raw if isinstance(raw, list | tuple) else ([] if raw is None else [raw])
    out: list[str] = []
    for value in values:
        out.extend(v.strip() for v in str(value).split(",") if v.strip())
    if len(out) > MAX_FILTER_VALUES:
        raise _bad(name, ",".join(out), f"at most {MAX_FILTER_VALUES} values")
    return out


def _get_one(params: Any, name: str) -> str:
    values = _get_list(params, name)
    if len(values) > 1:
        raise _bad(name, ",".join(values), "give one value")
    return values[0] if values else ""


def _int(params: Any, name: str, default: int, low: int, high: int) -> int:
    raw = _get_one(params, name)
    if not raw:
        return default
    # isdigit() alone lets in '²' (which int() refuses) and other scripts' digits;
    # int() refuses thousands of digits. No page or size needs more than nine.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise _bad(name, raw, "a whole number is expected")
    value = int(raw)
    if not low <= value <= high:
        raise _bad(name, raw, f"between {low} and {high}")
    return value


def parse_params(params: Mapping[str, Any] | Any) -> SearchParams:
    """Request parameters (a QueryDict or a mapping) to :class:`SearchParams`.

    Raises :class:`SpadokError` ``search.bad_parameter`` / ``search.query_too_long``.
    """
    from spadok.sites.models import DamageStatus, SiteType

    raw_q = params.get("q") or ""
    if isinstance(raw_q, list | tuple):
        raw_q = raw_q[0] if raw_q else ""
    q = " ".join(str(raw_q).split())
    if len(q) > MAX_QUERY_CHARS:
        raise SpadokError(
            "search.query_too_long", f"{len(q)} characters, at most {MAX_QUERY_CHARS}"
        )
    if len(text.words(q)) > MAX_QUERY_WORDS:
        raise SpadokError("search.query_too_long", f"more than {MAX_QUERY_WORDS} words")
    kind = _get_one(params, "kind")
    if kind and kind not in Kind.values:
        raise _bad("kind", kind, "site or record")
    regions = tuple(v.upper() for v in _get_list(params, "region"))
    for v in regions:
        if not _REGION.match(v):
            raise _bad("region", v, "an ISO 3166-2 code such as UA-46")
    types = tuple(_get_list(params, "type"))
    for v in types:
        if v not in SiteType.values:
            raise _bad("type", v, "one of " + ", ".join(SiteType.values))
    damage_values = [v for v in DamageStatus.values if v] + [NO_DAMAGE]
    damages = tuple(_get_list(params, "damage"))
    for v in damages:
        if v not in damage_values:
            raise _bad("damage", v, "one of " + ", ".join(damage_values))
    date = _get_one(params, "date")
    if date and not (_DATE.match(date) and 1000 <= int(date[:4]) <= 2999):
        raise _bad("date", date, "a year such as 2022 or a decade such as 2020s")
    if date.endswith("s") and int(date[:4]) % 10:
        raise _bad("date", date, "a decade starts at a year ending in 0")
    has_3d_raw = _get_one(params, "has_3d").lower()
    if has_3d_raw and has_3d_raw not in _TRUE | _FALSE:
        raise _bad("has_3d", has_3d_raw, "true or false")
    has_3d = None if not has_3d_raw else has_3d_raw in _TRUE
    formats = tuple(v.lower() for v in _get_list(params, "format"))
    for v in formats:
        if not _TOKEN.match(v):
            raise _bad("format", v, "a format name such as glb or ply")
    sort = _get_one(params, "sort") or "relevance"
    if sort not in SORTS:
        raise _bad("sort", sort, "one of " + ", ".join(SORTS))
    per_page = _int(params, "per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
    page = _int(params, "page", 1, 1, MAX_PAGE)
    filters = Filters(kind, regions, types, damages, date, has_3d, formats)
    return SearchParams(q=q, filters=filters, sort=sort, page=page, per_page=per_page)


# -- the search ----------------------------------------------------------------


def _selected(f: Filters, name: str, value: str) -> bool:
    if name == "has_3d":
        return f.has_3d is not None and value == ("true" if f.has_3d else "false")
    current = getattr(f, name)
    return value in current if isinstance(current, tuple) else value == current


def _facet_lists(counts: dict[str, Any], f: Filters) -> dict[str, list[FacetValue]]:
    out: dict[str, list[FacetValue]] = {}
    for name in FACETS:
        values = [FacetValue(v, n, _selected(f, name, v)) for v, n in counts[name].items()]
        # Keep a selected value visible even when nothing matches it any more.
        for value in facets.chosen(f, name):
            if value not in counts[name]:
                values.append(FacetValue(value, 0, True))
        if name == "date":
            values.sort(key=lambda v: v.value, reverse=True)
        else:
            values.sort(key=lambda v: (-v.count, v.value))
        out[name] = values
    return out


def _visible(
    user: Any, cols: columns.Columns, pos: np.ndarray, today: Any, *, everything: bool
) -> np.ndarray:
    """Which of the documents at ``pos`` this reader may see.

    Everyone: the public ones (sites always). A reader who sees more (their
    drafts, a reviewer's queue, sealed records named to them): also the hidden
    records the catalogue's rule gives them, asked of the database.
    """
    from spadok.catalogue.models import Record
    from spadok.catalogue.selectors import sees_only_public, visible_q

    visible = cols.public_from[pos] <= columns.day(today)
    if sees_only_public(user):
        return visible
    hidden = SearchDocument.objects.filter(kind=Kind.RECORD).exclude(public_from__lte=today)
    hidden_ids = cols.ids[pos[~visible]]
    if not everything and len(hidden_ids) <= _ASK_BY_ID:
        hidden = hidden.filter(id__in=hidden_ids.tolist())
    records = Record.objects.filter(visible_q(user), pk=OuterRef("record_id"))
    seen = list(hidden.filter(Exists(records)).values_list("id", flat=True))
    return visible | np.isin(cols.ids[pos], np.asarray(seen, dtype=np.int64))


def search(
    q: str = "",
    *,
    filters: Filters | None = None,
    sort: str = "relevance",
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
    user: Any = None,
) -> SearchResult:
    """One page of sites and records matching ``q`` that ``user`` may see, with facets."""
    params = SearchParams(
        q=q, filters=filters or Filters(), sort=sort, page=page, per_page=per_page
    )
    if sort not in SORTS:
        raise _bad("sort", sort, "one of " + ", ".join(SORTS))
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise _bad("per_page", str(per_page), f"between 1 and {MAX_PER_PAGE}")
    if not 1 <= page <= MAX_PAGE:
        raise _bad("page", str(page), f"between 1 and {MAX_PAGE}")
    if len(q) > MAX_QUERY_CHARS:
        raise SpadokError(
            "search.query_too_long", f"{len(q)} characters, at most {MAX_QUERY_CHARS}"
        )
    words = text.query_terms(q)[:MAX_QUERY_WORDS]
    f = params.filters
    today = timezone.localdate()  # as the catalogue's rule takes it
    cols = columns.current()
    rank: np.ndarray | None = None
    if words:
        # A rank is needed to order by relevance (also within a day of damage).
        found = matching.match(words, cols, ranked=sort in ("relevance", "damaged"))
        pos, rank = found.positions, found.rank
    else:  # browsing by filters: every document
        pos = np.arange(len(cols), dtype=np.int64)
    visible = _visible(user, cols, pos, today, everything=not words)
    keep, counts = facets.count(cols, pos, visible, f)
    start = (page - 1) * per_page
    kept = pos[keep]
    kept_rank = rank[keep] if rank is not None else None
    chosen = ordering.page(cols, kept, kept_rank, sort, start, start + per_page)
    ids = cols.ids[kept[chosen]].tolist()
    ranks = dict(zip(ids, kept_rank[chosen].tolist(), strict=True)) if kept_rank is not None else {}
    docs = _load(ids, ranks, user)
    return SearchResult(
        params=params,
        total=int(np.count_nonzero(keep)),
        hits=_hits(docs, user),
        facets=_facet_lists(counts, f),
    )


def _load(ids: list[int], ranks: dict[int, float], user: Any) -> list[SearchDocument]:
    """The page's documents, in this order; a record the catalogue no longer shows
    this reader is left out (an index that missed a change must not show it)."""
    from spadok.catalogue.selectors import visible_records

    by_id = {d.id: d for d in SearchDocument.objects.filter(id__in=ids)}
    records = [d.record_id for d in by_id.values() if d.kind == Kind.RECORD and d.record_id]
    shown = set(visible_records(user).filter(id__in=records).values_list("id", flat=True))
    docs = []
    for i in ids:
        doc = by_id.get(i)
        if doc is None:
            continue  # removed since the columns were read
        if doc.kind == Kind.RECORD and doc.record_id not in shown:
            log.warning("search: %s is in the index but not visible; re-index it", doc.key)
            continue
        doc.rank = ranks.get(i, 0.0)  # type: ignore[attr-defined]
        docs.append(doc)
    return docs


def search_params(params: SearchParams, *, user: Any = None) -> SearchResult:
    return search(
        params.q,
        filters=params.filters,
        sort=params.sort,
        page=params.page,
        per_page=params.per_page,
        user=user,
    )


def _url(name: str, *args: str) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:  # the page for this kind is not mounted
        return ""


def _hits(docs: list[SearchDocument], user: Any) -> list[Hit]:
    from spadok.sites.i18n import localized
    from spadok.sites.models import Region, Site
    from spadok.sites.selectors import public_point

    site_ids = [d.site_id for d in docs if d.kind == Kind.SITE and d.site_id]
    sites = {s.id: s for s in Site.objects.filter(id__in=site_ids)}
    regions = {r.code: r for r in Region.objects.filter(code__in={d.region for d in docs})}
    hits: list[Hit] = []
    for d in docs:
        region = regions.get(d.region)
        if d.kind == Kind.SITE:
            obj_id = d.site_id or ""
            url = _url("sites:site", obj_id)
            title = localized(d.names) or obj_id
        else:
            obj_id = d.record_id or ""
            url = _url("catalogue:record", obj_id)
            title = d.names.get("", "") or obj_id
        thumb = (
            _url("catalogue:file", d.thumb_record, d.thumb_capture, "derivative", "thumbnail")
            if d.thumb_capture
            else ""
        )
        hit = Hit(
            kind=d.kind,
            id=obj_id,
            title=title,
            names=dict(d.names) if d.kind == Kind.SITE else {},
            url=url,
            thumbnail_url=thumb,
            settlement=d.settlement,
            region=d.region,
            region_name=localized(region.names) if region else "",
            type=d.type,
            damage=d.damage,
            damage_date=d.damage_date.isoformat() if d.damage_date else None,
            year=d.year,
            has_3d=d.has_3d,
            formats=[x for x in d.formats.split("|") if x],
            site_id=d.site_id,
            score=round(-float(getattr(d, "rank", 0.0) or 0.0), 6),
        )
        site = sites.get(d.site_id or "") if d.kind == Kind.SITE else None
        point = public_point(site, user) if site is not None else None
        if point is not None:
            hit.latitude, hit.longitude, hit.precision_m = point
        hits.append(hit)
    return hits


def suggest_sites(q: str, limit: int = 10, user: Any = None) -> list[dict[str, Any]]:
    """Sites for the capture form's picker: id, name, names, settlement, region, best first."""
    q = " ".join((q or "").split())[:MAX_QUERY_CHARS]
    if not text.words(q):
        return []
    limit = max(1, min(int(limit), 50))
    result = search(q, filters=Filters(kind=Kind.SITE), per_page=limit, user=user)
    return [
        {
            "id": h.id,
            "name": h.title,
            "names": h.names,
            "settlement": h.settlement,
            "region": h.region,
            "region_name": h.region_name,
        }
        for h in result.hits
    ]
