"""The text match: which documents a query's words match, with their rank.

The database does only this (SQLite: FTS5 and bm25 with names over place over
description; PostgreSQL: the tsvector's GIN index and ts_rank with the same
weights as A/B/D) and returns ids and ranks, nothing else: the facets, filters
and order come from :mod:`spadok.search.columns`.

The same words give the same match until the index changes, whoever asks, so
recent matches are kept per process (:data:`CACHE_ENTRIES`), keyed by the words
and the index's version: paging, a facet, another sort or another reader reuse
it. Who may see what is applied afterwards, never stored here.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from itertools import chain

import numpy as np
from django.db import connection

from spadok.core import text
from spadok.search.columns import Columns

# Column weights: names, place, body (SQLite bm25; PostgreSQL A, B, D).
BM25_WEIGHTS = (10.0, 4.0, 1.0)
PG_WEIGHTS = "{0.1, 0.2, 0.4, 1.0}"  # D, C, B, A
# Matches kept per process, and the most document ids they may hold together.
CACHE_ENTRIES = 64
CACHE_IDS = 2_000_000


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


@dataclass(frozen=True)
class Match:
    """The matching documents as positions in one :class:`Columns`, and their ranks
    (lower is better: SQLite's bm25 as it is, PostgreSQL's ts_rank negated);
    ``rank`` is None when it was not asked for."""

    positions: np.ndarray
    rank: np.ndarray | None


def _sql(words: list[text.QueryWord], ranked: bool) -> tuple[str, list[str]]:
    if connection.vendor == "postgresql":
        query = tsquery(words)
        if ranked:
            return (
                f"SELECT id, -ts_rank('{PG_WEIGHTS}', tsv, %s::tsquery) FROM search_document"
                " WHERE tsv @@ %s::tsquery",
                [query, query],
            )
        return "SELECT id FROM search_document WHERE tsv @@ %s::tsquery", [query]
    weights = ", ".join(str(w) for w in BM25_WEIGHTS)
    rank = f", bm25(search_fts, {weights})" if ranked else ""
    return f"SELECT rowid{rank} FROM search_fts WHERE search_fts MATCH %s", [fts5_query(words)]


def _run(words: list[text.QueryWord], cols: Columns, ranked: bool) -> Match:
    sql, params = _sql(words, ranked)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    width = 2 if ranked else 1
    flat = np.fromiter(chain.from_iterable(rows), np.float64, len(rows) * width)
    flat = flat.reshape(len(rows), width)
    ids = flat[:, 0].astype(np.int64)
    order = np.argsort(ids, kind="stable")
    ids = ids[order]
    found = np.searchsorted(cols.ids, ids)
    found[found >= len(cols.ids)] = 0
    # Rows the copy does not hold (written after it was read, or FTS rows left by a
    # crash) are left out; the next search sees them.
    known = cols.ids[found] == ids if len(cols.ids) else np.zeros(len(ids), np.bool_)
    rank = flat[order, 1][known] if ranked else None
    return Match(positions=found[known], rank=rank)


class _Cache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, bool], Match] = OrderedDict()
        self._of: tuple[int | None, str, int] | None = None  # which columns they belong to
        self._ids = 0

    def get(self, cols: Columns, key: str, ranked: bool) -> Match | None:
        with self._lock:
            if self._of != (cols.version, cols.token, id(cols)):
                return None
            for k in ((key, True), (key, False)) if not ranked else ((key, True),):
                found = self._entries.get(k)
                if found is not None:
                    self._entries.move_to_end(k)
                    return found
            return None

    def put(self, cols: Columns, key: str, ranked: bool, match: Match) -> None:
        if cols.version is None:  # the database has no version: nothing to key on
            return
        with self._lock:
            of = (cols.version, cols.token, id(cols))
            if self._of != of:
                self._entries.clear()
                self._ids = 0
                self._of = of
            self._entries[(key, ranked)] = match
            self._ids += len(match.positions)
            while self._entries and (len(self._entries) > CACHE_ENTRIES or self._ids > CACHE_IDS):
                _, old = self._entries.popitem(last=False)
                self._ids -= len(old.positions)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._ids = 0
            self._of = None


_cache = _Cache()


def match(words: list[text.QueryWord], cols: Columns, *, ranked: bool) -> Match:
    """The documents of ``cols`` that the words match (from the cache when it has them)."""
    key = _sql(words, False)[1][0]
    found = _cache.get(cols, key, ranked)
    if found is None:
        found = _run(words, cols, ranked)
        _cache.put(cols, key, ranked, found)
    return found


def clear_cache() -> None:
    """Forget the kept matches (the benchmark measures searches without them too)."""
    _cache.clear()
