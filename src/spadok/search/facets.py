"""Facet counts and filters over the documents of a search, on the columns' arrays.

Each facet is counted over the results of every other filter (so that the other
choices stay visible): a document that fails no filter counts in every facet,
one that fails exactly one filter counts only in that filter's facet, others
count nowhere. Only documents the reader may see are counted.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import numpy as np

from spadok.search.columns import KINDS, NO_YEAR, Columns

if TYPE_CHECKING:
    from spadok.search.query import Filters

FACETS = ("kind", "region", "type", "damage", "date", "has_3d", "format")
# "none" stands for documents without a recorded damage (an empty status).
NO_DAMAGE = "none"


def chosen(f: Filters, name: str) -> list[str]:
    """The values chosen for one facet, as its facet values."""
    if name == "has_3d":
        return [] if f.has_3d is None else ["true" if f.has_3d else "false"]
    current = getattr(f, name)
    if isinstance(current, tuple):
        return list(current)
    return [current] if current else []


def _codes(cols: Columns, column: str, values: list[str]) -> np.ndarray:
    found = [cols.vocab[column].lookup(v) for v in values]
    return np.asarray([c for c in found if c is not None], dtype=np.int32)


def _passes(cols: Columns, pos: np.ndarray, f: Filters, name: str) -> np.ndarray:
    """Which of the documents at ``pos`` pass the filter on one facet."""
    if name == "kind":
        return cols.kind[pos] == KINDS.index(f.kind)
    if name in ("region", "type"):
        return np.isin(getattr(cols, name)[pos], _codes(cols, name, list(getattr(f, name))))
    if name == "damage":
        values = ["" if d == NO_DAMAGE else d for d in f.damage]
        return np.isin(cols.damage[pos], _codes(cols, "damage", values))
    if name == "date":
        start = int(f.date[:4])
        span = 10 if f.date.endswith("s") else 1
        years = cols.year[pos]
        return (years >= start) & (years < start + span)
    if name == "has_3d":
        return cols.has_3d[pos] == bool(f.has_3d)
    # format: a document passes when it has any of the chosen formats.
    wanted = {f"|{x}|" for x in f.format}
    combos = cols.vocab["formats"].values
    codes = [i for i, combo in enumerate(combos) if any(w in combo for w in wanted)]
    return np.isin(cols.formats[pos], np.asarray(codes, dtype=np.int32))


def _count_codes(codes: np.ndarray, values: list[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    if len(codes):
        for code, n in enumerate(np.bincount(codes).tolist()):
            if n:
                counts[values[code]] += n
    return counts


def _values(cols: Columns, pos: np.ndarray, name: str, decades: bool) -> Counter[str]:
    """How many of the documents at ``pos`` have each value of one facet."""
    if name == "kind":
        return _count_codes(cols.kind[pos].astype(np.int32), list(KINDS))
    if name in ("region", "type"):
        counts = _count_codes(getattr(cols, name)[pos], cols.vocab[name].values)
        counts.pop("", None)
        return counts
    if name == "damage":
        counts = _count_codes(cols.damage[pos], cols.vocab["damage"].values)
        if "" in counts:
            counts[NO_DAMAGE] += counts.pop("")
        return counts
    if name == "has_3d":
        yes = int(np.count_nonzero(cols.has_3d[pos]))
        return +Counter({"true": yes, "false": len(pos) - yes})
    if name == "format":
        counts = Counter()
        for combo, n in _count_codes(cols.formats[pos], cols.vocab["formats"].values).items():
            for fmt in combo.split("|"):
                if fmt:
                    counts[fmt] += n
        return counts
    years = cols.year[pos]
    years = years[years != NO_YEAR]
    if decades:
        years = years // 10 * 10
    values, counts_ = np.unique(years, return_counts=True)
    suffix = "s" if decades else ""
    return Counter(
        {f"{v}{suffix}": int(n) for v, n in zip(values.tolist(), counts_.tolist(), strict=True)}
    )


def count(
    cols: Columns, pos: np.ndarray, visible: np.ndarray, f: Filters
) -> tuple[np.ndarray, dict[str, Counter[str]]]:
    """Which documents pass every filter (a mask over ``pos``) and each facet's counts.

    ``visible`` says which of the documents at ``pos`` the reader may see.
    """
    names = [name for name in FACETS if chosen(f, name)]
    passes = {name: _passes(cols, pos, f, name) for name in names}
    fails = np.zeros(len(pos), np.int8)
    for mask in passes.values():
        fails += ~mask
    keep = visible & (fails == 0)
    # Years of damage or capture spread over more than a decade are shown by decade.
    years = cols.year[pos[visible]]
    years = years[years != NO_YEAR]
    decades = bool(len(years)) and int(years.max()) - int(years.min()) > 11
    if f.date.endswith("s"):
        decades = True
    counts: dict[str, Counter[str]] = {}
    for name in FACETS:
        rows = keep | (visible & (fails == 1) & ~passes[name]) if name in passes else keep
        counts[name] = _values(cols, pos[rows], name, decades)
    return keep, counts
