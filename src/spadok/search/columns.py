"""Each process's copy of the search documents' facet and sort columns, as arrays.

Why: a common word matches a fifth of the archive. Reading the facet values of
20,000 documents from the database on every search (a join per row, a Python
object per value) cost more than the text match itself; in numpy arrays the
facets, filters and order of any match set take a millisecond or two. The text
stays in the database (FTS5 / tsvector), which only returns ids and ranks.

The copy follows the database exactly: every transaction that writes the index
takes the next :class:`~spadok.search.models.SearchState` version and logs it
(:func:`spadok.search.index._next_version`). :func:`current` reads the version
on every search (one tiny query); when it moved, the copy takes only the
documents written since and drops the ones removed since. When the history
cannot be followed (pruned, rolled back: its token differs) the copy is read
whole again, which at 100k documents takes about a second of CPU. See
docs/adr/0012-search-columns-in-memory.md.

Nothing here says who may see a record beyond ``public_from`` (what everyone
sees): :mod:`spadok.search.query` asks the catalogue for the rest.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db import connection

log = logging.getLogger(__name__)

# public_from of a document that is not public; year and damage date unknown.
NEVER = np.iinfo(np.int32).max
NO_YEAR = np.iinfo(np.int32).min
NO_DATE = 0
KINDS = ("site", "record")  # kind codes


class Vocabulary:
    """Codes for the values of one column (append-only, shared by successive copies)."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self._codes: dict[str, int] = {}

    def code(self, value: str) -> int:
        found = self._codes.get(value)
        if found is None:
            found = self._codes[value] = len(self.values)
            self.values.append(value)
        return found

    def codes(self, values: Sequence[str]) -> np.ndarray:
        return np.fromiter((self.code(v) for v in values), np.int32, len(values))

    def lookup(self, value: str) -> int | None:
        return self._codes.get(value)


@dataclass(eq=False)
class Columns:
    """The columns of every document at one version, in the order of their ids.

    Immutable once made (a newer version is a new object), so that threads may
    keep using the one they took.
    """

    version: int | None  # None: the database has no version (a flushed table); never trusted
    token: str
    ids: np.ndarray  # int64, ascending
    kind: np.ndarray  # int8: 0 site, 1 record
    region: np.ndarray  # int32 codes in vocab["region"]
    type: np.ndarray
    damage: np.ndarray  # "" for none
    formats: np.ndarray  # codes of the whole "|glb|ply|" string in vocab["formats"]
    year: np.ndarray  # int32; NO_YEAR when unknown
    has_3d: np.ndarray  # bool
    public_from: np.ndarray  # int32 day ordinal; NEVER when not public
    damage_date: np.ndarray  # int32 day ordinal; NO_DATE when unknown
    created: np.ndarray  # int64 microseconds since 1970
    sort_names: list[str]
    vocab: dict[str, Vocabulary]
    _name_rank: np.ndarray | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    def positions(self, ids: np.ndarray) -> np.ndarray:
        """Where these document ids are (ids this copy does not hold are left out)."""
        if not len(self.ids) or not len(ids):
            return np.zeros(0, np.int64)
        pos = np.searchsorted(self.ids, ids)
        pos[pos >= len(self.ids)] = 0
        return pos[self.ids[pos] == ids]

    def name_rank(self) -> np.ndarray:
        """Each document's place in the order by name, then id (made when first asked)."""
        with self._lock:
            if self._name_rank is None:
                names = self.sort_names
                # Ids ascend, and the sort is stable: equal names stay in the order of ids.
                order = sorted(range(len(names)), key=names.__getitem__)
                rank = np.empty(len(names), np.int64)
                rank[np.asarray(order, dtype=np.int64)] = np.arange(len(names))
                self._name_rank = rank
            return self._name_rank


_COLUMNS = (
    "id", "kind", "region", "type", "damage", "formats", "year", "has_3d",
    "public_from", "damage_date", "created_at", "sort_name",
)  # fmt: skip


def _select(where: str = "") -> str:
    """The columns as plain numbers (no date objects: 100k rows of those cost a second)."""
    if connection.vendor == "postgresql":
        day = "({0} - DATE '0001-01-01' + 1)"
        micro = "(EXTRACT(EPOCH FROM {0}) * 1000000)::bigint"
    else:
        # julianday of day N (0001-01-01 is day 1) is N + 1721424.5.
        day = "(CAST(julianday({0}) AS INTEGER) - 1721424)"
        # Django writes "YYYY-MM-DD HH:MM:SS[.ffffff]" in UTC.
        micro = (
            "(CAST(strftime('%%s', {0}) AS INTEGER) * 1000000"
            " + CAST(substr({0} || '.000000', 21, 6) AS INTEGER))"
        )
    return (
        "SELECT id, kind, region, type, damage, formats, year, has_3d, "
        f"{day.format('public_from')}, {day.format('damage_date')}, "
        f"{micro.format('created_at')}, sort_name FROM search_document {where}"
    )


def _arrays(rows: list[tuple[Any, ...]], vocab: dict[str, Vocabulary]) -> dict[str, Any]:
    n = len(rows)
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in _COLUMNS]
    (ids, kind, region, type_, damage, formats, year, has_3d, public, ddate, created, names) = cols
    return {
        "ids": np.fromiter(ids, np.int64, n),
        "kind": np.fromiter((k == "record" for k in kind), np.int8, n),
        "region": vocab["region"].codes(region),
        "type": vocab["type"].codes(type_),
        "damage": vocab["damage"].codes(damage),
        "formats": vocab["formats"].codes(formats),
        "year": np.fromiter((NO_YEAR if y is None else y for y in year), np.int32, n),
        "has_3d": np.fromiter((bool(h) for h in has_3d), np.bool_, n),
        "public_from": np.fromiter((NEVER if p is None else p for p in public), np.int32, n),
        "damage_date": np.fromiter((NO_DATE if d is None else d for d in ddate), np.int32, n),
        "created": np.fromiter((c or 0 for c in created), np.int64, n),
        "sort_names": list(names),
    }


_ARRAYS = (
    "ids", "kind", "region", "type", "damage", "formats", "year", "has_3d",
    "public_from", "damage_date", "created",
)  # fmt: skip


def _fetch(where: str = "", params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(_select(where), list(params))
        return cursor.fetchall()


def _state() -> tuple[int, str] | None:
    """The index's version and its token, or None when there is none."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.version, c.token FROM search_state s "
            "LEFT JOIN search_change c ON c.version = s.version WHERE s.id = 1"
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return int(row[0]), str(row[1] or "")


def _load(state: tuple[int, str] | None, vocab: dict[str, Vocabulary]) -> Columns:
    arrays = _arrays(_fetch("ORDER BY id"), vocab)
    version, token = state if state is not None else (None, "")
    return Columns(version=version, token=token, vocab=vocab, **arrays)


def _catch_up(old: Columns, state: tuple[int, str]) -> Columns | None:
    """``old`` brought to ``state`` with only what changed; None if history cannot tell."""
    assert old.version is not None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT version, token, removed FROM search_change WHERE version >= %s "
            "ORDER BY version",
            [old.version],
        )
        changes = cursor.fetchall()
    if not changes or (int(changes[0][0]), str(changes[0][1])) != (old.version, old.token):
        return None
    removed: set[int] = set()
    for _version, _token, ids in changes[1:]:
        if isinstance(ids, str):  # SQLite hands JSON over as text
            ids = json.loads(ids)
        removed.update(int(i) for i in ids)
    last = int(changes[-1][0]), str(changes[-1][1])
    new = _arrays(_fetch("WHERE version > %s ORDER BY id", [old.version]), old.vocab)
    merged = _merged(old, new, removed)
    return Columns(version=last[0], token=last[1], vocab=old.vocab, **merged)


def _merged(old: Columns, new: dict[str, Any], removed: set[int]) -> dict[str, Any]:
    """``old``'s columns with the rows of ``new`` written over or added, ``removed`` gone."""
    ids = new["ids"]
    at = np.searchsorted(old.ids, ids)
    at[at >= len(old.ids)] = 0
    existing = old.ids[at] == ids if len(old.ids) else np.zeros(len(ids), np.bool_)
    added = ~existing
    if not removed and (not added.any() or not len(old.ids) or ids[added][0] > old.ids[-1]):
        # The usual change: documents rewritten in place, new ones after the last id.
        merged: dict[str, Any] = {}
        for k in _ARRAYS:
            column = getattr(old, k).copy()
            column[at[existing]] = new[k][existing]
            merged[k] = np.concatenate([column, new[k][added]])
        names = list(old.sort_names)
        for i, j in zip(at[existing].tolist(), np.flatnonzero(existing).tolist(), strict=True):
            names[i] = new["sort_names"][j]
        names.extend(new["sort_names"][j] for j in np.flatnonzero(added).tolist())
        merged["sort_names"] = names
        return merged
    keep = ~(np.isin(old.ids, np.fromiter(removed, np.int64, len(removed))) | np.isin(old.ids, ids))
    merged = {k: np.concatenate([getattr(old, k)[keep], new[k]]) for k in _ARRAYS}
    names = [n for n, k in zip(old.sort_names, keep.tolist(), strict=True) if k]
    names += new["sort_names"]
    order = np.argsort(merged["ids"], kind="stable")
    merged = {k: v[order] for k, v in merged.items()}
    merged["sort_names"] = [names[i] for i in order.tolist()]
    return merged


_current: Columns | None = None
_refresh_lock = threading.Lock()


def current() -> Columns:
    """The columns as the database has them now (caught up first if the index moved)."""
    global _current
    state = _state()
    found = _current
    if found is not None and state is not None and (found.version, found.token) == state:
        return found
    with _refresh_lock:
        found = _current
        if found is not None and state is not None and (found.version, found.token) == state:
            return found
        fresh = None
        if (
            found is not None
            and found.version is not None
            and state is not None
            and state[0] > found.version
        ):
            fresh = _catch_up(found, state)
        if fresh is None:
            vocab = found.vocab if found is not None else _vocabulary()
            fresh = _load(state, vocab)
            log.info("search columns loaded: %d documents, version %s", len(fresh), state)
        _current = fresh
        return fresh


def _vocabulary() -> dict[str, Vocabulary]:
    return {name: Vocabulary() for name in ("region", "type", "damage", "formats")}


def reset() -> None:
    """Forget the copy (the next search reads it whole)."""
    global _current
    with _refresh_lock:
        _current = None


def day(value: dt.date) -> int:
    """A day as the columns hold it."""
    return value.toordinal()
