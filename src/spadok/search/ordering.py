"""The order of a search's results, and one page of it, on the columns' arrays.

* relevance: rank, then name, then id (without words: newest);
* name: name (by code point, the same on both backends), then id;
* newest: created, newest first, then id, highest first;
* damaged: most recent damage first (documents without one last); then
  relevance with words, else newest and id.

Only the page's part of the order is worked out in full: documents are sorted
by their numbers (rank, dates) in numpy, and names are compared only where
those tie, up to the end of the page.
"""

from __future__ import annotations

import numpy as np

from spadok.search.columns import NO_DATE, Columns


def _tied_by_name(
    cols: Columns, pos: np.ndarray, order: np.ndarray, keys: list[np.ndarray], stop: int
) -> np.ndarray:
    """``order`` (by ``keys``, then id) with names settling ties, up to ``stop``."""
    if len(order) < 2 or stop <= 0:
        return order
    sorted_keys = [k[order] for k in keys]
    start_of_group = np.zeros(len(order), np.bool_)
    start_of_group[0] = True
    for k in sorted_keys:
        start_of_group[1:] |= k[1:] != k[:-1]
    starts = np.flatnonzero(start_of_group)
    ends = np.append(starts[1:], len(order))
    wanted = (starts < stop) & (ends - starts > 1)
    if not wanted.any():
        return order
    order = order.copy()
    names, ids = cols.sort_names, cols.ids
    for s, e in zip(starts[wanted].tolist(), ends[wanted].tolist(), strict=True):
        group = order[s:e].tolist()
        group.sort(key=lambda i: (names[pos[i]], ids[pos[i]]))
        order[s:e] = group
    return order


def page(
    cols: Columns,
    pos: np.ndarray,
    rank: np.ndarray | None,
    sort: str,
    start: int,
    stop: int,
) -> np.ndarray:
    """Which of ``pos`` (indexes into it) are the results ``start:stop`` in this order.

    ``rank`` goes with ``pos`` (None: a search without words).
    """
    if start >= len(pos):
        return np.zeros(0, np.int64)
    ids = cols.ids[pos]
    if sort == "name":
        order = np.argsort(cols.name_rank()[pos], kind="stable")
        return order[start:stop]
    if sort == "newest" or (sort == "relevance" and rank is None):
        order = np.lexsort((-ids, -cols.created[pos]))
        return order[start:stop]
    if sort == "damaged":
        damage = cols.damage_date[pos].astype(np.int64)
        undated = (damage == NO_DATE).astype(np.int8)
        if rank is None:
            order = np.lexsort((ids, -cols.created[pos], -damage, undated))
            return order[start:stop]
        keys = [undated, -damage, rank]
    else:  # relevance
        assert rank is not None
        keys = [rank]
    order = np.lexsort((ids, *reversed(keys)))
    order = _tied_by_name(cols, pos, order, keys, stop)
    return order[start:stop]
