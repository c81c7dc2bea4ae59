"""Searching sites and records: the one function the page and the API both call.

:func:`search` matches the query's words (each in its forms, lemmas and both
scripts, see :func:`spadok.core.text.query_terms`) against the index, keeps
only what the reader may see (:func:`spadok.catalogue.selectors.visible_q`),
applies the facet filters, ranks (SQLite: bm25 with names over place over
description; PostgreSQL: ts_rank_cd with the same weights as A/B/D), counts
the facets and returns one page. :func:`parse_params` turns request parameters
into its arguments and raises ``search.*`` errors for bad ones, so that the
page and the API accept and refuse exactly the same things.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.urls import NoReverseMatch, reverse

from spadok.core import text
from spadok.core.errors import SpadokError
from spadok.search.models import Kind, SearchDocument

SORTS = ("relevance", "name", "newest", "damaged")
FACETS = ("kind", "region", "type", "damage", "date", "has_3d", "format")
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
MAX_PAGE = 500
MAX_QUERY_CHARS = 200
MAX_QUERY_WORDS = 12
MAX_FILTER_VALUES = 30
# "none" stands for sites without a recorded damage (an empty status).
NO_DAMAGE = "none"
_REGION = re.compile(r"^[A-Z]{2}-[A-Z0-9]{1,3}$")
_TOKEN = re.compile(r"^[a-z0-9_-]{1,32}$")
_DATE = re.compile(r"^(\d{4})(s?)$", re.ASCII)
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
# Column weights: names, place, body (SQLite bm25; PostgreSQL A, B, D).
BM25_WEIGHTS = (10.0, 4.0, 1.0)
PG_WEIGHTS = "{0.1, 0.2, 0.4, 1.0}"  # D, C, B, A


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


# -- matching ------------------------------------------------------------------


def fts5_query(words: list[text.QueryWord]) -> str:
    """SQLite FTS5: every word must match one of its alternatives."""
    groups = []
    for word in words:
        alts = [f'"{t}"' for t in word.exact] + [f'"{t}"*' for t in word.prefix]
        groups.append("(" + " OR ".join(alts) + ")")
    return " AND ".join(groups)


def tsquery(words: list[text.QueryWord]) -> str:
    """PostgreSQL: the same query as a tsquery literal (tokens are letters and digits)."""
    groups = []
    for word in words:
        alts = [f"'{t}'" for t in word.exact] + [f"'{t}':*" for t in word.prefix]
        groups.append("(" + " | ".join(alts) + ")")
    return " & ".join(groups)


def _matching(qs: QuerySet[SearchDocument], words: list[text.QueryWord], *, ranked: bool) -> Any:
    if not words:
        return qs
    if connection.vendor == "postgresql":
        query = tsquery(words)
        select = (
            {"rank": f"-ts_rank_cd('{PG_WEIGHTS}', search_document.tsv, %s::tsquery)"}
            if ranked
            else None
        )
        return qs.extra(
            select=select,
            select_params=[query] if ranked else None,
            where=["search_document.tsv @@ %s::tsquery"],
            params=[query],
        )
    weights = ", ".join(str(w) for w in BM25_WEIGHTS)
    return qs.extra(
        select={"rank": f"bm25(search_fts, {weights})"} if ranked else None,
        tables=["search_fts"],
        where=["search_fts.rowid = search_document.id", "search_fts MATCH %s"],
        params=[fts5_query(words)],
    )


def _visible(user: Any) -> Q:
    """Sites are public; a record only if this reader may see it (the catalogue's rule)."""
    from spadok.catalogue.models import Record
    from spadok.catalogue.selectors import visible_q

    records = Record.objects.filter(visible_q(user), pk=OuterRef("record_id"))
    return Q(kind=Kind.SITE) | Q(Exists(records))


def _facet_q(filters: Filters, skip: str = "") -> Q:
    q = Q()
    if filters.kind and skip != "kind":
        q &= Q(kind=filters.kind)
    if filters.region and skip != "region":
        q &= Q(region__in=filters.region)
    if filters.type and skip != "type":
        q &= Q(type__in=filters.type)
    if filters.damage and skip != "damage":
        q &= Q(damage__in=["" if d == NO_DAMAGE else d for d in filters.damage])
    if filters.date and skip != "date":
        start = int(filters.date[:4])
        q &= (
            Q(year__gte=start, year__lt=start + 10) if filters.date.endswith("s") else Q(year=start)
        )
    if filters.has_3d is not None and skip != "has_3d":
        q &= Q(has_3d=filters.has_3d)
    if filters.format and skip != "format":
        fq = Q()
        for f in filters.format:
            fq |= Q(formats__contains=f"|{f}|")
        q &= fq
    return q


# -- facets --------------------------------------------------------------------


@dataclass(frozen=True)
class _Combo:
    kind: str
    region: str
    type: str
    damage: str
    year: int | None
    has_3d: bool
    formats: str


def _combo_matches(c: _Combo, f: Filters, skip: str) -> bool:
    """Whether the combination passes the filters (all but ``skip``)."""
    if f.kind and skip != "kind" and c.kind != f.kind:
        return False
    if f.region and skip != "region" and c.region not in f.region:
        return False
    if f.type and skip != "type" and c.type not in f.type:
        return False
    if f.damage and skip != "damage" and (c.damage or NO_DAMAGE) not in f.damage:
        return False
    if f.date and skip != "date":
        start = int(f.date[:4])
        span = 10 if f.date.endswith("s") else 1
        if c.year is None or not start <= c.year < start + span:
            return False
    if f.has_3d is not None and skip != "has_3d" and c.has_3d != f.has_3d:
        return False
    return not f.format or skip == "format" or any(f"|{x}|" in c.formats for x in f.format)


def _facet_values(c: _Combo, name: str, decades: bool) -> list[str]:
    if name == "damage":
        return [c.damage or NO_DAMAGE]
    if name == "has_3d":
        return ["true" if c.has_3d else "false"]
    if name == "format":
        return [f for f in c.formats.split("|") if f]
    if name == "date":
        if c.year is None:
            return []
        return [f"{c.year // 10 * 10}s" if decades else str(c.year)]
    value = getattr(c, name)
    return [value] if value else []


def _selected(f: Filters, name: str, value: str) -> bool:
    if name == "has_3d":
        return f.has_3d is not None and value == ("true" if f.has_3d else "false")
    current = getattr(f, name)
    return value in current if isinstance(current, tuple) else value == current


def _facets(
    combos: list[tuple[_Combo, int]], f: Filters
) -> tuple[int, dict[str, list[FacetValue]]]:
    """Each facet counted over the results of every other filter (so choices stay visible).

    A combination that fails no filter counts everywhere; one that fails exactly
    one filter counts only in that filter's facet; others count nowhere.
    """
    # One filter at a time: which of the chosen filters a combination fails.
    singles = [(name, Filters(**{name: getattr(f, name)})) for name in FACETS if _chosen(f, name)]
    years = {c.year for c, _ in combos if c.year is not None}
    decades = (max(years) - min(years) > 11) if years else False
    if f.date.endswith("s"):
        decades = True
    counts: dict[str, Counter[str]] = {name: Counter() for name in FACETS}
    total = 0
    for c, n in combos:
        failed = [name for name, single in singles if not _combo_matches(c, single, "")]
        if len(failed) > 1:
            continue
        if not failed:
            total += n
        for name in failed or FACETS:
            for value in _facet_values(c, name, decades):
                counts[name][value] += n
    facets: dict[str, list[FacetValue]] = {}
    for name in FACETS:
        values = [FacetValue(v, n, _selected(f, name, v)) for v, n in counts[name].items()]
        # Keep a selected value visible even when nothing matches it any more.
        for chosen in _chosen(f, name):
            if chosen not in counts[name]:
                values.append(FacetValue(chosen, 0, True))
        if name == "date":
            values.sort(key=lambda v: v.value, reverse=True)
        else:
            values.sort(key=lambda v: (-v.count, v.value))
        facets[name] = values
    return total, facets


def _chosen(f: Filters, name: str) -> list[str]:
    if name == "has_3d":
        return [] if f.has_3d is None else ["true" if f.has_3d else "false"]
    current = getattr(f, name)
    if isinstance(current, tuple):
        return list(current)
    return [current] if current else []


# -- the search ----------------------------------------------------------------


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
    base = SearchDocument.objects.filter(_visible(user))

    start = (page - 1) * per_page
    if words:
        total, facets, docs = _search_words(base, words, f, sort, start, per_page)
        return SearchResult(params=params, total=total, hits=_hits(docs, user), facets=facets)

    # No words: browsing by filters, which use the indexes. The facets are counted
    # over the filtered documents only (one GROUP BY), not for each filter left out:
    # over the whole archive that would read every document on each request.
    rows = (
        base.filter(_facet_q(f))
        .values_list("kind", "region", "type", "damage", "year", "has_3d", "formats")
        .annotate(n=Count("id"))
        .order_by()
    )
    sql, sql_params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, sql_params)
        combos = [
            (_Combo(k, r, t, d, y, bool(h), fm), int(n))
            for k, r, t, d, y, h, fm, n in cursor.fetchall()
        ]
    total, facets = _facets(combos, f)
    order: list[Any]
    if sort == "name":
        order = ["sort_name", "id"]
    elif sort == "damaged":
        order = [F("damage_date").desc(nulls_last=True), "-created_at", "id"]
    else:  # newest; relevance without words means newest
        order = ["-created_at", "-id"]
    docs = list(base.filter(_facet_q(f)).order_by(*order)[start : start + per_page])
    return SearchResult(params=params, total=total, hits=_hits(docs, user), facets=facets)


_ROW_COLUMNS = (
    "id", "rank", "kind", "region", "type", "damage", "year", "has_3d", "formats",
    "sort_name", "created_at", "damage_date",
)  # fmt: skip


def _search_words(
    base: QuerySet[SearchDocument],
    words: list[text.QueryWord],
    f: Filters,
    sort: str,
    start: int,
    per_page: int,
) -> tuple[int, dict[str, list[FacetValue]], list[SearchDocument]]:
    """One pass over the matching documents: facets, filters and order in Python.

    The text match is the expensive part (and on SQLite bm25 is computed for
    every match anyway), so it runs once; each row carries its facet values and
    sort keys, and only the page's documents are loaded in full.
    """
    qs = _matching(base, words, ranked=True).values_list(*_ROW_COLUMNS).order_by()
    sql, sql_params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, sql_params)
        rows = cursor.fetchall()
    counter: Counter[_Combo] = Counter()
    passes: dict[_Combo, bool] = {}
    kept: list[tuple[Any, ...]] = []
    for row in rows:
        combo = _Combo(row[2], row[3], row[4], row[5], row[6], bool(row[7]), row[8])
        counter[combo] += 1
        ok = passes.get(combo)
        if ok is None:
            ok = passes[combo] = _combo_matches(combo, f, "")
        if ok:
            kept.append(row)
    total, facets = _facets(list(counter.items()), f)
    # id, rank, sort_name, created_at, damage_date
    if sort == "name":
        kept.sort(key=lambda r: (r[9], r[0]))
    elif sort == "newest":
        kept.sort(key=lambda r: (r[10], r[0]), reverse=True)
    else:
        kept.sort(key=lambda r: (r[1], r[9], r[0]))
        if sort == "damaged":  # most recent damage first, then by relevance
            dated = [r for r in kept if r[11] is not None]
            dated.sort(key=lambda r: r[11], reverse=True)  # stable: relevance within a day
            kept = dated + [r for r in kept if r[11] is None]
    page_rows = kept[start : start + per_page]
    by_id = {d.id: d for d in SearchDocument.objects.filter(id__in=[r[0] for r in page_rows])}
    docs = []
    for r in page_rows:
        doc = by_id.get(r[0])
        if doc is not None:
            doc.rank = r[1]  # type: ignore[attr-defined]
            docs.append(doc)
    return total, facets, docs


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
